package explorer

import (
	"encoding/hex"
	"reflect"
	"strings"
	"sync"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/crypto/ed25519"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/client"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	benefitsv1 "github.com/tallyledger/tally/proto/tally/benefits/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	provenancev1 "github.com/tallyledger/tally/proto/tally/provenance/v1"
	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
)

// A record shows who and where by name: an account by the display name its
// agency gave it (or its agency's name and roles), an agency by its name, a
// location code by its registered name, a money holder by its agency's or
// programme's name. Names are read at the page's height with proofs, like
// the record itself, and written beside the field as "<field>_name", so
// the JSON carries them too; a code nobody named keeps its code.

// Field names whose value is an account address (hex).
var addressFields = map[string]bool{
	"address": true, "custodian": true, "producer": true, "inspector": true, "signer": true, "from": true, "to": true,
	"voter": true, "proposer": true, "accredited_by": true, "regulator": true, "actor": true, "counterparty": true,
	"enrolled_by": true, "withdrawn_by": true, "collector": true, "issued_by": true, "payer": true, "bank": true, "issuer": true,
}

// Field names whose value is an agency id.
var agencyFields = map[string]bool{
	"agency_id": true, "agency": true, "proposer_agency": true, "collector_agency": true, "revenue_agency": true,
	"owner_agency": true, "to_agency": true, "from_agency": true,
}

// Field names whose value is a location code.
var locationFields = map[string]bool{"location": true, "origin": true}

// Field names whose value is a funds holder id ("agency:treasury").
var holderFields = map[string]bool{"holder": true, "from_holder": true, "funding_holder": true, "revenue_holder": true, "from": true, "to": true}

// namer looks names up for one page, at the page's height, once each.
type namer struct {
	sn *snap
	mu sync.Mutex
	m  map[string]string
}

func (sn *snap) names() *namer {
	if sn.namer == nil {
		sn.namer = &namer{sn: sn, m: map[string]string{}}
	}
	return sn.namer
}

func (n *namer) cached(key string, look func() string) string {
	n.mu.Lock()
	v, ok := n.m[key]
	n.mu.Unlock()
	if ok {
		return v
	}
	v = look()
	n.mu.Lock()
	n.m[key] = v
	n.mu.Unlock()
	return v
}

// agency is an agency's name ("" when there is no such agency).
func (n *namer) agency(id string) string {
	if id == "" {
		return ""
	}
	return n.cached("agency "+id, func() string {
		ag := &agencyv1.Agency{}
		if n.sn.record(api.PathAgency, []byte(id), ag) != nil {
			return ""
		}
		return ag.Name
	})
}

// account is an account's display name, or else its agency's name and
// its roles ("Food Standards Agency inspector"); "" when unknown.
func (n *namer) account(addrHex string) string {
	addr, err := hex.DecodeString(addrHex)
	if err != nil || len(addr) != 20 {
		return ""
	}
	return n.cached("account "+addrHex, func() string {
		acc := &agencyv1.Account{}
		if n.sn.record(api.PathAccount, addr, acc) != nil {
			return ""
		}
		if acc.DisplayName != "" {
			return acc.DisplayName
		}
		name := firstNonEmpty(n.agency(acc.AgencyId), acc.AgencyId)
		var roles []string
		for _, r := range acc.Roles {
			roles = append(roles, client.EnumWords(r.Descriptor(), r.String()))
		}
		if len(roles) > 0 {
			name += " " + strings.Join(roles, " and ")
		}
		return name
	})
}

// location is a location code's registered name ("" when unnamed).
func (n *namer) location(code string) string {
	if code == "" {
		return ""
	}
	return n.cached("location "+code, func() string {
		l := &provenancev1.Location{}
		if err := n.sn.record(api.PathProvenanceLocation, []byte(code), l); err != nil {
			return ""
		}
		return l.Name
	})
}

// taxType is a registered tax type's name ("Value added tax" for VAT; ""
// when unknown).
func (n *namer) taxType(code string) string {
	if code == "" {
		return ""
	}
	return n.cached("tax type "+code, func() string {
		t := &taxv1.TaxType{}
		if n.sn.record(api.PathTaxType, []byte(code), t) != nil {
			return ""
		}
		return t.Name
	})
}

// programme is a benefits programme's name ("" when unknown).
func (n *namer) programme(id string) string {
	return n.cached("programme "+id, func() string {
		p := &benefitsv1.Programme{}
		if n.sn.record(api.PathBenefitsProgramme, []byte(id), p) != nil {
			return ""
		}
		return p.Name
	})
}

// holder names a funds holder id: "agency:benefits" → "Benefits Agency",
// "programme:student-bursary" → "Student bursary (programme)"; a payee
// stays a pseudonymous token.
func (n *namer) holder(h string) string {
	switch {
	case strings.HasPrefix(h, "agency:"):
		return n.agency(strings.TrimPrefix(h, "agency:"))
	case strings.HasPrefix(h, "programme:"):
		if name := n.programme(strings.TrimPrefix(h, "programme:")); name != "" {
			return name + " (programme)"
		}
	}
	return ""
}

// annotate writes "<field>_name" beside every field of the records in v
// (maps as protoMap makes them, in structs, slices and maps) that names an
// account, agency, location or money holder.
func (n *namer) annotate(v any) {
	n.walk(reflect.ValueOf(v), 0)
}

// maxWalk bounds how deep annotate follows a page's data.
const maxWalk = 12

func (n *namer) walk(v reflect.Value, depth int) {
	if !v.IsValid() || depth > maxWalk {
		return
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			n.walk(v.Elem(), depth+1)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				n.walk(v.Field(i), depth+1)
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return
		}
		for i := 0; i < v.Len(); i++ {
			n.walk(v.Index(i), depth+1)
		}
	case reflect.Map:
		if m, ok := v.Interface().(map[string]any); ok {
			n.record(m, depth)
			return
		}
		for _, k := range v.MapKeys() {
			n.walk(v.MapIndex(k), depth+1)
		}
	}
}

func (n *namer) record(m map[string]any, depth int) {
	for k, val := range m {
		s, ok := val.(string)
		if !ok {
			n.walk(reflect.ValueOf(val), depth+1)
			continue
		}
		if _, done := m[k+"_name"]; done || s == "" {
			continue
		}
		name := ""
		switch {
		case addressFields[k] && len(s) == 40 && isHex(s):
			name = n.account(s)
		case agencyFields[k]:
			name = n.agency(s)
		case locationFields[k]:
			name = n.location(s)
		}
		if name == "" && holderFields[k] {
			name = n.holder(s)
		}
		if name != "" {
			m[k+"_name"] = name
		}
	}
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

// sentences fills a transaction row's signer name and one sentence per
// message, in the words of the signer's agency.
func (n *namer) sentences(row *txRow, body *txv1.TxBody, events []abci.Event) {
	if body == nil {
		return
	}
	row.SignerName = n.account(row.Signer)
	who := "An unknown account"
	acc := &agencyv1.Account{}
	if n.sn.record(api.PathAccount, body.Signer, acc) == nil {
		who = firstNonEmpty(n.agency(acc.AgencyId), acc.AgencyId)
	}
	failed := row.Code != 0
	for _, m := range body.Messages {
		s := n.msgSentence(who, m, events)
		if failed {
			s = "Refused: " + s
		}
		row.Sentences = append(row.Sentences, s+".")
	}
}

// govValidators maps the consensus address (upper-case hex) of every
// validator the chain's governance records to its operating agency.
func (sn *snap) govValidators() map[string]string {
	out := map[string]string{}
	list, err := sn.list(api.PathGovValidators, nil)
	if err != nil {
		return out
	}
	for _, e := range list.Entries {
		v := &govv1.Validator{}
		if len(e.Value) == 0 || proto.Unmarshal(e.Value, v) != nil || len(v.PubKey) != ed25519.PubKeySize {
			continue
		}
		out[ed25519.PubKey(v.PubKey).Address().String()] = v.AgencyId
	}
	return out
}

// flowName names a money page flow end: a holder by its agency or
// programme, "in:<ref>" as money coming in, "out:settled" as paid out.
func (n *namer) flowName(id string) string {
	switch {
	case strings.HasPrefix(id, "in:tax"):
		return "Tax revenue"
	case strings.HasPrefix(id, "in:"):
		return "Appropriation " + strings.TrimPrefix(id, "in:")
	case id == "out:settled":
		return "Paid to banks"
	case strings.HasPrefix(id, "out:"):
		return "Returned: " + strings.TrimPrefix(id, "out:")
	case strings.HasPrefix(id, "payee:"):
		p := strings.TrimPrefix(id, "payee:") // a pseudonymous token
		return "Payee " + p[:min(8, len(p))] + "…"
	case strings.HasPrefix(id, "programme:"):
		return firstNonEmpty(n.programme(strings.TrimPrefix(id, "programme:")), id)
	}
	return firstNonEmpty(n.holder(id), id)
}

// agenciesOf writes a block row's proposer and signers (agency ids, as
// validatorNames gives them) as agency names.
func (n *namer) agenciesOf(b blockRow) blockRow {
	b.Proposer = firstNonEmpty(n.agency(b.Proposer), b.Proposer)
	signers := make([]string, len(b.Signers))
	for i, s := range b.Signers {
		signers[i] = firstNonEmpty(n.agency(s), s)
	}
	b.Signers = signers
	return b
}

package explorer

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/client"
	"github.com/tallyledger/tally/client/keys"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	benefitsv1 "github.com/tallyledger/tally/proto/tally/benefits/v1"
	fundsv1 "github.com/tallyledger/tally/proto/tally/funds/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	provenancev1 "github.com/tallyledger/tally/proto/tally/provenance/v1"
	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
)

// protoMap renders a record in the API's JSON form (client.RecordJSON:
// proto field names, enum value names with their words beside them, bytes
// as hex, amounts as pence with pounds beside them), with failure codes
// described.
func protoMap(m proto.Message) map[string]any {
	v := client.RecordJSON(m)
	api.DescribeCodes(v) // a failed payment's reason_code, with its message
	return v
}

// absentOr404 turns a proven absence into a 404 that says so.
func absentOr404(err error, format string, args ...any) error {
	if errors.Is(err, errAbsent) {
		return notFound(format+" (its absence was proven against the app hash).", args...)
	}
	qe := &queryError{}
	if errors.As(err, &qe) {
		return badRequest("%s", qe.log)
	}
	return err
}

// ---- agencies and accounts ----

type agencyData struct {
	Agency  map[string]any   `json:"agency"`
	Members []map[string]any `json:"members"`
	// MembersProof says what the member list's proofs showed, e.g.
	// "complete, proven".
	MembersProof string  `json:"members_proof"`
	Balance      *uint64 `json:"balance,string,omitempty"`
	// BalanceFormatted is Balance in pounds, as beside every API amount.
	BalanceFormatted string `json:"balance_formatted,omitempty"`
}

func (s *Server) agency(r *http.Request) (*view, error) {
	id := r.PathValue("id")
	sn, cancel, err := s.reader(r)
	defer cancel()
	if err != nil {
		return nil, err
	}
	a := &agencyv1.Agency{}
	if err := sn.record(api.PathAgency, []byte(id), a); err != nil {
		return nil, absentOr404(err, "No agency %q is on this chain", id)
	}
	d := &agencyData{Agency: protoMap(a)}
	list, proven, err := sn.provenList(api.PathMembers, []byte(id), nil)
	if err != nil {
		return nil, err
	}
	d.MembersProof = listStatus(list, proven)
	for _, e := range list.Entries {
		acc := &agencyv1.Account{}
		if proto.Unmarshal(e.Value, acc) == nil {
			d.Members = append(d.Members, protoMap(acc))
		}
	}
	b := &fundsv1.Balance{}
	if err := sn.record(api.PathFundsBalance, []byte("agency:"+id), b); err == nil {
		d.Balance, d.BalanceFormatted = &b.Amount, pounds(b.Amount)
	}
	return sn.view(a.Name, d), nil
}

type accountData struct {
	Account map[string]any   `json:"account"`
	Held    []map[string]any `json:"items_held"`
}

func (s *Server) account(r *http.Request) (*view, error) {
	addr, err := keys.ParseAddress(r.PathValue("address"))
	if err != nil {
		return nil, badRequest("An account address is 40 hexadecimal characters.")
	}
	sn, cancel, err := s.reader(r)
	defer cancel()
	if err != nil {
		return nil, err
	}
	acc := &agencyv1.Account{}
	if err := sn.record(api.PathAccount, addr, acc); err != nil {
		return nil, absentOr404(err, "No account %s is on this chain", keys.FormatAddress(addr))
	}
	d := &accountData{Account: protoMap(acc)}
	if list, err := sn.list(api.PathProvenanceHeld, addr); err == nil {
		for _, e := range list.Entries {
			it := &provenancev1.Item{}
			if len(e.Value) > 0 && proto.Unmarshal(e.Value, it) == nil {
				d.Held = append(d.Held, protoMap(it))
			}
		}
	}
	return sn.view("Account "+shortRef(keys.FormatAddress(addr)), d), nil
}

// ---- money ----

// flow is money that moved between two holders, summed over movements.
type flow struct {
	From, To string
	// FromName and ToName are the holders in words (flowName).
	FromName, ToName string
	Amount           uint64
	Movements        []uint64
}

type moneyData struct {
	Totals     map[string]any   `json:"totals"`
	Invariant  *invariantView   `json:"invariant"`
	Movements  []map[string]any `json:"movements"`
	Programmes []map[string]any `json:"programmes"`
	Sankey     sankeySVG        `json:"-"`
	Flows      []flowJSON       `json:"flows"`
	Truncated  bool             `json:"truncated"`
}

type flowJSON struct {
	From     string `json:"from"`
	To       string `json:"to"`
	FromName string `json:"from_name"`
	ToName   string `json:"to_name"`
	// Amount is pence as a string, like every amount the API writes
	// (client.RecordJSON), with pounds beside it.
	Amount          uint64   `json:"amount,string"`
	AmountFormatted string   `json:"amount_formatted"`
	Movements       []uint64 `json:"movements"`
}

// invariantView is the conservation sum; its amounts are pence as strings,
// as everywhere in the API, and MarshalJSON adds each in pounds.
type invariantView struct {
	Appropriated  uint64 `json:"appropriated,string"`
	RevenueIn     uint64 `json:"revenue_credited,string"`
	RevenueOut    uint64 `json:"revenue_debited,string"`
	Settled       uint64 `json:"settled,string"`
	Expected      uint64 `json:"expected_balances,string"`
	SumOfBalances uint64 `json:"sum_of_balances,string"`
	Holders       uint64 `json:"holders"`
	Holds         bool   `json:"holds"`
	// Partial is set when there were more holders than one page view
	// sums (maxBalancePages pages); the invariant is then not judged.
	Partial bool `json:"partial,omitempty"`
}

// MarshalJSON writes the sum with every amount in pounds beside its pence.
func (v *invariantView) MarshalJSON() ([]byte, error) {
	type plainView invariantView
	return json.Marshal(struct {
		*plainView
		AppropriatedFormatted  string `json:"appropriated_formatted"`
		RevenueInFormatted     string `json:"revenue_credited_formatted"`
		RevenueOutFormatted    string `json:"revenue_debited_formatted"`
		SettledFormatted       string `json:"settled_formatted"`
		ExpectedFormatted      string `json:"expected_balances_formatted"`
		SumOfBalancesFormatted string `json:"sum_of_balances_formatted"`
	}{(*plainView)(v), pounds(v.Appropriated), pounds(v.RevenueIn), pounds(v.RevenueOut), pounds(v.Settled), pounds(v.Expected), pounds(v.SumOfBalances)})
}

// maxBalancePages bounds the balance pages one money page reads: the
// conservation check past that many holders is the operator's
// (tallyd query funds invariants), not every visitor's.
const maxBalancePages = 10

// movementSeqKey holds the last movement id (x/funds/keys.go keySeqMovement).
const movementSeqKey = "fu/seq/m"

// maxMovements bounds the movements one money page reads.
const maxMovements = 400

func (s *Server) money(r *http.Request) (*view, error) {
	sn, cancel, err := s.reader(r)
	defer cancel()
	if err != nil {
		return nil, err
	}
	t := &fundsv1.Totals{}
	if err := sn.record(api.PathFundsTotals, nil, t); err != nil && !errors.Is(err, errAbsent) {
		return nil, err
	}
	d := &moneyData{Totals: protoMap(t)}
	inv := &invariantView{Appropriated: t.Appropriated, RevenueIn: t.RevenueCredited, RevenueOut: t.RevenueDebited, Settled: t.Settled}
	inv.Expected = t.Appropriated + t.RevenueCredited - t.RevenueDebited - t.Settled
	var after []byte
	for page := 0; ; page++ {
		if page == maxBalancePages {
			inv.Partial = true
			break
		}
		list, _, err := sn.provenList(api.PathFundsBalances, nil, after)
		if err != nil {
			return nil, err
		}
		for _, e := range list.Entries {
			b := &fundsv1.Balance{}
			if proto.Unmarshal(e.Value, b) == nil {
				inv.Holders++
				inv.SumOfBalances += b.Amount
			}
		}
		if len(list.NextKey) == 0 {
			break
		}
		after = list.NextKey
	}
	inv.Holds = !inv.Partial && inv.Expected == inv.SumOfBalances
	d.Invariant = inv
	flows := map[[2]string]*flow{}
	var order [][2]string
	// The proven movement counter says how many movements exist, so the
	// listing is complete without relying on a proof of absence.
	var count uint64
	if v, err := sn.raw(api.PathKey, []byte(movementSeqKey)); err == nil && len(v) == 8 {
		count = binary.BigEndian.Uint64(v)
	} else if err != nil && !errors.Is(err, errAbsent) {
		return nil, err
	}
	if count > maxMovements {
		count, d.Truncated = maxMovements, true
	}
	for id := uint64(1); id <= count; id++ {
		m := &fundsv1.Movement{}
		if err := sn.record(api.PathFundsMovement, []byte(strconv.FormatUint(id, 10)), m); err != nil {
			return nil, err
		}
		d.Movements = append(d.Movements, protoMap(m))
		from, to := m.From, m.To
		switch {
		case from == "" && m.Source != "":
			from = "in:" + m.Source // revenue, grouped by its source
		case from == "":
			from = "in:" + firstNonEmpty(m.Reference, "appropriation")
		}
		switch {
		case to == "" && m.Settles != 0:
			to = "out:settled"
		case to == "":
			to = "out:refunded (" + firstNonEmpty(m.Source, "revenue") + ")"
		}
		k := [2]string{from, to}
		f, ok := flows[k]
		if !ok {
			f = &flow{From: from, To: to, FromName: sn.names().flowName(from), ToName: sn.names().flowName(to)}
			flows[k] = f
			order = append(order, k)
		}
		f.Amount += m.Amount
		f.Movements = append(f.Movements, m.Id)
	}
	var fl []flow
	for _, k := range order {
		fl = append(fl, *flows[k])
		f := flows[k]
		d.Flows = append(d.Flows, flowJSON{From: f.From, To: f.To, FromName: f.FromName, ToName: f.ToName, Amount: f.Amount,
			AmountFormatted: pounds(f.Amount), Movements: f.Movements})
	}
	d.Sankey = sankey(fl)
	if list, err := sn.list(api.PathBenefitsProgrammes, nil); err == nil {
		for _, e := range list.Entries {
			p := &benefitsv1.Programme{}
			if proto.Unmarshal(e.Value, p) == nil {
				d.Programmes = append(d.Programmes, protoMap(p))
			}
		}
	}
	return sn.view("Public money", d), nil
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

type traceRecord struct {
	Kind   string         `json:"kind"`
	Absent bool           `json:"absent,omitempty"`
	Record map[string]any `json:"record,omitempty"`
	Link   string         `json:"link,omitempty"`
}

type movementData struct {
	Movement map[string]any `json:"movement"`
	TraceUp  []traceRecord  `json:"trace_up"`
	Root     map[string]any `json:"root_totals,omitempty"`
	Down     []traceRecord  `json:"trace_down,omitempty"`
	// Mandate is the grant the movement was done under (mandateOf).
	Mandate map[string]any `json:"mandate,omitempty"`
}

func (s *Server) movement(r *http.Request) (*view, error) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil || id == 0 {
		return nil, badRequest("A movement id is a whole number from 1.")
	}
	sn, cancel, err := s.reader(r)
	defer cancel()
	if err != nil {
		return nil, err
	}
	arg := []byte(strconv.FormatUint(id, 10))
	m := &fundsv1.Movement{}
	if err := sn.record(api.PathFundsMovement, arg, m); err != nil {
		return nil, absentOr404(err, "No movement %d is on this chain", id)
	}
	d := &movementData{Movement: protoMap(m)}
	d.Mandate = sn.mandateOf(d.Movement)
	if list, err := sn.list(api.PathFundsTraceUp, arg); err == nil {
		d.TraceUp = traceRecords(list)
	}
	rt := &fundsv1.RootTotals{}
	if err := sn.record(api.PathFundsRoot, arg, rt); err == nil {
		d.Root = protoMap(rt)
		if list, err := sn.list(api.PathFundsTraceDown, arg); err == nil {
			d.Down = traceRecords(list)
		}
	}
	return sn.view(fmt.Sprintf("Movement %d", id), d), nil
}

// traceRecords decodes a funds or benefits record list by each key.
func traceRecords(list *appv1.ProvedList) []traceRecord {
	var out []traceRecord
	for _, e := range list.Entries {
		kind, m := recordKind(e.Key)
		tr := traceRecord{Kind: kind}
		if len(e.Value) == 0 || m == nil || proto.Unmarshal(e.Value, m) != nil {
			tr.Absent = len(e.Value) == 0
		} else {
			tr.Record = protoMap(m)
			switch x := m.(type) {
			case *fundsv1.Movement:
				tr.Link = fmt.Sprintf("/movement/%d", x.Id)
			case *fundsv1.Leg:
				tr.Link = fmt.Sprintf("/movement/%d", x.Movement)
			case *benefitsv1.Payment:
				tr.Link = fmt.Sprintf("/payment/%d", x.Id)
			}
		}
		out = append(out, tr)
	}
	return out
}

// recordKind names a funds or benefits record by its state key
// (api.RecordOf: the one table of record layouts).
func recordKind(key []byte) (string, proto.Message) {
	kind, m := api.RecordOf(key)
	if m == nil {
		return "record", nil
	}
	return strings.ReplaceAll(kind, "_", " "), m
}

type paymentData struct {
	Payment map[string]any `json:"payment"`
	Trace   []traceRecord  `json:"trace"`
	Mandate map[string]any `json:"mandate,omitempty"`
}

func (s *Server) payment(r *http.Request) (*view, error) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil || id == 0 {
		return nil, badRequest("A payment id is a whole number from 1.")
	}
	sn, cancel, err := s.reader(r)
	defer cancel()
	if err != nil {
		return nil, err
	}
	arg := []byte(strconv.FormatUint(id, 10))
	p := &benefitsv1.Payment{}
	if err := sn.record(api.PathBenefitsPayment, arg, p); err != nil {
		return nil, absentOr404(err, "No payment %d is on this chain", id)
	}
	d := &paymentData{Payment: protoMap(p)}
	d.Mandate = sn.mandateOf(d.Payment)
	if list, err := sn.list(api.PathBenefitsTrace, arg); err == nil {
		d.Trace = traceRecords(list)
	}
	return sn.view(fmt.Sprintf("Payment %d", id), d), nil
}

type programmeData struct {
	Programme map[string]any `json:"programme"`
	Balance   uint64         `json:"balance,string"`
	// BalanceFormatted is Balance in pounds, as beside every API amount.
	BalanceFormatted string           `json:"balance_formatted"`
	Enrolments       []map[string]any `json:"enrolments"`
}

func (s *Server) programme(r *http.Request) (*view, error) {
	id := r.PathValue("id")
	sn, cancel, err := s.reader(r)
	defer cancel()
	if err != nil {
		return nil, err
	}
	p := &benefitsv1.Programme{}
	if err := sn.record(api.PathBenefitsProgramme, []byte(id), p); err != nil {
		return nil, absentOr404(err, "No programme %q is on this chain", id)
	}
	d := &programmeData{Programme: protoMap(p)}
	b := &fundsv1.Balance{}
	if sn.record(api.PathFundsBalance, []byte("programme:"+id), b) == nil {
		d.Balance = b.Amount
	}
	d.BalanceFormatted = pounds(d.Balance)
	if list, err := sn.list(api.PathBenefitsEnrolments, []byte(id)); err == nil {
		for _, e := range list.Entries {
			en := &benefitsv1.Enrolment{}
			if len(e.Value) > 0 && proto.Unmarshal(e.Value, en) == nil {
				d.Enrolments = append(d.Enrolments, protoMap(en))
			}
		}
	}
	return sn.view(p.Name, d), nil
}

// ---- tax ----

type taxTypeView struct {
	Type    map[string]any   `json:"tax_type"`
	Code    string           `json:"code"`
	Periods []map[string]any `json:"periods"`
}

func (s *Server) taxOverview(r *http.Request) (*view, error) {
	sn, cancel, err := s.reader(r)
	defer cancel()
	if err != nil {
		return nil, err
	}
	list, err := sn.list(api.PathTaxTypes, nil)
	if err != nil {
		return nil, err
	}
	var out []taxTypeView
	for _, e := range list.Entries {
		t := &taxv1.TaxType{}
		if proto.Unmarshal(e.Value, t) != nil {
			continue
		}
		tv := taxTypeView{Type: protoMap(t), Code: t.Code}
		if totals, err := sn.list(api.PathTaxTotals, []byte(t.Code)); err == nil {
			for _, te := range totals.Entries {
				tot := &taxv1.Total{}
				if len(te.Value) == 0 || proto.Unmarshal(te.Value, tot) != nil {
					continue
				}
				row := protoMap(tot)
				row["period"] = periodOfKey(te.Key)
				tv.Periods = append(tv.Periods, row)
			}
		}
		out = append(out, tv)
	}
	return sn.view("Tax", map[string]any{"tax_types": out}), nil
}

// periodOfKey is the last '/'-separated part of a per-period total's key.
func periodOfKey(key []byte) string {
	k := string(key)
	if i := strings.LastIndexByte(k, '/'); i >= 0 {
		k = k[i+1:]
	}
	return strings.ToValidUTF8(k, "?")
}

type receiptData struct {
	Receipt    map[string]any   `json:"receipt"`
	State      map[string]any   `json:"state"`
	Amendments []map[string]any `json:"amendments"`
	Mandate    map[string]any   `json:"mandate,omitempty"`
}

func (s *Server) receipt(r *http.Request) (*view, error) {
	id := r.PathValue("id")
	if _, err := api.ParseReceiptID(id); err != nil {
		return nil, badRequest("%q is not a receipt id; receipt ids look like REVENUE-000123.", id)
	}
	sn, cancel, err := s.reader(r)
	defer cancel()
	if err != nil {
		return nil, err
	}
	list, err := sn.list(api.PathTaxReceipt, []byte(id))
	if err != nil {
		return nil, absentOr404(err, "No receipt %s", id)
	}
	ans, err := api.DecodeReceipt(id, list)
	if err != nil {
		return nil, err
	}
	if !ans.Found {
		return nil, notFound("No receipt %s is on this chain at height %d (its absence was proven against the app hash).", id, sn.height)
	}
	d := &receiptData{Receipt: protoMap(ans.Receipt), State: protoMap(ans.State)}
	d.Mandate = sn.mandateOf(d.Receipt)
	for _, a := range ans.Amendments {
		d.Amendments = append(d.Amendments, protoMap(a))
	}
	return sn.view("Receipt "+id, d), nil
}

// clearanceData is the clearance page: a statement built from a grant the
// taxpayer handed over. The page can show only what the grant opens: the
// chain has no listing of a taxpayer's receipts to show.
type clearanceData struct {
	Grant                       string `json:"-"`
	Taxpayer, TaxType, From, To string
	Statement                   *api.Statement `json:"statement"`
	Words                       string         `json:"in_words"`
}

func (s *Server) clearance(r *http.Request) (*view, error) {
	d := &clearanceData{Grant: strings.TrimSpace(r.URL.Query().Get("grant"))}
	sn, cancel, err := s.reader(r)
	defer cancel()
	if err != nil {
		return nil, err
	}
	if d.Grant == "" {
		return sn.view("Clearance statement", d), nil
	}
	g, err := client.DecodeGrant(d.Grant)
	if err != nil {
		return nil, badRequest("That is not a clearance grant: %s. A taxpayer makes one with tallyd query tax grant.", err.Error())
	}
	req, err := client.ClearanceRequestOf(g)
	if err != nil {
		return nil, badRequest("%s", err.Error())
	}
	d.Taxpayer, d.TaxType, d.From, d.To = hex.EncodeToString(g.Taxpayer), g.TaxType, g.FromPeriod, g.ToPeriod
	if err := api.ValidateClearanceRequest(req); err != nil {
		return nil, badRequest("%s", err.Error())
	}
	data, _ := proto.Marshal(req)
	list, err := sn.list(api.PathTaxClearance, data)
	if err != nil {
		return nil, absentOr404(err, "No tax type %q", d.TaxType)
	}
	st, err := api.DecodeClearance(req, sn.height, list)
	if err != nil {
		return nil, badRequest("%s", err.Error())
	}
	st.Taxpayer = d.Taxpayer
	d.Statement, d.Words = st, st.String()
	return sn.view("Clearance statement", d), nil
}

// ---- provenance ----

func (s *Server) provenanceOverview(r *http.Request) (*view, error) {
	sn, cancel, err := s.reader(r)
	defer cancel()
	if err != nil {
		return nil, err
	}
	p := &provenancev1.Params{}
	_ = sn.record(api.PathProvenanceParams, nil, p)
	d := map[string]any{"params": protoMap(p)}
	sn.provenanceHome(d)
	// The landing page also lists one custodian's items (an account, or
	// every account of an agency) when asked.
	if c := strings.TrimSpace(r.URL.Query().Get("custodian")); c != "" {
		held, err := heldBy(sn, c)
		if err != nil {
			return nil, err
		}
		d["custodian"], d["held"] = c, held
	}
	return sn.view("Provenance", d), nil
}

type itemData struct {
	Item         map[string]any   `json:"item"`
	ID           string           `json:"id"`
	History      []map[string]any `json:"history"`
	Attestations []map[string]any `json:"attestations"`
	Up           []map[string]any `json:"lineage_up"`
	Down         []map[string]any `json:"lineage_down"`
	Graph        lineageSVG       `json:"-"`
	Recalls      []map[string]any `json:"recall_orders,omitempty"`
	// Product names the product: the producer's "name" attribute with the
	// GTIN ("" when the producer gave none).
	Product string `json:"product_name,omitempty"`
}

// maxSourceInspections bounds how many of an item's sources the item page
// reads inspections of.
const maxSourceInspections = 10

func (s *Server) item(r *http.Request) (*view, error) {
	id := r.PathValue("id")
	sn, cancel, err := s.reader(r)
	defer cancel()
	if err != nil {
		return nil, err
	}
	it := &provenancev1.Item{}
	if err := sn.record(api.PathProvenanceItem, []byte(id), it); err != nil {
		return nil, absentOr404(err, "No item %q is on this chain", id)
	}
	d := &itemData{Item: protoMap(it), ID: id}
	if from := it.GetMetadataFrom(); from != "" {
		// A split's part carries its origin's attributes and documents
		// by reference: show them with the item, saying where they live.
		h := &provenancev1.Item{}
		if sn.record(api.PathProvenanceItem, []byte(from), h) == nil {
			hm := protoMap(h)
			d.Item["attributes"], d.Item["documents"] = hm["attributes"], hm["documents"]
		}
	}
	d.History = pvList(sn, api.PathProvenanceHistory, id, func() proto.Message { return &provenancev1.Event{} })
	d.Attestations = pvList(sn, api.PathProvenanceAttestations, id, func() proto.Message { return &provenancev1.Attestation{} })
	var up, down []*provenancev1.Item
	up, d.Up = lineage(sn, id, provenancev1.LineageDirection_LINEAGE_DIRECTION_UP)
	// An inspection of what the item was made from speaks for it too: the
	// cheese's page shows the milk's microbiology test.
	for i, src := range up {
		if i == maxSourceInspections {
			break
		}
		d.Attestations = append(d.Attestations, pvList(sn, api.PathProvenanceAttestations, src.Id, func() proto.Message { return &provenancev1.Attestation{} })...)
	}
	attrs := it.Attributes
	if a, ok := d.Item["attributes"].([]any); ok && len(attrs) == 0 {
		for _, x := range a {
			if m, ok := x.(map[string]any); ok {
				attrs = append(attrs, &provenancev1.Attribute{Key: fmt.Sprint(m["key"]), Value: fmt.Sprint(m["value"])})
			}
		}
	}
	if name := productName(attrs); name != "" {
		d.Product = productWords(it.Product, attrs)
	}
	down, d.Down = lineage(sn, id, provenancev1.LineageDirection_LINEAGE_DIRECTION_DOWN)
	d.Graph = lineageGraph(it, up, down)
	if m := it.GetRecall(); m != nil && m.OrderId != "" {
		o := &provenancev1.RecallOrder{}
		if sn.record(api.PathProvenanceRecall, []byte(m.OrderId), o) == nil {
			d.Recalls = append(d.Recalls, protoMap(o))
		}
	}
	return sn.view("Item "+id, d), nil
}

// maxListPages bounds the pages one list read follows.
const maxListPages = 20

func pvList(sn *snap, path, id string, into func() proto.Message) []map[string]any {
	var out []map[string]any
	var after []byte
	for page := 0; page < maxListPages; page++ {
		list, _, err := sn.provenList(path, []byte(id), after)
		if err != nil {
			return out
		}
		entries := list.Entries
		if len(entries) > 0 {
			entries = entries[1:] // every page starts with the item itself, whose event count proves completeness
		}
		for _, e := range entries {
			m := into()
			if len(e.Value) > 0 && proto.Unmarshal(e.Value, m) == nil {
				out = append(out, protoMap(m))
			}
		}
		if len(list.NextKey) == 0 {
			return out
		}
		after = list.NextKey
	}
	return out
}

func lineage(sn *snap, id string, dir provenancev1.LineageDirection) ([]*provenancev1.Item, []map[string]any) {
	var items []*provenancev1.Item
	var out []map[string]any
	var after []byte
	for page := 0; page < maxListPages; page++ {
		list, _, err := sn.provenList(api.PathProvenanceLineage, api.LineageArg(dir, id), after)
		if err != nil {
			break
		}
		for _, e := range list.Entries {
			it := &provenancev1.Item{}
			if len(e.Value) > 0 && proto.Unmarshal(e.Value, it) == nil && it.Id != id {
				items = append(items, it)
				out = append(out, protoMap(it))
			}
		}
		if len(list.NextKey) == 0 {
			break
		}
		after = list.NextKey
	}
	return items, out
}

type recallData struct {
	Order          map[string]any   `json:"order"`
	Unacknowledged []map[string]any `json:"unacknowledged"`
	Mandate        map[string]any   `json:"mandate,omitempty"`
}

func (s *Server) recall(r *http.Request) (*view, error) {
	id := r.PathValue("id")
	sn, cancel, err := s.reader(r)
	defer cancel()
	if err != nil {
		return nil, err
	}
	o := &provenancev1.RecallOrder{}
	if err := sn.record(api.PathProvenanceRecall, []byte(id), o); err != nil {
		return nil, absentOr404(err, "No recall order %q is on this chain", id)
	}
	d := &recallData{Order: protoMap(o)}
	d.Mandate = sn.mandateOf(d.Order)
	if list, err := sn.list(api.PathProvenanceUnacknowledged, []byte(id)); err == nil {
		for _, e := range list.Entries {
			it := &provenancev1.Item{}
			if len(e.Value) > 0 && proto.Unmarshal(e.Value, it) == nil && it.Id != "" {
				d.Unacknowledged = append(d.Unacknowledged, protoMap(it))
			}
		}
	}
	return sn.view("Recall "+id, d), nil
}

// ---- governance ----

type proposalView struct {
	Proposal map[string]any   `json:"proposal"`
	What     string           `json:"-"`
	Votes    []map[string]any `json:"votes"`
}

func (s *Server) governance(r *http.Request) (*view, error) {
	sn, cancel, err := s.reader(r)
	defer cancel()
	if err != nil {
		return nil, err
	}
	list, err := sn.list(api.PathGovProposals, nil)
	if err != nil {
		qe := &queryError{}
		if !errors.As(err, &qe) {
			return nil, err
		}
		return sn.view("Governance", map[string]any{"available": false,
			"message": "Governance is not yet on this chain: no node answers " + api.PathGovProposals + ". Agencies, roles and parameters come from genesis."}), nil
	}
	var props []proposalView
	for _, e := range list.Entries {
		p := &govv1.Proposal{}
		if len(e.Value) == 0 || proto.Unmarshal(e.Value, p) != nil {
			continue
		}
		pv := proposalView{Proposal: protoMap(p)}
		pv.What = sn.names().contentWords(p.Content)
		if votes, err := sn.list(api.PathGovVotes, []byte(strconv.FormatUint(p.Id, 10))); err == nil {
			for _, ve := range votes.Entries {
				v := &govv1.Vote{}
				if len(ve.Value) > 0 && proto.Unmarshal(ve.Value, v) == nil {
					pv.Votes = append(pv.Votes, protoMap(v))
				}
			}
		}
		props = append(props, pv)
	}
	return sn.view("Governance", map[string]any{"available": true, "proposals": props}), nil
}

// ---- search ----

type hit struct {
	What string `json:"what"`
	Link string `json:"link"`
}

type searchData struct {
	Query string `json:"query"`
	Hits  []hit  `json:"hits"`
}

// search routes one box to every kind of record: a single match
// redirects to it; several are listed; none is a 404 page.
func (s *Server) search(r *http.Request) (*view, error) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	if q == "" {
		return &view{Title: "Search", Data: &searchData{}}, nil
	}
	sn, cancel, err := s.reader(r)
	defer cancel()
	if err != nil {
		return nil, err
	}
	var hits []hit
	add := func(what, link string) { hits = append(hits, hit{what, link}) }
	has := func(path string, data []byte) bool { _, err := sn.raw(path, data); return err == nil }
	if m := proposalQuery.FindStringSubmatch(q); m != nil {
		// "#3" or "proposal 3" names a proposal and nothing else.
		id, err := strconv.ParseUint(m[1], 10, 64)
		if err != nil || id == 0 {
			return nil, badRequest("A proposal id is a whole number from 1.")
		}
		link := fmt.Sprintf("/proposal/%d", id)
		if !has(api.PathGovProposal, []byte(strconv.FormatUint(id, 10))) {
			return nil, notFound("No proposal %d is on this chain.", id)
		}
		return nil, &redirect{to: link, v: &view{Title: "Search", Height: sn.height, Verified: sn.verified(),
			Data: &searchData{Query: q, Hits: []hit{{fmt.Sprintf("Governance proposal #%d", id), link}}}}}
	}
	if n, err := strconv.ParseInt(q, 10, 64); err == nil && n > 0 {
		if has(api.PathGovProposal, []byte(strconv.FormatInt(n, 10))) {
			add(fmt.Sprintf("Governance proposal #%d", n), fmt.Sprintf("/proposal/%d", n))
		}
		if n <= sn.latest {
			add(fmt.Sprintf("Block %d", n), fmt.Sprintf("/block/%d", n))
		}
		if has(api.PathFundsMovement, []byte(q)) {
			add(fmt.Sprintf("Money movement %d", n), fmt.Sprintf("/movement/%d", n))
		}
		if has(api.PathBenefitsPayment, []byte(q)) {
			add(fmt.Sprintf("Benefit payment %d", n), fmt.Sprintf("/payment/%d", n))
		}
	}
	if b, err := hex.DecodeString(q); err == nil {
		switch len(b) {
		case 32:
			if _, err := sn.c.RPC.Tx(sn.ctx, b, false); err == nil {
				add("Transaction "+strings.ToUpper(q), "/tx/"+strings.ToUpper(q))
			}
		case 20:
			if has(api.PathAccount, b) {
				add("Account "+shortRef(q), "/account/"+strings.ToLower(q))
			}
		}
	}
	if _, err := api.ParseReceiptID(q); err == nil {
		if list, err := sn.list(api.PathTaxReceipt, []byte(q)); err == nil {
			if ans, err := api.DecodeReceipt(q, list); err == nil && ans.Found {
				add("Tax receipt "+q, "/receipt/"+q)
			}
		}
	}
	if has(api.PathAgency, []byte(q)) {
		add("Agency "+q, "/agency/"+q)
	}
	if has(api.PathProvenanceItem, []byte(q)) {
		add("Item "+q, "/item/"+q)
	}
	if has(api.PathProvenanceRecall, []byte(q)) {
		add("Recall order "+q, "/recall/"+q)
	}
	if has(api.PathBenefitsProgramme, []byte(q)) {
		add("Benefit programme "+q, "/programme/"+q)
	}
	ap := &fundsv1.Appropriation{}
	if sn.record(api.PathFundsAppropriation, []byte(q), ap) == nil {
		add("Appropriation "+q, fmt.Sprintf("/movement/%d", ap.Movement))
	}
	for _, prefix := range []string{"agency:", "programme:", "payee:"} {
		if strings.HasPrefix(q, prefix) {
			rest := strings.TrimPrefix(q, prefix)
			if prefix == "agency:" && has(api.PathAgency, []byte(rest)) {
				add("Agency "+rest, "/agency/"+rest)
			}
			if prefix == "programme:" && has(api.PathBenefitsProgramme, []byte(rest)) {
				add("Programme "+rest, "/programme/"+rest)
			}
		}
	}
	if len(hits) == 0 {
		hits = s.nameHits(sn, q)
	}
	if len(hits) == 1 {
		return nil, &redirect{to: hits[0].Link, v: &view{Title: "Search", Height: sn.height, Verified: sn.verified(), Data: &searchData{Query: q, Hits: hits}}}
	}
	if len(hits) == 0 {
		return nil, notFound("Nothing on this chain matches %q. Try a block height, a transaction hash, an account address, an agency id, a receipt id (REVENUE-000001), a payment or movement number, a proposal (#3 or proposal 3), an item id (lgtin:…), or part of an agency's, programme's or product's name (products are looked for among the items of the last %d creating transactions of each kind: the chain keeps no index by name).", q, recentTxs)
	}
	return &view{Title: "Search", Height: sn.height, Verified: sn.verified(), Data: &searchData{Query: q, Hits: hits}}, nil
}

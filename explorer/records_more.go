package explorer

import (
	"encoding/hex"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/client/keys"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	provenancev1 "github.com/tallyledger/tally/proto/tally/provenance/v1"
	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
)

// ---- tax: the receipts of one tax type and period ----

// taxPageSize is how many receipts one page of a period's listing shows.
const taxPageSize = 50

type periodReceipt struct {
	Receipt map[string]any `json:"receipt"`
	ID      string         `json:"id"`
	// Status is the receipt's status as its enum value name, with the
	// words beside it (docs/json.md).
	Status          string `json:"status"`
	StatusFormatted string `json:"status_formatted"`
	Net             uint64 `json:"net,string"`
	// NetFormatted is Net in pounds, as beside every API amount.
	NetFormatted string `json:"net_formatted"`
}

type taxPeriodData struct {
	TaxType  map[string]any  `json:"tax_type"`
	Code     string          `json:"code"`
	Period   string          `json:"period"`
	Total    map[string]any  `json:"total,omitempty"`
	Receipts []periodReceipt `json:"receipts"`
	After    string          `json:"after,omitempty"`
	// Next is the receipt id the next page starts after; empty on the last page.
	Next string `json:"next,omitempty"`
	// Proof says what the listing's proofs showed, e.g. "complete, proven".
	Proof string `json:"proof"`
}

// taxPeriod lists the receipts of one tax type whose current period is
// the one given, read from the chain's (tax type, period) index
// (/tax/receipts), each receipt and its state proven against the app hash.
func (s *Server) taxPeriod(r *http.Request) (*view, error) {
	code, period := r.PathValue("type"), r.PathValue("period")
	if api.CheckTaxTypeCode(code) != nil {
		return nil, badRequest("A tax type code is upper-case letters, digits and underscores, e.g. VAT.")
	}
	pp, err := api.ParsePeriod(period)
	if err != nil {
		return nil, badRequest("A period is a year (2026), a quarter (2026-Q1) or a month (2026-03).")
	}
	d := &taxPeriodData{Code: code, Period: period, After: r.URL.Query().Get("after")}
	var after []byte
	if d.After != "" {
		ref, err := api.ParseReceiptID(d.After)
		if err != nil {
			return nil, badRequest("after is a receipt id such as REVENUE-000123.")
		}
		after = api.TaxTypePeriodIndexKey(code, period, ref)
	}
	sn, cancel, err := s.reader(r)
	defer cancel()
	if err != nil {
		return nil, err
	}
	tt := &taxv1.TaxType{}
	if err := sn.record(api.PathTaxType, []byte(code), tt); err != nil {
		return nil, absentOr404(err, "No tax type %q is registered on this chain", code)
	}
	if pp.Kind != tt.PeriodKind {
		return nil, notFound("Tax type %s is assessed by %s; %s is a %s, so it has no receipts for it.", code, api.PeriodKindName(tt.PeriodKind), period, api.PeriodKindName(pp.Kind))
	}
	d.TaxType = protoMap(tt)
	tot := &taxv1.Total{}
	data, _ := proto.Marshal(&taxv1.TotalRequest{TaxType: code, Period: period})
	if err := sn.record(api.PathTaxTotal, data, tot); err == nil {
		d.Total = protoMap(tot)
	}
	list, proven, err := sn.provenList(api.PathTaxReceipts, []byte(code+"/"+period), after)
	if err != nil {
		return nil, absentOr404(err, "No receipts for %s %s", code, period)
	}
	d.Proof = listStatus(list, proven)
	if proven && len(list.Entries) > taxPageSize { // the node's page is longer than the one shown
		d.Proof = listStatus(nil, true)
	}
	for i, e := range list.Entries {
		if i == taxPageSize {
			break
		}
		rc := &taxv1.Receipt{}
		if len(e.Value) == 0 || proto.Unmarshal(e.Value, rc) != nil {
			return nil, fmt.Errorf("the index of %s %s lists a receipt that does not decode", code, period)
		}
		pr := periodReceipt{Receipt: protoMap(rc), ID: rc.Id, Net: rc.Amount}
		status := taxv1.Status_STATUS_ISSUED
		if ref, err := api.ParseReceiptID(rc.Id); err == nil {
			st := &taxv1.ReceiptState{}
			if sn.record(api.PathKey, api.TaxReceiptStateKey(ref), st) == nil {
				status, pr.Net = st.Status, st.Net
			}
		}
		pr.Status, pr.StatusFormatted = status.String(), word(status)
		pr.NetFormatted = pounds(pr.Net)
		d.Receipts = append(d.Receipts, pr)
	}
	if len(d.Receipts) > 0 && (len(list.Entries) > taxPageSize || len(list.NextKey) > 0) {
		d.Next = d.Receipts[len(d.Receipts)-1].ID
	}
	return sn.view(fmt.Sprintf("%s receipts, %s", code, period), d), nil
}

// ---- governance: one proposal ----

type proposalData struct {
	Proposal map[string]any   `json:"proposal"`
	ID       uint64           `json:"id"`
	What     string           `json:"proposes"`
	Votes    []map[string]any `json:"votes"`
	Tally    proposalTally    `json:"tally"`
	Outcome  string           `json:"outcome"`
}

type proposalTally struct {
	Yes, No, Abstain, Active uint64
	Voted                    uint64 `json:"voted"`
	Threshold                string `json:"pass_threshold"`
	Quorum                   string `json:"quorum"`
}

// proposalQuery matches what the search box routes to a proposal:
// "#3", "proposal 3", "proposal #3" (any case).
var proposalQuery = regexp.MustCompile(`(?i)^(?:proposal\s*#?\s*|#\s*)([0-9]{1,19})$`)

func (s *Server) proposal(r *http.Request) (*view, error) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil || id == 0 {
		return nil, badRequest("A proposal id is a whole number from 1.")
	}
	sn, cancel, err := s.reader(r)
	defer cancel()
	if err != nil {
		return nil, err
	}
	arg := []byte(strconv.FormatUint(id, 10))
	p := &govv1.Proposal{}
	if err := sn.record(api.PathGovProposal, arg, p); err != nil {
		return nil, absentOr404(err, "No proposal %d is on this chain", id)
	}
	d := &proposalData{Proposal: protoMap(p), ID: id}
	d.What = sn.names().contentWords(p.Content)
	votes, err := sn.list(api.PathGovVotes, arg)
	if err != nil {
		return nil, err
	}
	for _, e := range votes.Entries {
		v := &govv1.Vote{}
		if len(e.Value) > 0 && proto.Unmarshal(e.Value, v) == nil {
			d.Votes = append(d.Votes, protoMap(v))
		}
	}
	d.Tally = proposalTally{Yes: p.Yes, No: p.No, Abstain: p.Abstain, Active: p.ActiveAgencies,
		Voted: p.Yes + p.No + p.Abstain, Threshold: p.PassThreshold, Quorum: p.Quorum}
	switch p.Status {
	case govv1.ProposalStatus_PROPOSAL_STATUS_VOTING:
		d.Outcome = "Open for votes until " + unixUTC(p.VotingEndUnix) + "."
	case govv1.ProposalStatus_PROPOSAL_STATUS_EXECUTED:
		d.Outcome = fmt.Sprintf("Passed and executed at block %d.", p.EndHeight)
	case govv1.ProposalStatus_PROPOSAL_STATUS_REJECTED:
		d.Outcome = fmt.Sprintf("Rejected at block %d: voting ended without the threshold or quorum.", p.EndHeight)
	case govv1.ProposalStatus_PROPOSAL_STATUS_FAILED:
		d.Outcome = fmt.Sprintf("Passed, but executing it failed at block %d; nothing of it was applied: %s", p.EndHeight, api.Describe(p.FailureCodespace, p.FailureCode))
	default:
		d.Outcome = "Status unknown."
	}
	return sn.view(fmt.Sprintf("Proposal #%d: %s", id, p.Title), d), nil
}

func unixUTC(n int64) string { return time.Unix(n, 0).UTC().Format("2006-01-02 15:04:05 UTC") }

// ---- provenance: items held by a custodian ----

type custodianItems struct {
	Address string `json:"address"`
	// Name is the account's display name, or its agency and roles.
	Name  string           `json:"name,omitempty"`
	Items []map[string]any `json:"items"`
	More  bool             `json:"more,omitempty"`
}

// maxCustodianAccounts bounds the member accounts one agency listing reads.
const maxCustodianAccounts = 50

// heldBy lists the items held by a custodian given as an account address
// (40 hex characters) or an agency id (every member account's items), from
// the chain's per-custodian index (/provenance/held), each item proven.
func heldBy(sn *snap, custodian string) ([]custodianItems, error) {
	var addrs [][]byte
	if a, err := keys.ParseAddress(custodian); err == nil {
		addrs = [][]byte{a}
	} else if api.CheckAgencyID(custodian) == nil {
		ag := &agencyv1.Agency{}
		if err := sn.record(api.PathAgency, []byte(custodian), ag); err != nil {
			return nil, absentOr404(err, "No account or agency %q is on this chain", custodian)
		}
		list, err := sn.list(api.PathMembers, []byte(custodian))
		if err != nil {
			return nil, err
		}
		for _, e := range list.Entries {
			acc := &agencyv1.Account{}
			if len(e.Value) > 0 && proto.Unmarshal(e.Value, acc) == nil && len(addrs) < maxCustodianAccounts {
				addrs = append(addrs, acc.Address)
			}
		}
	} else {
		return nil, badRequest("A custodian is an account address (40 hexadecimal characters) or an agency id.")
	}
	var out []custodianItems
	for _, a := range addrs {
		ci := custodianItems{Address: hex.EncodeToString(a), Name: sn.names().account(hex.EncodeToString(a))}
		list, err := sn.list(api.PathProvenanceHeld, a)
		if err != nil {
			return nil, err
		}
		for _, e := range list.Entries {
			it := &provenancev1.Item{}
			if len(e.Value) > 0 && proto.Unmarshal(e.Value, it) == nil {
				ci.Items = append(ci.Items, protoMap(it))
			}
		}
		ci.More = len(list.NextKey) > 0
		if len(ci.Items) > 0 || len(addrs) == 1 {
			out = append(out, ci)
		}
	}
	return out, nil
}

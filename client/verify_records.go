package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	benefitsv1 "github.com/tallyledger/tally/proto/tally/benefits/v1"
	fundsv1 "github.com/tallyledger/tally/proto/tally/funds/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	provenancev1 "github.com/tallyledger/tally/proto/tally/provenance/v1"
	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
)

// Composite records: answers made of several records, each proven against
// the same light-client-verified header, whose linkage the client checks
// itself — the keys an answer must hold are computed here from proven
// records (a count, an id, a period range), so a node can neither leave a
// record out nor slip in another one unnoticed.

// CheckLinkage is the check that a composite record's proven parts link
// up: counts match, ids point at each other.
const CheckLinkage Check = "record linkage"

func linkage(format string, args ...any) error {
	return &Refusal{Check: CheckLinkage, Reason: fmt.Sprintf(format, args...)}
}

func decodeEntry(e Entry, m proto.Message, what string) error {
	if e.Value == nil {
		return linkage("%s (key %s) is proven absent", what, fmtKey(e.Key))
	}
	if err := proto.Unmarshal(e.Value, m); err != nil {
		return &Refusal{Check: CheckRecord, Reason: fmt.Sprintf("%s (key %s) does not decode as %T: %v", what, fmtKey(e.Key), m, err)}
	}
	return nil
}

// provedList is the entries of a checked answer in the form the
// contract's decoders read (api.DecodeReceipt, api.DecodeClearance): each
// entry's proof has been checked already.
func (l *ListAnswer) provedList() *appv1.ProvedList {
	out := &appv1.ProvedList{Complete: l.Complete, NextKey: l.NextKey}
	for _, e := range l.Entries {
		out.Entries = append(out.Entries, &appv1.ProvedEntry{Key: e.Key, Value: e.Value})
	}
	return out
}

// answerRefusal gives a contract decoder's refusal of proven records the
// name of the check that failed; a refusal of the request itself (a
// receipt id, a period range) is returned as it is.
func answerRefusal(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, api.ErrUndecodable):
		return &Refusal{Check: CheckRecord, Reason: err.Error()}
	case errors.Is(err, api.ErrReceiptID), errors.Is(err, api.ErrPeriod), errors.Is(err, api.ErrPeriodKind),
		errors.Is(err, api.ErrPeriodRange), errors.Is(err, api.ErrTaxType), errors.Is(err, api.ErrPayer):
		return err
	}
	return &Refusal{Check: CheckLinkage, Reason: err.Error()}
}

// TaxReceipt reads a receipt, its state and its amendment chain, verified:
// every record proven at keys the client computes, and the records checked
// by the contract's decoder (api.DecodeReceipt): the number of amendments
// equal to the state's proven count, each amendment numbered in turn and
// taking the net amount from where the one before left it, and the proven
// state equal to the one its receipt and amendments give. A proven absence
// returns ErrNotFound.
func (c *LightClient) TaxReceipt(ctx context.Context, id string, height int64) (*api.ReceiptAnswer, *ListAnswer, error) {
	if _, err := api.ParseReceiptID(id); err != nil {
		return nil, nil, err
	}
	lb, h, err := c.pin(ctx, height)
	if err != nil {
		return nil, nil, err
	}
	list, err := c.listAllAt(ctx, lb, h, api.PathTaxReceipt, []byte(id), nil, nil)
	if err != nil {
		return nil, nil, err
	}
	r, err := api.DecodeReceipt(id, list.provedList())
	if err != nil {
		return nil, nil, answerRefusal(err)
	}
	if !r.Found {
		return nil, list, ErrNotFound
	}
	return r, list, nil
}

// TaxClearance reads a clearance statement, verified: the tax type proven
// (or its absence, ErrNotFound), then one proven total (or proven absence,
// a period with no receipt) for each period key the client computes from
// the range, the proven tax type's period kind and the request's payer
// commitments (ClearanceRequestOf a grant), checked by the contract's
// decoder (api.DecodeClearance). The statement names no taxpayer: the
// caller, who holds the grant, sets Statement.Taxpayer.
func (c *LightClient) TaxClearance(ctx context.Context, req *taxv1.ClearanceRequest, height int64) (*api.Statement, *ListAnswer, error) {
	if err := api.ValidateClearanceRequest(req); err != nil {
		return nil, nil, err
	}
	lb, h, err := c.pin(ctx, height)
	if err != nil {
		return nil, nil, err
	}
	ttAns, err := c.getAt(ctx, lb, h, api.PathTaxType, []byte(req.TaxType), api.TaxTypeKey(req.TaxType))
	if err != nil {
		if ttAns != nil {
			return nil, &ListAnswer{Path: api.PathTaxClearance, Verified: ttAns.Verified}, err
		}
		return nil, nil, err
	}
	tt := &taxv1.TaxType{}
	if err := decodeEntry(Entry{Key: ttAns.Key, Value: ttAns.Value}, tt, "tax type "+req.TaxType); err != nil {
		return nil, nil, err
	}
	// The range is checked against the proven period kind before the
	// node is asked for it.
	if _, _, err := api.ClearanceKeys(req, tt); err != nil {
		return nil, nil, err
	}
	data, err := proto.Marshal(req)
	if err != nil {
		return nil, nil, err
	}
	list, err := c.listAt(ctx, lb, h, api.PathTaxClearance, data, nil, nil)
	if err != nil {
		return nil, nil, err
	}
	s, err := api.DecodeClearance(req, h, list.provedList())
	if err != nil {
		return nil, nil, answerRefusal(err)
	}
	if !bytes.Equal(list.Entries[0].Value, ttAns.Value) {
		return nil, nil, linkage("the clearance answer's tax type differs from the proven tax type")
	}
	list.ProofBytes += ttAns.ProofBytes
	return s, list, nil
}

// PaymentTrace is a benefit payment and where its money came from.
type PaymentTrace struct {
	Payment    *benefitsv1.Payment
	Recoveries []*benefitsv1.Recovery
	// Hops are the movements and tranches from the paying movement back
	// to the inflows, in the order the verifier walked them.
	Movements []*fundsv1.Movement
	Tranches  []*fundsv1.Tranche
	// Settlement is nil when proven absent (the bank has not settled).
	Settlement *fundsv1.Settlement
	// Complete is false when the node cut a very long funds path; every
	// hop given is proven and linked.
	Complete bool
}

// BenefitsPaymentTrace reads a payment trace, verified: the payment proven
// (or absent, ErrNotFound), the recoveries its deductions went to, the
// paying movement, and for each of its legs the tranche it took money from
// and that tranche's chain of parents back to an inflow — every hop proven,
// each tranche created by a leg of the movement it names that moved money
// out of its parent — and the settlement proven present or absent.
func (c *LightClient) BenefitsPaymentTrace(ctx context.Context, id uint64, height int64) (*PaymentTrace, *ListAnswer, error) {
	lb, h, err := c.pin(ctx, height)
	if err != nil {
		return nil, nil, err
	}
	dec := []byte(strconv.FormatUint(id, 10))
	payAns, err := c.getAt(ctx, lb, h, api.PathBenefitsPayment, dec, api.BenefitsPaymentKey(id))
	if err != nil {
		if payAns != nil {
			return nil, &ListAnswer{Path: api.PathBenefitsTrace, Verified: payAns.Verified}, err
		}
		return nil, nil, err
	}
	list, err := c.listAt(ctx, lb, h, api.PathBenefitsTrace, dec, nil, nil)
	if err != nil {
		return nil, nil, err
	}
	list.ProofBytes += payAns.ProofBytes
	got := map[string]Entry{}
	for _, e := range list.Entries {
		got[string(e.Key)] = e
	}
	need := func(key []byte, m proto.Message, what string) (bool, error) {
		e, ok := got[string(key)]
		if !ok {
			if !list.Complete {
				return false, nil
			}
			return false, linkage("the trace of payment %d leaves out %s (key %s)", id, what, fmtKey(key))
		}
		return true, decodeEntry(e, m, what)
	}
	t := &PaymentTrace{Payment: &benefitsv1.Payment{}, Complete: list.Complete}
	if _, err := need(api.BenefitsPaymentKey(id), t.Payment, fmt.Sprintf("payment %d", id)); err != nil {
		return nil, nil, err
	}
	if !bytes.Equal(got[string(api.BenefitsPaymentKey(id))].Value, payAns.Value) || t.Payment.Id != id {
		return nil, nil, linkage("the trace's payment record is not the proven payment %d", id)
	}
	for _, d := range t.Payment.Deductions {
		r := &benefitsv1.Recovery{}
		if _, err := need(api.BenefitsRecoveryKey(d.Recovery), r, fmt.Sprintf("recovery %d (a deduction of the payment)", d.Recovery)); err != nil {
			return nil, nil, err
		}
		t.Recoveries = append(t.Recoveries, r)
	}
	if t.Payment.Movement == 0 {
		return t, list, nil // no money moved
	}
	movements := map[uint64]*fundsv1.Movement{}
	movement := func(mid uint64, what string) (*fundsv1.Movement, error) {
		if m, ok := movements[mid]; ok {
			return m, nil
		}
		m := &fundsv1.Movement{}
		ok, err := need(api.FundsMovementKey(mid), m, fmt.Sprintf("movement %d (%s)", mid, what))
		if err != nil || !ok {
			return nil, err
		}
		if m.Id != mid {
			return nil, linkage("the record at movement %d's key is movement %d", mid, m.Id)
		}
		movements[mid] = m
		t.Movements = append(t.Movements, m)
		return m, nil
	}
	pm, err := movement(t.Payment.Movement, "the payment's")
	if err != nil {
		return nil, nil, err
	}
	seen := map[uint64]bool{}
	for _, leg := range pm.GetLegs() {
		tid := leg.FromTranche
		if tid == 0 {
			tid = leg.ToTranche
		}
		for hop := 0; tid != 0 && !seen[tid]; hop++ {
			seen[tid] = true
			tr := &fundsv1.Tranche{}
			ok, err := need(api.FundsTrancheKey(tid), tr, fmt.Sprintf("tranche %d (hop %d of the path)", tid, hop))
			if err != nil {
				return nil, nil, err
			}
			if !ok {
				break
			}
			if tr.Id != tid {
				return nil, nil, linkage("the record at tranche %d's key is tranche %d", tid, tr.Id)
			}
			t.Tranches = append(t.Tranches, tr)
			m, err := movement(tr.Movement, fmt.Sprintf("which created tranche %d", tid))
			if err != nil {
				return nil, nil, err
			}
			if m == nil {
				break
			}
			linked := false
			for _, l := range m.Legs {
				if l.ToTranche == tid && l.FromTranche == tr.Parent {
					linked = true
				}
			}
			if !linked {
				return nil, nil, linkage("tranche %d names movement %d and parent %d, but no leg of that movement moved money from tranche %d into it",
					tid, m.Id, tr.Parent, tr.Parent)
			}
			tid = tr.Parent
		}
	}
	sk := api.FundsSettlementKey(t.Payment.Movement)
	if e, ok := got[string(sk)]; ok && e.Value != nil {
		t.Settlement = &fundsv1.Settlement{}
		if err := decodeEntry(e, t.Settlement, "the settlement"); err != nil {
			return nil, nil, err
		}
	} else if !ok && list.Complete {
		return nil, nil, linkage("the trace of payment %d neither proves its settlement nor its absence", id)
	}
	return t, list, nil
}

// ItemHistory is an item and every event of its history.
type ItemHistory struct {
	Item   *provenancev1.Item
	Events []*provenancev1.Event
}

// ProvenanceHistory reads an item and its whole history, verified: the
// item proven (or absent, ErrNotFound), then events 1..n each proven at
// the key of its sequence number, n the item's proven event count, page by
// page at the same verified header.
func (c *LightClient) ProvenanceHistory(ctx context.Context, id string, height int64) (*ItemHistory, *ListAnswer, error) {
	if id == "" || len(id) > 128 {
		return nil, nil, fmt.Errorf("item id %q: ids are 1 to 128 bytes", id)
	}
	lb, h, err := c.pin(ctx, height)
	if err != nil {
		return nil, nil, err
	}
	ik := api.ProvenanceItemKey(id)
	var (
		out   *ListAnswer
		hist  = &ItemHistory{Item: &provenancev1.Item{}}
		start []byte
		item  []byte
	)
	for page := 0; ; page++ {
		list, err := c.listAt(ctx, lb, h, api.PathProvenanceHistory, api.ListData([]byte(id), start, 0), nil, nil)
		if err != nil {
			return nil, nil, err
		}
		if out == nil {
			out = list
		} else {
			out.ProofBytes += list.ProofBytes
		}
		if len(list.Entries) == 0 || !bytes.Equal(list.Entries[0].Key, ik) {
			return nil, nil, linkage("the history answer does not start with item %s", id)
		}
		if page == 0 {
			if list.Entries[0].Value == nil {
				if len(list.Entries) != 1 {
					return nil, nil, linkage("the answer for absent item %s carries %d events", id, len(list.Entries)-1)
				}
				out.Entries = nil
				return nil, out, ErrNotFound
			}
			item = list.Entries[0].Value
			if err := decodeEntry(list.Entries[0], hist.Item, "item "+id); err != nil {
				return nil, nil, err
			}
			if hist.Item.Id != id {
				return nil, nil, linkage("the record at item %s's key is item %s", id, hist.Item.Id)
			}
		} else if !bytes.Equal(list.Entries[0].Value, item) {
			return nil, nil, linkage("page %d of the history carries a different item record", page)
		}
		for _, e := range list.Entries[1:] {
			seq := uint64(len(hist.Events) + 1)
			if seq > hist.Item.Events {
				return nil, nil, linkage("item %s's proven record counts %d events but the primary sent more", id, hist.Item.Events)
			}
			if want := api.ProvenanceHistoryKey(id, seq); !bytes.Equal(e.Key, want) {
				return nil, nil, linkage("history entry %d is key %s; the verifier expects event %d, %s", seq, fmtKey(e.Key), seq, fmtKey(want))
			}
			ev := &provenancev1.Event{}
			if err := decodeEntry(e, ev, fmt.Sprintf("event %d of %s", seq, id)); err != nil {
				return nil, nil, err
			}
			if ev.ItemId != id || ev.Seq != seq {
				return nil, nil, linkage("event record %d is event %d of %q", seq, ev.Seq, ev.ItemId)
			}
			hist.Events = append(hist.Events, ev)
		}
		if list.Complete {
			break
		}
		if page > 10000 {
			return nil, nil, linkage("the history of %s does not end", id)
		}
		if len(list.Entries) < 2 {
			return nil, nil, linkage("the primary said the history of %s goes on but sent no event", id)
		}
		start = list.Entries[len(list.Entries)-1].Key // a page of history ends at its last event's key
	}
	if uint64(len(hist.Events)) != hist.Item.Events {
		return nil, nil, linkage("item %s's proven record counts %d events but the primary sent %d: events were left out", id, hist.Item.Events, len(hist.Events))
	}
	out.Entries, out.Complete = nil, true
	return hist, out, nil
}

// ProposalRecord is a governance proposal and every vote cast on it.
type ProposalRecord struct {
	Proposal *govv1.Proposal
	Votes    []*govv1.Vote
	// Counted is the number of proven votes per option (yes, no, abstain).
	Yes, No, Abstain uint64
}

// GovProposal reads a proposal and its votes, verified: the proposal
// proven (or absent, ErrNotFound), every vote proven under the proposal's
// vote prefix at the key of the agency that cast it, and the proven votes
// checked against the proposal's proven tally: a vote counted in the tally
// but not listed means votes were left out.
func (c *LightClient) GovProposal(ctx context.Context, id uint64, height int64) (*ProposalRecord, *ListAnswer, error) {
	lb, h, err := c.pin(ctx, height)
	if err != nil {
		return nil, nil, err
	}
	dec := []byte(strconv.FormatUint(id, 10))
	pAns, err := c.getAt(ctx, lb, h, api.PathGovProposal, dec, api.GovProposalKey(id))
	if err != nil {
		if pAns != nil {
			return nil, &ListAnswer{Path: api.PathGovProposal, Verified: pAns.Verified}, err
		}
		return nil, nil, err
	}
	rec := &ProposalRecord{Proposal: &govv1.Proposal{}}
	if err := decodeEntry(Entry{Key: pAns.Key, Value: pAns.Value}, rec.Proposal, fmt.Sprintf("proposal %d", id)); err != nil {
		return nil, nil, err
	}
	if rec.Proposal.Id != id {
		return nil, nil, linkage("the record at proposal %d's key is proposal %d", id, rec.Proposal.Id)
	}
	list, err := c.listAllAt(ctx, lb, h, api.PathGovVotes, dec, nil, nil) // laid out by its route (ListingOf)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range list.Entries {
		v := &govv1.Vote{}
		if err := decodeEntry(e, v, "vote "+fmtKey(e.Key)); err != nil {
			return nil, nil, err
		}
		if v.ProposalId != id || !bytes.Equal(e.Key, api.GovVoteKey(id, v.AgencyId)) {
			return nil, nil, linkage("the vote at %s is agency %q's vote on proposal %d", fmtKey(e.Key), v.AgencyId, v.ProposalId)
		}
		switch v.Option {
		case govv1.VoteOption_VOTE_OPTION_YES:
			rec.Yes++
		case govv1.VoteOption_VOTE_OPTION_NO:
			rec.No++
		default:
			rec.Abstain++
		}
		rec.Votes = append(rec.Votes, v)
	}
	p := rec.Proposal
	if list.Complete && (rec.Yes < p.Yes || rec.No < p.No || rec.Abstain < p.Abstain) {
		return nil, nil, linkage("proposal %d's proven tally is yes %d, no %d, abstain %d but the primary listed votes yes %d, no %d, abstain %d: votes were left out",
			id, p.Yes, p.No, p.Abstain, rec.Yes, rec.No, rec.Abstain)
	}
	list.ProofBytes += pAns.ProofBytes
	return rec, list, nil
}

package api

import (
	"bytes"
	"fmt"

	"google.golang.org/protobuf/proto"

	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	benefitsv1 "github.com/tallyledger/tally/proto/tally/benefits/v1"
	fundsv1 "github.com/tallyledger/tally/proto/tally/funds/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	provenancev1 "github.com/tallyledger/tally/proto/tally/provenance/v1"
)

// A payment trace, an item history and a proposal with its votes are
// answers whose linkage a reader checks itself: the keys an answer must
// hold are computed from records already proven in it (a deduction's
// recovery, a movement's legs, a tranche's parent, an item's event count,
// a proposal's tally), so a node can neither leave a record out nor slip
// another one in unnoticed. As for the tax answers, the caller checks
// every entry's proof first (client.LightClient does both).

// FormatKey prints a state key as its readable prefix (up to its last
// '/') and the rest in hex, the way refusals name keys.
func FormatKey(k []byte) string {
	i := 0
	for i < len(k) && k[i] > 0x20 && k[i] < 0x7f {
		i++
	}
	if i == len(k) {
		return string(k)
	}
	cut := bytes.LastIndexByte(k[:i], '/') + 1 // binary parts follow a '/'
	return fmt.Sprintf("%s%X", k[:cut], k[cut:])
}

// decodeRecord decodes a present entry's value into m. Unlike decodeEntry
// it does not read 0x01 (IndexValue) as an empty record: none of the
// records these answers hold is an index entry, so 0x01 is a record that
// does not decode.
func decodeRecord(e *appv1.ProvedEntry, m proto.Message, what string) error {
	if len(e.Value) == 0 {
		return refuse(ErrAnswer, "%s (key %s) is proven absent", what, FormatKey(e.Key))
	}
	if err := proto.Unmarshal(e.Value, m); err != nil {
		return refuse(ErrUndecodable, "%s (key %s) does not decode as %T: %v", what, FormatKey(e.Key), m, err)
	}
	return nil
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

// DecodePaymentTrace checks a /benefits/payment-trace answer for payment
// id and decodes it: the payment (whose own proven record the caller
// compares with the trace's), the recoveries its deductions went to, the
// paying movement, and for each of its legs the tranche it took money
// from and that tranche's chain of parents back to an inflow — each
// tranche created by a leg of the movement it names that moved money out
// of its parent — and the settlement present or absent. A complete answer
// that leaves out any of these is refused; an incomplete one (the node cut
// a long path) ends the walk where it stops. Errors wrap ErrAnswer or
// ErrUndecodable.
func DecodePaymentTrace(id uint64, list *appv1.ProvedList) (*PaymentTrace, error) {
	got := map[string]*appv1.ProvedEntry{}
	for _, e := range list.Entries {
		got[string(e.Key)] = e
	}
	need := func(key []byte, m proto.Message, what string) (bool, error) {
		e, ok := got[string(key)]
		if !ok {
			if !list.Complete {
				return false, nil
			}
			return false, refuse(ErrAnswer, "the trace of payment %d leaves out %s (key %s)", id, what, FormatKey(key))
		}
		return true, decodeRecord(e, m, what)
	}
	t := &PaymentTrace{Payment: &benefitsv1.Payment{}, Complete: list.Complete}
	ok, err := need(BenefitsPaymentKey(id), t.Payment, fmt.Sprintf("payment %d", id))
	if err != nil {
		return nil, err
	}
	if !ok || t.Payment.Id != id {
		return nil, refuse(ErrAnswer, "the trace's payment record is not the proven payment %d", id)
	}
	for _, d := range t.Payment.Deductions {
		r := &benefitsv1.Recovery{}
		if _, err := need(BenefitsRecoveryKey(d.Recovery), r, fmt.Sprintf("recovery %d (a deduction of the payment)", d.Recovery)); err != nil {
			return nil, err
		}
		t.Recoveries = append(t.Recoveries, r)
	}
	if t.Payment.Movement == 0 {
		return t, nil // no money moved
	}
	movements := map[uint64]*fundsv1.Movement{}
	movement := func(mid uint64, what string) (*fundsv1.Movement, error) {
		if m, ok := movements[mid]; ok {
			return m, nil
		}
		m := &fundsv1.Movement{}
		ok, err := need(FundsMovementKey(mid), m, fmt.Sprintf("movement %d (%s)", mid, what))
		if err != nil || !ok {
			return nil, err
		}
		if m.Id != mid {
			return nil, refuse(ErrAnswer, "the record at movement %d's key is movement %d", mid, m.Id)
		}
		movements[mid] = m
		t.Movements = append(t.Movements, m)
		return m, nil
	}
	pm, err := movement(t.Payment.Movement, "the payment's")
	if err != nil {
		return nil, err
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
			ok, err := need(FundsTrancheKey(tid), tr, fmt.Sprintf("tranche %d (hop %d of the path)", tid, hop))
			if err != nil {
				return nil, err
			}
			if !ok {
				break
			}
			if tr.Id != tid {
				return nil, refuse(ErrAnswer, "the record at tranche %d's key is tranche %d", tid, tr.Id)
			}
			t.Tranches = append(t.Tranches, tr)
			m, err := movement(tr.Movement, fmt.Sprintf("which created tranche %d", tid))
			if err != nil {
				return nil, err
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
				return nil, refuse(ErrAnswer, "tranche %d names movement %d and parent %d, but no leg of that movement moved money from tranche %d into it",
					tid, m.Id, tr.Parent, tr.Parent)
			}
			tid = tr.Parent
		}
	}
	sk := FundsSettlementKey(t.Payment.Movement)
	if e, ok := got[string(sk)]; ok && len(e.Value) > 0 {
		t.Settlement = &fundsv1.Settlement{}
		if err := decodeRecord(e, t.Settlement, "the settlement"); err != nil {
			return nil, err
		}
	} else if !ok && list.Complete {
		return nil, refuse(ErrAnswer, "the trace of payment %d neither proves its settlement nor its absence", id)
	}
	return t, nil
}

// maxHistoryPages is the most pages an item history may take (about ten
// million events at the node's page size); a primary that goes on past it
// is refused rather than followed for ever.
const maxHistoryPages = 10000

// ItemHistory is an item and every event of its history. Found is false
// when the item was proven absent.
type ItemHistory struct {
	Found  bool
	Item   *provenancev1.Item
	Events []*provenancev1.Event

	pages int    // pages read so far
	item  []byte // the item record as the first page proved it
}

// DecodeItemHistory checks one page of a /provenance/history answer for
// item id and adds its events to h, the history read from the pages before
// it (nil for the first page). It returns the history so far and the key
// the next page starts after (the request's after), nil once the history
// is whole. Every page starts with the item, the same record on each; the
// first page's item proven absent is an answer with Found false and no
// other entry. Events follow at the keys of sequence numbers 1..n, n the
// item's proven event count, each naming the item and its number; on the
// last page the count must have been reached, so no event was left out.
// Errors wrap ErrAnswer or ErrUndecodable.
func DecodeItemHistory(id string, h *ItemHistory, list *appv1.ProvedList) (*ItemHistory, []byte, error) {
	ik := ProvenanceItemKey(id)
	if len(list.Entries) == 0 || !bytes.Equal(list.Entries[0].Key, ik) {
		return nil, nil, refuse(ErrAnswer, "the history answer does not start with item %s", id)
	}
	if h == nil {
		h = &ItemHistory{Item: &provenancev1.Item{}}
		if len(list.Entries[0].Value) == 0 {
			if len(list.Entries) != 1 {
				return nil, nil, refuse(ErrAnswer, "the answer for absent item %s carries %d events", id, len(list.Entries)-1)
			}
			return h, nil, nil
		}
		h.item = list.Entries[0].Value
		if err := decodeRecord(list.Entries[0], h.Item, "item "+id); err != nil {
			return nil, nil, err
		}
		if h.Item.Id != id {
			return nil, nil, refuse(ErrAnswer, "the record at item %s's key is item %s", id, h.Item.Id)
		}
		h.Found = true
	} else if !bytes.Equal(list.Entries[0].Value, h.item) {
		return nil, nil, refuse(ErrAnswer, "page %d of the history carries a different item record", h.pages)
	}
	page := h.pages
	h.pages++
	for _, e := range list.Entries[1:] {
		seq := uint64(len(h.Events) + 1)
		if seq > h.Item.Events {
			return nil, nil, refuse(ErrAnswer, "item %s's proven record counts %d events but the primary sent more", id, h.Item.Events)
		}
		if want := ProvenanceHistoryKey(id, seq); !bytes.Equal(e.Key, want) {
			return nil, nil, refuse(ErrAnswer, "history entry %d is key %s; the verifier expects event %d, %s", seq, FormatKey(e.Key), seq, FormatKey(want))
		}
		ev := &provenancev1.Event{}
		if err := decodeRecord(e, ev, fmt.Sprintf("event %d of %s", seq, id)); err != nil {
			return nil, nil, err
		}
		if ev.ItemId != id || ev.Seq != seq {
			return nil, nil, refuse(ErrAnswer, "event record %d is event %d of %q", seq, ev.Seq, ev.ItemId)
		}
		h.Events = append(h.Events, ev)
	}
	if !list.Complete {
		if page > maxHistoryPages {
			return nil, nil, refuse(ErrAnswer, "the history of %s does not end", id)
		}
		if len(list.Entries) < 2 {
			return nil, nil, refuse(ErrAnswer, "the primary said the history of %s goes on but sent no event", id)
		}
		return h, list.Entries[len(list.Entries)-1].Key, nil // a page of history ends at its last event's key
	}
	if uint64(len(h.Events)) != h.Item.Events {
		return nil, nil, refuse(ErrAnswer, "item %s's proven record counts %d events but the primary sent %d: events were left out", id, h.Item.Events, len(h.Events))
	}
	return h, nil, nil
}

// ProposalRecord is a governance proposal and every vote cast on it.
type ProposalRecord struct {
	Proposal *govv1.Proposal
	Votes    []*govv1.Vote
	// Counted is the number of proven votes per option (yes, no, abstain).
	Yes, No, Abstain uint64
}

// DecodeProposal checks proposal id's record (read from /gov/proposal)
// and every page of its /gov/votes listing, in order, and decodes them:
// the record is proposal id, each vote is on it and sits at the key of the
// agency that cast it, and when the listing is complete it holds no fewer
// votes per option than the proposal's tally (a vote counted in the tally
// but not listed means votes were left out). Errors wrap ErrAnswer or
// ErrUndecodable.
func DecodeProposal(id uint64, proposal *appv1.ProvedEntry, votes *appv1.ProvedList) (*ProposalRecord, error) {
	rec := &ProposalRecord{Proposal: &govv1.Proposal{}}
	if err := decodeRecord(proposal, rec.Proposal, fmt.Sprintf("proposal %d", id)); err != nil {
		return nil, err
	}
	if rec.Proposal.Id != id {
		return nil, refuse(ErrAnswer, "the record at proposal %d's key is proposal %d", id, rec.Proposal.Id)
	}
	for _, e := range votes.Entries {
		v := &govv1.Vote{}
		if err := decodeRecord(e, v, "vote "+FormatKey(e.Key)); err != nil {
			return nil, err
		}
		if v.ProposalId != id || !bytes.Equal(e.Key, GovVoteKey(id, v.AgencyId)) {
			return nil, refuse(ErrAnswer, "the vote at %s is agency %q's vote on proposal %d", FormatKey(e.Key), v.AgencyId, v.ProposalId)
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
	if votes.Complete && (rec.Yes < p.Yes || rec.No < p.No || rec.Abstain < p.Abstain) {
		return nil, refuse(ErrAnswer, "proposal %d's proven tally is yes %d, no %d, abstain %d but the primary listed votes yes %d, no %d, abstain %d: votes were left out",
			id, p.Yes, p.No, p.Abstain, rec.Yes, rec.No, rec.Abstain)
	}
	return rec, nil
}

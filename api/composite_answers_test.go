package api_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	benefitsv1 "github.com/tallyledger/tally/proto/tally/benefits/v1"
	fundsv1 "github.com/tallyledger/tally/proto/tally/funds/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	provenancev1 "github.com/tallyledger/tally/proto/tally/provenance/v1"
)

// Composite answers built as the node stores their records; proofs and
// the answers of real chains are checked in testnet
// (TestVerifiedCompositeRecords, TestTamperedAnswersAreRefused).

// mutateEntry decodes entry i of l into m, changes it and encodes it back.
func mutateEntry(t *testing.T, l *appv1.ProvedList, i int, m proto.Message, change func(proto.Message)) {
	t.Helper()
	require.NoError(t, proto.Unmarshal(l.Entries[i].Value, m))
	change(m)
	l.Entries[i].Value = encode(t, m)
}

// traceAnswer is the trace of payment 1: a deduction to recovery 3, paid
// by movement 20 out of tranche 11 (created by movement 19 out of tranche
// 10), which came in by movement 18 (an inflow); the bank has settled.
// Entries: payment, recovery, movements 20, 19, 18, tranches 11, 10,
// settlement.
func traceAnswer(t *testing.T) *appv1.ProvedList {
	return &appv1.ProvedList{Complete: true, Entries: []*appv1.ProvedEntry{
		entry(t, api.BenefitsPaymentKey(1), &benefitsv1.Payment{Id: 1, Gross: 100, Net: 90, Movement: 20,
			Deductions: []*benefitsv1.Deduction{{Recovery: 3, Amount: 10}}}),
		entry(t, api.BenefitsRecoveryKey(3), &benefitsv1.Recovery{Id: 3, Payment: 1, Amount: 10}),
		entry(t, api.FundsMovementKey(20), &fundsv1.Movement{Id: 20, Legs: []*fundsv1.Leg{{FromTranche: 11, ToTranche: 12, Amount: 90}}}),
		entry(t, api.FundsMovementKey(19), &fundsv1.Movement{Id: 19, Legs: []*fundsv1.Leg{{FromTranche: 10, ToTranche: 11, Amount: 500}}}),
		entry(t, api.FundsMovementKey(18), &fundsv1.Movement{Id: 18, Legs: []*fundsv1.Leg{{ToTranche: 10, Amount: 1000}}}),
		entry(t, api.FundsTrancheKey(11), &fundsv1.Tranche{Id: 11, Parent: 10, Movement: 19, Amount: 500}),
		entry(t, api.FundsTrancheKey(10), &fundsv1.Tranche{Id: 10, Movement: 18, Amount: 1000}),
		entry(t, api.FundsSettlementKey(20), &fundsv1.Settlement{Payment: 1, Movement: 20, Amount: 90}),
	}}
}

func TestDecodePaymentTraceWalksBackToTheInflow(t *testing.T) {
	tr, err := api.DecodePaymentTrace(1, traceAnswer(t))
	require.NoError(t, err)
	require.True(t, tr.Complete)
	require.Equal(t, uint64(1), tr.Payment.Id)
	require.Len(t, tr.Recoveries, 1)
	require.Equal(t, uint64(3), tr.Recoveries[0].Id)
	var movements, tranches []uint64
	for _, m := range tr.Movements {
		movements = append(movements, m.Id)
	}
	for _, x := range tr.Tranches {
		tranches = append(tranches, x.Id)
	}
	require.Equal(t, []uint64{20, 19, 18}, movements, "the paying movement, then each tranche's creator")
	require.Equal(t, []uint64{11, 10}, tranches, "from the paying leg's tranche back to the inflow")
	require.NotNil(t, tr.Settlement)
	require.Equal(t, uint64(90), tr.Settlement.Amount)

	l := traceAnswer(t)
	l.Entries[7].Value = nil // the settlement proven absent: not settled yet
	tr, err = api.DecodePaymentTrace(1, l)
	require.NoError(t, err)
	require.Nil(t, tr.Settlement)

	l = traceAnswer(t)
	l.Complete = false // the node cut the path: the walk ends where it stops
	l.Entries = append(l.Entries[:6], l.Entries[7:]...)
	tr, err = api.DecodePaymentTrace(1, l)
	require.NoError(t, err)
	require.False(t, tr.Complete)
	require.Len(t, tr.Tranches, 1)
}

func TestDecodePaymentTraceRefusesABrokenLinkage(t *testing.T) {
	for _, tc := range []struct {
		name   string
		alter  func(*appv1.ProvedList)
		kind   error
		saying string
	}{
		{"a hop left out", func(l *appv1.ProvedList) { l.Entries = append(l.Entries[:6], l.Entries[7:]...) },
			api.ErrAnswer, "the trace of payment 1 leaves out tranche 10 (hop 1 of the path)"},
		{"a recovery left out", func(l *appv1.ProvedList) { l.Entries = append(l.Entries[:1], l.Entries[2:]...) },
			api.ErrAnswer, "leaves out recovery 3"},
		{"the settlement left out", func(l *appv1.ProvedList) { l.Entries = l.Entries[:7] },
			api.ErrAnswer, "neither proves its settlement nor its absence"},
		{"a tranche naming a parent no leg moved money out of", func(l *appv1.ProvedList) {
			mutateEntry(t, l, 5, &fundsv1.Tranche{}, func(m proto.Message) { m.(*fundsv1.Tranche).Parent = 9 })
		}, api.ErrAnswer, "tranche 11 names movement 19 and parent 9, but no leg of that movement moved money from tranche 9 into it"},
		{"another tranche at a tranche's key", func(l *appv1.ProvedList) {
			mutateEntry(t, l, 6, &fundsv1.Tranche{}, func(m proto.Message) { m.(*fundsv1.Tranche).Id = 7 })
		}, api.ErrAnswer, "the record at tranche 10's key is tranche 7"},
		{"another movement at a movement's key", func(l *appv1.ProvedList) {
			mutateEntry(t, l, 3, &fundsv1.Movement{}, func(m proto.Message) { m.(*fundsv1.Movement).Id = 7 })
		}, api.ErrAnswer, "the record at movement 19's key is movement 7"},
		{"another payment", func(l *appv1.ProvedList) {
			mutateEntry(t, l, 0, &benefitsv1.Payment{}, func(m proto.Message) { m.(*benefitsv1.Payment).Id = 2 })
		}, api.ErrAnswer, "the trace's payment record is not the proven payment 1"},
		{"the payment left out of a cut trace", func(l *appv1.ProvedList) { l.Entries, l.Complete = l.Entries[1:], false },
			api.ErrAnswer, "the trace's payment record is not the proven payment 1"},
		{"a record that is not a record", func(l *appv1.ProvedList) { l.Entries[2].Value = []byte{0xff, 0xff} },
			api.ErrUndecodable, "movement 20 (the payment's) (key fu/m/0000000000000014) does not decode"},
		// Unlike an index entry, none of these records is stored as 0x01,
		// so that value is refused, not read as an empty record.
		{"an index value for a record", func(l *appv1.ProvedList) { l.Entries[7].Value = api.IndexValue },
			api.ErrUndecodable, "the settlement"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := traceAnswer(t)
			tc.alter(l)
			_, err := api.DecodePaymentTrace(1, l)
			require.ErrorIs(t, err, tc.kind)
			require.ErrorContains(t, err, tc.saying)
		})
	}
}

const historyItem = "lgtin:05012345678900.A1"

// historyPages is the history of an item with three events, in two
// pages: the item and events 1 and 2, then the item and event 3.
func historyPages(t *testing.T) []*appv1.ProvedList {
	item := entry(t, api.ProvenanceItemKey(historyItem), &provenancev1.Item{Id: historyItem, Product: "milk", Events: 3})
	event := func(seq uint64) *appv1.ProvedEntry {
		return entry(t, api.ProvenanceHistoryKey(historyItem, seq), &provenancev1.Event{ItemId: historyItem, Seq: seq, Height: int64(seq)})
	}
	return []*appv1.ProvedList{
		{Entries: []*appv1.ProvedEntry{item, event(1), event(2)}, NextKey: api.ProvenanceHistoryKey(historyItem, 2)},
		{Entries: []*appv1.ProvedEntry{proto.Clone(item).(*appv1.ProvedEntry), event(3)}, Complete: true},
	}
}

// readHistory decodes pages as client.LightClient.ProvenanceHistory
// does, checking that each page but the last says where the next starts.
func readHistory(t *testing.T, pages []*appv1.ProvedList) (*api.ItemHistory, error) {
	var h *api.ItemHistory
	for i, p := range pages {
		var next []byte
		var err error
		h, next, err = api.DecodeItemHistory(historyItem, h, p)
		if err != nil || !h.Found {
			return h, err
		}
		if i < len(pages)-1 {
			require.Equal(t, p.Entries[len(p.Entries)-1].Key, next, "the next page starts after this page's last event")
		} else {
			require.Nil(t, next, "the history is whole")
		}
	}
	return h, nil
}

func TestDecodeItemHistoryReadsEveryPage(t *testing.T) {
	h, err := readHistory(t, historyPages(t))
	require.NoError(t, err)
	require.True(t, h.Found)
	require.Equal(t, historyItem, h.Item.Id)
	require.Len(t, h.Events, 3)
	for i, e := range h.Events {
		require.Equal(t, uint64(i+1), e.Seq)
	}

	absent := &appv1.ProvedList{Complete: true, Entries: []*appv1.ProvedEntry{{Key: api.ProvenanceItemKey(historyItem)}}}
	h, next, err := api.DecodeItemHistory(historyItem, nil, absent)
	require.NoError(t, err)
	require.False(t, h.Found, "the item is proven absent")
	require.Nil(t, next)
}

func TestDecodeItemHistoryRefusesABrokenLinkage(t *testing.T) {
	for _, tc := range []struct {
		name   string
		alter  func([]*appv1.ProvedList)
		kind   error
		saying string
	}{
		{"the last event left out", func(p []*appv1.ProvedList) { p[1].Entries = p[1].Entries[:1] },
			api.ErrAnswer, "item lgtin:05012345678900.A1's proven record counts 3 events but the primary sent 2: events were left out"},
		{"an event left out in the middle", func(p []*appv1.ProvedList) { p[0].Entries = p[0].Entries[:2] },
			api.ErrAnswer, "history entry 2 is key"},
		{"an event of another item", func(p []*appv1.ProvedList) {
			mutateEntry(t, p[0], 1, &provenancev1.Event{}, func(m proto.Message) { m.(*provenancev1.Event).ItemId = "lgtin:other" })
		}, api.ErrAnswer, `event record 1 is event 1 of "lgtin:other"`},
		{"an event numbered otherwise", func(p []*appv1.ProvedList) {
			mutateEntry(t, p[1], 1, &provenancev1.Event{}, func(m proto.Message) { m.(*provenancev1.Event).Seq = 4 })
		}, api.ErrAnswer, "event record 3 is event 4"},
		{"a later page with a different item record", func(p []*appv1.ProvedList) {
			mutateEntry(t, p[1], 0, &provenancev1.Item{}, func(m proto.Message) { m.(*provenancev1.Item).Events = 4 })
		}, api.ErrAnswer, "page 1 of the history carries a different item record"},
		{"more events than the item counts", func(p []*appv1.ProvedList) {
			mutateEntry(t, p[0], 0, &provenancev1.Item{}, func(m proto.Message) { m.(*provenancev1.Item).Events = 1 })
		}, api.ErrAnswer, "counts 1 events but the primary sent more"},
		{"another item at the item's key", func(p []*appv1.ProvedList) {
			mutateEntry(t, p[0], 0, &provenancev1.Item{}, func(m proto.Message) { m.(*provenancev1.Item).Id = "lgtin:other" })
		}, api.ErrAnswer, "the record at item lgtin:05012345678900.A1's key is item lgtin:other"},
		{"a page that does not start with the item", func(p []*appv1.ProvedList) { p[1].Entries = p[1].Entries[1:] },
			api.ErrAnswer, "does not start with item"},
		{"a page that goes on without an event", func(p []*appv1.ProvedList) { p[0].Entries = p[0].Entries[:1] },
			api.ErrAnswer, "goes on but sent no event"},
		{"an absent item with events", func(p []*appv1.ProvedList) { p[0].Entries[0].Value = nil },
			api.ErrAnswer, "the answer for absent item lgtin:05012345678900.A1 carries 2 events"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pages := historyPages(t)
			tc.alter(pages)
			_, err := readHistory(t, pages)
			require.ErrorIs(t, err, tc.kind)
			require.ErrorContains(t, err, tc.saying)
		})
	}
}

// proposalAnswer is proposal 4 (tallied yes 1, no 1) and its votes,
// agency "health" for and "treasury" against.
func proposalAnswer(t *testing.T) (*appv1.ProvedEntry, *appv1.ProvedList) {
	return entry(t, api.GovProposalKey(4), &govv1.Proposal{Id: 4, Title: "raise the cap", Yes: 1, No: 1}),
		&appv1.ProvedList{Complete: true, Entries: []*appv1.ProvedEntry{
			entry(t, api.GovVoteKey(4, "health"), &govv1.Vote{ProposalId: 4, AgencyId: "health", Option: govv1.VoteOption_VOTE_OPTION_YES}),
			entry(t, api.GovVoteKey(4, "treasury"), &govv1.Vote{ProposalId: 4, AgencyId: "treasury", Option: govv1.VoteOption_VOTE_OPTION_NO}),
		}}
}

func TestDecodeProposalCountsEveryVote(t *testing.T) {
	p, votes := proposalAnswer(t)
	rec, err := api.DecodeProposal(4, p, votes)
	require.NoError(t, err)
	require.Equal(t, uint64(4), rec.Proposal.Id)
	require.Len(t, rec.Votes, 2)
	require.Equal(t, []uint64{1, 1, 0}, []uint64{rec.Yes, rec.No, rec.Abstain})

	votes.Complete, votes.Entries = false, votes.Entries[:1] // a page read so far: fewer votes than the tally is no refusal
	rec, err = api.DecodeProposal(4, p, votes)
	require.NoError(t, err)
	require.Len(t, rec.Votes, 1)
}

func TestDecodeProposalRefusesABrokenLinkage(t *testing.T) {
	for _, tc := range []struct {
		name   string
		alter  func(*appv1.ProvedEntry, *appv1.ProvedList)
		kind   error
		saying string
	}{
		{"a vote left out", func(_ *appv1.ProvedEntry, l *appv1.ProvedList) { l.Entries = l.Entries[1:] },
			api.ErrAnswer, "proposal 4's proven tally is yes 1, no 1, abstain 0 but the primary listed votes yes 0, no 1, abstain 0: votes were left out"},
		{"a vote filed under another agency", func(_ *appv1.ProvedEntry, l *appv1.ProvedList) {
			mutateEntry(t, l, 0, &govv1.Vote{}, func(m proto.Message) { m.(*govv1.Vote).AgencyId = "revenue" })
		}, api.ErrAnswer, `the vote at gov/v/`},
		{"a vote on another proposal", func(_ *appv1.ProvedEntry, l *appv1.ProvedList) {
			mutateEntry(t, l, 1, &govv1.Vote{}, func(m proto.Message) { m.(*govv1.Vote).ProposalId = 5 })
		}, api.ErrAnswer, `is agency "treasury"'s vote on proposal 5`},
		{"another proposal at the proposal's key", func(p *appv1.ProvedEntry, _ *appv1.ProvedList) {
			p.Value = encode(t, &govv1.Proposal{Id: 5})
		}, api.ErrAnswer, "the record at proposal 4's key is proposal 5"},
		{"a vote that is not a record", func(_ *appv1.ProvedEntry, l *appv1.ProvedList) { l.Entries[0].Value = api.IndexValue },
			api.ErrUndecodable, "does not decode as *govv1.Vote"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, votes := proposalAnswer(t)
			tc.alter(p, votes)
			_, err := api.DecodeProposal(4, p, votes)
			require.ErrorIs(t, err, tc.kind)
			require.ErrorContains(t, err, tc.saying)
		})
	}
}

package app_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/app"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	examplev1 "github.com/tallyledger/tally/proto/tally/example/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/gov"
	"github.com/tallyledger/tally/x/module"
)

// A message whose events weigh more than its transaction's units allow
// (app.EventBytesPerUnit) keeps its result and its first events, and the
// rest are cut and counted in one EventsCut event, alike on every node: a
// module that emits 5,000 events of a 140-byte notice (4.5 MB) for a few
// thousand units leaves events within the bound. No message of this
// release emits that much (runBlock checks every test's transactions),
// so the flood is a module of the test's own.
func TestEventsOverTheirBoundAreCut(t *testing.T) {
	const n = 5_000
	flood := module.Module{Name: "flood", Routes: []module.Route{
		module.Msg(agencyv1.Role_ROLE_ADMIN, nil, func(ctx module.Context, _ *agencyv1.Account, m *examplev1.MsgPostNotice) error {
			for i := range n {
				ctx.Emit("flood", module.Attr("i", strconv.Itoa(i)), module.Attr("text", m.Text))
			}
			return nil
		}),
	}}
	run := func() *abci.ExecTxResult {
		c := openChain(t, store.NewMemory(), app.Options{Modules: []module.Module{flood}})
		c.initChain(testGenesis())
		c.block()
		tx := c.tx(treasuryAdmin, postNotice(strings.Repeat("<", 140)))
		res, err := c.app.FinalizeBlock(context.Background(), &abci.RequestFinalizeBlock{Txs: [][]byte{tx}, Height: c.height + 1, Time: blockTime(c.height + 1)})
		require.NoError(t, err)
		return res.TxResults[0]
	}
	r := run()
	requireOK(t, r)
	w := app.EventsWeight(r.Events)
	t.Logf("%d events weighing %d for %d units", len(r.Events), w, r.GasUsed)
	require.LessOrEqual(t, w, app.EventBytesPerUnit*uint64(r.GasUsed))
	require.Equal(t, "tx", r.Events[0].Type)
	last := attrs(r.Events[len(r.Events)-1])
	require.Equal(t, app.EventsCut, r.Events[len(r.Events)-1].Type)
	kept := len(r.Events) - 2 // the tx event and the cut
	require.Positive(t, kept)
	require.Equal(t, strconv.Itoa(n-kept), last["events"].Value)
	whole, err := strconv.ParseUint(last["weight"].Value, 10, 64)
	require.NoError(t, err)
	require.Greater(t, whole, uint64(n)*6*140, "the weight of all the events, cut ones included")
	for i, e := range r.Events[1 : 1+kept] {
		require.Equal(t, strconv.Itoa(i), attrs(e)["i"].Value, "the first events are kept, in order")
	}
	require.Equal(t, r.Events, run().Events, "the same cut on another node")
}

// The block's own events (finalize_block_events) are bounded as a
// transaction's are: a module's end-of-block events weigh at most
// app.EventBytesPerUnit a unit its end-of-block work used, and past that
// they are cut and counted in one EventsCut event, alike on every node. No
// module of this release comes near it (every test block checks that none
// was cut: requireBlockEventsUncut), so the flood is the test's own module:
// 5,000 events of a 140-byte notice (4.8 MB of weight) for 3,000 units.
func TestBlockEventsOverTheirBoundAreCut(t *testing.T) {
	const n, units = 5_000, 3_000
	text := strings.Repeat("<", 140)
	flood := module.Module{Name: "flood", EndBlock: func(ctx module.Context) error {
		ctx.Charge(store.RecallStep, units/store.Cost(store.RecallStep))
		for i := range n {
			ctx.Emit("flood", module.Attr("i", strconv.Itoa(i)), module.Attr("text", text))
		}
		return nil
	}}
	run := func() []abci.Event {
		c := openChain(t, store.NewMemory(), app.Options{Modules: []module.Module{flood}})
		c.initChain(testGenesis())
		res, err := c.app.FinalizeBlock(context.Background(), &abci.RequestFinalizeBlock{Height: c.height + 1, Time: blockTime(c.height + 1)})
		require.NoError(t, err)
		return res.Events
	}
	events := run()
	var own []abci.Event // the flood module's, after the built-in modules'
	for i, e := range events {
		if e.Type == "flood" {
			own = events[i:]
			break
		}
	}
	w := app.EventsWeight(own)
	t.Logf("the flood module's end-of-block events: %d weighing %d for %d units", len(own), w, units)
	require.LessOrEqual(t, w, uint64(app.EventBytesPerUnit*units))
	require.Equal(t, app.EventsCut, own[len(own)-1].Type)
	kept := len(own) - 1
	require.Positive(t, kept)
	last := attrs(own[kept])
	require.Equal(t, strconv.Itoa(n-kept), last["events"].Value)
	whole, err := strconv.ParseUint(last["weight"].Value, 10, 64)
	require.NoError(t, err)
	require.Greater(t, whole, uint64(n)*6*140, "the weight of all the events, cut ones included")
	for i, e := range own[:kept] {
		require.Equal(t, strconv.Itoa(i), attrs(e)["i"].Value, "the first events are kept, in order")
	}
	require.Equal(t, events, run(), "the same cut on another node")
}

// A block that closes the most proposals the default parameters allow
// every agency (max_open_proposals_per_agency: 10 each of the three) emits
// for each at most gov.MaxClosingEventsWeight, and within what gov's
// end-of-block work used (none cut: runBlock checks). The contents are
// the heaviest gov executes: key rotations, whose execution emits two
// validator changes, and which past the power-change window fail with a
// long reason.
func TestBlockClosingTheMostProposalsStaysWithinItsBound(t *testing.T) {
	c := newGovChain(t)
	most := int(gov.DefaultParams().MaxOpenProposalsPerAgency)
	var ids []uint64
	for i, admin := range voters {
		var txs [][]byte
		for j := range most {
			txs = append(txs, c.tx(admin, msgPropose(rotateValidator(genesisVals[i], consKey(fmt.Sprintf("closing-%d-%d", i, j))))))
		}
		for _, r := range c.block(txs...).TxResults {
			requireOK(t, r)
			id, err := strconv.ParseUint(attrs(event(t, r.Events, gov.EventSubmitted))["proposal_id"].Value, 10, 64)
			require.NoError(t, err)
			ids = append(ids, id)
		}
	}
	var txs [][]byte
	for _, admin := range voters {
		for _, id := range ids {
			txs = append(txs, c.tx(admin, msgVote(id, govv1.VoteOption_VOTE_OPTION_YES)))
		}
	}
	res := c.block(txs...)
	for _, r := range res.TxResults {
		requireOK(t, r)
	}
	executed, failed := countEvents(res.Events, gov.EventExecuted), countEvents(res.Events, gov.EventFailed)
	require.Equal(t, len(ids), executed+failed, "every proposal closes in the block")
	require.Positive(t, executed)
	require.Positive(t, failed)
	w := app.EventsWeight(res.Events)
	t.Logf("%d proposals closed (%d executed, %d failed): %d events weighing %d", len(ids), executed, failed, len(res.Events), w)
	require.LessOrEqual(t, w, uint64(len(ids))*gov.MaxClosingEventsWeight)
}

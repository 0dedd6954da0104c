package app_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/app"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	examplev1 "github.com/tallyledger/tally/proto/tally/example/v1"
	"github.com/tallyledger/tally/store"
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

package node_test

import (
	"context"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/node"
	"github.com/tallyledger/tally/store"
)

// liveness bounds how long the test waits for the query before declaring
// it blocked: a deadlock detector, not a speed check (answered at once
// with the fix, never without it).
const liveness = 30 * time.Second

// A query sent on CometBFT's query connection while the consensus
// connection is inside FinalizeBlock is answered before FinalizeBlock
// returns: the node does not put every ABCI connection behind one lock.
func TestQueryIsAnsweredDuringFinalizeBlock(t *testing.T) {
	var query func() (*abci.ResponseQuery, error)
	answered := make(chan *abci.ResponseQuery, 1)
	blocked := false
	a, err := app.New(store.NewMemory(), app.Options{OnStep: func(s app.Step) {
		if s != app.StepFinalized || query == nil {
			return
		}
		go func() {
			res, err := query()
			if err == nil {
				answered <- res
			}
		}()
		select { // FinalizeBlock is still running: it has not returned yet
		case res := <-answered:
			answered <- res
		case <-time.After(liveness):
			blocked = true
		}
	}})
	require.NoError(t, err)
	defer a.Close()

	creator := node.ClientCreator(a)
	consensus, err := creator.NewABCIClient()
	require.NoError(t, err)
	queries, err := creator.NewABCIClient()
	require.NoError(t, err)
	ctx := context.Background()
	query = func() (*abci.ResponseQuery, error) {
		return queries.Query(ctx, &abci.RequestQuery{Path: api.PathParams})
	}

	_, err = consensus.FinalizeBlock(ctx, &abci.RequestFinalizeBlock{Height: 1, Time: time.Unix(1, 0)})
	require.NoError(t, err)
	require.False(t, blocked, "the query waited for FinalizeBlock to finish")
	res := <-answered
	require.Contains(t, res.Log, "no state is committed yet", "the query read committed state, of which there is none")
}

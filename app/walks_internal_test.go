package app

import (
	"context"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/module"
)

// Even the operator gets one whole-state walk at a time: while one runs, a
// second is refused with a code saying to ask again, so a flood of them
// cannot take every CPU from the consensus connection.
func TestOneWholeStateWalkAtATime(t *testing.T) {
	a, err := New(store.NewMemory(), Options{OperatorQueries: true})
	require.NoError(t, err)
	defer a.Close()
	a.store.Set([]byte("k"), []byte("v"))
	_, _, err = a.store.Commit()
	require.NoError(t, err)

	a.walking <- struct{}{} // a walk in progress
	for _, path := range []string{api.PathInvariants, api.PathFundsInvariants} {
		res, err := a.Query(context.Background(), &abci.RequestQuery{Path: path})
		require.NoError(t, err)
		space, code, _ := module.CodeOf(ErrOperatorOnly)
		require.Equal(t, space, res.Codespace)
		require.Equal(t, code, res.Code, res.Log)
		require.Contains(t, res.Log, "another whole-state walk is running")
	}
	<-a.walking
	res, err := a.Query(context.Background(), &abci.RequestQuery{Path: api.PathFundsInvariants})
	require.NoError(t, err)
	require.NotContains(t, res.Log, "another whole-state walk", "the slot is free again")
}

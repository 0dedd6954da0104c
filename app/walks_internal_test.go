package app

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/module"
)

// Even the operator gets one whole-state walk at a time: while one runs, a
// second is refused as busy (tx/70, with when to try again), not as a
// query the asker may not make (tx/41), so a flood of them cannot take
// every CPU from the consensus connection and a client knows to retry.
func TestOneWholeStateWalkAtATime(t *testing.T) {
	a, err := New(store.NewMemory(), Options{OperatorQueries: true})
	require.NoError(t, err)
	defer a.Close()
	a.store.Set([]byte("k"), []byte("v"))
	_, _, err = a.store.Commit()
	require.NoError(t, err)

	a.walking <- struct{}{} // a walk in progress
	space, code, _ := module.CodeOf(ErrBusy)
	for _, path := range []string{api.PathInvariants, api.PathFundsInvariants} {
		res, err := a.Query(context.Background(), &abci.RequestQuery{Path: path})
		require.NoError(t, err)
		require.Equal(t, space, res.Codespace, res.Log)
		require.Equal(t, code, res.Code, res.Log)
		require.Contains(t, res.Log, "tx/70: node busy answering queries: "+path+": another whole-state walk is running on this node; try again in ")
	}
	_, _, err = a.CheckInvariants()
	require.True(t, errors.Is(err, ErrBusy), "the periodic check meets the walk: %v", err)
	<-a.walking
	res, err := a.Query(context.Background(), &abci.RequestQuery{Path: api.PathFundsInvariants})
	require.NoError(t, err)
	require.Zero(t, res.Code, "the slot is free again: %s", res.Log)
	r, _, err := a.CheckInvariants()
	require.NoError(t, err)
	require.True(t, r.Ok)
}

// The retry a busy walk refusal names is what is left of the running
// walk, judged by the last one: a walk that took 3 s, started 1 s ago,
// has about 2 s to go.
func TestBusyWalkNamesWhatIsLeft(t *testing.T) {
	a, err := New(store.NewMemory(), Options{OperatorQueries: true})
	require.NoError(t, err)
	defer a.Close()
	a.walking <- struct{}{}
	a.walkStarted.Store(time.Now().Add(-time.Second).UnixNano())
	a.lastWalk.Store(int64(3 * time.Second))
	_, err = a.startWalk(api.PathInvariants)
	require.ErrorIs(t, err, ErrBusy)
	m := regexp.MustCompile(`try again in (\d+) ms`).FindStringSubmatch(err.Error())
	require.NotNil(t, m, err.Error())
	ms, _ := strconv.Atoi(m[1])
	require.True(t, ms > 1500 && ms <= 2000, "try again in %d ms: %s", ms, err)
}

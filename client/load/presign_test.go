package load_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/client/load"
)

// The full mix signed ahead (the default): every transaction sent, those
// signed before the load and those built when due, is accepted and
// committed with code 0, on a real node. The run lasts about 30 blocks
// against a timeout of 4 blocks, so a transaction signed ahead would
// expire before the end: once the chain is within 2 blocks of the
// presigned timeout height the rest are signed when due, and none is
// refused or fails for its timeout (a run that sent them all presigned
// would have them refused, tx/ timeout). Only the transactions due in the
// first 3 s (presignHorizon of 4 blocks) are signed ahead at all, not the
// whole run's.
func TestPresignedTransactionsAreAllCommittedAndNoneExpires(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node and runs load for several seconds")
	}
	rpcAddr, _, key := startLocalnet(t, "tally-load-presign")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	cfg := fullMixRun(t, rpcAddr, key)
	cfg.TimeoutBlocks = 4
	rep, err := load.Run(ctx, cfg)
	require.NoError(t, err)
	requireAllAcceptedAndCommitted(t, rep)
	require.EqualValues(t, 300, rep.Submitted)
	for _, k := range rep.Kinds {
		require.Zero(t, k.NotOK, k.Kind)
		require.Equal(t, k.Sent, k.CommittedOK, k.Kind)
	}
	// Some were sent as signed ahead, and, the run being longer than the
	// presigned timeout allows, not all that could be.
	require.Positive(t, rep.Presigned)
	require.Less(t, rep.Presigned, rep.Submitted/2, "blocks %d (heights %d-%d)", rep.Blocks, rep.StartHeight+1, rep.EndHeight)
	require.Greater(t, rep.Blocks, int64(15), "the run must outlast the presigned timeout")
	// Signed ahead: at most the first 3 s of the 6 s run (150 of 300
	// slots), less the custody offers and acceptances.
	require.GreaterOrEqual(t, rep.SignedAhead, rep.Presigned)
	require.LessOrEqual(t, rep.SignedAhead, int64(cfg.Rate*3), "signed ahead past the horizon")
	t.Logf("presigned %d of %d sent, over %d blocks", rep.Presigned, rep.Submitted, rep.Blocks)
	for _, name := range load.MsgNames() {
		require.NotNil(t, rep.LastCommitted[name], "%s: no last committed message", name)
	}
}

package node_test

import (
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"testing"
	"time"

	cfg "github.com/cometbft/cometbft/config"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/client"
)

// A node whose transaction index lost its latest blocks (as a crash between
// applying a block and indexing it leaves it) indexes them again when it
// starts, so /tx finds their transactions.
func TestStartIndexesTheLatestBlocksAgain(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a node")
	}
	dir := t.TempDir()
	_, priv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	rpcAddr := initHome(t, dir, "tally-reindex", priv, func(comet *cfg.Config, _ *app.Config) {
		comet.Consensus.TimeoutCommit = time.Second
	})

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n, c := startHome(t, dir, rpcAddr)
	require.Eventually(t, func() bool { _, h, err := c.Status(ctx); return err == nil && h >= 1 }, 30*time.Second, 100*time.Millisecond)
	tx := memberTx(ctx, t, c, "tally-reindex", priv)
	res, err := c.BroadcastAndWait(ctx, tx)
	require.NoError(t, err)
	require.NoError(t, n.Shutdown())

	// Lose the whole transaction index.
	require.NoError(t, os.RemoveAll(filepath.Join(dir, "data", "tx_index.db")))

	n, c = startHome(t, dir, rpcAddr)
	defer func() { require.NoError(t, n.Shutdown()) }()
	got, err := c.RPC.Tx(ctx, client.TxHash(tx), false)
	require.NoError(t, err, "the restarted node does not find the transaction of block %d", res.Height)
	require.Equal(t, res.Height, got.Height)
	require.Zero(t, got.TxResult.Code)
}

package node_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"testing"
	"time"

	rpcclient "github.com/cometbft/cometbft/rpc/jsonrpc/client"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/client"
	"github.com/tallyledger/tally/node"
)

// block_outcomes answers one block's transactions with their hashes and
// results: the same as block and block_results for a committed
// transaction (the load's watcher test compares whole runs of blocks, with
// failed transactions), the latest block without a height, and the
// heights those methods refuse, refused with their messages.
func TestBlockOutcomesAnswersAsBlockAndBlockResults(t *testing.T) {
	_, adminKey, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	n, rpcAddr := startNode(t, t.TempDir(), adminKey)
	t.Cleanup(func() { require.NoError(t, n.Shutdown()) })
	c, err := client.Dial(rpcAddr)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	require.Eventually(t, func() bool { _, h, err := c.Status(ctx); return err == nil && h >= 2 }, 30*time.Second, 50*time.Millisecond)
	chainID, _, err := c.Status(ctx)
	require.NoError(t, err)

	tx := memberTx(ctx, t, c, chainID, adminKey)
	res, err := c.BroadcastAndWait(ctx, tx)
	require.NoError(t, err)
	rc, err := rpcclient.New(rpcAddr)
	require.NoError(t, err)
	var got node.BlockOutcomes
	_, err = rc.Call(ctx, node.BlockOutcomesRoute, map[string]any{"height": res.Height}, &got)
	require.NoError(t, err)
	block, err := c.RPC.Block(ctx, &res.Height)
	require.NoError(t, err)
	results, err := c.RPC.BlockResults(ctx, &res.Height)
	require.NoError(t, err)
	require.Equal(t, res.Height, got.Height)
	require.True(t, block.Block.Time.Equal(got.Time), "header time %s, block_outcomes %s", block.Block.Time, got.Time)
	require.Len(t, got.Txs, len(block.Block.Txs))
	require.Len(t, got.Txs, 1)
	want := results.TxsResults[0]
	require.Equal(t, node.TxOutcome{Hash: fmt.Sprintf("%X", block.Block.Txs[0].Hash()), Code: want.Code, Codespace: want.Codespace, Log: want.Log,
		GasWanted: want.GasWanted, GasUsed: want.GasUsed}, got.Txs[0])
	require.Equal(t, fmt.Sprintf("%X", client.TxHash(tx)), got.Txs[0].Hash)
	require.Zero(t, got.Txs[0].Code)
	require.Positive(t, got.Txs[0].GasUsed)

	// No height: the latest block.
	var latest node.BlockOutcomes
	_, err = rc.Call(ctx, node.BlockOutcomesRoute, map[string]any{}, &latest)
	require.NoError(t, err)
	require.GreaterOrEqual(t, latest.Height, res.Height)

	// Heights block_results refuses, refused with its messages.
	for h, want := range map[int64]string{
		0:                         "height must be greater than 0, but got 0",
		-1:                        "height must be greater than 0, but got -1",
		latest.Height + 1_000_000: "must be less than or equal to the current blockchain height",
	} {
		_, err := rc.Call(ctx, node.BlockOutcomesRoute, map[string]any{"height": h}, &got)
		require.ErrorContains(t, err, want, "height %d", h)
		_, err = c.RPC.BlockResults(ctx, &h)
		require.ErrorContains(t, err, want, "block_results at height %d", h)
	}
}

package node_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"strings"
	"testing"
	"time"

	dbm "github.com/cometbft/cometbft-db"
	cfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/types"
	"github.com/google/orderedcode"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/x/agency"
)

// The transaction index follows the blocks a node keeps: once
// retain_blocks has pruned a transaction's block, the node (on start, and
// every minute after) deletes the transaction's result, height key and
// indexed event keys, and the block's event keys; /tx no longer finds it
// and tx_search no longer lists it, while later transactions are still
// found by hash (client.WaitTx) and by their indexed attributes. Before
// this, CometBFT kept every transaction's index entries for ever.
func TestTxIndexFollowsRetainedBlocks(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a node")
	}
	dir := t.TempDir()
	pub, priv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	var comet *cfg.Config
	rpcAddr := initHome(t, dir, "tally-prune", priv, func(c *cfg.Config, appCfg *app.Config) {
		c.Consensus.TimeoutCommit = 100 * time.Millisecond
		appCfg.RetainBlocks, appCfg.SnapshotInterval = 3, 0
		comet = c
	})
	doc, err := types.GenesisDocFromFile(comet.GenesisFile())
	require.NoError(t, err)
	doc.ConsensusParams.Evidence.MaxAgeNumBlocks = 3 // the floor under retain_blocks
	require.NoError(t, doc.SaveAs(comet.GenesisFile()))

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	n, c := startHome(t, dir, rpcAddr)
	running := true
	defer func() {
		if running {
			require.NoError(t, n.Shutdown())
		}
	}()
	sendMember := func() (*types.Tx, int64) {
		t.Helper()
		tx := memberTx(ctx, t, c, "tally-prune", priv)
		res, err := c.BroadcastAndWait(ctx, tx)
		require.NoError(t, err)
		require.Zero(t, res.TxResult.Code, res.TxResult.Log)
		ttx := types.Tx(tx)
		return &ttx, res.Height
	}
	require.Eventually(t, func() bool { _, h, err := c.Status(ctx); return err == nil && h >= 1 }, time.Minute, 100*time.Millisecond)
	old, oldHeight := sendMember()

	// Wait until retain_blocks has pruned the old transaction's block.
	require.Eventually(t, func() bool {
		st, err := c.RPC.Status(ctx)
		return err == nil && st.SyncInfo.EarliestBlockHeight > oldHeight+1
	}, 2*time.Minute, 100*time.Millisecond, "blocks up to %d pruned", oldHeight+1)
	_, err = c.RPC.Block(ctx, &oldHeight)
	require.Error(t, err, "block %d is pruned", oldHeight)

	// Restart: the pruner runs at start.
	require.NoError(t, n.Shutdown())
	running = false
	n, c = startHome(t, dir, rpcAddr)
	running = true
	signer := fmt.Sprintf("tx.signer='%x'", agency.AddressOf(pub))
	require.Eventually(t, func() bool {
		_, err := c.RPC.Tx(ctx, old.Hash(), false)
		return err != nil && strings.Contains(err.Error(), "not found")
	}, 2*time.Minute, 100*time.Millisecond, "the index still finds the transaction of pruned block %d", oldHeight)

	// Nothing of heights the node no longer keeps is left in the index.
	st, err := c.RPC.Status(ctx)
	require.NoError(t, err)
	base := st.SyncInfo.EarliestBlockHeight
	require.NoError(t, n.Shutdown()) // the index's keys are read with the node stopped
	running = false
	db, err := dbm.NewGoLevelDB("tx_index", comet.DBDir())
	require.NoError(t, err)
	var blockKeys, txKeys int
	it, err := db.Iterator(nil, nil)
	require.NoError(t, err)
	for ; it.Valid(); it.Next() {
		k := it.Key()
		switch {
		case bytes.HasPrefix(k, []byte("block_events")):
			blockKeys++
		case bytes.Equal(k, old.Hash()):
			t.Errorf("the result of pruned transaction %X is still indexed", old.Hash())
		case bytes.Contains(k, []byte(fmt.Sprintf("/%d/", oldHeight))):
			t.Errorf("key %q of pruned height %d is still indexed", k, oldHeight)
		default:
			txKeys++
		}
	}
	require.NoError(t, it.Error())
	it.Close()
	heightKey, err := orderedcode.Append(nil, types.BlockHeightKey, oldHeight)
	require.NoError(t, err)
	has, err := db.Has(append([]byte("block_events"), heightKey...))
	require.NoError(t, err)
	require.False(t, has, "the block indexer's key of pruned height %d is still there", oldHeight)
	require.NoError(t, db.Close())
	require.Positive(t, blockKeys)
	require.Positive(t, txKeys)

	// Later transactions are indexed and found by hash and by attribute.
	n, c = startHome(t, dir, rpcAddr)
	running = true
	newer, newHeight := sendMember()
	got, err := c.WaitTx(ctx, newer.Hash())
	require.NoError(t, err)
	require.Equal(t, newHeight, got.Height)
	page, per := 1, 100
	found, err := c.RPC.TxSearch(ctx, signer, false, &page, &per, "asc")
	require.NoError(t, err)
	require.NotEmpty(t, found.Txs)
	for _, tx := range found.Txs {
		require.GreaterOrEqual(t, tx.Height, base, "tx_search lists a transaction of pruned height %d", tx.Height)
	}
	require.Equal(t, newer.Hash(), []byte(found.Txs[len(found.Txs)-1].Hash))
	found, err = c.RPC.TxSearch(ctx, "agency.member_added.agency='treasury'", false, &page, &per, "asc")
	require.NoError(t, err)
	require.Len(t, found.Txs, 1, "only the newer member's transaction")
}

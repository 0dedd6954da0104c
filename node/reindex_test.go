package node_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cometbft/cometbft/libs/log"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/client"
	"github.com/tallyledger/tally/node"
	"github.com/tallyledger/tally/node/genesis"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	"github.com/tallyledger/tally/x/agency"
)

// A node whose transaction index lost its latest blocks (as a crash between
// applying a block and indexing it leaves it) indexes them again when it
// starts, so /tx finds their transactions.
func TestStartIndexesTheLatestBlocksAgain(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a node")
	}
	dir := t.TempDir()
	pub, priv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	id, err := node.InitNode(dir, "reindex")
	require.NoError(t, err)
	comet, appCfg, err := node.LoadConfigs(dir)
	require.NoError(t, err)
	rpcAddr := fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t))
	comet.RPC.ListenAddress = rpcAddr
	comet.P2P.ListenAddress = fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t))
	comet.Consensus.TimeoutCommit = time.Second
	require.NoError(t, node.WriteConfigs(dir, comet, appCfg))
	state, err := genesis.SingleAgencyState("tally-reindex", "treasury", "Treasury", agencyv1.Kind_KIND_TREASURY, pub,
		func(msg []byte) ([]byte, error) { return ed25519.Sign(priv, msg), nil })
	require.NoError(t, err)
	_, err = genesis.WriteGenesis(comet.GenesisFile(), "tally-reindex", time.Now().UTC(), []genesis.Validator{{Name: "v0", PubKey: id.ConsensusPK, Power: 10}}, state)
	require.NoError(t, err)

	start := func() (*node.Node, *client.Client) {
		n, err := node.NewNode(dir, log.NewNopLogger(), app.Options{})
		require.NoError(t, err)
		require.NoError(t, n.Start())
		c, err := client.Dial(rpcAddr)
		require.NoError(t, err)
		return n, c
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n, c := start()
	require.Eventually(t, func() bool { _, h, err := c.Status(ctx); return err == nil && h >= 1 }, 30*time.Second, 100*time.Millisecond)
	_, h, err := c.Status(ctx)
	require.NoError(t, err)
	_, newMember, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	tx, err := client.BuildTx(client.TxOptions{ChainID: "tally-reindex", Signer: agency.AddressOf(pub), TimeoutHeight: uint64(h) + 50},
		func(b []byte) ([]byte, error) { return ed25519.Sign(priv, b), nil },
		client.AddMember("tally-reindex", "treasury", newMember, agencyv1.Role_ROLE_AUDITOR))
	require.NoError(t, err)
	res, err := c.BroadcastAndWait(ctx, tx)
	require.NoError(t, err)
	require.NoError(t, n.Shutdown())

	// Lose the whole transaction index.
	require.NoError(t, os.RemoveAll(filepath.Join(dir, "data", "tx_index.db")))

	n, c = start()
	defer func() { require.NoError(t, n.Shutdown()) }()
	got, err := c.RPC.Tx(ctx, client.TxHash(tx), false)
	require.NoError(t, err, "the restarted node does not find the transaction of block %d", res.Height)
	require.Equal(t, res.Height, got.Height)
	require.Zero(t, got.TxResult.Code)
}

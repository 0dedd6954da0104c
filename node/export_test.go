package node_test

import (
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	cmtjson "github.com/cometbft/cometbft/libs/json"
	"github.com/cometbft/cometbft/libs/log"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/client"
	"github.com/tallyledger/tally/node"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	"github.com/tallyledger/tally/x/agency"
)

// A real node's chain restarts from its own export: tallyd export of the
// stopped home, tallyd export restart, tallyd start. The restarted chain
// continues at the exported height + 1 with the member added before the
// export, and the old data is kept. Exporting a running node, installing
// a file that is not an export, or another chain's export, are refused.
func TestNodeRestartsItsChainFromAnExport(t *testing.T) {
	dir := t.TempDir()
	adminPub, adminPriv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	n, rpcAddr := startNode(t, dir, adminPriv)
	running := true
	defer func() {
		if running {
			require.NoError(t, n.Shutdown())
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c, err := client.Dial(rpcAddr)
	require.NoError(t, err)
	var height int64
	for height < 1 {
		_, height, _ = c.Status(ctx)
		time.Sleep(100 * time.Millisecond)
	}
	memberPub, memberPriv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	sign := func(b []byte) ([]byte, error) { return ed25519.Sign(adminPriv, b), nil }
	tx, err := client.BuildTx(client.TxOptions{ChainID: "tally-test", Signer: agency.AddressOf(adminPub), TimeoutHeight: uint64(height) + 50}, sign,
		client.AddMember("tally-test", "treasury", memberPriv, agencyv1.Role_ROLE_AUDITOR))
	require.NoError(t, err)
	res, err := c.BroadcastAndWait(ctx, tx)
	require.NoError(t, err)
	require.Zero(t, res.TxResult.Code, res.TxResult.Log)

	_, _, err = node.Export(dir, 0)
	require.ErrorContains(t, err, "stop the node first")
	require.NoError(t, n.Shutdown())
	running = false

	doc, from, err := node.Export(dir, 0)
	require.NoError(t, err)
	require.GreaterOrEqual(t, from.Height, res.Height)
	require.Equal(t, from.Height+1, doc.InitialHeight)
	require.Equal(t, "tally-test", doc.ChainID)
	require.Len(t, doc.Validators, 1)
	again, _, err := node.Export(dir, from.Height)
	require.NoError(t, err)
	require.Equal(t, doc.AppState, again.AppState, "an export is deterministic")

	write := func(name string, v any) string {
		bz, err := cmtjson.MarshalIndent(v, "", "  ")
		require.NoError(t, err)
		p := filepath.Join(t.TempDir(), name)
		require.NoError(t, os.WriteFile(p, bz, 0o600))
		return p
	}
	comet, _, err := node.LoadConfigs(dir)
	require.NoError(t, err)
	_, err = node.RestartFromExport(dir, comet.GenesisFile())
	require.ErrorContains(t, err, "is not an export")
	foreign := *doc
	foreign.ChainID = "tally-other"
	_, err = node.RestartFromExport(dir, write("foreign.json", &foreign))
	require.ErrorContains(t, err, `this home runs chain "tally-test"`)
	_, err = os.Stat(filepath.Join(dir, "data", "tally"))
	require.NoError(t, err, "a refused restart leaves the data in place")

	h, err := node.RestartFromExport(dir, write("export.json", doc))
	require.NoError(t, err)
	require.Equal(t, from.Height, h)
	_, err = os.Stat(filepath.Join(dir, "data.before-restart-"+strconv.FormatInt(h, 10), "tally"))
	require.NoError(t, err, "the old data is kept")

	n2, err := node.NewNode(dir, log.NewNopLogger(), app.Options{})
	require.NoError(t, err)
	require.NoError(t, n2.Start())
	defer func() { require.NoError(t, n2.Shutdown()) }()
	c, err = client.Dial(rpcAddr)
	require.NoError(t, err)
	// The app's committed height (ABCIInfo), not CometBFT's block height
	// (Status), which can be a block ahead of it.
	require.Eventually(t, func() bool {
		info, err := c.RPC.ABCIInfo(ctx)
		return err == nil && info.Response.LastBlockHeight > from.Height+1
	}, 60*time.Second, 100*time.Millisecond, "the restarted chain's app did not commit past its first block")
	// The query connection reads the version it last loaded, which can be
	// a block behind the one just committed: ask until it reads a block of
	// the restarted chain.
	require.Eventually(t, func() bool {
		q, _, err := c.Query(ctx, api.PathAccount, agency.AddressOf(memberPub), 0, false)
		return err == nil && q.Height > from.Height
	}, 30*time.Second, 100*time.Millisecond, "the member added before the export is read from the restarted chain")
}

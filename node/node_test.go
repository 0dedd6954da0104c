package node_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"testing"
	"time"

	cfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/libs/log"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/client"
	"github.com/tallyledger/tally/node"
	"github.com/tallyledger/tally/node/genesis"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	"github.com/tallyledger/tally/testnet"
	"github.com/tallyledger/tally/x/agency"
)

func freePort(t *testing.T) int {
	t.Helper()
	p, err := testnet.FreePort() // below the ephemeral range
	require.NoError(t, err)
	return p
}

// startNode initialises a one-validator home with a treasury agency whose
// admin key is admin, and starts a real CometBFT node on it.
func startNode(t *testing.T, dir string, adminKey ed25519.PrivateKey) (*node.Node, string) {
	t.Helper()
	rpcAddr := initHome(t, dir, "tally-test", adminKey, func(comet *cfg.Config, _ *app.Config) {
		comet.Consensus.TimeoutCommit = 200 * time.Millisecond
	})
	n, err := node.NewNode(dir, log.NewNopLogger(), app.Options{})
	require.NoError(t, err)
	require.NoError(t, n.Start())
	return n, rpcAddr
}

// initHome initialises a one-validator home on free loopback ports, with
// a treasury agency whose admin key is adminKey, and returns its RPC
// address; edit, if set, adjusts the configuration before it is written.
func initHome(t *testing.T, dir, chainID string, adminKey ed25519.PrivateKey, edit func(*cfg.Config, *app.Config)) string {
	t.Helper()
	id, err := node.InitNode(dir, chainID+"-node")
	require.NoError(t, err)
	comet, appCfg, err := node.LoadConfigs(dir)
	require.NoError(t, err)
	rpcAddr := fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t))
	comet.RPC.ListenAddress = rpcAddr
	comet.P2P.ListenAddress = fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t))
	// No peer exchange: its address book is saved by a goroutine that
	// CometBFT does not wait for on Stop, racing the temp dir's removal.
	comet.P2P.PexReactor = false
	if edit != nil {
		edit(comet, &appCfg)
	}
	require.NoError(t, node.WriteConfigs(dir, comet, appCfg))
	state, err := genesis.SingleAgencyState(chainID, "treasury", "Treasury", agencyv1.Kind_KIND_TREASURY, adminKey.Public().(ed25519.PublicKey),
		func(msg []byte) ([]byte, error) { return ed25519.Sign(adminKey, msg), nil })
	require.NoError(t, err)
	_, err = genesis.WriteGenesis(comet.GenesisFile(), chainID, time.Now().UTC(), []genesis.Validator{{Name: "v0", PubKey: id.ConsensusPK, Power: 10}}, state)
	require.NoError(t, err)
	return rpcAddr
}

// startHome starts the node of an initialised home and dials its RPC.
func startHome(t *testing.T, dir, rpcAddr string) (*node.Node, *client.Client) {
	t.Helper()
	n, err := node.NewNode(dir, log.NewNopLogger(), app.Options{})
	require.NoError(t, err)
	require.NoError(t, n.Start())
	c, err := client.Dial(rpcAddr)
	require.NoError(t, err)
	return n, c
}

// memberTx is a transaction of the treasury admin adding a fresh auditor,
// valid for 50 blocks from the node's height.
func memberTx(ctx context.Context, t *testing.T, c *client.Client, chainID string, adminKey ed25519.PrivateKey) []byte {
	t.Helper()
	_, h, err := c.Status(ctx)
	require.NoError(t, err)
	_, member, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	tx, err := client.BuildTx(client.TxOptions{ChainID: chainID, Signer: agency.AddressOf(adminKey.Public().(ed25519.PublicKey)), TimeoutHeight: uint64(h) + 50},
		func(b []byte) ([]byte, error) { return ed25519.Sign(adminKey, b), nil },
		client.AddMember(chainID, "treasury", member, agencyv1.Role_ROLE_AUDITOR))
	require.NoError(t, err)
	return tx
}

// A real single-validator node accepts a signed transaction over RPC and
// serves the resulting state with a proof that verifies against the
// committed header's app hash; it keeps that state across a restart.
func TestNodeCommitsTxAndServesProvenState(t *testing.T) {
	dir := t.TempDir()
	adminPub, adminPriv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	n, rpcAddr := startNode(t, dir, adminPriv)
	stopped := false
	defer func() {
		if !stopped {
			require.NoError(t, n.Shutdown())
		}
	}()

	c, err := client.Dial(rpcAddr)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
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
	require.Equal(t, "agency.member_added", res.TxResult.Events[1].Type)

	memberAddr := agency.AddressOf(memberPub)
	q, proven, err := c.Query(ctx, api.PathAccount, memberAddr, 0, true)
	require.NoError(t, err)
	require.NotNil(t, proven)
	require.True(t, proven.HeaderChecked)
	require.GreaterOrEqual(t, q.Height, res.Height)
	acc := &agencyv1.Account{}
	require.NoError(t, proto.Unmarshal(q.Value, acc))
	require.Equal(t, memberAddr, acc.Address)
	require.Equal(t, []agencyv1.Role{agencyv1.Role_ROLE_AUDITOR}, acc.Roles)

	// A forged value does not verify against the same app hash.
	require.Error(t, client.ProvenValue(proven.AppHash, q.Key, append(q.Value, 1), q.ProofOps.Ops[0].Data))

	// Absence is proven too.
	_, proven, err = c.Query(ctx, api.PathAccount, make([]byte, 20), 0, true)
	require.ErrorIs(t, err, client.ErrNotFound)
	require.NotNil(t, proven)

	// Stop cleanly, restart on the same home: the chain resumes with the state.
	require.NoError(t, n.Shutdown())
	stopped = true
	n2, err := node.NewNode(dir, log.NewNopLogger(), app.Options{})
	require.NoError(t, err)
	require.NoError(t, n2.Start())
	defer func() { require.NoError(t, n2.Shutdown()) }()
	c2, err := client.Dial(rpcAddr)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, h, err := c2.Status(ctx)
		return err == nil && h > q.Height+1
	}, 30*time.Second, 100*time.Millisecond, "chain did not resume after restart")
	_, _, err = c2.Query(ctx, api.PathAccount, memberAddr, 0, true)
	require.NoError(t, err)
}

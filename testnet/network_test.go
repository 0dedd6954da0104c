package testnet_test

import (
	"context"
	"crypto/ed25519"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/client"
	"github.com/tallyledger/tally/client/keys"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	"github.com/tallyledger/tally/testnet"
)

var tallyd string

// TestMain builds tallyd once, unless TALLYD_BIN names a built binary.
func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	tallyd = os.Getenv("TALLYD_BIN")
	if tallyd == "" {
		dir, err := os.MkdirTemp("", "tallyd-bin")
		if err != nil {
			panic(err)
		}
		tallyd = filepath.Join(dir, "tallyd")
		out, err := exec.Command("go", "build", "-o", tallyd, "../cmd/tallyd").CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "building tallyd: %v\n%s", err, out)
			os.Exit(1)
		}
		code := m.Run()
		os.RemoveAll(dir)
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// freeBase finds a base port with the 40 ports a local network needs free.
func freeBase(t *testing.T) int {
	t.Helper()
	base, err := testnet.FreeBasePort(40)
	if err != nil {
		t.Fatal(err)
	}
	return base
}

func startNetwork(t *testing.T, validators int, edit ...func(*testnet.Options)) *testnet.Network {
	t.Helper()
	if testing.Short() {
		t.Skip("starts tallyd processes")
	}
	opts := testnet.DefaultOptions()
	opts.Validators = validators
	opts.BasePort = freeBase(t)
	opts.TimeoutCommit = 300 * time.Millisecond
	for _, e := range edit {
		e(&opts)
	}
	m, err := testnet.Init(t.TempDir(), opts)
	require.NoError(t, err)
	net := testnet.NewNetwork(m, tallyd)
	require.NoError(t, net.StartAll())
	t.Cleanup(func() {
		net.StopAll()
		if t.Failed() {
			for _, n := range m.Nodes {
				if b, err := os.ReadFile(n.LogFile); err == nil && len(b) > 3000 {
					t.Logf("tail of %s:\n%s", n.LogFile, b[len(b)-3000:])
				}
			}
		}
	})
	return net
}

// addMember has the admin of agencyID add a fresh auditor account through node.
func addMember(t *testing.T, ctx context.Context, net *testnet.Network, node, agencyID string) []byte {
	t.Helper()
	kr, err := keys.Open(net.Manifest.KeyringDir, keys.BackendTest, nil)
	require.NoError(t, err)
	priv, err := kr.PrivKey(agencyID + "-admin")
	require.NoError(t, err)
	nd, err := net.Node(node)
	require.NoError(t, err)
	c, err := client.Dial(nd.RPC)
	require.NoError(t, err)
	_, height, err := c.Status(ctx)
	require.NoError(t, err)
	memberPub, memberPriv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	tx, err := client.BuildTx(client.TxOptions{ChainID: net.Manifest.ChainID, Signer: api.AddressOf(priv.Public().(ed25519.PublicKey)), TimeoutHeight: uint64(height) + 100},
		func(b []byte) ([]byte, error) { return ed25519.Sign(priv, b), nil },
		client.AddMember(net.Manifest.ChainID, agencyID, memberPriv, agencyv1.Role_ROLE_AUDITOR))
	require.NoError(t, err)
	_, err = c.BroadcastAndWait(ctx, tx)
	require.NoError(t, err)
	return api.AddressOf(memberPub)
}

func rpc(t *testing.T, net *testnet.Network, node string) *client.Client {
	t.Helper()
	nd, err := net.Node(node)
	require.NoError(t, err)
	c, err := client.Dial(nd.RPC)
	require.NoError(t, err)
	return c
}

// requireSameBlocks checks that the named nodes hold identical block and
// app hashes at every height from 1 to upTo: no fork. It first waits (up to
// a minute) for each to reach upTo: a block three of four validators have
// committed may not yet be applied on the fourth (CI failed once asking a
// node at height 7 for block 8).
func requireSameBlocks(t *testing.T, ctx context.Context, net *testnet.Network, nodes []string, upTo int64) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for _, n := range nodes {
		require.NoError(t, net.WaitHeight(wctx, n, upTo), "node %s reaching height %d", n, upTo)
	}
	for h := int64(1); h <= upTo; h++ {
		requireSameBlocksAt(t, ctx, net, nodes, h)
	}
}

func maxHeight(ctx context.Context, net *testnet.Network, nodes ...string) int64 {
	var hmax int64
	for _, s := range net.Statuses(ctx) {
		for _, n := range nodes {
			if s.Name == n && s.Online && s.Height > hmax {
				hmax = s.Height
			}
		}
	}
	return hmax
}

// Four validators run as separate tallyd processes: transactions sent to
// different nodes are committed, every node reaches the same height and
// app hash, and each committed record is served with a verified proof by
// every node.
func TestFourValidatorsAgreeAndServeProvenState(t *testing.T) {
	net := startNetwork(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	names := []string{"treasury", "revenue", "benefits", "fsa"}
	for _, n := range names {
		require.NoError(t, net.WaitHeight(ctx, n, 2))
	}
	var members [][]byte
	for _, n := range names {
		members = append(members, addMember(t, ctx, net, n, n))
	}
	target := maxHeight(ctx, net, names...) + 1
	for _, n := range names {
		require.NoError(t, net.WaitHeight(ctx, n, target))
	}
	requireSameBlocks(t, ctx, net, names, target)
	for _, n := range names {
		c := rpc(t, net, n)
		for _, m := range members {
			_, proven, err := c.Query(ctx, api.PathAccount, m, 0, true)
			require.NoError(t, err, "node %s account %x", n, m)
			require.NotNil(t, proven)
			require.True(t, proven.HeaderChecked)
		}
	}
}

// With one of four validators killed the rest keep committing; restarted,
// it catches up to the same chain. With two of four stopped the chain
// halts without forking; restarting one resumes it.
func TestValidatorCrashCatchUpAndHalt(t *testing.T) {
	net := startNetwork(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	all := []string{"treasury", "revenue", "benefits", "fsa"}
	for _, n := range all {
		require.NoError(t, net.WaitHeight(ctx, n, 2))
	}

	require.NoError(t, net.Kill("fsa"))
	live := all[:3]
	h := maxHeight(ctx, net, live...)
	for _, n := range live {
		require.NoError(t, net.WaitHeight(ctx, n, h+3), "three of four validators must keep committing")
	}
	addMember(t, ctx, net, "treasury", "treasury")

	require.NoError(t, net.Start("fsa"))
	target := maxHeight(ctx, net, live...) + 2
	require.NoError(t, net.WaitHeight(ctx, "fsa", target), "restarted validator must catch up")
	requireSameBlocks(t, ctx, net, all, target)

	// Two of four down: less than two thirds of the power is left.
	require.NoError(t, net.Stop("benefits", 10*time.Second))
	require.NoError(t, net.Kill("fsa"))
	time.Sleep(2 * time.Second) // let any block already agreed finish
	halted := maxHeight(ctx, net, "treasury", "revenue")
	time.Sleep(4 * time.Second)
	require.Equal(t, halted, maxHeight(ctx, net, "treasury", "revenue"), "two of four validators must not commit blocks")
	requireSameBlocks(t, ctx, net, []string{"treasury", "revenue"}, halted)

	require.NoError(t, net.Start("benefits"))
	for _, n := range []string{"treasury", "revenue", "benefits"} {
		require.NoError(t, net.WaitHeight(ctx, n, halted+2), "three of four must resume")
	}
	requireSameBlocks(t, ctx, net, []string{"treasury", "revenue", "benefits"}, halted+2)
}

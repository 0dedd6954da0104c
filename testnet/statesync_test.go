package testnet_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/node"
	"github.com/tallyledger/tally/testnet"
)

// A new node joins a running network by state sync: it restores the
// validators' snapshot of height 20 (whose chunk three of the four serve
// corrupted, so a corrupt copy is refused and fetched again from another
// peer whenever one is asked first), never holds the blocks before it,
// and then follows the chain with the others' app hash.
func TestNewNodeJoinsByStateSync(t *testing.T) {
	const interval = 20
	net := startNetwork(t, 4, func(o *testnet.Options) { o.SnapshotInterval = interval })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	require.NoError(t, net.WaitHeight(ctx, "treasury", 2))
	addMember(t, ctx, net, "treasury", "treasury") // state beyond genesis
	require.NoError(t, net.WaitHeight(ctx, "treasury", interval+2))

	snapshot := func(n testnet.Node) string {
		return filepath.Join(node.SnapshotDir(n.Home), "20")
	}
	for _, n := range net.Manifest.Nodes {
		require.Eventually(t, func() bool {
			_, err := os.Stat(filepath.Join(snapshot(n), "metadata"))
			return err == nil
		}, time.Minute, 100*time.Millisecond, "snapshot of height 20 on %s", n.Name)
	}
	// tallyd status shows the node's latest snapshot.
	fsa, err := net.Node("fsa")
	require.NoError(t, err)
	out, _ := exec.Command(tallyd, "status", "--node", fsa.RPC, "--home", fsa.Home, "--json").Output() // warnings exit non-zero
	var status struct {
		Snapshot struct {
			Interval uint64 `json:"interval"`
			Kept     int    `json:"kept"`
			Height   int64  `json:"latest_height"`
			Bytes    int64  `json:"latest_bytes"`
		} `json:"snapshot"`
	}
	require.NoError(t, json.Unmarshal(out, &status), "%s", out)
	require.EqualValues(t, interval, status.Snapshot.Interval)
	require.GreaterOrEqual(t, status.Snapshot.Height, int64(interval))
	require.Positive(t, status.Snapshot.Bytes)
	require.Positive(t, status.Snapshot.Kept)

	for _, n := range net.Manifest.Nodes[:3] {
		chunk := filepath.Join(snapshot(n), "0")
		b, err := os.ReadFile(chunk)
		require.NoError(t, err)
		b[len(b)/2] ^= 0xff
		require.NoError(t, os.WriteFile(chunk, b, 0o600))
	}

	nd, _, err := testnet.Join(net.Manifest, fileDir(net), "newcomer", "bank", basePortAfter(net))
	require.NoError(t, err)
	require.NoError(t, testnet.StateSync(ctx, net.Manifest, nd.Name))
	require.NoError(t, net.Start(nd.Name))
	target := maxHeight(ctx, net, "treasury") + 3
	require.NoError(t, net.WaitHeight(ctx, nd.Name, target), "the new node catches up")

	st, err := rpc(t, net, nd.Name).RPC.Status(ctx)
	require.NoError(t, err)
	require.Greater(t, st.SyncInfo.EarliestBlockHeight, int64(interval), "the new node restored a snapshot instead of replaying blocks from 1")
	for h := st.SyncInfo.EarliestBlockHeight; h <= target; h++ {
		requireSameBlocksAt(t, ctx, net, []string{"treasury", "fsa", nd.Name}, h)
	}
	logs, err := os.ReadFile(nd.LogFile)
	require.NoError(t, err)
	require.Contains(t, string(logs), "snapshot restored")
	if strings.Contains(string(logs), "refusing a snapshot chunk") {
		t.Logf("corrupted chunks refused and fetched again from another peer: %d", strings.Count(string(logs), "refusing a snapshot chunk"))
	}
}

// requireSameBlocksAt checks that the named nodes hold the same block and
// app hash at height h.
func requireSameBlocksAt(t *testing.T, ctx context.Context, net *testnet.Network, nodes []string, h int64) {
	t.Helper()
	var want string
	for _, n := range nodes {
		b, err := rpc(t, net, n).RPC.Block(ctx, &h)
		require.NoError(t, err, "node %s height %d", n, h)
		got := b.BlockID.Hash.String() + "/" + b.Block.AppHash.String()
		if want == "" {
			want = got
		}
		require.Equal(t, want, got, "node %s disagrees at height %d", n, h)
	}
}

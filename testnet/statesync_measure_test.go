//go:build syncmeasure

package testnet_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/client/keys"
	"github.com/tallyledger/tally/client/load"
	"github.com/tallyledger/tally/node"
	"github.com/tallyledger/tally/testnet"
)

// TestStateSyncMeasure measures, without asserting anything, (1) disk use
// of a node under a steady load of add_member (every one a new permanent
// record: an account) with state pruning on,
// and (2) how long a new node takes to reach the chain's height by block
// sync (replaying every block) and by state sync (restoring the newest
// snapshot), one after the other. It is a measurement, built only with
// the syncmeasure tag; make test neither runs nor skips it:
//
//	make build && TALLYD_BIN=$PWD/build/tallyd SYNC_RATE=200 SYNC_DURATION=5m \
//	  go test -tags syncmeasure ./testnet/ -run TestStateSyncMeasure -v -count=1 -timeout 90m
func TestStateSyncMeasure(t *testing.T) {
	const interval = 50
	rate := envFloat(t, "SYNC_RATE", 200)
	duration, err := time.ParseDuration(envOr("SYNC_DURATION", "5m"))
	require.NoError(t, err)
	net := startNetwork(t, 4, func(o *testnet.Options) {
		o.SnapshotInterval = interval
		o.TimeoutCommit = time.Second
	})
	net.StopAll()
	for _, n := range net.Manifest.Nodes { // prune state as a bounded node does
		comet, appCfg, err := node.LoadConfigs(n.Home)
		require.NoError(t, err)
		appCfg.PruningKeepRecent, appCfg.PruningKeepEvery = 100, 100
		require.NoError(t, node.WriteConfigs(n.Home, comet, appCfg))
	}
	require.NoError(t, net.StartAll())
	ctx, cancel := context.WithTimeout(context.Background(), 85*time.Minute)
	defer cancel()
	require.NoError(t, net.WaitHeight(ctx, "treasury", 2))

	kr, err := keys.Open(net.Manifest.KeyringDir, keys.BackendTest, nil)
	require.NoError(t, err)
	admin := func(name string) load.Admin {
		priv, err := kr.PrivKey(name)
		require.NoError(t, err)
		return load.Admin{Key: priv}
	}
	var endpoints []string
	for _, n := range net.Manifest.Nodes {
		endpoints = append(endpoints, n.RPC)
	}
	home := net.Manifest.Nodes[0].Home
	before := dataSizes(t, home)
	h0 := maxHeight(ctx, net, "treasury")
	rep, err := load.Run(ctx, load.Config{
		Endpoints: endpoints, Rate: rate, Duration: duration, Accounts: 50,
		Mix:   []load.MixEntry{{Name: "add_member", Weight: 1}},
		Admin: admin("treasury-admin").Key,
	})
	require.NoError(t, err)
	h1 := maxHeight(ctx, net, "treasury")
	after := dataSizes(t, home)
	t.Logf("load: %d committed ok (%.1f tx/s steady) in blocks %d..%d", rep.CommittedOK, rep.CommittedRate, h0, h1)
	for _, d := range []string{"blockstore.db", "state.db", "tx_index.db", "evidence.db", "tally", "snapshots"} {
		grew := after[d] - before[d]
		t.Logf("disk %-14s %12d -> %12d bytes: %+d, %.0f bytes/committed tx, %.0f bytes/block",
			d, before[d], after[d], grew, float64(grew)/float64(max(rep.CommittedOK, 1)), float64(grew)/float64(max(h1-h0, 1)))
	}

	// Both joins start once a snapshot holds the loaded state, so that
	// neither waits for one: the next multiple of the interval, and the
	// blocks after it the light client reads.
	snap := (h1/interval + 1) * interval
	require.NoError(t, net.WaitHeight(ctx, "treasury", snap+3))
	require.Eventually(t, func() bool {
		_, err := os.Stat(filepath.Join(node.SnapshotDir(home), strconv.FormatInt(snap, 10), "metadata"))
		return err == nil
	}, 10*time.Minute, time.Second, "snapshot of height %d", snap)
	t.Logf("snapshot of height %d: %d bytes", snap, node.DirSize(filepath.Join(node.SnapshotDir(home), strconv.FormatInt(snap, 10))))

	// Joins, one at a time so they do not share the CPU.
	join := func(name string, stateSync bool) {
		base, err := testnet.FreeBasePort(10) // free now: other engineers' processes take ports too
		require.NoError(t, err)
		nd, _, err := testnet.Join(net.Manifest, fileDir(net), name, "bank", base)
		require.NoError(t, err)
		if stateSync {
			require.NoError(t, testnet.StateSync(ctx, net.Manifest, name))
		}
		target := maxHeight(ctx, net, "treasury")
		start := time.Now()
		require.NoError(t, net.Start(name))
		require.NoError(t, net.WaitHeight(ctx, name, target))
		took := time.Since(start)
		st, err := rpc(t, net, name).RPC.Status(ctx)
		require.NoError(t, err)
		t.Logf("join by %s: height %d reached in %s (earliest block held %d; data %d bytes)",
			map[bool]string{true: "state sync", false: "block sync"}[stateSync], target, took.Round(100*time.Millisecond),
			st.SyncInfo.EarliestBlockHeight, node.DirSize(filepath.Join(nd.Home, "data")))
		require.NoError(t, net.Stop(name, 15*time.Second))
	}
	join("blocksync", false)
	join("statesync", true)
}

func dataSizes(t *testing.T, home string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	entries, err := os.ReadDir(filepath.Join(home, "data"))
	require.NoError(t, err)
	for _, e := range entries {
		if e.IsDir() {
			out[e.Name()] = node.DirSize(filepath.Join(home, "data", e.Name()))
		}
	}
	return out
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func envFloat(t *testing.T, k string, def float64) float64 {
	v := os.Getenv(k)
	if v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	require.NoError(t, err)
	return f
}

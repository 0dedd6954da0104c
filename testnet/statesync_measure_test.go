//go:build syncmeasure

package testnet_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/client"
	"github.com/tallyledger/tally/client/keys"
	"github.com/tallyledger/tally/client/load"
	"github.com/tallyledger/tally/node"
	"github.com/tallyledger/tally/testnet"
)

// TestStateSyncMeasure measures, without asserting anything, (1) disk use
// of a node under a steady load of add_member (every one a new permanent
// record: an account) and issue_receipt (a receipt), with state pruning
// on, until the chain holds SYNC_ACCOUNTS accounts added and SYNC_RECEIPTS
// receipts (default 100,000 each; SYNC_DURATION caps the load), and (2)
// how long a new node takes to reach the chain's height by block sync
// (replaying every block) and by state sync (restoring the newest
// snapshot), one after the other. Transactions carry SYNC_MSGS_PER_TX
// messages (default 32, the most the chain allows) so that the state grows
// faster than the machine checks signatures; SYNC_RATE is transactions per
// second. SYNC_VALIDATORS (default 4) sets the network's size: on a
// shared 2-core machine every validator executes every block, so one
// validator grows the state four times faster. It is a measurement, built only with the syncmeasure tag; make
// test neither runs nor skips it:
//
//	make build && TALLYD_BIN=$PWD/build/tallyd SYNC_VALIDATORS=2 SYNC_RATE=8 SYNC_MSGS_PER_TX=32 SYNC_DURATION=150m \
//	  go test -tags syncmeasure ./testnet/ -run TestStateSyncMeasure -v -count=1 -timeout 240m
func TestStateSyncMeasure(t *testing.T) {
	const interval = 50
	rate := envFloat(t, "SYNC_RATE", 5)
	perTx := int(envFloat(t, "SYNC_MSGS_PER_TX", 32))
	wantAccounts := int64(envFloat(t, "SYNC_ACCOUNTS", 100_000))
	wantReceipts := int64(envFloat(t, "SYNC_RECEIPTS", 100_000))
	duration, err := time.ParseDuration(envOr("SYNC_DURATION", "60m"))
	require.NoError(t, err)
	net := startNetwork(t, int(envFloat(t, "SYNC_VALIDATORS", 4)), func(o *testnet.Options) {
		o.SnapshotInterval = interval
		o.TimeoutCommit = time.Second
	})
	net.StopAll()
	for _, n := range net.Manifest.Nodes { // prune state as a bounded node does
		comet, appCfg, err := node.LoadConfigs(n.Home)
		require.NoError(t, err)
		appCfg.PruningKeepRecent, appCfg.PruningKeepEvery = 100, 100
		// Blocks of a backlog of 32-message transactions take tens of
		// seconds to propose and check on a loaded 2-core machine: with
		// CometBFT's 3 s timeout_propose the other validator prevoted nil
		// before the proposal arrived, round after round (a 2-validator
		// run stalled at one height for 5 minutes).
		comet.Consensus.TimeoutPropose = 2 * time.Minute
		comet.Consensus.TimeoutPrevote, comet.Consensus.TimeoutPrecommit = 10*time.Second, 10*time.Second
		require.NoError(t, node.WriteConfigs(n.Home, comet, appCfg))
	}
	require.NoError(t, net.StartAll())
	ctx, cancel := context.WithTimeout(context.Background(), 175*time.Minute)
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
	// Rounds of load until the chain holds the accounts and receipts
	// asked for; each round sends only what is still missing.
	var accounts, receipts, txs int64
	var rateSum float64
	loadStart := time.Now()
	for round := 1; (accounts < wantAccounts || receipts < wantReceipts) && time.Since(loadStart) < duration; round++ {
		// A round's setup must not queue behind the last round's backlog.
		require.NoError(t, waitMempoolsEmpty(ctx, net))
		left := duration - time.Since(loadStart)
		if left < time.Second {
			break // the wait for the mempools used up SYNC_DURATION
		}
		var mix []load.MixEntry
		if accounts < wantAccounts {
			mix = append(mix, load.MixEntry{Name: "add_member", Weight: 1})
		}
		if receipts < wantReceipts {
			mix = append(mix, load.MixEntry{Name: "issue_receipt", Weight: 1})
		}
		rep, err := load.Run(ctx, load.Config{
			Endpoints: endpoints, Rate: rate, Duration: min(3*time.Minute, left), Accounts: 10,
			Mix: mix, MsgsPerTx: perTx,
			Admin:  admin("treasury-admin").Key,
			Admins: map[string]load.Admin{load.PartyTax: admin("revenue-admin")},
		})
		require.NoError(t, err)
		for _, k := range rep.Kinds {
			switch k.Kind {
			case "add_member":
				accounts += k.CommittedOK
			case "issue_receipt":
				receipts += k.CommittedOK
			}
		}
		txs += rep.CommittedOK
		rateSum += rep.CommittedRate * float64(rep.CommittedOK)
		t.Logf("load round %d: %d txs committed ok (%.1f tx/s steady, %d rejected, %d pending); so far %d accounts added, %d receipts (%s)",
			round, rep.CommittedOK, rep.CommittedRate, rep.RejectedTotal, rep.Pending, accounts, receipts, time.Since(loadStart).Round(time.Second))
	}
	h1 := maxHeight(ctx, net, "treasury")
	after := dataSizes(t, home)
	msgs := accounts + receipts
	t.Logf("load: %d txs committed ok carrying %d messages (%d accounts added, %d receipts; %.1f tx/s, %.0f msg/s steady) in blocks %d..%d, %s",
		txs, msgs, accounts, receipts, rateSum/float64(max(txs, 1)), rateSum/float64(max(txs, 1))*float64(perTx), h0, h1, time.Since(loadStart).Round(time.Second))
	for _, d := range []string{"blockstore.db", "state.db", "tx_index.db", "evidence.db", "tally", "snapshots"} {
		grew := after[d] - before[d]
		t.Logf("disk %-14s %12d -> %12d bytes: %+d, %.0f bytes/committed tx, %.0f bytes/message, %.0f bytes/block",
			d, before[d], after[d], grew, float64(grew)/float64(max(txs, 1)), float64(grew)/float64(max(msgs, 1)), float64(grew)/float64(max(h1-h0, 1)))
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

	// Joins, one at a time so they do not share the CPU. A node that exits
	// (another engineer's process took a port between our pick and its
	// start) is joined again under a new name and ports.
	join := func(name string, stateSync bool) {
		for try := 1; ; try++ {
			name := fmt.Sprintf("%s%d", name, try)
			base, err := testnet.FreeBasePort(10)
			require.NoError(t, err)
			nd, _, err := testnet.Join(net.Manifest, fileDir(net), name, "bank", base)
			require.NoError(t, err)
			if stateSync {
				require.NoError(t, testnet.StateSync(ctx, net.Manifest, name))
			}
			target := maxHeight(ctx, net, "treasury")
			start := time.Now()
			require.NoError(t, net.Start(name))
			wctx, stop := context.WithCancel(ctx)
			go func() { // stop waiting when the node exits
				for wctx.Err() == nil && net.Running(name) {
					time.Sleep(time.Second)
				}
				stop()
			}()
			err = net.WaitHeight(wctx, name, target)
			stop()
			took := time.Since(start)
			if err != nil && ctx.Err() == nil && try < 5 {
				t.Logf("join %s: node exited (%v); log tail: %s; trying again", name, net.ExitError(name), tail(nd.LogFile, 600))
				continue
			}
			require.NoError(t, err)
			st, err := rpc(t, net, name).RPC.Status(ctx)
			require.NoError(t, err)
			t.Logf("join by %s: height %d reached in %s (earliest block held %d; data %d bytes)",
				map[bool]string{true: "state sync", false: "block sync"}[stateSync], target, took.Round(100*time.Millisecond),
				st.SyncInfo.EarliestBlockHeight, node.DirSize(filepath.Join(nd.Home, "data")))
			require.NoError(t, net.Stop(name, 15*time.Second))
			return
		}
	}
	join("blocksync", false)
	join("statesync", true)
}

// waitMempoolsEmpty waits until no node holds a transaction in its mempool.
func waitMempoolsEmpty(ctx context.Context, net *testnet.Network) error {
	for _, n := range net.Manifest.Nodes {
		c, err := client.Dial(n.RPC)
		if err != nil {
			return err
		}
		for {
			res, err := c.RPC.NumUnconfirmedTxs(ctx)
			if err == nil && res.Total == 0 {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s's mempool did not empty: %w", n.Name, ctx.Err())
			case <-time.After(time.Second):
			}
		}
	}
	return nil
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	return string(b[max(0, len(b)-n):])
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

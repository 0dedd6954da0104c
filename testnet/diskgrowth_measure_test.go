//go:build syncmeasure

package testnet_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cometbft/cometbft/types"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/client"
	"github.com/tallyledger/tally/client/keys"
	"github.com/tallyledger/tally/client/load"
	"github.com/tallyledger/tally/node"
	"github.com/tallyledger/tally/testnet"
)

// TestDiskGrowthMeasure measures, without asserting anything, how each of a
// validator's databases grows over a long run at a steady rate of the mixed
// workload (tallyd load --mix all) with every bound on: state pruned to the
// last 100 versions, blocks kept for DISK_RETAIN_BLOCKS (default 300), the
// genesis evidence age shortened to the same so that it does not hold the
// blocks (the default, 100,000 blocks, would outlast any run), and the
// transaction index pruned with the blocks. It samples the node's data
// folders every DISK_SAMPLE (default 1m) for DISK_DURATION (default 30m) at
// DISK_RATE tx/s (default 100), and logs a table and, for the samples after
// the first block was deleted, each database's growth per committed
// transaction and per day at 100 tx/s: the retained databases should stop
// growing there, the live state should not. Built only with the syncmeasure
// tag; make test neither runs nor skips it:
//
//	make build && TALLYD_BIN=$PWD/build/tallyd DISK_RATE=100 DISK_DURATION=30m \
//	  go test -tags syncmeasure ./testnet/ -run TestDiskGrowthMeasure -v -count=1 -timeout 90m
func TestDiskGrowthMeasure(t *testing.T) {
	rate := envFloat(t, "DISK_RATE", 100)
	retain := int64(envFloat(t, "DISK_RETAIN_BLOCKS", 300))
	duration, err := time.ParseDuration(envOr("DISK_DURATION", "30m"))
	require.NoError(t, err)
	every, err := time.ParseDuration(envOr("DISK_SAMPLE", "1m"))
	require.NoError(t, err)

	opts := testnet.DefaultOptions()
	opts.BasePort = freeBase(t)
	opts.TimeoutCommit = time.Second
	m, err := testnet.Init(t.TempDir(), opts)
	require.NoError(t, err)
	for _, n := range m.Nodes {
		comet, appCfg, err := node.LoadConfigs(n.Home)
		require.NoError(t, err)
		appCfg.PruningKeepRecent, appCfg.PruningKeepEvery = 100, 100
		appCfg.RetainBlocks = uint64(retain)
		require.NoError(t, node.WriteConfigs(n.Home, comet, appCfg))
		doc, err := types.GenesisDocFromFile(comet.GenesisFile())
		require.NoError(t, err)
		doc.ConsensusParams.Evidence.MaxAgeNumBlocks = retain
		doc.ConsensusParams.Evidence.MaxAgeDuration = time.Duration(retain) * time.Second
		require.NoError(t, doc.SaveAs(comet.GenesisFile()))
	}
	net := testnet.NewNetwork(m, tallyd)
	require.NoError(t, net.StartAll())
	t.Cleanup(net.StopAll)
	ctx, cancel := context.WithTimeout(context.Background(), duration+30*time.Minute)
	defer cancel()
	require.NoError(t, net.WaitHeight(ctx, "treasury", 2))

	kr, err := keys.Open(m.KeyringDir, keys.BackendTest, nil)
	require.NoError(t, err)
	admin := func(name string) load.Admin {
		priv, err := kr.PrivKey(name)
		require.NoError(t, err)
		return load.Admin{Key: priv}
	}
	var endpoints []string
	for _, n := range m.Nodes {
		endpoints = append(endpoints, n.RPC)
	}
	home := m.Nodes[0].Home
	c, err := client.Dial(m.Nodes[0].RPC)
	require.NoError(t, err)

	type sample struct {
		at           time.Duration
		height, base int64
		txs          int64 // transactions in blocks base..height as the node counts them since the start
		sizes        map[string]int64
	}
	dirs := []string{"tally", "blockstore.db", "state.db", "tx_index.db", "evidence.db", "snapshots", "cs.wal"}
	var samples []sample
	var committed int64 // every transaction in the blocks sampled so far
	lastCounted := int64(1)
	take := func(start time.Time) {
		st, err := c.RPC.Status(ctx)
		if err != nil {
			t.Logf("status: %v", err)
			return
		}
		h := st.SyncInfo.LatestBlockHeight
		// Count the transactions of the blocks since the last sample from
		// their headers, before the node may delete them.
		for from := lastCounted + 1; from <= h; from += 20 {
			to := min(from+19, h)
			res, err := c.RPC.BlockchainInfo(ctx, from, to)
			if err != nil {
				t.Logf("blockchain %d..%d: %v", from, to, err)
				break
			}
			for _, meta := range res.BlockMetas {
				committed += int64(meta.NumTxs)
			}
			lastCounted = to
		}
		samples = append(samples, sample{at: time.Since(start), height: h, base: st.SyncInfo.EarliestBlockHeight, txs: committed, sizes: dataSizes(t, home)})
	}

	start := time.Now()
	take(start)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				take(start)
				if time.Since(start) > duration+every {
					return
				}
			}
		}
	}()
	rep, err := load.Run(ctx, load.Config{
		Endpoints: endpoints, Rate: rate, Duration: duration, Accounts: 20,
		Mix:   append([]load.MixEntry(nil), load.FullMix...),
		Admin: admin("treasury-admin").Key,
		Admins: map[string]load.Admin{load.PartyTreasury: admin("treasury-admin"), load.PartyBenefits: admin("benefits-admin"),
			load.PartyTax: admin("revenue-admin"), load.PartyProvenance: admin("dalefarm-admin")},
	})
	require.NoError(t, err)
	<-done
	t.Logf("load: %d txs committed ok at %.1f tx/s steady (%d rejected, %d failed in block, %d pending)",
		rep.CommittedOK, rep.CommittedRate, rep.RejectedTotal, rep.CommittedFailedTotal, rep.Pending)

	var b strings.Builder
	fmt.Fprintf(&b, "\n| min | height | earliest block | txs in blocks |")
	for _, d := range dirs {
		fmt.Fprintf(&b, " %s MB |", d)
	}
	fmt.Fprintf(&b, "\n|---|---|---|---|%s\n", strings.Repeat("---|", len(dirs)))
	for _, s := range samples {
		fmt.Fprintf(&b, "| %.0f | %d | %d | %d |", s.at.Minutes(), s.height, s.base, s.txs)
		for _, d := range dirs {
			fmt.Fprintf(&b, " %.1f |", float64(s.sizes[d])/1e6)
		}
		b.WriteString("\n")
	}
	t.Log(b.String())

	// Growth once the node deletes blocks: from the first sample whose
	// earliest block is above 1 to the last.
	first := sort.Search(len(samples), func(i int) bool { return samples[i].base > 1 })
	if first >= len(samples)-1 {
		t.Logf("no block was deleted before the last sample: run longer or lower DISK_RETAIN_BLOCKS")
		return
	}
	a, z := samples[first], samples[len(samples)-1]
	txs := z.txs - a.txs
	secs := (z.at - a.at).Seconds()
	t.Logf("after blocks began to be deleted (minute %.0f to %.0f, heights %d..%d, %d txs, %.1f tx/s):", a.at.Minutes(), z.at.Minutes(), a.height, z.height, txs, float64(txs)/secs)
	for _, d := range dirs {
		grew := z.sizes[d] - a.sizes[d]
		perTx := float64(grew) / float64(max(txs, 1))
		t.Logf("  %-14s %+12d bytes: %7.0f bytes/tx, %6.2f GB/day at 100 tx/s", d, grew, perTx, perTx*100*86400/1e9)
	}
}

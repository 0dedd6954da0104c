package testnet_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	coretypes "github.com/cometbft/cometbft/rpc/core/types"
	jsonrpcclient "github.com/cometbft/cometbft/rpc/jsonrpc/client"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/node"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/testnet"
)

// A new node joins a running network by state sync: it restores the
// validators' latest snapshot (height 20, or a later one if the network
// has passed 40 by the time it asks), never holds the blocks before it,
// and then follows the chain with the others' app hash. Three validators
// serve chunk 0 of every snapshot they hold corrupt, and the new node
// starts knowing only them, so the first copy it receives is always a
// corrupt one: it must refuse it and reject its sender. Only then is it
// given the fourth, honest validator, from which it must fetch the chunk
// and restore the snapshot whose chunk it refused.
//
// (Before, the honest validator was a peer from the start and held its
// chunk back until the first refusal. CometBFT asks one peer, chosen at
// random, every chunk_request_timeout; the validators drop the silent
// newcomer every ~10 s (peer watch) and, on reconnecting, list only their
// two newest snapshots; so if its first few asks went to the honest one,
// that was soon the only peer left offering the snapshot, and the test
// failed with "cannot add nil chunk" for 90 s. The peer watch now leaves
// a peer that is not yet in consensus alone, and the test checks that no
// validator dropped the new node while it synced.)
//
// On IAVL (an IAVL node restores), and on a network of both engines
// (validators on memiavl and IAVL in turn, memiavl's taking their
// snapshots while they commit), whose nodes serve the same chunks, to a
// new node on memiavl. A network of memiavl alone adds nothing these two
// do not run, and took 34 s of make test.
func TestNewNodeJoinsByStateSync(t *testing.T) {
	for _, c := range []struct {
		name       string
		validators []string // state engines, in turn
		newcomer   string
	}{
		{"iavl", nil, store.EngineIAVL},
		{"mixed", []string{store.EngineMemiavl, store.EngineIAVL}, store.EngineMemiavl},
	} {
		t.Run(c.name, func(t *testing.T) { testNewNodeJoinsByStateSync(t, c.validators, c.newcomer) })
	}
}

func testNewNodeJoinsByStateSync(t *testing.T, engines []string, newcomer string) {
	const interval, silentAfter = 20, 3 * time.Second
	net := startNetwork(t, 4, func(o *testnet.Options) {
		// Keep every snapshot the test may see: the new node's snapshot
		// is still offered by the honest validator however late the
		// corrupt copies are refused.
		o.SnapshotInterval, o.SnapshotKeepRecent, o.StateEngines = interval, 50, engines
		// The validators' peer watch drops a peer in consensus that
		// stays silent this long; the new node must not be dropped while
		// it syncs (it says nothing on consensus until it switches to
		// it), which this shorter setting makes sure the join outlasts.
		o.PeerSilentAfter = silentAfter
	})
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

	nd, _, err := testnet.Join(net.Manifest, fileDir(net), "newcomer", "bank", basePortAfter(net))
	require.NoError(t, err)
	defer func() {
		if t.Failed() { // what the new node did with the snapshots it was offered
			b, _ := os.ReadFile(nd.LogFile)
			for _, l := range strings.Split(string(b), "\n") {
				if strings.Contains(l, "module=statesync") && !strings.Contains(l, "Fetching") || strings.Contains(l, "module=tally") && strings.Contains(l, "snapshot") || strings.Contains(l, "module=light") {
					t.Log(l)
				}
			}
		}
	}()
	require.NoError(t, testnet.StateSync(ctx, net.Manifest, nd.Name))
	validators := net.Manifest.Nodes[:4]
	corrupt, good := validators[:3], validators[3]
	// The new node starts with the corrupt validators as its only peers
	// (no peer exchange on a local network: nobody gives it another); its
	// RPC may dial a peer, so that the test can hand it the honest one.
	// Once it has rejected every corrupt sender, the chunk is asked for
	// again every chunk_request_timeout; CometBFT's minimum keeps the
	// join short.
	comet, appCfg, err := node.LoadConfigs(nd.Home)
	require.NoError(t, err)
	var peers []string
	for _, n := range corrupt {
		peers = append(peers, n.NodeID+"@"+n.P2P)
	}
	comet.P2P.PersistentPeers = strings.Join(peers, ",")
	comet.RPC.Unsafe = true
	comet.StateSync.ChunkRequestTimeout = 5 * time.Second
	appCfg.StateEngine = newcomer
	require.NoError(t, node.WriteConfigs(nd.Home, comet, appCfg))

	sp := spoilChunks(t, corrupt)
	require.NoError(t, net.Start(nd.Name))
	require.Eventually(t, func() bool {
		logs, err := os.ReadFile(nd.LogFile)
		return err == nil && refusedChunks.Match(logs)
	}, 90*time.Second, 50*time.Millisecond, "the new node never refused a corrupt chunk")
	ni, err := rpc(t, net, nd.Name).RPC.NetInfo(ctx)
	require.NoError(t, err)
	for _, p := range ni.Peers {
		require.NotEqual(t, good.NodeID, string(p.NodeInfo.ID()), "the honest validator was a peer of the new node before its first refusal")
	}
	dialPeer(t, ctx, nd, good) // the honest validator offers the snapshot from now on

	target := maxHeight(ctx, net, "treasury") + 3
	require.NoError(t, net.WaitHeight(ctx, nd.Name, target), "the new node catches up")

	st, err := rpc(t, net, nd.Name).RPC.Status(ctx)
	require.NoError(t, err)
	require.Greater(t, st.SyncInfo.EarliestBlockHeight, int64(interval), "the new node restored a snapshot instead of replaying blocks from 1")
	for h := st.SyncInfo.EarliestBlockHeight; h <= target; h++ {
		requireSameBlocksAt(t, ctx, net, []string{"treasury", "fsa", nd.Name}, h)
	}
	b, err := os.ReadFile(nd.LogFile)
	require.NoError(t, err)
	logs := string(b)
	refusals := refusedChunks.FindAllString(logs, -1)
	require.NotEmpty(t, refusals)
	bad := map[string]string{}
	for _, n := range corrupt {
		bad[n.NodeID] = n.Name
	}
	var heights, senders []string
	for _, r := range refusals {
		m := refusedChunks.FindStringSubmatch(r)
		heights, senders = append(heights, m[1]), append(senders, bad[m[3]])
		require.Equal(t, "0", m[2], "refused chunk: %s", r)
		require.Contains(t, bad, m[3], "the refused chunk came from %s, not a validator serving a corrupt copy: %s", m[3], r)
		require.Contains(t, sp.spoiled(), m[1], "refused a chunk of a snapshot this test did not corrupt: %s", r)
	}
	restored := regexp.MustCompile(`snapshot restored[^\n]*? height=(\d+)`).FindStringSubmatch(logs)
	require.NotNil(t, restored, "the new node never logged that it restored a snapshot")
	require.Equal(t, heights[len(heights)-1], restored[1], "restored a snapshot other than the one whose chunk it refused")
	restoredAt, err := strconv.ParseInt(restored[1], 10, 64)
	require.NoError(t, err)
	require.Equal(t, restoredAt+1, st.SyncInfo.EarliestBlockHeight, "the new node's first block follows the snapshot it restored")
	// No validator dropped the new node while it synced, though it heard
	// their consensus traffic for longer than silentAfter and answered
	// none of it.
	syncing := logTime(t, logs, "Starting state sync")
	synced := logTime(t, logs, "SwitchToConsensus")
	// (Syncing takes at least the 5 s of snapshot discovery; the watch
	// looks every second.)
	require.Greater(t, synced.Sub(syncing), silentAfter+time.Second, "the new node synced too quickly for a silent peer to have been dropped")
	dropped := regexp.MustCompile(`dropping a silent peer[^\n]*peer=` + nd.NodeID + `[^\n]*`)
	for _, v := range validators {
		b, err := os.ReadFile(v.LogFile)
		require.NoError(t, err)
		if l := dropped.Find(b); l != nil {
			t.Fatalf("%s dropped the new node while it synced: %s", v.Name, l)
		}
	}
	t.Logf("snapshot %s restored after %d corrupt copies of chunk 0 were refused (from %s); %s served the good copy; in consensus %s after state sync began, not dropped", restored[1], len(refusals), strings.Join(senders, ", "), good.Name, synced.Sub(syncing))
}

// logTime is the time of the first line of a node's logs that contains
// msg (CometBFT's format: I[2026-12-05|08:02:25.994] msg …).
func logTime(t *testing.T, logs, msg string) time.Time {
	t.Helper()
	m := regexp.MustCompile(`[DIEW]\[(\d{4}-\d\d-\d\d\|\d\d:\d\d:\d\d\.\d{3})\] +` + regexp.QuoteMeta(msg)).FindStringSubmatch(logs)
	require.NotNil(t, m, "no log line %q", msg)
	at, err := time.Parse("2006-01-02|15:04:05.000", m[1])
	require.NoError(t, err)
	return at
}

// dialPeer has node nd (RPC unsafe) dial peer p and keep it as a
// persistent peer.
func dialPeer(t *testing.T, ctx context.Context, nd, p testnet.Node) {
	t.Helper()
	c, err := jsonrpcclient.New(strings.Replace(nd.RPC, "tcp://", "http://", 1))
	require.NoError(t, err)
	var res coretypes.ResultDialPeers
	_, err = c.Call(ctx, "dial_peers", map[string]any{"peers": []string{p.NodeID + "@" + p.P2P}, "persistent": true}, &res)
	require.NoError(t, err, "%s dialling %s", nd.Name, p.Name)
}

// refusedChunks matches the app's log line for a snapshot chunk that does
// not match its hash: the snapshot height, the chunk and the sender.
var refusedChunks = regexp.MustCompile(`refusing a snapshot chunk that does not match its hash[^\n]*?height=(\d+) chunk=(\d+) sender=([0-9a-fA-F]+)`)

// chunkSpoiler keeps chunk 0 of every snapshot the corrupt validators
// hold corrupt, snapshots taken meanwhile included, until the test ends.
type chunkSpoiler struct {
	done, stopped chan struct{}
	once          sync.Once
	mu            sync.Mutex
	heights       map[string]bool // snapshot heights spoiled on every corrupt validator
}

// stop stops spoiling.
func (sp *chunkSpoiler) stop() {
	sp.once.Do(func() {
		close(sp.done)
		<-sp.stopped
	})
}

// spoiled lists the snapshot heights spoiled on every corrupt validator.
func (sp *chunkSpoiler) spoiled() []string {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	var out []string
	for h := range sp.heights {
		out = append(out, h)
	}
	return out
}

func spoilChunks(t *testing.T, corrupt []testnet.Node) *chunkSpoiler {
	t.Helper()
	sp := &chunkSpoiler{done: make(chan struct{}), stopped: make(chan struct{}), heights: map[string]bool{}}
	spoiled := map[string]bool{} // home/height
	pass := func() error {
		count := map[string]int{}
		for _, n := range corrupt {
			dirs, err := os.ReadDir(node.SnapshotDir(n.Home))
			if err != nil {
				return err
			}
			for _, d := range dirs {
				h := d.Name()
				dir := filepath.Join(node.SnapshotDir(n.Home), h)
				if _, err := strconv.ParseUint(h, 10, 64); err != nil || !d.IsDir() {
					continue
				}
				if _, err := os.Stat(filepath.Join(dir, "metadata")); err != nil {
					continue // being taken
				}
				if !spoiled[dir] {
					chunk := filepath.Join(dir, "0")
					b, err := os.ReadFile(chunk)
					if err != nil {
						continue // pruned meanwhile
					}
					b[len(b)/2] ^= 0xff
					if err := os.WriteFile(chunk, b, 0o600); err != nil {
						return err
					}
					spoiled[dir] = true
				}
				count[h]++
			}
		}
		sp.mu.Lock()
		for h, c := range count {
			if c == len(corrupt) {
				sp.heights[h] = true
			}
		}
		sp.mu.Unlock()
		return nil
	}
	require.NoError(t, pass())
	require.NotEmpty(t, sp.spoiled(), "no snapshot to spoil")
	go func() {
		defer close(sp.stopped)
		for {
			select {
			case <-sp.done:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if err := pass(); err != nil {
				t.Errorf("spoiling snapshot chunks: %v", err)
				return
			}
		}
	}()
	t.Cleanup(sp.stop)
	return sp
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

package node

import (
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	abciclient "github.com/cometbft/cometbft/abci/client"
	"github.com/cometbft/cometbft/abci/example/kvstore"
	cfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/mempool"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/p2p/mock"
	protomem "github.com/cometbft/cometbft/proto/tendermint/mempool"
	"github.com/cometbft/cometbft/proxy"
	"github.com/stretchr/testify/require"
)

// The batcher hands every gossiped message to CometBFT's mempool reactor,
// in the order it arrived, after showing the transactions that queued up
// meanwhile to the preverifier in one batch: 300 messages, of which 256
// queued before it started, reach a real CListMempool (over CometBFT's
// kvstore app) in order, each shown to the preverifier once, the first
// batch holding gossipBatchMax.
func TestGossipBatcherPassesEveryMessageInOrderAfterOneBatch(t *testing.T) {
	b := newTestBatcher(t)
	for i := range gossipQueue {
		b.g.Receive(b.msg(i)) // queued: the batcher is not running yet
	}
	require.NoError(t, b.g.Start())
	for i := gossipQueue; i < 300; i++ {
		b.g.Receive(b.msg(i))
	}
	require.Eventually(t, func() bool { return b.mp.Size() == 300 }, time.Minute, 10*time.Millisecond)
	require.NoError(t, b.g.Stop())

	require.Equal(t, b.sent, b.mempoolTxs(), "the mempool holds every message's transaction, in arrival order")
	batches := b.batches()
	require.Len(t, batches[0], gossipBatchMax)
	require.Equal(t, b.sent, slices.Concat(batches...), "each transaction shown to the preverifier once, in order")
}

// Messages that arrive a few milliseconds apart, so that the queue never
// holds more than one when the batcher looks, are still verified in one
// batch of at least minBatch's 8: the batcher waits for more (here with a
// linger long enough that a loaded machine's sleeps cannot outlast it),
// then passes them all on in order. Without the wait each went alone.
func TestGossipBatcherWaitsForTricklingMessagesToFillABatch(t *testing.T) {
	b := newTestBatcher(t)
	b.g.linger = 2 * time.Second
	require.NoError(t, b.g.Start())
	t.Cleanup(func() { _ = b.g.Stop() })
	const n = 12
	for i := range n {
		b.g.Receive(b.msg(i))
		time.Sleep(3 * time.Millisecond)
	}
	require.Eventually(t, func() bool { return b.mp.Size() == n }, time.Minute, 10*time.Millisecond)

	require.Equal(t, b.sent, b.mempoolTxs(), "the mempool holds every message's transaction, in arrival order")
	batches := b.batches()
	require.Equal(t, b.sent, slices.Concat(batches...), "each transaction shown to the preverifier once, in order")
	largest := slices.MaxFunc(batches, func(x, y [][]byte) int { return len(x) - len(y) })
	require.GreaterOrEqual(t, len(largest), 8, "batch sizes %v", batchSizes(batches))
}

// A lone message is not held for a batch that never fills: with the
// node's own linger it reaches the mempool (shown to the preverifier
// alone); one that has already waited the linger in the queue is not held
// again; and a batcher stopped while a batch waits stops.
func TestGossipBatcherPassesALoneMessageOn(t *testing.T) {
	b := newTestBatcher(t)
	require.Equal(t, gossipLinger, b.g.linger)
	require.NoError(t, b.g.Start())
	b.g.Receive(b.msg(0))
	require.Eventually(t, func() bool { return b.mp.Size() == 1 }, time.Minute, 10*time.Millisecond)
	require.Equal(t, b.sent, b.mempoolTxs())
	require.Equal(t, [][][]byte{b.sent}, b.batches())
	require.NoError(t, b.g.Stop())

	late := newTestBatcher(t)
	late.g.linger = time.Hour
	late.g.queue <- queued{late.msg(0), time.Now().Add(-time.Hour)} // as if it queued an hour ago
	require.NoError(t, late.g.Start())
	require.Eventually(t, func() bool { return late.mp.Size() == 1 }, time.Minute, 10*time.Millisecond, "a message that waited the linger already is passed on")
	require.NoError(t, late.g.Stop())

	waiting := newTestBatcher(t)
	waiting.g.linger = time.Hour
	require.NoError(t, waiting.g.Start())
	waiting.g.Receive(waiting.msg(0))
	require.Eventually(t, func() bool { return len(waiting.g.queue) == 0 }, time.Minute, time.Millisecond, "the batcher takes the message")
	stopped := make(chan error, 1)
	go func() { stopped <- waiting.g.Stop() }()
	require.Eventually(t, func() bool { return len(stopped) == 1 }, time.Minute, 10*time.Millisecond, "Stop returns while a batch lingers")
	require.NoError(t, <-stopped)
}

// testBatcher is a gossipBatcher in front of a real CListMempool (over
// CometBFT's kvstore app) whose preverifier records each batch it is shown.
type testBatcher struct {
	g    *gossipBatcher
	mp   *mempool.CListMempool
	peer p2p.Peer
	sent [][]byte

	mu    sync.Mutex
	shown [][][]byte
}

func newTestBatcher(t *testing.T) *testBatcher {
	client := abciclient.NewLocalClient(nil, kvstore.NewInMemoryApplication())
	require.NoError(t, client.Start())
	t.Cleanup(func() { _ = client.Stop() })
	conf := cfg.DefaultMempoolConfig()
	conf.Broadcast = false
	b := &testBatcher{peer: mock.NewPeer(net.IP{127, 0, 0, 1})}
	b.mp = mempool.NewCListMempool(conf, proxy.NewAppConnMempool(client, proxy.NopMetrics()), 0)
	b.g = newGossipBatcher(mempool.NewReactor(conf, b.mp, false), func(txs [][]byte) {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.shown = append(b.shown, slices.Clone(txs))
	})
	return b
}

// msg is the i-th peer message, one transaction, recorded as sent.
func (b *testBatcher) msg(i int) p2p.Envelope {
	tx := []byte(fmt.Sprintf("key%03d=value%d", i, i))
	b.sent = append(b.sent, tx)
	return p2p.Envelope{Src: b.peer, ChannelID: mempool.MempoolChannel, Message: &protomem.Txs{Txs: [][]byte{tx}}}
}

// batches is what the preverifier was shown, a batch at a time.
func (b *testBatcher) batches() [][][]byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.shown)
}

func (b *testBatcher) mempoolTxs() [][]byte {
	var got [][]byte
	for _, tx := range b.mp.ReapMaxTxs(-1) {
		got = append(got, tx)
	}
	return got
}

func batchSizes(batches [][][]byte) []int {
	var sizes []int
	for _, b := range batches {
		sizes = append(sizes, len(b))
	}
	return sizes
}

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
	client := abciclient.NewLocalClient(nil, kvstore.NewInMemoryApplication())
	require.NoError(t, client.Start())
	t.Cleanup(func() { _ = client.Stop() })
	conf := cfg.DefaultMempoolConfig()
	conf.Broadcast = false
	mp := mempool.NewCListMempool(conf, proxy.NewAppConnMempool(client, proxy.NopMetrics()), 0)
	r := mempool.NewReactor(conf, mp, false)

	var mu sync.Mutex
	var batches [][][]byte
	g := newGossipBatcher(r, func(txs [][]byte) {
		mu.Lock()
		defer mu.Unlock()
		batches = append(batches, slices.Clone(txs))
	})
	peer := mock.NewPeer(net.IP{127, 0, 0, 1})
	var sent [][]byte
	msg := func(i int) p2p.Envelope {
		tx := []byte(fmt.Sprintf("key%03d=value%d", i, i))
		sent = append(sent, tx)
		return p2p.Envelope{Src: peer, ChannelID: mempool.MempoolChannel, Message: &protomem.Txs{Txs: [][]byte{tx}}}
	}
	for i := range gossipQueue {
		g.Receive(msg(i)) // queued: the batcher is not running yet
	}
	require.NoError(t, g.Start())
	for i := gossipQueue; i < 300; i++ {
		g.Receive(msg(i))
	}
	require.Eventually(t, func() bool { return mp.Size() == 300 }, time.Minute, 10*time.Millisecond)
	require.NoError(t, g.Stop())

	var got [][]byte
	for _, tx := range mp.ReapMaxTxs(-1) {
		got = append(got, tx)
	}
	require.Equal(t, sent, got, "the mempool holds every message's transaction, in arrival order")
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, batches[0], gossipBatchMax)
	require.Equal(t, sent, slices.Concat(batches...), "each transaction shown to the preverifier once, in order")
}

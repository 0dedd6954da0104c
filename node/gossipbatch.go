package node

import (
	"sync"
	"time"

	"github.com/cometbft/cometbft/mempool"
	"github.com/cometbft/cometbft/p2p"
	protomem "github.com/cometbft/cometbft/proto/tendermint/mempool"
)

// gossipBatcher stands in front of CometBFT's mempool reactor so that
// transactions gossiped by peers have their signatures verified in batches.
//
// CometBFT's flood mempool sends one transaction per message, and each
// peer's receive routine hands it to CheckTx at once, where the signature
// is verified alone (10–12% of a validator's CPU under load, three quarters
// of it for gossiped transactions). Here Receive only queues the message; one
// goroutine takes whatever has queued up (at most gossipBatchMax) and, if
// that is fewer than gossipBatchFill, waits for more until gossipLinger
// after the batch's first message arrived (not at all if it has waited
// that long behind the batch before), then verifies the
// signatures the node does not know yet in one batch
// (App.PreverifySignatures, about 19 µs a signature instead of 35–52) and
// passes the messages, in the order they arrived, to CometBFT's reactor,
// whose CheckTx finds the verdicts known. Without the linger a node
// gossiped ~750 tx/s took them a few at a time, and batches under 8 are
// not batch-verified: the profile of 4 validators at ~980 tx/s showed
// 0.85 s of lone verifications under this goroutine against 0.31 s
// batched. The linger is the price: a lone transaction on an idle chain
// reaches each peer's mempool up to gossipLinger later than it would
// have; a busy node's queue grows while CheckTx works, and its batches
// fill without waiting.
//
// Verdicts and admission are CometBFT's and the app's as before: the
// batcher only fills the signature cache. The queue is bounded; when it is
// full Receive waits, which holds back the peer's connection as the
// synchronous CheckTx did (the linger stops at gossipBatchFill, well under
// the queue's size, so it never fills the queue itself).
type gossipBatcher struct {
	*mempool.Reactor
	preverify func(txs [][]byte)
	linger    time.Duration // gossipLinger; tests set another
	queue     chan queued
	quit      chan struct{}
	stopOnce  sync.Once
	wg        sync.WaitGroup
}

// gossipBatchMax bounds one batch: enough for the batch verifier's gain
// (which levels off at a few dozen signatures), small enough that a
// batch's CheckTx calls do not hold back the next for long.
const gossipBatchMax = 128

// gossipBatchFill is the batch size at which the batcher stops waiting for
// more messages: the batch verifier's cost a signature has mostly
// levelled off by a few dozen (gossipBatchMax), so waiting past 64 would
// delay transactions for little gain. A busy node's queue often holds that
// many already, and its batches do not wait at all.
const gossipBatchFill = 64

// gossipLinger is the longest a batch waits for more messages after its
// first: at ~750 gossiped tx/s (a validator of four at ~1,000 committed
// tx/s) 20 ms gathers ~15 messages, over minBatch's 8 (10 ms would gather
// ~7, under it), and at 3,200 tx/s or more the batch reaches
// gossipBatchFill first. Against a block interval of about a second it is
// 2%: a transaction that reaches a proposer's mempool 20 ms later misses
// the next proposal only if it arrived in that proposal's last 20 ms. An
// idle chain pays it once per hop: a lone transaction reaches each peer's
// mempool up to 20 ms later.
const gossipLinger = 20 * time.Millisecond

// gossipQueue is how many gossiped messages may wait (one transaction each,
// a few hundred bytes): two full batches.
const gossipQueue = 2 * gossipBatchMax

// queued is a peer's message and when Receive queued it.
type queued struct {
	p2p.Envelope
	at time.Time
}

func newGossipBatcher(r *mempool.Reactor, preverify func([][]byte)) *gossipBatcher {
	return &gossipBatcher{Reactor: r, preverify: preverify, linger: gossipLinger, queue: make(chan queued, gossipQueue), quit: make(chan struct{})}
}

// batchGossip puts a gossipBatcher in front of the node's flood mempool
// reactor (before the node starts). It does nothing for another mempool
// type.
func batchGossip(sw p2p.Switcher, preverify func([][]byte)) {
	r, ok := sw.Reactor("MEMPOOL")
	if !ok {
		return
	}
	flood, ok := r.(*mempool.Reactor)
	if !ok {
		return
	}
	sw.RemoveReactor("MEMPOOL", flood)
	sw.AddReactor("MEMPOOL", newGossipBatcher(flood, preverify))
}

// Start starts CometBFT's reactor and the batching goroutine.
func (g *gossipBatcher) Start() error {
	if err := g.Reactor.Start(); err != nil {
		return err
	}
	g.wg.Add(1)
	go g.run()
	return nil
}

// Stop stops the batching goroutine (messages still queued are dropped,
// as a stopping node's would be) and CometBFT's reactor.
func (g *gossipBatcher) Stop() error {
	g.stopOnce.Do(func() { close(g.quit) })
	g.wg.Wait()
	return g.Reactor.Stop()
}

// Receive queues a peer's message for the batching goroutine.
func (g *gossipBatcher) Receive(e p2p.Envelope) {
	select {
	case g.queue <- queued{e, time.Now()}:
	case <-g.quit:
	}
}

func (g *gossipBatcher) run() {
	defer g.wg.Done()
	batch := make([]p2p.Envelope, 0, gossipBatchMax)
	txs := make([][]byte, 0, gossipBatchMax)
	// One timer for every batch's linger: Reset when a batch starts to
	// wait, stopped when it stops (since Go 1.23 neither leaves a stale
	// tick in C for the next batch).
	linger := time.NewTimer(g.linger)
	linger.Stop()
	defer linger.Stop()
	for {
		var first queued
		select {
		case <-g.quit:
			return
		case first = <-g.queue:
			batch = append(batch[:0], first.Envelope)
		}
	more:
		for len(batch) < gossipBatchMax {
			select {
			case q := <-g.queue:
				batch = append(batch, q.Envelope)
			default:
				break more
			}
		}
		// Wait for more only until gossipLinger after the first message
		// arrived: one that already waited that long behind the last
		// batch's CheckTx calls is passed on at once.
		if wait := g.linger - time.Since(first.at); len(batch) < gossipBatchFill && wait > 0 {
			linger.Reset(wait)
		fill:
			for len(batch) < gossipBatchFill {
				select {
				case q := <-g.queue:
					batch = append(batch, q.Envelope)
				case <-linger.C:
					break fill
				case <-g.quit:
					return
				}
			}
			linger.Stop()
		}
		txs = txs[:0]
		for _, e := range batch {
			if m, ok := e.Message.(*protomem.Txs); ok {
				txs = append(txs, m.GetTxs()...)
			}
		}
		g.preverify(txs)
		for _, e := range batch {
			g.Reactor.Receive(e)
		}
	}
}

package load

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/tallyledger/tally/client"
)

// TxResult is what the load's watcher reads of a transaction's result.
type TxResult = txResult

// WatchedBlock is a block as the load's watcher reads it.
type WatchedBlock struct {
	Height  int64
	Time    time.Time
	Hashes  [][32]byte
	Results []TxResult
}

// Watcher is the load's block watcher.
type Watcher struct{ w *watcher }

// NewWatcher watches addr's blocks from height from on, as a run does.
func NewWatcher(addr string, from int64) (*Watcher, error) {
	hc, err := client.HTTPClient(addr)
	if err != nil {
		return nil, err
	}
	conn, err := newRPCConn(addr, hc)
	if err != nil {
		return nil, err
	}
	return &Watcher{&watcher{c: conn, next: from, h: new(atomic.Int64)}}, nil
}

// Poll returns the blocks the watcher counts as committed since the last
// call.
func (w *Watcher) Poll(ctx context.Context) ([]WatchedBlock, error) {
	blocks, err := w.w.poll(ctx)
	out := make([]WatchedBlock, len(blocks))
	for i, b := range blocks {
		out[i] = WatchedBlock{Height: b.height, Time: b.time, Hashes: b.hashes, Results: b.results}
	}
	return out, err
}

// WatchBlocks reads heights from..to from addr with the load's watcher,
// polling as a run does.
func WatchBlocks(ctx context.Context, addr string, from, to int64) ([]WatchedBlock, error) {
	w, err := NewWatcher(addr, from)
	if err != nil {
		return nil, err
	}
	var out []WatchedBlock
	for w.w.next <= to {
		blocks, err := w.Poll(ctx)
		if err != nil {
			return nil, err
		}
		for _, b := range blocks {
			if b.Height <= to {
				out = append(out, b)
			}
		}
		if err := sleep(ctx, DefaultPollInterval); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Broadcast sends tx to addr as the load's senders do and returns CheckTx's
// verdict.
func Broadcast(ctx context.Context, addr string, tx []byte) (code uint32, codespace, log string, err error) {
	c, err := pooledClient(addr, 2)
	if err != nil {
		return 0, "", "", err
	}
	res, _, err := c.broadcastTxSync(ctx, tx)
	return res.Code, res.Codespace, res.Log, err
}

// ErrorClass is how a run counts a broadcast error.
func ErrorClass(err error) string { return errorClass(err) }

// ErrTxInCache is the text by which a run knows CometBFT's "tx already
// exists in cache".
const ErrTxInCache = errTxInCache

// The most bytes of an answer the load reads: to a broadcast (over HTTP or
// a websocket), and about a block.
const (
	MaxBroadcastAnswerBytes = maxBroadcastAnswerBytes
	MaxBlockAnswerBytes     = maxBlockAnswerBytes
)

// SetBlockAnswerLimit makes the watcher read block answers of at most n
// bytes until the test ends.
func SetBlockAnswerLimit(t interface{ Cleanup(func()) }, n int64) {
	old := blockAnswerLimit
	blockAnswerLimit = n
	t.Cleanup(func() { blockAnswerLimit = old })
}

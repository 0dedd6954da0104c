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

// WatchBlocks reads heights from..to from addr with the load's watcher,
// polling as a run does.
func WatchBlocks(ctx context.Context, addr string, from, to int64) ([]WatchedBlock, error) {
	hc, err := client.HTTPClient(addr)
	if err != nil {
		return nil, err
	}
	conn, err := newRPCConn(addr, hc)
	if err != nil {
		return nil, err
	}
	var height atomic.Int64
	w := &watcher{c: conn, next: from, h: &height}
	var out []WatchedBlock
	for w.next <= to {
		blocks, err := w.poll(ctx)
		if err != nil {
			return nil, err
		}
		for _, b := range blocks {
			if b.height <= to {
				out = append(out, WatchedBlock{Height: b.height, Time: b.time, Hashes: b.hashes, Results: b.results})
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
	res, err := c.broadcastTxSync(ctx, tx)
	return res.Code, res.Codespace, res.Log, err
}

// ErrorClass is how a run counts a broadcast error.
func ErrorClass(err error) string { return errorClass(err) }

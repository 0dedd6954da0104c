package node

import (
	"errors"
	"sync"

	dbm "github.com/cometbft/cometbft-db"
	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/opt"
)

// The transaction index writes one goleveldb batch a block: every
// transaction's result and a key for each of its indexed event
// attributes, several records a transaction. A new goleveldb batch grows
// its buffer by about 3,000 records' worth at a time (leveldb.Batch.grow),
// copying it each time, so filling one allocates several times what it
// holds (20,000 records of 197 bytes: 20 MB for 3.9 MB,
// TestTheIndexBatchesReuseTheirBuffers): the index's batches were 7.6% of
// every byte the validators allocated at 2,400 tx/s offered (memiavl,
// 60,000,000 units a block; README, "Measuring"), garbage the collector
// then runs for. So the index's batches are goleveldb batches of the
// node's own (reusedBatch) which, once written or closed, hand their
// buffers to the next: after the first blocks a batch no longer grows.

// maxReusedBatchBytes bounds the buffer kept for the next batch: a batch
// that grew larger (a block far above the usual, or the pruner's) is
// dropped after use, as before.
const maxReusedBatchBytes = 16 << 20

// batchSpare keeps one written batch's buffers for the next batch, if
// they hold at most max bytes.
type batchSpare struct {
	mu    sync.Mutex
	batch *leveldb.Batch
	max   int
}

func (s *batchSpare) take() *leveldb.Batch {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.batch
	s.batch = nil
	if b == nil {
		b = new(leveldb.Batch)
	}
	return b
}

// give keeps b (emptied) for the next batch, unless one is kept already or
// b held more than s.max bytes.
func (s *batchSpare) give(b *leveldb.Batch, size int) {
	if size > s.max {
		return
	}
	b.Reset()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.batch == nil {
		s.batch = b
	}
}

// Errors as cometbft-db's goleveldb batch gives them.
var (
	errBatchKeyEmpty = errors.New("key cannot be empty")
	errBatchValueNil = errors.New("value cannot be nil")
	errBatchClosed   = errors.New("batch has been written or closed")
)

// reusedBatch is cometbft-db's goleveldb batch (same checks, same errors,
// the same single Write to the database) over buffers it takes from spare
// and gives back when written or closed. goleveldb lets a batch be
// changed once Write has returned.
type reusedBatch struct {
	db    *leveldb.DB
	batch *leveldb.Batch
	spare *batchSpare
}

var _ dbm.Batch = (*reusedBatch)(nil)

func (b *reusedBatch) Set(key, value []byte) error {
	if len(key) == 0 {
		return errBatchKeyEmpty
	}
	if value == nil {
		return errBatchValueNil
	}
	if b.batch == nil {
		return errBatchClosed
	}
	b.batch.Put(key, value)
	return nil
}

func (b *reusedBatch) Delete(key []byte) error {
	if len(key) == 0 {
		return errBatchKeyEmpty
	}
	if b.batch == nil {
		return errBatchClosed
	}
	b.batch.Delete(key)
	return nil
}

func (b *reusedBatch) Write() error { return b.write(false) }

func (b *reusedBatch) WriteSync() error { return b.write(true) }

func (b *reusedBatch) write(sync bool) error {
	if b.batch == nil {
		return errBatchClosed
	}
	if err := b.db.Write(b.batch, &opt.WriteOptions{Sync: sync}); err != nil {
		return err
	}
	return b.Close()
}

func (b *reusedBatch) Close() error {
	if b.batch != nil {
		b.spare.give(b.batch, len(b.batch.Dump()))
		b.batch = nil
	}
	return nil
}

// goLevelDB is the goleveldb database under db (through the node's own
// wrappers), or nil for another backend.
func goLevelDB(db dbm.DB) *leveldb.DB {
	for {
		switch d := db.(type) {
		case *dbm.GoLevelDB:
			return d.DB()
		case *afterCloseDB:
			db = d.DB
		default:
			return nil
		}
	}
}

package store

import (
	"errors"

	idb "github.com/cosmos/iavl/db"
)

// Why a version is written in one batch.
//
// IAVL v1.2.8's MutableTree.SaveVersion writes a version through one
// BatchWithFlusher, in this order:
//
//  1. the fast index: f<key> for every key set in the version (sorted),
//     then deletes of f<key> for every key removed (sorted);
//  2. the metadata m"storage_version" = "1.1.0-<version>";
//  3. the new tree nodes s<version><nonce>, children before parents, the
//     root s<version><1> last (saveNewNodes; an unchanged tree writes only
//     a root that refers to the previous one);
//  4. nodeDB.Commit: WriteSync of what is left in the batch.
//
// BatchWithFlusher writes the batch out (Write, without fsync) whenever
// it would grow past FlushThreshold bytes (100,000 by default), so a
// version larger than that reaches the database in several writes. A
// process killed between them leaves a prefix of that sequence on disk,
// and IAVL cannot recover from it (store/save_test.go shows both cases):
//
//   - the cut falls in the tree nodes: the newest s<version> key belongs to
//     the unfinished version, so Load takes it for the latest version,
//     finds no root for it and fails with "version does not exist". The
//     node cannot start without manual repair.
//   - the cut falls in the fast index: the tree loads the previous version
//     and the storage version still names it, so IAVL keeps the fast index,
//     which now holds values of the unfinished version and lacks keys it
//     removed. Get and Iterate on the working tree read those, so replaying
//     the block computes a different state and app hash.
//
// saveDB therefore holds back every write IAVL makes while Commit saves a
// version and writes them in one batch (with fsync) when IAVL makes its
// final write. goleveldb and pebble apply a batch atomically, so after a
// crash the disk holds the whole version or none of it — the previous
// version, fast index and all — and CometBFT's handshake replays the block.
// IAVL's chunking still happens (FlushThreshold decides it) but only moves
// writes between Go batches. Writes outside a save (pruning, the fast
// index upgrade in Load) are passed through unchanged: a crash in the middle
// of those leaves whole older versions deleted or an upgrade that Load
// redoes, both of which IAVL handles.
//
// This relies on SaveVersion not reading back, between its chunks, what it
// has written — true of v1.2.8, which keeps new nodes in its node cache.
// Re-read this when upgrading IAVL.

// ProbePoint names a point of the store's work reported to Options.Probe.
type ProbePoint int

// Points reported to Options.Probe, with the version concerned.
const (
	// ProbeOpened: Open has loaded the latest saved version (0 for a new
	// database).
	ProbeOpened ProbePoint = iota + 1
	// ProbeMidSave: Commit is saving the version, IAVL has split it into
	// more than one chunk and is now handing over the last one (the one
	// with the root). IAVL takes the earlier chunks as written; on disk
	// there is nothing of the version yet, only the previous one.
	ProbeMidSave
	// ProbeSaved: the version is durable; pruning has not run yet.
	ProbeSaved
)

// saveDB is the database as IAVL sees it: writes pass through, except
// during a save (between beginSave and endSave), when they are gathered
// into one batch written when IAVL makes its final write (WriteSync).
//
// Only the goroutine that calls Commit uses batches; readers on other
// goroutines only read, so the fields need no lock.
type saveDB struct {
	idb.DB
	save     *pendingSave // non-nil during a save
	lastSize int          // bytes of the last version saved: the next batch's starting size
	probe    func(ProbePoint, int64)
}

// pendingSave is one version's writes, held back until IAVL's final write.
type pendingSave struct {
	version int64
	batch   idb.Batch
	chunk   int // bytes handed over since IAVL last flushed
	chunks  int // non-empty chunks IAVL has flushed so far
	size    int // bytes handed over in all
}

// batchOverhead approximates what a batch adds to each entry's key and
// value, so that IAVL cuts chunks where it would on the real batch.
const batchOverhead = 8

func (d *saveDB) beginSave(version int64) {
	d.save = &pendingSave{version: version, batch: d.newBatch(d.lastSize)}
}

func (d *saveDB) newBatch(size int) idb.Batch {
	if size > 0 {
		return d.DB.NewBatchWithSize(size)
	}
	return d.DB.NewBatch()
}

// endSave ends a save. Writes IAVL made after its final one, if it ever
// did, are written now; after a failed save the held-back writes are
// dropped. Nothing is written if the save was cut short by a panic.
func (d *saveDB) endSave(saved bool) error {
	s := d.save
	d.save = nil
	if s == nil {
		return nil
	}
	if !saved || s.chunk == 0 && s.chunks == 0 {
		return s.batch.Close()
	}
	return errors.Join(s.batch.WriteSync(), s.batch.Close())
}

func (d *saveDB) NewBatch() idb.Batch { return &saveBatch{db: d} }

func (d *saveDB) NewBatchWithSize(size int) idb.Batch { return &saveBatch{db: d, size: size} }

// saveBatch routes IAVL's writes: into the pending save during a save,
// otherwise into a batch of its own, created on first use.
type saveBatch struct {
	db   *saveDB
	own  idb.Batch
	size int
}

func (b *saveBatch) ownBatch() idb.Batch {
	if b.own == nil {
		b.own = b.db.newBatch(b.size)
	}
	return b.own
}

func (b *saveBatch) Set(key, value []byte) error {
	if s := b.db.save; s != nil {
		n := len(key) + len(value) + batchOverhead
		s.chunk += n
		s.size += n
		return s.batch.Set(key, value)
	}
	return b.ownBatch().Set(key, value)
}

func (b *saveBatch) Delete(key []byte) error {
	if s := b.db.save; s != nil {
		n := len(key) + batchOverhead
		s.chunk += n
		s.size += n
		return s.batch.Delete(key)
	}
	return b.ownBatch().Delete(key)
}

// Write is IAVL flushing a chunk. During a save it only ends the chunk.
func (b *saveBatch) Write() error {
	if s := b.db.save; s != nil {
		if s.chunk > 0 {
			s.chunks++
			s.chunk = 0
		}
		return nil
	}
	if b.own == nil {
		return nil
	}
	return b.own.Write()
}

// WriteSync is IAVL's final write (nodeDB.Commit). During a save it
// writes the whole version in one batch.
func (b *saveBatch) WriteSync() error {
	s := b.db.save
	if s == nil {
		if b.own == nil {
			return nil
		}
		return b.own.WriteSync()
	}
	if s.chunks > 0 && b.db.probe != nil {
		b.db.probe(ProbeMidSave, s.version)
	}
	b.db.lastSize = s.size
	err := errors.Join(s.batch.WriteSync(), s.batch.Close())
	// Anything IAVL writes after this is written at endSave.
	b.db.save = &pendingSave{version: s.version, batch: b.db.DB.NewBatch()}
	return err
}

func (b *saveBatch) Close() error {
	if b.own == nil {
		return nil
	}
	err := b.own.Close()
	b.own = nil
	return err
}

func (b *saveBatch) GetByteSize() (int, error) {
	if s := b.db.save; s != nil {
		return s.chunk, nil
	}
	if b.own == nil {
		return 0, nil
	}
	return b.own.GetByteSize()
}

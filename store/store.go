package store

import (
	"errors"
	"fmt"

	dbm "github.com/cosmos/cosmos-db"
	idb "github.com/cosmos/iavl/db"
	"github.com/syndtr/goleveldb/leveldb/filter"
	"github.com/syndtr/goleveldb/leveldb/opt"
)

// DefaultCacheSize is the IAVL node cache size (in nodes) used when
// Options.CacheSize is 0. It is the Cosmos SDK's default; BenchmarkCommit on
// a 100k-key tree is ~5x slower with a 100k-node cache, which thrashes.
const DefaultCacheSize = 781_250

// dbName is the database name inside Options.Dir (goleveldb and pebbledb
// create Dir/application.db).
const dbName = "application"

// ErrVersionUnavailable is returned when a saved version was never written
// or has been pruned.
var ErrVersionUnavailable = errors.New("store: version not available")

// Options selects the database and pruning policy. Read from the app config.
type Options struct {
	// Engine is the tree the state is kept in: EngineIAVL (default when
	// empty), or EngineMemiavl, a prototype that does less (memiavl.go).
	Engine string
	// SnapshotInterval is, for the memiavl engine, the versions between
	// two full snapshots of its tree; 0 is DefaultMemiavlSnapshotInterval.
	// Ignored by the iavl engine.
	SnapshotInterval uint32

	Dir            string // database directory; ignored for "memdb"
	Backend        string // "goleveldb" (default when empty), "pebbledb", "memdb"
	KeepRecent     uint64 // keep this many most recent versions; 0 = keep everything (no pruning)
	KeepEvery      uint64 // align pruning to multiples of this; 0 = none (see Store.Commit)
	CacheSize      int    // IAVL node cache size; 0 = DefaultCacheSize
	InitialVersion uint64 // version of the first Commit when > 0 (CometBFT's initial height)

	// DBCacheBytes is goleveldb's block cache, in bytes: decoded blocks of
	// the database file, where tree nodes the node cache does not hold are
	// read from. 0 keeps goleveldb's default (8 MiB). Ignored by pebbledb
	// and memdb.
	DBCacheBytes int
	// DBNoCompression writes goleveldb tables without snappy compression.
	DBNoCompression bool

	// FastIndex keeps IAVL's fast index (a copy of every latest value
	// under its own key, rewritten by each save) for the working tree. Off
	// by default: BenchmarkFinalizeCommit over 100,000 accounts commits
	// 1.45-2.2x the transactions per CPU-second without it (the index
	// doubles the writes of a save and turns every read of an absent key
	// into a database read), and reads walk the cached tree instead.
	// Switching it back on later rebuilds the index at Open.
	FastIndex bool

	// FlushThreshold is the size in bytes at which IAVL cuts a version it
	// saves into chunks; 0 keeps IAVL's default (100,000). A version is
	// written in one batch whatever its chunks (see save.go); crash tests
	// set a tiny threshold so that every save is split and ProbeMidSave is
	// reached at every height.
	FlushThreshold int
	// WrapDB, when set, wraps the database the tree reads and writes, so
	// tests can make it fail. Nil in production.
	WrapDB func(dbm.DB) dbm.DB
	// Probe, when set, is called at the points named by ProbePoint, on the
	// goroutine doing the work, so that tests and tallyd's TALLY_CRASH_AT
	// can stop the process there. It must not call the Store. Nil in
	// production.
	Probe func(at ProbePoint, version int64)
}

// Failure is the panic value of a working-tree operation the database
// failed (a disk error, a corrupt or missing node). The KV interface has no
// error results, because a keeper cannot do anything sensible about a broken
// disk; instead the failure unwinds to the ABCI method, which must stop the
// node rather than record it as any transaction's result: the same
// transaction succeeds on every healthy node.
type Failure struct {
	Op  string // what the store was doing, e.g. "get 7478..."
	Err error  // the database's error
}

// Error says what failed.
func (f *Failure) Error() string { return "store: " + f.Op + ": " + f.Err.Error() }

// Unwrap returns the database's error.
func (f *Failure) Unwrap() error { return f.Err }

// Store is the application's single IAVL tree on a cosmos-db database, one
// version per block. It implements KV over the working (uncommitted) tree.
//
// Concurrency: the working-tree methods (Get, Has, Set, Delete, Iterate,
// WorkingHash, Rollback) and Commit must be called from a single goroutine
// (the consensus connection). The saved-version readers (LastCommit,
// AvailableVersions, GetAt, IterateAt, Prove) may run concurrently from any
// number of other goroutines, and never hold up the consensus goroutine:
//
//   - IAVL shares in-memory nodes between the working tree and the saved
//     versions it hands out, and writes fields of shared nodes when the
//     working tree changes (node.clone) or is saved (saveNewNodes), so
//     reading a saved version through the working tree's MutableTree would
//     race with every Set. Saved versions are therefore read through a
//     second tree, reader, over the same database with its own node cache:
//     it shares no node with tree, only the database, which is safe for
//     concurrent use. Its nodes are immutable once read.
//   - reader never uses IAVL's fast index (skipFastStorageUpgrade): that
//     index holds the latest values only and is rewritten by Commit, so a
//     read of version V through it could see V+1. Reads walk the version's
//     own nodes, which are never rewritten, only deleted by pruning.
//   - A version is written to the database in one atomic batch (save.go)
//     and becomes readable (lastVersion) only after that batch is durable.
//   - mu guards lastVersion, lastHash and the writer tree's version
//     bookkeeping; readers hold it only to check that a version exists,
//     never while they walk it. A version pruned while a reader walks it
//     makes that read fail with an error, not return wrong data.
//
// That is the iavl engine (iavl.go); the memiavl engine's readers hold mu
// shared while they walk a version (memiavl.go). The Store reaches its
// tree only through its engine (engine.go).
type Store struct {
	// committed holds mu (held shared by saved-version readers while they
	// check a version exists, and exclusively by Commit and Close, which
	// change which versions exist), lastVersion and lastHash; the engine
	// shares it.
	*committed
	eng       engine
	opts      Options
	iterating int // nesting depth of Iterate; writes are refused while > 0
	// pending holds the working tree's writes until the tree must be
	// current, and the values read from it (writebehind.go).
	pending writeBehind

	// held counts, per version, the exports under way (snapshot.go):
	// pruning stops short of the oldest held version.
	held map[int64]int

	// reads caches values of the last saved version (readcache.go), nil
	// when off; written holds the keys the working tree has set or deleted
	// since the last Commit (or Open), which Commit drops from reads.
	// written belongs to the consensus goroutine, like the working tree.
	reads   *readCache
	written map[string]struct{}
}

var _ KV = (*Store)(nil)

// Open opens (or creates) the database described by opts and loads the
// latest saved version (0 if the database is new).
//
// Durability: IAVL runs with SyncOption(true), so Commit returns only after
// the new version is fsynced, and the version is written in one atomic
// batch (save.go), so a crash inside Commit leaves the previous version
// whole. A kill -9 alone would not lose OS-buffered
// writes, but a power loss or kernel crash could lose several unsynced
// versions, and CometBFT's handshake can replay only the last block. Pruning
// runs synchronously inside Commit (no AsyncPruningOption): it is simpler,
// its errors surface to the caller, and no background goroutine races Close.
func Open(opts Options) (*Store, error) {
	s := &Store{committed: &committed{}, opts: opts, held: map[int64]int{}, written: map[string]struct{}{}}
	var err error
	switch opts.Engine {
	case "", EngineIAVL:
		s.eng, err = openIAVL(opts, s.committed)
	case EngineMemiavl:
		s.eng, err = openMemiavl(opts, s.committed)
	default:
		return nil, fmt.Errorf("store: unknown state engine %q (want %q or %q)", opts.Engine, EngineIAVL, EngineMemiavl)
	}
	if err != nil {
		return nil, err
	}
	s.loaded()
	if opts.Probe != nil {
		opts.Probe(ProbeOpened, s.lastVersion)
	}
	return s, nil
}

// loaded takes the version the engine loaded as the latest, after Open or
// after the engine loaded its state again. The caller holds s.mu or is
// Open.
func (s *Store) loaded() {
	s.pending.reset()
	s.lastVersion, s.lastHash = s.eng.latest()
	s.resetReads()
}

// readerCacheSize sizes the node cache of the tree that serves queries: a
// quarter of the consensus tree's, since queries mostly read recent paths
// that the database's own cache also holds.
func readerCacheSize(consensus int) int {
	return max(consensus/4, 1000)
}

func openDB(opts Options) (dbm.DB, error) {
	switch opts.Backend {
	case "memdb":
		return dbm.NewMemDB(), nil
	case "", "goleveldb", "pebbledb":
		if opts.Dir == "" {
			return nil, errors.New("store: database directory is empty")
		}
		backend := dbm.GoLevelDBBackend
		if opts.Backend == "pebbledb" {
			backend = dbm.PebbleDBBackend
		}
		var db dbm.DB
		var err error
		if backend == dbm.GoLevelDBBackend {
			db, err = dbm.NewGoLevelDBWithOpts(dbName, opts.Dir, levelOptions(opts))
		} else {
			db, err = dbm.NewDB(dbName, backend, opts.Dir)
		}
		if err != nil {
			return nil, fmt.Errorf("store: open %s database in %s: %w", backend, opts.Dir, err)
		}
		return db, nil
	default:
		return nil, fmt.Errorf("store: unsupported backend %q (want goleveldb, pebbledb or memdb)", opts.Backend)
	}
}

// levelOptions are goleveldb's options for opts: cosmos-db's (a bloom
// filter of 10 bits a key) with the block cache and compression opts asks.
func levelOptions(opts Options) *opt.Options {
	o := &opt.Options{Filter: filter.NewBloomFilter(10), BlockCacheCapacity: opts.DBCacheBytes}
	if opts.DBNoCompression {
		o.Compression = opt.NoCompression
	}
	return o
}

// NewMemory returns a Store on an in-memory database without pruning, for tests.
func NewMemory() *Store {
	s, err := Open(Options{Backend: "memdb"})
	if err != nil {
		panic(fmt.Sprintf("store: open memdb: %v", err)) // cannot happen: memdb has no I/O
	}
	return s
}

// Get returns the working-tree value at key, or nil if absent.
func (s *Store) Get(key []byte) []byte {
	if v, ok := s.pending.logged(key); ok {
		return v
	}
	if v, ok := s.pending.reads[string(key)]; ok {
		return v
	}
	v, err := s.eng.get(key)
	if err != nil {
		panic(&Failure{Op: fmt.Sprintf("get %X", key), Err: err})
	}
	s.pending.reads[string(key)] = v
	return v
}

// Has reports whether key is present in the working tree.
func (s *Store) Has(key []byte) bool {
	return s.Get(key) != nil
}

// Set writes value (copied; nil means empty) at key in the working tree.
// The tree itself is written when it must be current (writebehind.go).
// It panics if called from inside Iterate's callback.
func (s *Store) Set(key, value []byte) {
	s.setStored(string(key), storedValue(value)) // one copy of the key for both records
}

// setEncoded is Set of a value the Store now owns.
func (s *Store) setEncoded(key, value []byte) { s.setStored(string(key), ownedValue(value)) }

// setStored is Set of a value in stored form that the Store now owns.
func (s *Store) setStored(k string, v []byte) {
	s.checkNotIterating("Set")
	s.wrote(k)
	s.pending.write(k, v)
}

// Delete removes key from the working tree (when it must be current, like
// Set). It panics if called from inside Iterate's callback.
func (s *Store) Delete(key []byte) { s.deleteStored(string(key)) }

// deleteStored is Delete of key k.
func (s *Store) deleteStored(k string) {
	s.checkNotIterating("Delete")
	s.wrote(k)
	s.pending.write(k, nil)
}

// flush applies the pending writes to the tree, in order.
func (s *Store) flush() { s.eng.apply(&s.pending) }

// Flush applies the writes waiting for the end of the block (see
// writeBehind) to the working tree now. Iterate, WorkingHash and Commit do
// it anyway, so calling it changes no result; FinalizeBlock calls it once
// its transactions have run, so that a CPU profile shows building the
// block's tree as a step of its own (IAVL v1's Set, most of a block's
// reads from disk) and not inside whichever Iterate comes first. Like
// Set, it panics if called from inside Iterate's callback.
func (s *Store) Flush() {
	s.checkNotIterating("Flush")
	s.flush()
}

// checkNotIterating turns a mutation during Iterate, which IAVL does not
// support and would silently corrupt the iteration, into a loud failure.
func (s *Store) checkNotIterating(op string) {
	if s.iterating > 0 {
		panic("store: " + op + " called during Store.Iterate; buffer writes in a Cache")
	}
}

// Iterate visits the working tree's keys in [start, end); see KV.Iterate.
// fn must not write to the Store (writing to a Cache over it is fine).
func (s *Store) Iterate(start, end []byte, ascending bool, fn func(key, value []byte) (stop bool)) {
	if s.iterating == 0 {
		s.flush() // writes are refused while iterating, so a nested Iterate has none
	}
	s.iterating++
	defer func() { s.iterating-- }()
	itr, err := s.eng.iterator(start, end, ascending)
	if err == nil {
		err = drain(itr, fn)
	}
	if err != nil {
		panic(&Failure{Op: fmt.Sprintf("iterate [%X, %X)", start, end), Err: err})
	}
}

// drain feeds itr to fn until fn stops or itr ends, then closes itr.
func drain(itr idb.Iterator, fn func(key, value []byte) bool) error {
	for ; itr.Valid(); itr.Next() {
		if fn(itr.Key(), itr.Value()) {
			break
		}
	}
	return errors.Join(itr.Error(), itr.Close())
}

// WorkingHash returns the root hash including uncommitted changes; this is
// the app hash FinalizeBlock returns, and equals the hash Commit will return.
func (s *Store) WorkingHash() []byte {
	s.flush()
	return s.eng.workingHash()
}

// Rollback discards all uncommitted working changes. Like Set, it panics if
// called from inside Iterate's callback.
func (s *Store) Rollback() {
	s.checkNotIterating("Rollback")
	s.pending.reset()
	if !s.eng.rollback() {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.eng.reload(); err != nil {
		panic(&Failure{Op: "rollback (reload the saved version)", Err: err})
	}
	s.loaded()
}

// Commit saves the working tree as a new version and then prunes.
//
// Pruning (when KeepRecent > 0): the KeepRecent most recent versions are
// always kept. IAVL v1 can only delete a contiguous run of versions starting
// at the oldest one (MutableTree.DeleteVersionsTo), so "keep every multiple
// of KeepEvery forever" cannot be expressed; instead KeepEvery aligns
// pruning: the oldest kept version is the largest multiple of KeepEvery that
// is not newer than the oldest version of the KeepRecent window. So after a
// Commit at version L the available versions are exactly [F, L] where
//
//	W = L - KeepRecent + 1          (oldest version of the window)
//	F = W                           if KeepEvery == 0
//	F = W - W%KeepEvery             if KeepEvery > 0 (a multiple of KeepEvery)
//
// (or from the first saved version if that is later). With KeepEvery > 0
// between KeepRecent and KeepRecent+KeepEvery-1 versions are kept, and the
// newest multiple of KeepEvery at or before the window stays available, e.g.
// for a state-sync snapshot taken at that height.
//
// If pruning fails the new version is already durable: its version and hash
// are returned together with the error. Like Set, Commit panics if called
// from inside Iterate's callback.
func (s *Store) Commit() (version int64, hash []byte, err error) {
	s.checkNotIterating("Commit")
	s.flush()
	// The read values stay right (a save changes no value), but are
	// dropped to hold at most one block's.
	s.pending.forgetReads()
	s.mu.Lock()
	defer s.mu.Unlock()
	version, hash, err = s.eng.save()
	if err != nil {
		return 0, nil, err
	}
	s.lastVersion, s.lastHash = version, hash
	s.advanceReads(version)
	if s.opts.Probe != nil {
		s.opts.Probe(ProbeSaved, version)
	}
	to := pruneTarget(version, s.opts.KeepRecent, s.opts.KeepEvery)
	for h := range s.held { // an export under way keeps its version (snapshot.go)
		to = min(to, h-1)
	}
	if to > 0 {
		if err := s.eng.prune(to); err != nil {
			return version, hash, fmt.Errorf("store: prune versions up to %d after saving %d: %w", to, version, err)
		}
	}
	return version, hash, nil
}

// pruneTarget returns the newest version to delete after saving latest, or 0
// when nothing is to be deleted. See Commit for the policy.
func pruneTarget(latest int64, keepRecent, keepEvery uint64) int64 {
	if keepRecent == 0 || latest <= 0 || keepRecent >= uint64(latest) {
		return 0
	}
	oldestKept := uint64(latest) - keepRecent + 1
	if keepEvery > 0 {
		oldestKept -= oldestKept % keepEvery
	}
	if oldestKept <= 1 {
		return 0
	}
	return int64(oldestKept - 1)
}

// LastCommit returns the last saved version and its root hash. A new store
// returns (0, nil): nothing has been committed, so there is no app hash.
func (s *Store) LastCommit() (version int64, hash []byte) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.lastVersion, s.lastHash
}

// AvailableVersions returns the saved versions that can be read, ascending.
func (s *Store) AvailableVersions() []int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.lastVersion == 0 {
		return nil // IAVL would report [0] for an empty database
	}
	return s.eng.versions()
}

// GetAt returns the value of key at a saved version (nil if absent), or an
// error wrapping ErrVersionUnavailable.
func (s *Store) GetAt(version int64, key []byte) ([]byte, error) {
	return s.eng.getAt(version, key)
}

// IterateAt visits keys in [start, end) of a saved version; see KV.Iterate.
// It holds no lock while fn runs: fn may read s, and Commit proceeds while
// it runs.
func (s *Store) IterateAt(version int64, start, end []byte, ascending bool, fn func(key, value []byte) bool) error {
	return s.eng.iterateAt(version, start, end, ascending, fn)
}

// HashAt returns the root hash (app hash) of a saved version, or an error
// wrapping ErrVersionUnavailable.
func (s *Store) HashAt(version int64) ([]byte, error) {
	return s.eng.hashAt(version)
}

// SetInitialVersion makes the first Commit of an empty store save version
// v, for a chain whose genesis starts above height 1 (a restart from an
// export). It refuses a store that has saved a version already.
func (s *Store) SetInitialVersion(v int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lastVersion != 0 {
		return fmt.Errorf("store: initial version %d: the store already holds version %d", v, s.lastVersion)
	}
	if v < 1 {
		return fmt.Errorf("store: initial version %d: versions start at 1", v)
	}
	if err := s.eng.setInitialVersion(v); err != nil {
		return fmt.Errorf("store: initial version %d: %w", v, err)
	}
	return nil
}

// Close closes the tree and the database. Uncommitted changes are lost.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.eng.close(); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

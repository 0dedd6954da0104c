package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"

	dbm "github.com/cosmos/cosmos-db"
	"github.com/cosmos/iavl"
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
type Store struct {
	db        dbm.DB
	saves     *saveDB // the database as the tree sees it
	tree      *iavl.MutableTree
	reader    *iavl.MutableTree // reads saved versions only; see the Concurrency note
	opts      Options
	iterating int // nesting depth of Iterate; writes are refused while > 0
	// pending holds the working tree's writes until the tree must be
	// current, and the values read from it (writebehind.go).
	pending writeBehind

	// mu is held shared by saved-version readers while they check a version
	// exists, and exclusively by Commit and Close, which change which
	// versions exist.
	mu          sync.RWMutex
	lastVersion int64
	lastHash    []byte // nil while lastVersion == 0
	// held counts, per version, the exports under way (snapshot.go):
	// pruning stops short of the oldest held version.
	held map[int64]int

	// reads caches values of the last saved version (readcache.go), nil
	// when off; written holds the keys the working tree has set or deleted
	// since the last Commit (or Open), which Commit drops from reads.
	// written belongs to the consensus goroutine, like the working tree.
	reads   *readCache
	written map[string]struct{}

	// mem is the state when Options.Engine is EngineMemiavl; then db,
	// saves, tree and reader are nil.
	mem *memEngine
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
	switch opts.Engine {
	case "", EngineIAVL:
	case EngineMemiavl:
		return openMemiavl(opts)
	default:
		return nil, fmt.Errorf("store: unknown state engine %q (want %q or %q)", opts.Engine, EngineIAVL, EngineMemiavl)
	}
	if opts.Dir != "" && opts.Backend != "memdb" {
		if _, err := os.Stat(filepath.Join(opts.Dir, memiavlDir)); err == nil {
			return nil, fmt.Errorf("store: %s holds memiavl state (%s); the iavl engine cannot read it (moving state between engines is not done yet)", opts.Dir, memiavlDir)
		}
	}
	if opts.CacheSize < 0 {
		return nil, fmt.Errorf("store: negative cache size %d", opts.CacheSize)
	}
	if opts.CacheSize == 0 {
		opts.CacheSize = DefaultCacheSize
	}
	db, err := openDB(opts)
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, opts: opts, held: map[int64]int{}, written: map[string]struct{}{}}
	if err := s.loadTrees(); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	if opts.Probe != nil {
		opts.Probe(ProbeOpened, s.lastVersion)
	}
	return s, nil
}

// loadTrees opens the consensus tree and the reader tree over s.db and
// loads the latest saved version. The caller holds s.mu or is Open.
func (s *Store) loadTrees() error {
	opts := s.opts
	treeOpts := []iavl.Option{iavl.SyncOption(true), iavl.AsyncPruningOption(false)}
	if opts.InitialVersion > 0 {
		treeOpts = append(treeOpts, iavl.InitialVersionOption(opts.InitialVersion))
	}
	if opts.FlushThreshold > 0 {
		treeOpts = append(treeOpts, iavl.FlushThresholdOption(opts.FlushThreshold))
	}
	treeDB := s.db
	if opts.WrapDB != nil {
		treeDB = opts.WrapDB(s.db)
	}
	saves := &saveDB{DB: idb.NewWrapper(treeDB), probe: opts.Probe}
	tree := iavl.NewMutableTree(saves, opts.CacheSize, !opts.FastIndex, iavl.NewNopLogger(), treeOpts...)
	version, err := tree.Load()
	if err != nil {
		return errors.Join(fmt.Errorf("store: load latest version: %w", err), tree.Close())
	}
	s.saves, s.tree = saves, tree
	s.pending.reset()
	s.reader = iavl.NewMutableTree(idb.NewWrapper(s.db), readerCacheSize(opts.CacheSize), true, iavl.NewNopLogger(), iavl.AsyncPruningOption(false))
	s.lastVersion, s.lastHash = version, nil
	if version > 0 {
		s.lastHash = tree.Hash()
	}
	s.resetReads()
	return nil
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
	var v []byte
	if s.mem != nil {
		v = s.mem.tree().Get(key)
	} else {
		var err error
		if v, err = s.tree.Get(key); err != nil {
			panic(&Failure{Op: fmt.Sprintf("get %X", key), Err: err})
		}
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
	s.checkNotIterating("Set")
	k := string(key) // one copy of the key for both records
	s.wrote(k)
	s.pending.write(k, storedValue(value))
}

// Delete removes key from the working tree (when it must be current, like
// Set). It panics if called from inside Iterate's callback.
func (s *Store) Delete(key []byte) {
	s.checkNotIterating("Delete")
	k := string(key)
	s.wrote(k)
	s.pending.write(k, nil)
}

// flush applies the pending writes to the tree, in order.
func (s *Store) flush() {
	if s.mem != nil {
		s.memFlush()
		return
	}
	s.pending.apply(func(key, value []byte) {
		if _, err := s.tree.Set(key, value); err != nil {
			panic(&Failure{Op: fmt.Sprintf("set %X", key), Err: err})
		}
	}, func(key, _ []byte) {
		if _, _, err := s.tree.Remove(key); err != nil {
			panic(&Failure{Op: fmt.Sprintf("delete %X", key), Err: err})
		}
	})
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
	var itr idb.Iterator
	var err error
	if s.mem != nil {
		itr = s.mem.tree().Iterator(start, end, ascending)
	} else {
		itr, err = s.tree.Iterator(start, end, ascending)
	}
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
	if s.mem != nil {
		return s.mem.tree().RootHash()
	}
	return s.tree.WorkingHash()
}

// Rollback discards all uncommitted working changes. Like Set, it panics if
// called from inside Iterate's callback.
func (s *Store) Rollback() {
	s.checkNotIterating("Rollback")
	s.pending.reset()
	if s.mem != nil {
		s.memRollback()
		return
	}
	s.tree.Rollback()
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
	if s.mem != nil {
		return s.memCommit()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	hash, version, err = s.save()
	if err != nil {
		return 0, nil, fmt.Errorf("store: save version: %w", err)
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
	if to > 0 && s.tree.VersionExists(to) {
		if err := s.tree.DeleteVersionsTo(to); err != nil {
			return version, hash, fmt.Errorf("store: prune versions up to %d after saving %d: %w", to, version, err)
		}
	}
	return version, hash, nil
}

// save saves the working tree as the next version, all of it in one
// database write (see save.go). If the save is cut short by a panic, none
// of it is written.
func (s *Store) save() (hash []byte, version int64, err error) {
	s.saves.beginSave(s.tree.WorkingVersion())
	saved := false
	defer func() {
		if endErr := s.saves.endSave(saved); endErr != nil && err == nil {
			hash, version, err = nil, 0, endErr
		}
	}()
	hash, version, err = s.tree.SaveVersion()
	saved = err == nil
	return hash, version, err
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
	if s.mem != nil {
		return s.memVersions()
	}
	return s.tree.AvailableVersions()
}

// GetAt returns the value of key at a saved version (nil if absent), or an
// error wrapping ErrVersionUnavailable.
func (s *Store) GetAt(version int64, key []byte) ([]byte, error) {
	if s.mem != nil {
		return s.memGetAt(version, key)
	}
	t, err := s.saved(version)
	if err != nil {
		return nil, err
	}
	v, err := t.Get(key)
	if err != nil {
		return nil, s.readFailed(version, fmt.Errorf("store: get %X at version %d: %w", key, version, err))
	}
	if s.pruned(version) { // see IterateAt: a pruned version's answer may be wrong without an error
		return nil, fmt.Errorf("%w: %d was pruned while being read", ErrVersionUnavailable, version)
	}
	return v, nil
}

// IterateAt visits keys in [start, end) of a saved version; see KV.Iterate.
// It holds no lock while fn runs: fn may read s, and Commit proceeds while
// it runs.
func (s *Store) IterateAt(version int64, start, end []byte, ascending bool, fn func(key, value []byte) bool) error {
	if s.mem != nil {
		return s.memIterateAt(version, start, end, ascending, fn)
	}
	t, err := s.saved(version)
	if err != nil {
		return err
	}
	itr, err := t.Iterator(start, end, ascending)
	if err == nil {
		err = drain(itr, fn)
	}
	if err != nil {
		return s.readFailed(version, fmt.Errorf("store: iterate version %d: %w", version, err))
	}
	// IAVL's iterator ends quietly, without an error, when a node it needs
	// is missing, so a walk of a version pruned meanwhile can look
	// complete. Pruning never restores a version: if it still exists now,
	// every node of it existed throughout the walk.
	if s.pruned(version) {
		return fmt.Errorf("%w: %d was pruned while being read", ErrVersionUnavailable, version)
	}
	return nil
}

// HashAt returns the root hash (app hash) of a saved version, or an error
// wrapping ErrVersionUnavailable.
func (s *Store) HashAt(version int64) ([]byte, error) {
	if s.mem != nil {
		return s.memHashAt(version)
	}
	t, err := s.saved(version)
	if err != nil {
		return nil, err
	}
	return t.Hash(), nil
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
	if s.mem != nil {
		if err := s.mem.db.SetInitialVersion(v); err != nil {
			return fmt.Errorf("store: initial version %d: %w", v, err)
		}
		return nil
	}
	s.tree.SetInitialVersion(uint64(v))
	return nil
}

// pruned reports whether a version that was available is not any more.
func (s *Store) pruned(version int64) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.mem != nil {
		return !slices.Contains(s.memVersions(), int(version))
	}
	return !s.tree.VersionExists(version)
}

// readFailed explains a failed read of a saved version: if pruning removed
// the version while it was being read (its nodes vanish from the database),
// the error wraps ErrVersionUnavailable, so callers can tell it from a
// broken database.
func (s *Store) readFailed(version int64, err error) error {
	if s.pruned(version) {
		return fmt.Errorf("%w: %d was pruned while being read (%v)", ErrVersionUnavailable, version, err)
	}
	return err
}

// saved returns the tree at a saved version, read through s.reader (see the
// Concurrency note on Store). The lock is held only to check the version.
func (s *Store) saved(version int64) (*iavl.ImmutableTree, error) {
	s.mu.RLock()
	last := s.lastVersion
	ok := version > 0 && version <= last && s.tree.VersionExists(version)
	s.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: %d (latest is %d)", ErrVersionUnavailable, version, last)
	}
	t, err := s.reader.GetImmutable(version)
	if errors.Is(err, iavl.ErrVersionDoesNotExist) {
		return nil, fmt.Errorf("%w: %d was pruned while being read", ErrVersionUnavailable, version)
	}
	if err != nil {
		// Pruning may remove the version between the check above and the
		// load: its root is then missing ("Value missing for key"), which
		// is an unavailable version, not a broken database.
		return nil, s.readFailed(version, fmt.Errorf("store: load version %d: %w", version, err))
	}
	return t, nil
}

// Close closes the tree and the database. Uncommitted changes are lost.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mem != nil {
		if err := s.mem.close(); err != nil {
			return fmt.Errorf("store: close: %w", err)
		}
		return nil
	}
	if err := errors.Join(s.reader.Close(), s.tree.Close(), s.db.Close()); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

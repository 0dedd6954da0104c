package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"

	idb "github.com/cosmos/iavl/db"
	ics23 "github.com/cosmos/ics23/go"
	"github.com/crypto-org-chain/cronos/memiavl"
)

// The memiavl engine (Options.Engine = EngineMemiavl): a prototype of the
// state on memiavl (github.com/crypto-org-chain/cronos/memiavl v0.1.0)
// instead of IAVL v1, behind the Store's engine interface (engine.go). memiavl keeps the
// latest tree as a memory-mapped snapshot of nodes that carry their
// hashes plus the nodes changed since in memory, so a write reads no
// database and decodes nothing; a commit appends the version's writes to a
// write-ahead log, and every snapshot interval a full snapshot is written
// in the background. It builds IAVL v1's tree node for node from the same
// writes in the same order, so the root hash (app hash) and the ICS23
// proofs are IAVL v1's (TestMemiavlBuildsIAVLsRoots,
// TestFixedBlocksGiveThePinnedResults on both engines).
//
// What it does: the working tree (Get, Has, Set, Delete, Iterate,
// WorkingHash, Rollback), Commit, reads of the latest saved version and
// the few before it (LastCommit, AvailableVersions, GetAt, GetAtCached,
// IterateAt, HashAt, Prove), and state-sync snapshots in the iavl
// engine's format (Hold, Export, BeginRestore; memiavl_snapshot.go). What
// it refuses, with ErrVersionUnavailable or an error, rather than do
// wrongly:
//   - reads of saved versions but the last memKeptVersions (only the
//     latest right after memiavl switches to a new snapshot): memiavl
//     keeps only the latest tree, and copies of it from before later
//     writes (another would be a snapshot plus a replay of the log);
//   - opening a directory that holds the other engine's state.
//
// Durability: memiavl v0.1.0 opens its log with NoSync, so Commit fsyncs
// the log's files itself before it returns, as IAVL's save is fsynced.

// Engine names for Options.Engine.
const (
	EngineIAVL    = "iavl"
	EngineMemiavl = "memiavl"
)

// DefaultMemiavlSnapshotInterval is how many versions memiavl writes to
// its log between two full snapshots when Options.SnapshotInterval is 0.
// Between snapshots every node changed since the last one is held in the
// Go heap. In BenchmarkTreeEngines (blocks of 5,000 transactions over
// 400,000 keys) a snapshot every 10 versions kept the heap smallest and ran
// the most transactions per CPU-second, at three times the bytes written
// of 100; Tally's blocks at saturation hold about a third as many
// transactions, so 20 (docs/storage-write-path.md).
const DefaultMemiavlSnapshotInterval = 20

// memiavlDir is memiavl's directory inside Options.Dir.
const memiavlDir = "memiavl.db"

// memTreeName is the one tree of the memiavl database.
const memTreeName = "tally"

// memEngine is the state on memiavl (Options.Engine is EngineMemiavl).
type memEngine struct {
	*committed
	db   *memiavl.DB
	dir  string
	opts memiavl.Options
	// dirty is set when writes reached the working tree since the last
	// Commit (or load): a Rollback must then reload the saved version.
	dirty bool
	// views are the saved versions readers can read, oldest first, at
	// most memKeptVersions: copies of the tree that memiavl keeps from
	// later writes (Tree.Copy). Guarded by mu: readers hold it shared
	// while they walk a view, because Commit may switch memiavl to a new
	// snapshot, which unmaps the old one's files; views from before a
	// switch are then dropped (only the latest survives it).
	views []memView
	// swap is held while db is closed and replaced (reload, close, wipe,
	// a restore's end) and while an export loads a database of its own
	// beside it (memiavl_snapshot.go), so that db is the open one then.
	swap sync.Mutex
}

var _ engine = (*memEngine)(nil)

// memView is a saved version as readers see it.
type memView struct {
	version int64
	tree    *memiavl.Tree
}

// memKeptVersions is how many saved versions the memiavl engine keeps
// readable: the latest and the two before it, for CheckTx and queries
// that chose their height just before a Commit (each kept version holds
// the nodes the next blocks replaced in memory).
const memKeptVersions = 3

func (m *memEngine) tree() *memiavl.Tree { return m.db.TreeByName(memTreeName) }

// openMemiavl opens (or creates) the memiavl state in opts.Dir.
func openMemiavl(opts Options, c *committed) (*memEngine, error) {
	if opts.Dir == "" {
		return nil, errors.New("store: the memiavl engine needs a directory")
	}
	if opts.Backend == "memdb" {
		return nil, errors.New("store: the memiavl engine keeps its state in files; memdb is for the iavl engine")
	}
	if _, err := os.Stat(filepath.Join(opts.Dir, dbName+".db")); err == nil {
		return nil, fmt.Errorf("store: %s holds IAVL state (%s.db); the memiavl engine cannot read it (moving state between engines is not done yet)", opts.Dir, dbName)
	}
	if opts.InitialVersion >= 1<<32-1 {
		return nil, fmt.Errorf("store: initial version %d is too large for memiavl", opts.InitialVersion)
	}
	interval := opts.SnapshotInterval
	if interval == 0 {
		interval = DefaultMemiavlSnapshotInterval
	}
	dir := filepath.Join(opts.Dir, memiavlDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	m := &memEngine{committed: c, dir: dir, opts: memiavl.Options{
		CreateIfMissing:   true,
		InitialStores:     []string{memTreeName},
		InitialVersion:    uint32(opts.InitialVersion),
		SnapshotInterval:  interval,
		AsyncCommitBuffer: -1, // the log is written inside Commit
	}}
	if err := m.load(); err != nil {
		return nil, err
	}
	return m, nil
}

// load opens memiavl's latest saved version (snapshot and log).
func (m *memEngine) load() error {
	db, err := memiavl.Load(m.dir, m.opts)
	if err != nil {
		return fmt.Errorf("store: open memiavl state in %s: %w", m.dir, err)
	}
	m.db, m.dirty, m.views = db, false, nil
	if v := db.Version(); v > 0 {
		m.views = []memView{{v, m.tree().Copy(0)}}
	}
	return nil
}

// reload closes memiavl and loads its latest saved version again. The
// caller holds mu.
func (m *memEngine) reload() error { return m.replace(nil) }

// replace closes memiavl, runs change on its files (if not nil) and loads
// what they then hold, also after change fails, so that db is open again
// whenever its files can be loaded.
func (m *memEngine) replace(change func() error) error {
	m.swap.Lock()
	defer m.swap.Unlock()
	var err error
	if m.db != nil {
		err = closeMemiavl(m.db)
		m.db, m.views = nil, nil
	}
	if err == nil && change != nil {
		err = change()
	}
	return errors.Join(err, m.load())
}

func (m *memEngine) latest() (int64, []byte) {
	version := m.db.Version()
	if version == 0 {
		return 0, nil
	}
	return version, m.tree().RootHash()
}

func (m *memEngine) close() error {
	m.swap.Lock()
	defer m.swap.Unlock()
	if m.db == nil { // a reload failed
		return nil
	}
	err := closeMemiavl(m.db)
	m.db, m.views = nil, nil
	return err
}

// closeMemiavl closes db once memiavl's snapshot pruning is done.
//
// memiavl v0.1.0 prunes old snapshots and the log's front in a goroutine
// it starts when Commit switches to a newer snapshot, and DB.Close does
// not wait for it: the goroutine then truncates a closed log and crashes
// the process (a nil *wal.Log; TestWriteBehindBuildsTheSameTree's memiavl
// runs hit it). That goroutine holds DB.pruneSnapshotLock, which is not
// exported, so it is taken here through reflection, pinned to v0.1.0's
// field; no new prune can start, since only Commit starts one.
func closeMemiavl(db *memiavl.DB) error {
	mu, err := pruneLock(db)
	if err != nil {
		return err
	}
	mu.Lock()
	mu.Unlock() //nolint:staticcheck // waits for the prune goroutine, holds nothing
	return db.Close()
}

func (m *memEngine) get(key []byte) ([]byte, error) { return m.tree().Get(key), nil }

// apply hands the logged writes to memiavl in order, as one change set.
func (m *memEngine) apply(w *writeBehind) {
	// One array for the pairs and one for the pointers to them, of the
	// log's length. memiavl keeps both until Commit (its write-ahead
	// log's entry), so neither is reused.
	kvs := make([]memiavl.KVPair, 0, len(w.log))
	pairs := make([]*memiavl.KVPair, 0, len(w.log))
	add := func(p memiavl.KVPair) {
		kvs = append(kvs, p)
		pairs = append(pairs, &kvs[len(kvs)-1])
	}
	w.apply(func(key, value []byte) {
		add(memiavl.KVPair{Key: key, Value: value})
	}, func(key, _ []byte) {
		add(memiavl.KVPair{Key: key, Delete: true})
	})
	if len(pairs) == 0 {
		return
	}
	m.dirty = true
	if err := m.db.ApplyChangeSet(memTreeName, memiavl.ChangeSet{Pairs: pairs}); err != nil {
		panic(&Failure{Op: fmt.Sprintf("apply %d writes", len(pairs)), Err: err})
	}
}

func (m *memEngine) iterator(start, end []byte, ascending bool) (idb.Iterator, error) {
	return m.tree().Iterator(start, end, ascending), nil
}

func (m *memEngine) workingHash() []byte { return m.tree().RootHash() }

// rollback: memiavl cannot drop the working tree's writes in place; if any
// reached the tree, the saved version is loaded again from disk.
func (m *memEngine) rollback() bool { return m.dirty }

func (m *memEngine) setInitialVersion(v int64) error { return m.db.SetInitialVersion(v) }

// save saves the working tree as the next version: memiavl appends its
// writes to the log, which is fsynced here before Commit returns.
func (m *memEngine) save() (version int64, hash []byte, err error) {
	snapshot := m.db.SnapshotVersion()
	version, err = m.db.Commit()
	if err != nil {
		return 0, nil, fmt.Errorf("store: save version: %w", err)
	}
	if err := syncLog(filepath.Join(m.dir, "wal")); err != nil {
		return 0, nil, fmt.Errorf("store: save version %d: sync the log: %w", version, err)
	}
	t := m.tree()
	hash = t.RootHash()
	m.dirty = false
	views := m.views
	if m.db.SnapshotVersion() != snapshot {
		views = nil // their nodes in the old snapshot's files are unmapped
	}
	views = append(views, memView{version, t.Copy(0)})
	m.views = views[max(len(views)-memKeptVersions, 0):]
	return version, hash, nil
}

// prune does nothing: memiavl keeps only its latest tree (and the views).
func (m *memEngine) prune(int64) error { return nil }

// syncLog fsyncs the newest two segments of memiavl's log directory and
// the directory: the segment the commit appended to and, if the log started
// a new segment during the commit, the one before it. tidwall/wal names a
// segment by its first index in 20 digits, so names sort in order. fsync
// on another descriptor of a file writes the file's dirty pages, whoever
// wrote them.
//
// memiavl prunes the log's front in the background after it switches to a
// newer snapshot (tidwall/wal TruncateFront), which writes a TEMP file,
// renames it to <index>.START and then to <index>, and removes older
// segments: those names are not segments, and a segment can vanish
// between the listing and its fsync. A commit's own segments are at the
// back and are not removed, so a vanished file is listed again.
func syncLog(dir string) error {
	for attempt := 1; ; attempt++ {
		err := syncLogOnce(dir)
		if err == nil || !errors.Is(err, fs.ErrNotExist) || attempt == 3 {
			return err
		}
	}
}

func syncLogOnce(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && isLogSegment(e.Name()) {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	for _, name := range names[max(len(names)-2, 0):] {
		if err := syncFile(filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	return syncFile(dir)
}

// isLogSegment says whether name is a tidwall/wal segment's: 20 digits.
func isLogSegment(name string) bool {
	if len(name) != 20 {
		return false
	}
	for _, c := range name {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

// read runs fn on saved version if it is kept, holding mu shared (see
// memEngine.views).
func (m *memEngine) read(version int64, fn func(t *memiavl.Tree) error) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, v := range m.views {
		if v.version == version {
			return fn(v.tree)
		}
	}
	return fmt.Errorf("%w: %d (latest is %d; the memiavl engine keeps only the last %d versions, fewer just after it writes a snapshot)", ErrVersionUnavailable, version, m.lastVersion, memKeptVersions)
}

// versions lists the kept versions. The caller holds mu.
func (m *memEngine) versions() []int {
	var out []int
	for _, v := range m.views {
		out = append(out, int(v.version))
	}
	return out
}

func (m *memEngine) exists(version int64) bool { return slices.Contains(m.versions(), int(version)) }

func (m *memEngine) getAt(version int64, key []byte) (value []byte, err error) {
	err = m.read(version, func(t *memiavl.Tree) error {
		value = t.Get(key)
		return nil
	})
	return value, err
}

func (m *memEngine) hashAt(version int64) (hash []byte, err error) {
	err = m.read(version, func(t *memiavl.Tree) error {
		hash = t.RootHash()
		return nil
	})
	return hash, err
}

func (m *memEngine) prove(version int64, key []byte) (value []byte, proof *ics23.CommitmentProof, err error) {
	err = m.read(version, func(t *memiavl.Tree) (err error) {
		if t.IsEmpty() {
			return fmt.Errorf("store: prove %X at version %d: tree is empty", key, version)
		}
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("store: prove %X at version %d: %v", key, version, r)
			}
		}()
		value = t.Get(key)
		if value != nil {
			proof, err = t.GetMembershipProof(key)
		} else {
			proof, err = t.GetNonMembershipProof(key)
		}
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return value, proof, nil
}

// memIterateChunk is how many entries iterateAt reads at a time: fn runs
// without the lock (it may read the store, and Commit proceeds), between
// chunks.
const memIterateChunk = 256

func (m *memEngine) iterateAt(version int64, start, end []byte, ascending bool, fn func(key, value []byte) bool) error {
	type kv struct{ k, v []byte }
	lo, hi := start, end
	first := true
	for {
		var chunk []kv
		more := false
		err := m.read(version, func(t *memiavl.Tree) error {
			itr := t.Iterator(lo, hi, ascending)
			for ; itr.Valid(); itr.Next() {
				if len(chunk) == memIterateChunk {
					more = true
					break
				}
				chunk = append(chunk, kv{itr.Key(), itr.Value()}) // copies: the tree is not zero-copy
			}
			return errors.Join(itr.Error(), itr.Close())
		})
		if err != nil {
			if !first {
				return fmt.Errorf("%w: %d was replaced by a newer version while being read", ErrVersionUnavailable, version)
			}
			return err
		}
		first = false
		for _, e := range chunk {
			if fn(e.k, e.v) {
				return nil
			}
		}
		if !more {
			return nil
		}
		last := chunk[len(chunk)-1].k
		if ascending {
			lo = append(slices.Clone(last), 0)
		} else {
			hi = last
		}
	}
}

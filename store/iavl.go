package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"

	dbm "github.com/cosmos/cosmos-db"
	"github.com/cosmos/iavl"
	idb "github.com/cosmos/iavl/db"
	ics23 "github.com/cosmos/ics23/go"
)

// iavlEngine is the state on IAVL v1 over a cosmos-db database (the
// default engine). See the Concurrency note on Store for why saved
// versions are read through a second tree.
type iavlEngine struct {
	*committed
	opts   Options
	db     dbm.DB
	saves  *saveDB // the database as the tree sees it
	tree   *iavl.MutableTree
	reader *iavl.MutableTree // reads saved versions only; see the Concurrency note on Store
	loaded int64             // the version the last reload loaded
	// newest is reader's tree of the newest saved version, once loaded:
	// CheckTx reads that version a few times a transaction, and loading
	// it reads its root's key from the database each time.
	newest atomic.Pointer[savedTree]
}

// savedTree is a version's tree as one reader loaded it.
type savedTree struct {
	reader  *iavl.MutableTree
	version int64
	tree    *iavl.ImmutableTree
}

var _ engine = (*iavlEngine)(nil)

// openIAVL opens the database described by opts and loads its latest
// saved version.
func openIAVL(opts Options, c *committed) (*iavlEngine, error) {
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
	e := &iavlEngine{committed: c, opts: opts, db: db}
	if err := e.reload(); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return e, nil
}

// reload opens the consensus tree and the reader tree over e.db and loads
// the latest saved version. The caller holds mu or is opening the store.
func (e *iavlEngine) reload() error {
	opts := e.opts
	treeOpts := []iavl.Option{iavl.SyncOption(true), iavl.AsyncPruningOption(false)}
	if opts.InitialVersion > 0 {
		treeOpts = append(treeOpts, iavl.InitialVersionOption(opts.InitialVersion))
	}
	if opts.FlushThreshold > 0 {
		treeOpts = append(treeOpts, iavl.FlushThresholdOption(opts.FlushThreshold))
	}
	treeDB := e.db
	if opts.WrapDB != nil {
		treeDB = opts.WrapDB(e.db)
	}
	saves := &saveDB{DB: idb.NewWrapper(treeDB), probe: opts.Probe}
	tree := iavl.NewMutableTree(saves, opts.CacheSize, !opts.FastIndex, iavl.NewNopLogger(), treeOpts...)
	version, err := tree.Load()
	if err != nil {
		return errors.Join(fmt.Errorf("store: load latest version: %w", err), tree.Close())
	}
	e.saves, e.tree, e.loaded = saves, tree, version
	e.reader = iavl.NewMutableTree(idb.NewWrapper(e.db), readerCacheSize(opts.CacheSize), true, iavl.NewNopLogger(), iavl.AsyncPruningOption(false))
	return nil
}

func (e *iavlEngine) latest() (int64, []byte) {
	if e.loaded == 0 {
		return 0, nil
	}
	return e.loaded, e.tree.Hash()
}

func (e *iavlEngine) get(key []byte) ([]byte, error) { return e.tree.Get(key) }

func (e *iavlEngine) apply(w *writeBehind) {
	w.apply(func(key, value []byte) {
		if _, err := e.tree.Set(key, value); err != nil {
			panic(&Failure{Op: fmt.Sprintf("set %X", key), Err: err})
		}
	}, func(key, _ []byte) {
		if _, _, err := e.tree.Remove(key); err != nil {
			panic(&Failure{Op: fmt.Sprintf("delete %X", key), Err: err})
		}
	})
}

func (e *iavlEngine) iterator(start, end []byte, ascending bool) (idb.Iterator, error) {
	return e.tree.Iterator(start, end, ascending)
}

func (e *iavlEngine) workingHash() []byte { return e.tree.WorkingHash() }

func (e *iavlEngine) rollback() bool {
	e.tree.Rollback()
	return false
}

func (e *iavlEngine) setInitialVersion(v int64) error {
	e.tree.SetInitialVersion(uint64(v))
	return nil
}

func (e *iavlEngine) save() (version int64, hash []byte, err error) {
	hash, version, err = e.saveVersion()
	if err != nil {
		return 0, nil, fmt.Errorf("store: save version: %w", err)
	}
	return version, hash, nil
}

// saveVersion saves the working tree as the next version, all of it in one
// database write (see save.go). If the save is cut short by a panic, none
// of it is written.
func (e *iavlEngine) saveVersion() (hash []byte, version int64, err error) {
	e.saves.beginSave(e.tree.WorkingVersion())
	saved := false
	defer func() {
		if endErr := e.saves.endSave(saved); endErr != nil && err == nil {
			hash, version, err = nil, 0, endErr
		}
	}()
	hash, version, err = e.tree.SaveVersion()
	saved = err == nil
	return hash, version, err
}

func (e *iavlEngine) prune(to int64) error {
	if !e.tree.VersionExists(to) {
		return nil
	}
	return e.tree.DeleteVersionsTo(to)
}

func (e *iavlEngine) versions() []int { return e.tree.AvailableVersions() }

func (e *iavlEngine) exists(version int64) bool { return e.tree.VersionExists(version) }

func (e *iavlEngine) getAt(version int64, key []byte) ([]byte, error) {
	t, err := e.saved(version)
	if err != nil {
		return nil, err
	}
	v, err := t.Get(key)
	if err != nil {
		return nil, e.readFailed(version, fmt.Errorf("store: get %X at version %d: %w", key, version, err))
	}
	if e.pruned(version) { // see iterateAt: a pruned version's answer may be wrong without an error
		return nil, fmt.Errorf("%w: %d was pruned while being read", ErrVersionUnavailable, version)
	}
	return v, nil
}

func (e *iavlEngine) iterateAt(version int64, start, end []byte, ascending bool, fn func(key, value []byte) bool) error {
	t, err := e.saved(version)
	if err != nil {
		return err
	}
	itr, err := t.Iterator(start, end, ascending)
	if err == nil {
		err = drain(itr, fn)
	}
	if err != nil {
		return e.readFailed(version, fmt.Errorf("store: iterate version %d: %w", version, err))
	}
	// IAVL's iterator ends quietly, without an error, when a node it needs
	// is missing, so a walk of a version pruned meanwhile can look
	// complete. Pruning never restores a version: if it still exists now,
	// every node of it existed throughout the walk.
	if e.pruned(version) {
		return fmt.Errorf("%w: %d was pruned while being read", ErrVersionUnavailable, version)
	}
	return nil
}

func (e *iavlEngine) hashAt(version int64) ([]byte, error) {
	t, err := e.saved(version)
	if err != nil {
		return nil, err
	}
	return t.Hash(), nil
}

func (e *iavlEngine) prove(version int64, key []byte) (value []byte, proof *ics23.CommitmentProof, err error) {
	t, err := e.saved(version)
	if err != nil {
		return nil, nil, err
	}
	if t.Size() == 0 {
		return nil, nil, fmt.Errorf("store: prove %X at version %d: tree is empty", key, version)
	}
	value, proof, err = prove(t, key)
	if err != nil {
		return nil, nil, e.readFailed(version, fmt.Errorf("store: prove %X at version %d: %w", key, version, err))
	}
	// As with iterateAt: nodes vanishing under a pruned version can leave a
	// read without an error but without its true answer. Pruning never
	// restores a version, so if it still exists the answer was whole.
	if e.pruned(version) {
		return nil, nil, fmt.Errorf("%w: %d was pruned while being read", ErrVersionUnavailable, version)
	}
	return value, proof, nil
}

// pruned reports whether a version that was available is not any more.
func (e *iavlEngine) pruned(version int64) bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return !e.tree.VersionExists(version)
}

// readFailed explains a failed read of a saved version: if pruning removed
// the version while it was being read (its nodes vanish from the database),
// the error wraps ErrVersionUnavailable, so callers can tell it from a
// broken database.
func (e *iavlEngine) readFailed(version int64, err error) error {
	if e.pruned(version) {
		return fmt.Errorf("%w: %d was pruned while being read (%v)", ErrVersionUnavailable, version, err)
	}
	return err
}

// saved returns the tree at a saved version, read through e.reader (see the
// Concurrency note on Store). The lock is held only to check the version.
// The newest version's tree is loaded once (e.newest): an ImmutableTree is
// its root and never changes, and a version is saved once by a reader's
// database (a reload, which may load another history, makes a new reader).
func (e *iavlEngine) saved(version int64) (*iavl.ImmutableTree, error) {
	e.mu.RLock()
	last, reader := e.lastVersion, e.reader
	ok := version > 0 && version <= last && e.tree.VersionExists(version)
	e.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: %d (latest is %d)", ErrVersionUnavailable, version, last)
	}
	if n := e.newest.Load(); n != nil && n.reader == reader && n.version == version {
		return n.tree, nil
	}
	t, err := reader.GetImmutable(version)
	if errors.Is(err, iavl.ErrVersionDoesNotExist) {
		return nil, fmt.Errorf("%w: %d was pruned while being read", ErrVersionUnavailable, version)
	}
	if err != nil {
		// Pruning may remove the version between the check above and the
		// load: its root is then missing ("Value missing for key"), which
		// is an unavailable version, not a broken database.
		return nil, e.readFailed(version, fmt.Errorf("store: load version %d: %w", version, err))
	}
	if version == last {
		e.newest.Store(&savedTree{reader: reader, version: version, tree: t})
	}
	return t, nil
}

func (e *iavlEngine) export(version int64, fn func(*Node) error) error {
	t, err := e.saved(version)
	if err != nil {
		return err
	}
	if t.Size() == 0 {
		return fmt.Errorf("store: export version %d: the tree is empty", version)
	}
	exp, err := t.Export()
	if err != nil {
		return fmt.Errorf("store: export version %d: %w", version, err)
	}
	defer exp.Close()
	for {
		n, err := exp.Next()
		if errors.Is(err, iavl.ErrorExportDone) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("store: export version %d: %w", version, err)
		}
		if err := fn(n); err != nil {
			return err
		}
	}
}

// wipe deletes everything in the database and reloads empty trees. The
// caller holds mu.
func (e *iavlEngine) wipe() error {
	itr, err := e.db.Iterator(nil, nil)
	if err != nil {
		return fmt.Errorf("store: wipe: %w", err)
	}
	var keys [][]byte
	for ; itr.Valid(); itr.Next() {
		keys = append(keys, append([]byte(nil), itr.Key()...))
	}
	if err := errors.Join(itr.Error(), itr.Close()); err != nil {
		return fmt.Errorf("store: wipe: %w", err)
	}
	if len(keys) == 0 && e.lastVersion == 0 {
		return nil
	}
	b := e.db.NewBatch()
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return errors.Join(fmt.Errorf("store: wipe: %w", err), b.Close())
		}
	}
	if err := errors.Join(b.WriteSync(), b.Close()); err != nil {
		return fmt.Errorf("store: wipe: %w", err)
	}
	if err := errors.Join(e.reader.Close(), e.tree.Close()); err != nil {
		return fmt.Errorf("store: wipe: %w", err)
	}
	return e.reload()
}

func (e *iavlEngine) beginRestore(version int64) (restorer, error) {
	imp, err := e.tree.Import(version)
	if err != nil {
		return nil, fmt.Errorf("store: restore version %d: %w", version, err)
	}
	return &iavlRestore{e: e, imp: imp}, nil
}

// iavlRestore is IAVL's importer into the consensus tree.
type iavlRestore struct {
	e   *iavlEngine
	imp *iavl.Importer
}

func (r *iavlRestore) add(n *Node) error { return r.imp.Add(n) }

func (r *iavlRestore) commit() ([]byte, error) {
	if err := r.imp.Commit(); err != nil {
		return nil, err
	}
	return r.e.tree.Hash(), nil
}

func (r *iavlRestore) drop() { r.imp.Close() }

func (e *iavlEngine) close() error {
	return errors.Join(e.reader.Close(), e.tree.Close(), e.db.Close())
}

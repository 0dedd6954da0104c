package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"unsafe"

	"github.com/crypto-org-chain/cronos/memiavl"
)

// State-sync snapshots on the memiavl engine. A snapshot is the same
// stream of nodes on both engines (IAVL's export order, store.Node): memiavl
// builds IAVL v1's tree node for node, exports it in the same depth-first
// post-order with the same versions, heights and split keys, and imports
// that order, so a node on either engine restores a snapshot taken on
// either (TestSnapshotsAreTheSameOnBothEngines).
//
// Export reads the version through a second, read-only memiavl database
// loaded at that version (the newest memiavl snapshot at or below it plus
// its log up to it), not through the consensus database's tree: a view
// of that tree lives in memory-mapped snapshot files that Commit unmaps
// when memiavl switches to a newer snapshot, while the read-only
// database's mappings are its own and outlive the files' removal. Its
// loading holds memiavl's snapshot-pruning lock, so no log truncation or
// snapshot removal runs meanwhile (tidwall/wal's Open would otherwise
// finish a truncation under way itself), and memEngine.swap, so the
// consensus database is not replaced meanwhile. Commits go on: only one
// that switches to a new snapshot waits, to prune, until the load is done
// (BenchmarkExportBesideCommits: 2.5 s to load a log of 19 versions of
// 5,000 writes over 120,000 keys; the longest Commit beside the export
// took 1.0 s against 0.27 s alone, on two shared cores). A log entry being
// appended while the load reads it is cut, fails the load, and the load
// is tried again. The walk runs after both locks are released, while
// blocks commit.
//
// A version held for export can still become unloadable before the
// export loads it, if memiavl meanwhile switched to a newer snapshot and
// pruned the older one with the log before it: the export then fails with
// an error, and the next snapshot height is tried. memiavl writes a
// snapshot every Options.SnapshotInterval versions in the background, so
// that takes at least that many blocks after the hold; the app starts its
// export right after the Commit that holds it.
//
// Import writes a new memiavl snapshot of the version beside the state
// (memiavlRestoreDir) with memiavl's importer, which then replaces the
// empty state. memiavl's importer trusts its input: nodes that do not form
// a tree make its goroutine index out of range and crash the process, and
// a write error stops it reading its input, which then blocks its sender.
// So each node is checked here before it is handed over, and handed over
// only while the importer still reads. Branch keys are not imported (memiavl
// takes them from the leaves) and the root hash, which covers every
// other field, is checked against the trusted app hash by
// Restore.Finish, so an accepted restore is the trusted tree.

// memiavlRestoreDir is where a restore builds memiavl's state, inside
// Options.Dir, before it replaces memiavlDir.
const memiavlRestoreDir = "memiavl.restore"

// memMaxRestoreVersion is the largest version memiavl v0.1.0 can load: it
// parses snapshot directory names as signed 32-bit integers.
const memMaxRestoreVersion = 1<<31 - 1

// memMaxPendingSubtrees bounds the subtrees a restore may hold open: in
// export order they are at most one per level of the tree, and IAVL
// heights fit an int8.
const memMaxPendingSubtrees = 128

// export walks version, which the Store holds, through a read-only
// database (see above).
func (m *memEngine) export(version int64, fn func(*Node) error) error {
	db, err := m.loadReadOnly(version)
	if err != nil {
		return fmt.Errorf("store: export version %d: %w", version, err)
	}
	defer db.Close()
	t := db.TreeByName(memTreeName)
	if t == nil || t.IsEmpty() {
		return fmt.Errorf("store: export version %d: the tree is empty", version)
	}
	if got := t.Version(); got != version {
		return fmt.Errorf("store: export version %d: memiavl loaded version %d", version, got)
	}
	exp := t.Export()
	defer exp.Close() // before db.Close: it waits for the walk to end
	for {
		n, err := exp.Next()
		if errors.Is(err, memiavl.ErrorExportDone) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("store: export version %d: %w", version, err)
		}
		node := &Node{Key: append([]byte(nil), n.Key...), Version: n.Version, Height: n.Height}
		if n.Height == 0 { // the keys and values are in the mapped files
			node.Value = append([]byte{}, n.Value...)
		}
		if err := fn(node); err != nil {
			return err
		}
	}
}

// loadReadOnly loads version into a read-only memiavl database of its own
// (see above). A load that read the log while a Commit appended to it
// fails on the cut entry and is tried again.
func (m *memEngine) loadReadOnly(version int64) (db *memiavl.DB, err error) {
	m.swap.Lock()
	defer m.swap.Unlock()
	if m.db == nil {
		return nil, errors.New("the state is closed")
	}
	prune, err := pruneLock(m.db)
	if err != nil {
		return nil, err
	}
	prune.Lock()
	defer prune.Unlock()
	for attempt := 1; ; attempt++ {
		db, err = memiavl.Load(m.dir, memiavl.Options{ReadOnly: true, TargetVersion: uint32(version)})
		if err == nil || attempt == memLoadAttempts {
			return db, err
		}
	}
}

// memLoadAttempts is how many times an export tries to load its version.
const memLoadAttempts = 3

// wipe closes memiavl, deletes its state and opens it empty. The caller
// holds mu.
func (m *memEngine) wipe() error {
	err := m.replace(func() error {
		for _, dir := range []string{m.dir, m.restoreDir()} {
			if err := os.RemoveAll(dir); err != nil {
				return err
			}
		}
		return os.MkdirAll(m.dir, 0o755)
	})
	if err != nil {
		return fmt.Errorf("store: wipe: %w", err)
	}
	return nil
}

func (m *memEngine) restoreDir() string {
	return filepath.Join(filepath.Dir(m.dir), memiavlRestoreDir)
}

func (m *memEngine) beginRestore(version int64) (restorer, error) {
	if version > memMaxRestoreVersion {
		return nil, fmt.Errorf("%w: version %d is too large for memiavl (at most %d)", ErrRestoreRefused, version, memMaxRestoreVersion)
	}
	dir := m.restoreDir()
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("store: restore version %d: %w", version, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("store: restore version %d: %w", version, err)
	}
	imp, err := memiavl.NewMultiTreeImporter(dir, uint64(version))
	if err != nil {
		return nil, fmt.Errorf("store: restore version %d: %w", version, err)
	}
	r := &memRestore{m: m, imp: imp, dir: dir}
	if err := imp.AddTree(memTreeName); err != nil {
		r.drop()
		return nil, fmt.Errorf("store: restore version %d: %w", version, err)
	}
	if r.nodes, r.quit, err = importerChannels(imp); err != nil {
		r.drop()
		return nil, err
	}
	return r, nil
}

// memRestore is memiavl's importer writing a snapshot into dir.
type memRestore struct {
	m   *memEngine
	imp *memiavl.MultiTreeImporter // nil once committed or dropped
	dir string
	// nodes and quit are the channels of imp's tree importer: it reads
	// nodes until they end or it fails, and then sends its error on quit.
	nodes   chan<- *memiavl.ExportNode
	quit    <-chan error
	failed  error // the importer's error, once it stopped reading
	pending int   // subtrees added but not yet joined under a branch
}

func (r *memRestore) add(n *Node) error {
	if r.failed != nil {
		return r.failed
	}
	if n.Height == 0 {
		if r.pending == memMaxPendingSubtrees {
			return fmt.Errorf("more than %d subtrees without a parent: not a tree", memMaxPendingSubtrees)
		}
		r.pending++
	} else {
		if r.pending < 2 {
			return errors.New("an inner node without two subtrees before it: not a tree")
		}
		r.pending--
	}
	select {
	case r.nodes <- &memiavl.ExportNode{Key: n.Key, Value: n.Value, Version: n.Version, Height: n.Height}:
		return nil
	case err := <-r.quit:
		r.failed = fmt.Errorf("memiavl's importer stopped: %w", err)
		return r.failed
	}
}

// commit finishes memiavl's snapshot of the version and makes it the
// state: the empty state is closed and replaced. The caller holds mu.
func (r *memRestore) commit() ([]byte, error) {
	if r.failed != nil {
		return nil, r.failed
	}
	if r.pending != 1 {
		return nil, fmt.Errorf("the nodes end with %d subtrees, not one tree", r.pending)
	}
	imp := r.imp
	r.imp = nil
	err := imp.Finalize()
	if err = errors.Join(err, imp.Close()); err != nil {
		return nil, err
	}
	m := r.m
	err = m.replace(func() error {
		if err := os.RemoveAll(m.dir); err != nil {
			return err
		}
		return os.Rename(r.dir, m.dir)
	})
	if err != nil {
		return nil, err
	}
	return m.tree().RootHash(), nil
}

// drop closes the importer, if it is still open, and removes its files.
func (r *memRestore) drop() {
	if r.imp != nil {
		_ = r.imp.Close() // what it wrote is removed below
		r.imp = nil
	}
	_ = os.RemoveAll(r.dir)
}

// importerChannels returns the channels of the tree importer inside imp
// (memiavl v0.1.0's MultiTreeImporter.importer.nodesChan and quitChan),
// which are not exported: Add blocks for ever on nodesChan once the
// importer has stopped on an error, and the error waits on quitChan.
func importerChannels(imp *memiavl.MultiTreeImporter) (chan<- *memiavl.ExportNode, <-chan error, error) {
	errVersion := errors.New("store: memiavl's importer is not v0.1.0's (importer.nodesChan, quitChan); see importerChannels")
	ti := reflect.ValueOf(imp).Elem().FieldByName("importer")
	if !ti.IsValid() || ti.Type() != reflect.TypeOf((*memiavl.TreeImporter)(nil)) || ti.IsNil() {
		return nil, nil, errVersion
	}
	t := ti.Elem()
	nodes, quit := t.FieldByName("nodesChan"), t.FieldByName("quitChan")
	if !nodes.IsValid() || nodes.Type() != reflect.TypeOf((chan *memiavl.ExportNode)(nil)) ||
		!quit.IsValid() || quit.Type() != reflect.TypeOf((chan error)(nil)) {
		return nil, nil, errVersion
	}
	return *(*chan *memiavl.ExportNode)(unsafe.Pointer(nodes.UnsafeAddr())),
		*(*chan error)(unsafe.Pointer(quit.UnsafeAddr())), nil
}

// pruneLock is memiavl v0.1.0's DB.pruneSnapshotLock (see closeMemiavl).
func pruneLock(db *memiavl.DB) (*sync.Mutex, error) {
	f := reflect.ValueOf(db).Elem().FieldByName("pruneSnapshotLock")
	if !f.IsValid() || f.Type() != reflect.TypeOf(sync.Mutex{}) {
		return nil, errors.New("store: memiavl's DB has no pruneSnapshotLock mutex: a memiavl other than v0.1.0? See closeMemiavl")
	}
	return (*sync.Mutex)(unsafe.Pointer(f.UnsafeAddr())), nil
}

package store

import (
	"errors"
	"fmt"
	"sync"

	"github.com/cosmos/iavl"
)

// Node is one node of a saved version as an export walks it (IAVL's
// ExportNode): depth-first post-order, children before their parent. A
// leaf (Height 0) carries its key and value; an inner node carries its
// split key. Version is the version that last wrote the node, which is
// part of its hash, so importing the same nodes in the same order rebuilds
// the same tree and root hash.
type Node = iavl.ExportNode

// Export walks the saved version in export order, calling fn with each
// node. It reads through the reader tree (see the Concurrency note on
// Store), so the consensus goroutine may keep committing while it runs;
// pruning leaves the version in place until Export returns. fn's error
// ends the walk and is returned.
func (s *Store) Export(version int64, fn func(*Node) error) error {
	if err := s.hold(version); err != nil {
		return err
	}
	defer s.release(version)
	return s.eng.export(version, fn)
}

// Hold keeps a saved version from being pruned until release is called
// (once): a snapshot started on another goroutine after Commit must still
// find its version there. It fails if the version is not available now.
func (s *Store) Hold(version int64) (release func(), err error) {
	if err := s.hold(version); err != nil {
		return nil, err
	}
	var once sync.Once
	return func() { once.Do(func() { s.release(version) }) }, nil
}

func (s *Store) hold(version int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if version <= 0 || version > s.lastVersion || !s.eng.exists(version) {
		return fmt.Errorf("%w: %d (latest is %d)", ErrVersionUnavailable, version, s.lastVersion)
	}
	s.held[version]++
	return nil
}

func (s *Store) release(version int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held[version]--; s.held[version] <= 0 {
		delete(s.held, version)
	}
}

// ErrRestoreRefused wraps what is wrong with nodes offered to a Restore:
// they are not a tree, or not the tree the caller trusts. The store is left
// empty, ready for another restore.
var ErrRestoreRefused = errors.New("store: restore refused")

// Restore rebuilds a saved version from exported nodes into an empty store
// (state sync). Create it with BeginRestore, Add the nodes in export order,
// then Finish; Abort drops it. Nothing is visible until Finish succeeds.
type Restore struct {
	s       *Store
	imp     restorer
	version int64
	nodes   int
}

// BeginRestore starts restoring version into the store, which must have no
// saved version. Any earlier unfinished restore is dropped first.
func (s *Store) BeginRestore(version int64) (*Restore, error) {
	if version <= 0 {
		return nil, fmt.Errorf("%w: version %d is not a height", ErrRestoreRefused, version)
	}
	if v, _ := s.LastCommit(); v > 0 {
		return nil, fmt.Errorf("store: restore version %d: the store already holds version %d; restore only into an empty data directory", version, v)
	}
	if err := s.wipe(); err != nil {
		return nil, err
	}
	imp, err := s.eng.beginRestore(version)
	if err != nil {
		return nil, err
	}
	return &Restore{s: s, imp: imp, version: version}, nil
}

// Add adds the next node. A node that cannot be part of the version (a
// later version, a bad height, a leaf without a value, children that do not
// fit) is refused with ErrRestoreRefused; the restore must then be aborted.
func (r *Restore) Add(n *Node) (err error) {
	if n == nil || n.Version < 1 || n.Version > r.version || n.Height < 0 || n.Key == nil || (n.Height == 0) != (n.Value != nil) {
		return fmt.Errorf("%w: node %d is malformed for version %d", ErrRestoreRefused, r.nodes, r.version)
	}
	defer func() {
		// IAVL's importer trusts its input more than a peer deserves; a
		// panic on hostile nodes is a refused restore, not a crash.
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: node %d: %v", ErrRestoreRefused, r.nodes, p)
		}
	}()
	if err := r.imp.add(n); err != nil {
		return fmt.Errorf("%w: node %d: %v", ErrRestoreRefused, r.nodes, err)
	}
	r.nodes++
	return nil
}

// Finish writes the version and makes it the store's latest, if its root
// hash is want. Otherwise, or if the nodes do not close into one tree, it
// empties the store again and returns ErrRestoreRefused.
func (r *Restore) Finish(want []byte) (err error) {
	s := r.s
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: commit: %v", ErrRestoreRefused, p)
		}
		if err != nil {
			r.imp.drop()
			err = errors.Join(err, s.wipe())
		}
	}()
	s.pending.reset()
	s.mu.Lock()
	hash, cerr := r.imp.commit()
	s.mu.Unlock()
	if cerr != nil {
		return fmt.Errorf("%w: %v", ErrRestoreRefused, cerr)
	}
	if string(hash) != string(want) {
		return fmt.Errorf("%w: the restored state's hash at version %d is %X, not the trusted %X", ErrRestoreRefused, r.version, hash, want)
	}
	s.mu.Lock()
	s.lastVersion, s.lastHash = r.version, hash
	s.resetReads()
	s.mu.Unlock()
	return nil
}

// Abort drops the restore and empties the store.
func (r *Restore) Abort() error {
	r.imp.drop()
	return r.s.wipe()
}

// wipe empties the store and its engine. It is only for a store being
// restored: one without a saved version, or one whose only version is a
// restore that was refused.
func (s *Store) wipe() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.eng.wipe(); err != nil {
		return err
	}
	s.loaded()
	return nil
}

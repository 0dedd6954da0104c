package store

import (
	"sync"

	idb "github.com/cosmos/iavl/db"
	ics23 "github.com/cosmos/ics23/go"
)

// engine is the tree a Store keeps its state in: IAVL v1 (iavlEngine,
// iavl.go), the default, or memiavl (memEngine, memiavl.go), chosen by
// Options.Engine. The Store does what both share (the write-behind log,
// the read cache, the record of the last saved version, pruning's policy,
// holds, the checks on restored nodes) and asks its engine for the rest.
//
// Concurrency, as on Store: every method but the saved-version readers is
// called from the consensus goroutine, and save, prune, reload, wipe and
// close with committed.mu held exclusively. versions and exists are
// called with committed.mu held; getAt, iterateAt, hashAt, prove and
// export run on any goroutine without it, and take it themselves where
// they must.
type engine interface {
	// get returns the working tree's value at key (nil if absent).
	get(key []byte) ([]byte, error)
	// apply hands the logged writes to the working tree, in order; a
	// database failure panics with a *Failure (see Store.Get).
	apply(w *writeBehind)
	// iterator walks the working tree's keys in [start, end).
	iterator(start, end []byte, ascending bool) (idb.Iterator, error)
	// workingHash is the working tree's root hash.
	workingHash() []byte
	// rollback drops the working tree's changes in place, or reports that
	// the saved version must be loaded again (reload) to drop them.
	rollback() (mustReload bool)
	// reload loads the latest saved version again, as Open did.
	reload() error
	// latest is the version loaded by the last Open, reload or wipe, and
	// its root hash (nil for version 0).
	latest() (version int64, hash []byte)
	// setInitialVersion makes the first save of an empty tree save v.
	setInitialVersion(v int64) error

	// save saves the working tree as the next version, durably.
	save() (version int64, hash []byte, err error)
	// prune deletes the saved versions up to and including to (> 0).
	prune(to int64) error

	// versions lists the readable saved versions, ascending, and exists
	// says whether one is readable (committed.mu held).
	versions() []int
	exists(version int64) bool
	// getAt, iterateAt, hashAt and prove read a saved version; see the
	// Store methods of the same names.
	getAt(version int64, key []byte) ([]byte, error)
	iterateAt(version int64, start, end []byte, ascending bool, fn func(key, value []byte) bool) error
	hashAt(version int64) ([]byte, error)
	prove(version int64, key []byte) ([]byte, *ics23.CommitmentProof, error)

	// export walks a saved version held by the Store in export order.
	export(version int64, fn func(*Node) error) error
	// wipe empties the store (for a restore) and loads the empty tree.
	wipe() error
	// beginRestore starts importing version into the emptied store.
	beginRestore(version int64) (restorer, error)

	close() error
}

// restorer is an engine's import of a saved version (Store.BeginRestore).
type restorer interface {
	// add adds the next node, which the Restore has checked.
	add(n *Node) error
	// commit writes the version and returns its root hash
	// (committed.mu held).
	commit() (hash []byte, err error)
	// drop drops what was added; the Store wipes itself after.
	drop()
}

// committed is the Store's record of its last saved version, which its
// engine shares: readers of saved versions check a version against it,
// holding mu shared, and Commit, Close and a restore change it holding mu
// exclusively.
type committed struct {
	mu          sync.RWMutex
	lastVersion int64
	lastHash    []byte // nil while lastVersion == 0
}

package store

// Why the working tree's writes wait for the end of the block.
//
// An IAVL Set copies every inner node on the key's path (node.clone), even
// the copies an earlier Set of the same block made, and loads both
// children of each saved node it copies; a Get walks the whole path,
// looking every node up in the node cache or the database. A block reads
// the same keys again and again (a signer's account, an agency, a running
// total) and rewrites many of them (the treasury's balance once per
// payment), so BenchmarkFinalizeCommit's mixed block of 1,000 transactions
// made 11,455 Gets of 1,976 keys and 8,009 writes of 4,935 keys.
//
// The Store therefore keeps, between two points where the tree must be
// current (WorkingHash, Commit, Iterate), the writes in a log and the
// values it read from the tree in a map, and applies the log to the tree
// at those points. The tree it builds is the one the writes would have
// built one by one, node for node, so the app hash is unchanged:
//
//   - The log keeps every write in the order it was made, except that a
//     Set of a key whose latest logged write is a Set replaces that
//     entry's value instead of adding one. IAVL's shape (which keys sit
//     where, heights, rotations) depends only on the sequence of keys
//     inserted and removed, never on values: a Set of a key that is
//     present replaces its leaf and returns before any height is
//     recomputed or any rotation made (MutableTree.recursiveSet's
//     "updated" path). The merged Set finds its key present, since the
//     entry it merges into put it there and no removal came between, so
//     dropping it changes only when the key got its final value, and
//     every node gets its hash and version when the tree is saved.
//   - A Delete of a key whose latest logged write is a Delete is dropped:
//     the key is absent then, and IAVL leaves the tree as it was when
//     asked to remove an absent key (Remove returns before replacing the
//     root).
//   - Reads see the log first, then the values read before, then the
//     tree, which holds neither a logged write nor a key written since
//     its value was read (a write forgets the key's read value).
//
// TestWriteBehindBuildsTheSameTree checks the node-for-node claim against
// a tree written one by one, and TestFixedBlocksGiveThePinnedResults the
// app hash of whole blocks.
type writeBehind struct {
	log []loggedWrite
	// last maps a key to the index in log of its latest write.
	last map[string]int
	// reads holds values read from the tree (nil for an absent key) of
	// keys with no logged write. Each entry is what the tree returns for
	// its key until the key is written, the tree is rolled back or
	// another tree is loaded; it is emptied at each Commit, so it holds at
	// most one block's keys.
	reads map[string][]byte
}

// loggedWrite is a write waiting for the tree: a Set of value, or a Delete
// when value is nil (a stored value is never nil, see storedValue).
type loggedWrite struct {
	key   string
	value []byte
}

// logged returns key's latest logged write, if any.
func (w *writeBehind) logged(key []byte) (value []byte, ok bool) {
	i, ok := w.last[string(key)]
	if !ok {
		return nil, false
	}
	return w.log[i].value, true
}

// write logs a Set of value (stored form) or, when value is nil, a Delete,
// of key k.
func (w *writeBehind) write(k string, value []byte) {
	delete(w.reads, k)
	if i, ok := w.last[k]; ok && (w.log[i].value == nil) == (value == nil) {
		// A Set after a Set (one entry carries the last value), or a
		// Delete after a Delete (a no-op on the tree).
		w.log[i].value = value
		return
	}
	w.last[k] = len(w.log)
	w.log = append(w.log, loggedWrite{key: k, value: value})
}

// apply hands the logged writes to set and remove in order and empties
// the log. If set or remove panics (a database failure), the writes not
// yet applied are dropped with the log: the tree must then be rolled back.
func (w *writeBehind) apply(set, remove func(key, value []byte)) {
	log := w.log
	w.log = nil
	clear(w.last)
	for _, e := range log {
		if e.value == nil {
			remove([]byte(e.key), nil)
		} else {
			set([]byte(e.key), e.value)
		}
	}
	w.log = reusableLog(log)
}

// reset forgets the logged writes and the read values.
func (w *writeBehind) reset() {
	w.log = reusableLog(w.log)
	w.last = make(map[string]int, len(w.last))
	w.forgetReads()
}

// reusableLog empties log's array for the next block, not what it held;
// or returns nil when the array is far larger than this use of it needed
// (a genesis or a restored snapshot logs millions of writes), so that one
// such block does not leave behind an array of pointers that the
// collector scans at every cycle for the life of the node (106 MB over
// BenchmarkFinalizeCommit's 400,000 accounts).
func reusableLog(log []loggedWrite) []loggedWrite {
	if cap(log) > max(2*len(log), minReusedLog) {
		return nil
	}
	clear(log)
	return log[:0]
}

// minReusedLog is the capacity of a log array always kept for reuse, in
// writes: 2.5 MB, more than a block of 5,000 transactions logs between
// two flushes.
const minReusedLog = 1 << 16

// forgetReads empties the read values. The map is kept for the next
// block's reads (clear keeps its room, so a block does not allocate one
// sized by the last), unless it held more than maxReusedReads: a genesis
// or a restore reads millions of keys once.
func (w *writeBehind) forgetReads() {
	if w.reads == nil || len(w.reads) > maxReusedReads {
		w.reads = make(map[string][]byte)
		return
	}
	clear(w.reads)
}

// maxReusedReads is the most read values whose map forgetReads keeps:
// several blocks of 5,000 transactions' reads.
const maxReusedReads = 1 << 16

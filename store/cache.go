package store

import (
	"slices"

	"github.com/google/btree"
)

// Cache is a per-transaction write buffer over a parent KV; it commits or
// discards as a unit. Reads fall through to the parent for keys the Cache has
// not touched. A Cache is not safe for concurrent use.
//
// Once the Cache is first iterated, the buffered writes are also kept in
// key order in two B-trees, the values set and the keys deleted, so an
// iteration finds the writes in its range in O(log n) and never walks the
// deletions: the end-of-block scheduler, which pops the first key of a
// queue thousands of times in one cache, does each pass in O(log n)
// instead of rescanning every key it deleted before
// (BenchmarkCacheQueuePop). An iteration snapshots both trees by a
// copy-on-write Clone, which costs nothing until the next write. Most
// caches (a transaction's) are never iterated and never build the trees:
// a block of 5,000 transactions makes 5,000 caches.
type Cache struct {
	parent KV
	// writes maps a touched key to its new value; nil marks a deletion.
	// Stored values are never nil otherwise (see copyBytes). The map is
	// nil until the first write: many caches are only read.
	writes map[string][]byte
	// set holds the touched keys whose buffered value is a value, deleted
	// those whose buffered value is a deletion; a key is in exactly one.
	// Both are nil until the first Iterate (ordered).
	set     *btree.BTreeG[write]
	deleted *btree.BTreeG[string]
}

var _ KV = (*Cache)(nil)

// cacheDegree is the B-trees' branching; google/btree's documented
// sweet spot for in-memory trees.
const cacheDegree = 32

// NewCache returns an empty Cache over parent.
func NewCache(parent KV) *Cache {
	c := &Cache{parent: parent}
	c.Discard()
	return c
}

// Get returns the buffered value of key if the Cache touched it, else the
// parent's value.
func (c *Cache) Get(key []byte) []byte {
	if v, ok := c.writes[string(key)]; ok {
		return v
	}
	return c.parent.Get(key)
}

// Has reports whether key is present as seen through the Cache.
func (c *Cache) Has(key []byte) bool {
	if v, ok := c.writes[string(key)]; ok {
		return v != nil
	}
	return c.parent.Has(key)
}

// Set buffers a write of value (copied; nil means empty) at key.
func (c *Cache) Set(key, value []byte) { c.setStored(string(key), storedValue(value)) }

// setEncoded buffers value, which the Cache now owns, at key.
func (c *Cache) setEncoded(key, value []byte) { c.setStored(string(key), ownedValue(value)) }

// storedWriter is a KV that takes a write as Cache.Write hands it on: the
// key as a string and the value in stored form (storedValue's), both given
// up by the caller, so they are kept as they are rather than copied again.
// Cache and Store are; Metered is not, so its charges stay.
type storedWriter interface {
	setStored(k string, v []byte)
	deleteStored(k string)
}

var (
	_ storedWriter = (*Cache)(nil)
	_ storedWriter = (*Store)(nil)
)

// copyingWriter hands Cache.Write's writes to any other KV (Metered, a
// test recorder) through Set and Delete, which copy and charge as usual.
type copyingWriter struct{ KV }

func (w copyingWriter) setStored(k string, v []byte) { w.Set([]byte(k), v) }
func (w copyingWriter) deleteStored(k string)        { w.Delete([]byte(k)) }

// setStored buffers a write of v, which the Cache now owns, at k.
func (c *Cache) setStored(k string, v []byte) {
	if c.writes == nil {
		c.writes = make(map[string][]byte)
	}
	if c.set != nil {
		if old, ok := c.writes[k]; ok && old == nil {
			c.deleted.Delete(k)
		}
		c.set.ReplaceOrInsert(write{key: k, value: v})
	}
	c.writes[k] = v
}

// Delete buffers a deletion of key.
func (c *Cache) Delete(key []byte) { c.deleteStored(string(key)) }

// deleteStored buffers a deletion of k.
func (c *Cache) deleteStored(k string) {
	if c.writes == nil {
		c.writes = make(map[string][]byte)
	}
	if c.set != nil {
		if old, ok := c.writes[k]; ok && old != nil {
			c.set.Delete(write{key: k})
		}
		if old, ok := c.writes[k]; !ok || old != nil {
			c.deleted.ReplaceOrInsert(k)
		}
	}
	c.writes[k] = nil
}

// ordered builds the B-trees of the buffered writes, if not built yet.
func (c *Cache) ordered() {
	if c.set != nil {
		return
	}
	c.set = btree.NewG(cacheDegree, func(a, b write) bool { return a.key < b.key })
	c.deleted = btree.NewG(cacheDegree, func(a, b string) bool { return a < b })
	for k, v := range c.writes { // into ordered trees: the map's order does not matter
		if v == nil {
			c.deleted.ReplaceOrInsert(k)
		} else {
			c.set.ReplaceOrInsert(write{key: k, value: v})
		}
	}
}

// Iterate visits keys in [start, end) of the parent merged with the buffered
// writes, in ascending or descending order; fn returns true to stop.
//
// The buffered writes are snapshotted when Iterate starts, so fn may write to
// the Cache (e.g. delete the key it is visiting); such writes are not seen by
// this iteration. fn must not write to the parent or call Write.
func (c *Cache) Iterate(start, end []byte, ascending bool, fn func(key, value []byte) (stop bool)) {
	c.ordered()
	pending := newCursor(c.set.Clone(), start, end, ascending)
	deleted := c.deleted.Clone()
	// before reports whether buffered key a comes before parent key b in
	// iteration order (Go compares strings bytewise, like bytes.Compare).
	before := func(a string, b []byte) bool {
		if ascending {
			return a < string(b)
		}
		return a > string(b)
	}
	stopped := false
	next, ok := pending.next()
	c.parent.Iterate(start, end, ascending, func(key, value []byte) bool {
		for ; ok && before(next.key, key); next, ok = pending.next() {
			if stopped = fn([]byte(next.key), next.value); stopped {
				return true
			}
		}
		if ok && next.key == string(key) {
			w := next
			next, ok = pending.next()
			stopped = fn([]byte(w.key), w.value) // the buffered write shadows the parent
			return stopped
		}
		if deleted.Has(string(key)) {
			return false
		}
		stopped = fn(key, value)
		return stopped
	})
	for ; !stopped && ok; next, ok = pending.next() {
		stopped = fn([]byte(next.key), next.value)
	}
}

// Write applies the buffered writes to the parent in ascending key order
// (deterministic regardless of map order), then empties the buffer.
func (c *Cache) Write() {
	keys := make([]string, 0, len(c.writes))
	for k := range c.writes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	// The buffer is emptied below, so its keys and values go up as they
	// are to a parent that keeps them (storedWriter); others copy them.
	p, ok := c.parent.(storedWriter)
	if !ok {
		p = copyingWriter{c.parent}
	}
	for _, k := range keys {
		if v := c.writes[k]; v == nil {
			p.deleteStored(k)
		} else {
			p.setStored(k, v)
		}
	}
	c.Discard()
}

// Discard drops the buffered writes; the parent is left untouched.
func (c *Cache) Discard() {
	c.writes = nil
	c.set, c.deleted = nil, nil
}

type write struct {
	key   string
	value []byte
}

// cursor walks the buffered values of [start, end) in iteration order, one
// O(log n) lookup per step, so an iteration that stops early costs only
// the steps it took.
type cursor struct {
	tree       *btree.BTreeG[write]
	start, end []byte
	ascending  bool
	// pivot is where the next step starts: the smallest key not yet
	// visited (ascending), or the key below which the next lies
	// (descending; nil = from the top).
	pivot   []byte
	started bool
}

func newCursor(tree *btree.BTreeG[write], start, end []byte, ascending bool) *cursor {
	return &cursor{tree: tree, start: start, end: end, ascending: ascending}
}

// next returns the next buffered value in range, or false at the end.
func (c *cursor) next() (write, bool) {
	var got write
	found := false
	if c.ascending {
		from := c.start
		if c.started {
			from = c.pivot
		}
		take := func(w write) bool { got, found = w, true; return false }
		if from == nil {
			c.tree.Ascend(take)
		} else {
			c.tree.AscendGreaterOrEqual(write{key: string(from)}, take)
		}
		if !found || (c.end != nil && got.key >= string(c.end)) {
			return write{}, false
		}
		c.pivot = append([]byte(got.key), 0) // the smallest key after got
	} else {
		below := c.end
		if c.started {
			below = c.pivot
		}
		take := func(w write) bool {
			if below != nil && w.key == string(below) {
				return true // the bound is exclusive: go on to the key below
			}
			got, found = w, true
			return false
		}
		if below == nil {
			c.tree.Descend(take)
		} else {
			c.tree.DescendLessOrEqual(write{key: string(below)}, take)
		}
		if !found || (c.start != nil && got.key < string(c.start)) {
			return write{}, false
		}
		c.pivot = []byte(got.key)
	}
	c.started = true
	return got, true
}

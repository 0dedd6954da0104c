package store

import "slices"

// Cache is a per-transaction write buffer over a parent KV; it commits or
// discards as a unit. Reads fall through to the parent for keys the Cache has
// not touched. A Cache is not safe for concurrent use.
type Cache struct {
	parent KV
	// writes maps a touched key to its new value; nil marks a deletion.
	// Stored values are never nil otherwise (see copyBytes).
	writes map[string][]byte
	// keys lists the touched keys; it is sorted lazily, when an iteration
	// or Write needs order, so a run of writes costs one sort, and an
	// iteration over a small range finds it by binary search instead of
	// scanning every buffered write.
	keys   []string
	sorted bool
}

var _ KV = (*Cache)(nil)

// NewCache returns an empty Cache over parent.
func NewCache(parent KV) *Cache {
	return &Cache{parent: parent, writes: make(map[string][]byte), sorted: true}
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
func (c *Cache) Set(key, value []byte) {
	c.touch(key, storedValue(value))
}

// Delete buffers a deletion of key.
func (c *Cache) Delete(key []byte) {
	c.touch(key, nil)
}

func (c *Cache) touch(key, value []byte) {
	k := string(key)
	if _, ok := c.writes[k]; !ok {
		c.keys = append(c.keys, k)
		c.sorted = false
	}
	c.writes[k] = value
}

// Iterate visits keys in [start, end) of the parent merged with the buffered
// writes, in ascending or descending order; fn returns true to stop.
//
// The buffered writes are snapshotted when Iterate starts, so fn may write to
// the Cache (e.g. delete the key it is visiting); such writes are not seen by
// this iteration. fn must not write to the parent or call Write.
func (c *Cache) Iterate(start, end []byte, ascending bool, fn func(key, value []byte) (stop bool)) {
	pending := c.sortedWrites(start, end, ascending)
	// before reports whether buffered key a comes before parent key b in
	// iteration order (Go compares strings bytewise, like bytes.Compare).
	before := func(a string, b []byte) bool {
		if ascending {
			return a < string(b)
		}
		return a > string(b)
	}
	i, stopped := 0, false
	// emit visits a buffered write unless it is a deletion.
	emit := func(w write) bool {
		if w.value != nil {
			stopped = fn([]byte(w.key), w.value)
		}
		return stopped
	}
	c.parent.Iterate(start, end, ascending, func(key, value []byte) bool {
		for ; i < len(pending) && before(pending[i].key, key); i++ {
			if emit(pending[i]) {
				return true
			}
		}
		if i < len(pending) && pending[i].key == string(key) {
			i++
			return emit(pending[i-1]) // the buffered write shadows the parent
		}
		stopped = fn(key, value)
		return stopped
	})
	for ; !stopped && i < len(pending); i++ {
		emit(pending[i])
	}
}

// Write applies the buffered writes to the parent in ascending key order
// (deterministic regardless of map order), then empties the buffer.
func (c *Cache) Write() {
	for _, w := range c.sortedWrites(nil, nil, true) {
		if w.value == nil {
			c.parent.Delete([]byte(w.key))
		} else {
			c.parent.Set([]byte(w.key), w.value)
		}
	}
	c.Discard()
}

// Discard drops the buffered writes; the parent is left untouched.
func (c *Cache) Discard() {
	c.writes = make(map[string][]byte)
	c.keys = c.keys[:0]
	c.sorted = true
}

type write struct {
	key   string
	value []byte // nil = delete
}

// sortedWrites returns the buffered writes with keys in [start, end), in
// ascending or descending key order.
func (c *Cache) sortedWrites(start, end []byte, ascending bool) []write {
	if !c.sorted {
		slices.Sort(c.keys)
		c.sorted = true
	}
	lo, hi := 0, len(c.keys)
	if start != nil {
		lo, _ = slices.BinarySearch(c.keys, string(start))
	}
	if end != nil {
		hi, _ = slices.BinarySearch(c.keys, string(end))
	}
	if lo >= hi {
		return nil
	}
	out := make([]write, 0, hi-lo)
	for _, k := range c.keys[lo:hi] {
		out = append(out, write{key: k, value: c.writes[k]})
	}
	if !ascending {
		slices.Reverse(out)
	}
	return out
}

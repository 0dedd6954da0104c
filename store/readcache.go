package store

import "sync"

// readCache holds values of the last saved version, read through GetAtCached,
// so that CheckTx, which reads the same few keys for every transaction of a
// signer and again at every recheck, walks the tree once per key instead of
// once per read. It is kept across versions: Commit drops every key the
// block wrote (Set or Delete on the working tree, recorded in
// Store.written) and moves the rest on to the new version, whose value for
// them is the same. An entry is the value (or the absence: nil) of its key
// at version, and only at version:
//
//   - put refuses a value read at another version, so a reader that read
//     version V while Commit saved V+1 cannot leave V's value behind;
//   - get answers only for version, so a reader still at V after the
//     advance reads the tree;
//   - advance runs inside Commit, before the new version is visible to
//     anyone (Store.mu is held), and a store whose version moves any other
//     way (a restore, a wipe) empties the cache.
//
// It is bounded by maxBytes of entries as entrySize counts them; the oldest
// are evicted first. A miss only costs the tree walk it saves.
type readCache struct {
	mu       sync.Mutex
	version  int64
	m        map[string]readEntry
	order    []string // insertion order, for eviction; may hold dropped keys
	maxBytes int
	bytes    int
	hits     uint64
	misses   uint64
}

type readEntry struct {
	value []byte // nil: the key is absent at version
	size  int
}

// readEntryOverhead is what an entry costs besides its key and value bytes:
// the map slot (string header, value slice header, size) at the map's
// lowest fill, the order slot at the slice's largest spare capacity, and
// the rounding of the key's and value's allocations. An entry of a 22-byte
// key and a 100-byte value measured 244 bytes
// (TestReadCacheIsBoundedInBytes) and costs at most about 280; it is
// counted 314.
const readEntryOverhead = 192

func entrySize(key string, value []byte) int { return readEntryOverhead + len(key) + len(value) }

func newReadCache(maxBytes int, version int64) *readCache {
	return &readCache{m: map[string]readEntry{}, maxBytes: maxBytes, version: version}
}

// get returns the value of key at version, if it is held.
func (c *readCache) get(version int64, key []byte) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if version != c.version {
		c.misses++
		return nil, false
	}
	e, ok := c.m[string(key)]
	if ok {
		c.hits++
	} else {
		c.misses++
	}
	return e.value, ok
}

// put keeps value, read from the tree at version, unless the cache has
// moved on from version meanwhile.
func (c *readCache) put(version int64, key, value []byte) {
	k := string(key)
	n := entrySize(k, value)
	if n > c.maxBytes {
		return
	}
	if value != nil {
		value = append(make([]byte, 0, len(value)), value...) // not the tree's own slice: the bound counts what is held
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if version != c.version {
		return
	}
	if old, ok := c.m[k]; ok {
		c.bytes -= old.size
	} else {
		c.order = append(c.order, k)
	}
	c.m[k] = readEntry{value: value, size: n}
	c.bytes += n
	for c.bytes > c.maxBytes && len(c.order) > 0 {
		old := c.order[0]
		c.order = c.order[1:]
		if e, ok := c.m[old]; ok {
			c.bytes -= e.size
			delete(c.m, old)
		}
	}
}

// advance moves the cache from the version before to version, dropping the
// keys written in between. If the cache was not at version-1, nothing it
// holds is known to be right: it empties.
func (c *readCache) advance(version int64, written map[string]struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version != version-1 {
		c.resetLocked(version)
		return
	}
	c.version = version
	for k := range written {
		if e, ok := c.m[k]; ok {
			c.bytes -= e.size
			delete(c.m, k)
		}
	}
	if len(c.order) > 2*len(c.m)+1024 { // mostly dropped keys: trim
		kept := c.order[:0]
		for _, k := range c.order {
			if _, ok := c.m[k]; ok {
				kept = append(kept, k)
			}
		}
		clear(c.order[len(kept):])
		c.order = kept
	}
}

// reset empties the cache, now at version.
func (c *readCache) reset(version int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.resetLocked(version)
}

func (c *readCache) resetLocked(version int64) {
	c.version, c.m, c.order, c.bytes = version, map[string]readEntry{}, nil, 0
}

// ReadCacheStats are counters of the read cache (Store.EnableReadCache).
type ReadCacheStats struct {
	Hits, Misses uint64
	Entries      int
	Bytes        int // as counted against the bound
}

func (c *readCache) stats() ReadCacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return ReadCacheStats{Hits: c.hits, Misses: c.misses, Entries: len(c.m), Bytes: c.bytes}
}

// EnableReadCache keeps up to maxBytes of values of the last saved version
// in memory for GetAtCached (see readCache). Call it before any read, from
// the goroutine that owns the store (the keys written before it are known:
// the store records them from Open); 0 or less leaves the cache off, and
// GetAtCached is then GetAt.
func (s *Store) EnableReadCache(maxBytes int) {
	if maxBytes <= 0 {
		s.reads = nil
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads = newReadCache(maxBytes, s.lastVersion)
}

// GetAtCached is GetAt through the read cache: the same answer, from memory
// when the key was read at this version before, or at an earlier version and
// not written since. The returned slice must not be modified.
func (s *Store) GetAtCached(version int64, key []byte) ([]byte, error) {
	if s.reads == nil {
		return s.GetAt(version, key)
	}
	if v, ok := s.reads.get(version, key); ok {
		return v, nil
	}
	v, err := s.GetAt(version, key)
	if err != nil {
		return nil, err
	}
	s.reads.put(version, key, v)
	return v, nil
}

// ReadCacheStats reports the read cache's counters (zero when it is off).
func (s *Store) ReadCacheStats() ReadCacheStats {
	if s.reads == nil {
		return ReadCacheStats{}
	}
	return s.reads.stats()
}

// wrote records that the block being built writes key, for the read cache
// (whether or not it is on yet).
func (s *Store) wrote(key string) { s.written[key] = struct{}{} }

// advanceReads moves the read cache on to version, just saved, and starts
// the next block's record of written keys. The caller holds s.mu.
func (s *Store) advanceReads(version int64) {
	if s.reads != nil {
		s.reads.advance(version, s.written)
	}
	if len(s.written) > 1<<16 {
		s.written = map[string]struct{}{} // a genesis's map is not kept for good
	} else {
		clear(s.written)
	}
}

// resetReads empties the read cache after the store's latest version
// changed other than by Commit (a restore or a wipe). The caller holds s.mu.
func (s *Store) resetReads() {
	if s.reads != nil {
		s.reads.reset(s.lastVersion)
	}
	clear(s.written)
}

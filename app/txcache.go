package app

import (
	"crypto/sha256"
	"sync"

	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
)

// hashCache is a map keyed by transaction hash holding at most limit
// entries and, when maxBytes > 0, entries whose sizes (as size reports
// them) add up to at most maxBytes; the oldest are evicted first. CheckTx
// and the consensus connection use it concurrently, hence the lock.
type hashCache[V any] struct {
	mu       sync.Mutex
	m        map[[32]byte]cached[V]
	order    [][32]byte // insertion order, for bounded eviction
	limit    int
	maxBytes int
	bytes    int // sum of the sizes of the entries in m
	size     func(V) int
}

type cached[V any] struct {
	v    V
	size int
}

// newHashCache returns a cache of at most limit entries and, when maxBytes
// > 0, at most maxBytes of entries as size counts them (nil size: 0).
func newHashCache[V any](limit, maxBytes int, size func(V) int) *hashCache[V] {
	if size == nil {
		size = func(V) int { return 0 }
	}
	return &hashCache[V]{m: make(map[[32]byte]cached[V], min(limit, 1<<16)), limit: limit, maxBytes: maxBytes, size: size}
}

func (c *hashCache[V]) get(h [32]byte) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[h]
	return e.v, ok
}

func (c *hashCache[V]) put(h [32]byte, v V) {
	n := c.size(v)
	if c.limit <= 0 || c.maxBytes > 0 && n > c.maxBytes {
		return // could never fit: not cached
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[h]; ok {
		c.bytes -= old.size // replaced in place, keeping its age
	} else {
		c.order = append(c.order, h)
	}
	c.m[h] = cached[V]{v: v, size: n}
	c.bytes += n
	for len(c.order) > 0 && (len(c.m) > c.limit || c.maxBytes > 0 && c.bytes > c.maxBytes) {
		c.evictOldest()
	}
}

// evictOldest forgets the oldest entry of order, if it is still held.
func (c *hashCache[V]) evictOldest() {
	h := c.order[0]
	c.order = c.order[1:]
	if e, ok := c.m[h]; ok {
		c.bytes -= e.size
		delete(c.m, h)
	}
}

// drop forgets the entries of hashes.
func (c *hashCache[V]) drop(hashes [][32]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, h := range hashes {
		if e, ok := c.m[h]; ok {
			c.bytes -= e.size
			delete(c.m, h)
		}
	}
	// order keeps dropped hashes until they age out; trim it when mostly stale.
	if len(c.order) > 2*len(c.m)+1024 {
		kept := c.order[:0]
		for _, h := range c.order {
			if _, ok := c.m[h]; ok {
				kept = append(kept, h)
			}
		}
		c.order = kept
	}
}

// decodeCacheSize bounds the decoded transactions a node keeps by count:
// four times CometBFT's default mempool of 5,000, so the whole mempool
// stays decoded across rechecks with room for the proposals of a height.
const decodeCacheSize = 20_000

// DefaultDecodeCacheBytes bounds the decoded transactions a node keeps by
// their memory (app.toml decode_cache_mib): 32 MiB holds 20,000 typical
// transactions of a few hundred bytes, and about 330 of the largest the
// params allow (32 KiB), so a mempool of large transactions cannot grow the
// cache past it. A transaction that does not fit is decoded again when
// needed; no result changes.
const DefaultDecodeCacheBytes = 32 << 20

// DefaultCheckCacheBytes bounds the committed state CheckTx keeps read
// (app.toml check_cache_mib; Options.CheckCacheBytes). A transaction
// reads three keys: its signer's account (about 320 bytes as the cache
// counts an entry, with key and value), its nonce (about 240) and its
// agency (shared by the agency's members), so 8 MiB holds the state of
// about 15,000 pending transactions from as many signers: CometBFT's
// default mempool of 5,000 three times over. A miss only reads the tree.
const DefaultCheckCacheBytes = 8 << 20

// What a decoded transaction costs the heap, as the decode cache counts
// it, an upper bound of what was measured (TestDecodeCacheIsBoundedInBytes
// logs it): decodedOverhead for the decodedTx, its Tx and TxBody and the
// cache's entry; decodedPerByte for each byte of the transaction (raw
// itself, shared with the mempool but counted here, the body's copy in Tx
// and the fields parsed from it); decodedPerMessage for each message's
// structs. An add_member of 217 bytes measured 1,148 bytes (counted
// 2,187); one of 16 add_members, 1,822 bytes, measured 8,789 (counted
// 14,682).
const (
	decodedOverhead   = 1024
	decodedPerByte    = 3
	decodedPerMessage = 512
)

// decodedBytes is a decoded transaction's size as the decode cache counts it.
func decodedBytes(d *decodedTx) int {
	return decodedOverhead + decodedPerByte*len(d.raw) + decodedPerMessage*len(d.body.Messages)
}

// decodeCached is decode through the node's cache of decoded transactions,
// so the mempool's rechecks after every block and the proposal and block
// that carry a transaction parse and check it once on this node. A cached
// entry passed every check of decode that depends on its bytes alone; the
// four that depend on params (size, memo length, message count, declared
// unit limit) are checked again, in decode's order, so the answer is
// exactly decode's under the params given. Transactions that fail to
// decode are not cached.
//
// Decoded transactions are shared between CheckTx and the block being
// run: nothing may modify one (handlers already treat messages as
// read-only and clone what they keep).
func (a *App) decodeCached(params *appv1.Params, raw []byte) (*decodedTx, error) {
	if err := checkTxSize(params, len(raw)); err != nil {
		return nil, err
	}
	hash := sha256.Sum256(raw)
	if d, ok := a.decoded.get(hash); ok {
		if err := checkMemoSize(params, d.body.Memo); err != nil {
			return nil, err
		}
		if err := checkMessageCount(params, len(d.body.Messages)); err != nil {
			return nil, err
		}
		if err := checkMaxUnits(params, d.body.MaxUnits); err != nil {
			return nil, err
		}
		return d, nil
	}
	d, err := a.decodeHashed(params, raw, hash)
	if err != nil {
		return nil, err
	}
	a.decoded.put(hash, d)
	return d, nil
}

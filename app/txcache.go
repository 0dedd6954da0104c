package app

import (
	"crypto/sha256"
	"sync"

	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
)

// hashCache is a map keyed by transaction hash holding at most limit
// entries, the oldest evicted first. CheckTx and the consensus connection
// use it concurrently, hence the lock.
type hashCache[V any] struct {
	mu    sync.Mutex
	m     map[[32]byte]V
	order [][32]byte // insertion order, for bounded eviction
	limit int
}

func newHashCache[V any](limit int) *hashCache[V] {
	return &hashCache[V]{m: make(map[[32]byte]V, min(limit, 1<<16)), limit: limit}
}

func (c *hashCache[V]) get(h [32]byte) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[h]
	return v, ok
}

func (c *hashCache[V]) put(h [32]byte, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[h]; ok {
		c.m[h] = v
		return
	}
	for len(c.order) >= c.limit && len(c.order) > 0 {
		delete(c.m, c.order[0])
		c.order = c.order[1:]
	}
	c.m[h] = v
	c.order = append(c.order, h)
}

// drop forgets the entries of hashes.
func (c *hashCache[V]) drop(hashes [][32]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, h := range hashes {
		delete(c.m, h)
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

// decodeCacheSize bounds the decoded transactions a node keeps: four times
// CometBFT's default mempool of 5,000, so the whole mempool stays decoded
// across rechecks with room for the proposals of a height. A decoded
// transaction is about a kilobyte, so this is ~20 MB at most.
const decodeCacheSize = 20_000

// decodeCached is decode through the node's cache of decoded transactions,
// so the mempool's rechecks after every block and the proposal and block
// that carry a transaction parse and check it once on this node. A cached
// entry passed every check of decode that depends on its bytes alone; the
// three that depend on params (size, memo length, message count) are
// checked again, in decode's order, so the answer is exactly decode's under
// the params given. Transactions that fail to decode are not cached.
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
		return d, nil
	}
	d, err := a.decodeHashed(params, raw, hash)
	if err != nil {
		return nil, err
	}
	a.decoded.put(hash, d)
	return d, nil
}

package app

import (
	abci "github.com/cometbft/cometbft/abci/types"
	"google.golang.org/protobuf/proto"

	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	"github.com/tallyledger/tally/store"
)

// records answers with the records at keys, each with its own proof when
// asked (a proof of absence for a key that holds nothing), in the order
// given. Queries whose answer is a path through state (a funds trace) use
// it, so a client can check every step. next, when set, is where a
// paginated listing continues.
func (a *App) records(keys [][]byte, next []byte, height int64, prove bool) (*abci.ResponseQuery, error) {
	return a.answer(&appv1.ProvedList{NextKey: next, Complete: len(next) == 0}, keys, height, prove)
}

// walk answers the records a bounded walk through state visited (a funds
// or payment trace); complete says whether the walk reached its end.
func (a *App) walk(keys [][]byte, complete bool, height int64, prove bool) (*abci.ResponseQuery, error) {
	return a.answer(&appv1.ProvedList{Complete: complete}, keys, height, prove)
}

// answerPage answers a page of a listing: the head records first (a
// listing's own record, such as the item whose history it is), then the
// page's records, with the range proofs when proofs are asked for.
func (a *App) answerPage(p *listPage, head [][]byte, height int64, prove bool) (*abci.ResponseQuery, error) {
	list := &appv1.ProvedList{NextKey: p.next, Complete: len(p.next) == 0}
	if prove {
		var err error
		if list.RangeProofs, err = a.rangeProofs(p, height); err != nil {
			return nil, err
		}
	}
	res, err := a.answer(list, append(head, p.keys...), height, prove)
	if err != nil {
		return nil, err
	}
	res.Key = p.prefix
	return res, nil
}

func (a *App) answer(list *appv1.ProvedList, keys [][]byte, height int64, prove bool) (*abci.ResponseQuery, error) {
	for _, key := range keys {
		e := &appv1.ProvedEntry{Key: key}
		var err error
		if prove {
			e.Value, e.Proof, err = a.proof(key, height)
		} else {
			e.Value, err = a.store.GetAt(height, key)
		}
		if err != nil {
			return nil, err
		}
		list.Entries = append(list.Entries, e)
	}
	bz, err := proto.Marshal(list)
	if err != nil {
		return nil, err
	}
	return &abci.ResponseQuery{Value: bz, Height: height}, nil
}

// listPage is one page of a key-range listing: the index keys under
// prefix that sort after after, and the records they point at.
type listPage struct {
	prefix, after []byte
	index         [][]byte // the page's index keys, in order
	keys          [][]byte // the records they point at (recordKey of each)
	next          []byte   // the last index key when more follow; nil on the last page
}

// pageKeys lists up to limit keys under prefix that sort after after
// (from the start when after is empty), mapped by recordKey, and the key
// the next page starts after (nil when this page is the last).
func (a *App) pageKeys(prefix, after []byte, height int64, limit int, recordKey func(indexKey []byte) []byte) (*listPage, error) {
	p := &listPage{prefix: prefix, after: after}
	start := prefix
	if len(after) > 0 {
		start = successor(after)
	}
	var last []byte
	err := a.store.IterateAt(height, start, store.PrefixEnd(prefix), true, func(key, _ []byte) bool {
		if len(p.keys) == limit {
			p.next = last
			return true
		}
		last = append([]byte(nil), key...)
		p.index = append(p.index, last)
		p.keys = append(p.keys, recordKey(last))
		return false
	})
	return p, err
}

// successor is the smallest key above k: k followed by one 0x00 byte.
func successor(k []byte) []byte { return append(append(make([]byte, 0, len(k)+1), k...), 0) }

// rangeProofs prove that a page leaves no entry out (ProvedList.range_proofs):
// an ICS23 proof at the page's first key (the prefix, or the successor of
// after) and at the successor of each index key, the last one only when
// the page is the listing's last. Each is a proof of presence of that key
// or of its absence, which carries the key's two neighbours in state; the
// right neighbour is the next index key, or lies past the prefix.
func (a *App) rangeProofs(p *listPage, height int64) ([][]byte, error) {
	start := p.prefix
	if len(p.after) > 0 {
		start = successor(p.after)
	}
	cursors := [][]byte{start}
	for i, k := range p.index {
		if i == len(p.index)-1 && p.next != nil {
			break // the next page starts there
		}
		cursors = append(cursors, successor(k))
	}
	out := make([][]byte, len(cursors))
	for i, c := range cursors {
		_, proof, err := a.proof(c, height)
		if err != nil {
			return nil, err
		}
		out[i] = proof
	}
	return out, nil
}

// stateAt is a read-only view of committed state at height, for keepers'
// query helpers. Writing to it is a bug. cached reads through the store's
// read cache (store.GetAtCached): CheckTx's view, which reads the same
// accounts again and again; queries read the tree, so that a walk of many
// keys does not push the mempool's signers out of the cache.
type stateAt struct {
	s      *store.Store
	height int64
	cached bool
	err    error
}

func (v *stateAt) Get(key []byte) []byte {
	get := v.s.GetAt
	if v.cached {
		get = v.s.GetAtCached
	}
	b, err := get(v.height, key)
	if err != nil && v.err == nil {
		v.err = err
	}
	return b
}

func (v *stateAt) Has(key []byte) bool { return v.Get(key) != nil }

func (v *stateAt) Set(key, _ []byte) { panic("query state is read-only: Set " + string(key)) }

func (v *stateAt) Delete(key []byte) { panic("query state is read-only: Delete " + string(key)) }

// Iterate reads the range first and calls fn after: fn may read state
// again, which must not happen inside the store's iteration.
func (v *stateAt) Iterate(start, end []byte, ascending bool, fn func(key, value []byte) bool) {
	var kvs [][2][]byte
	if err := v.s.IterateAt(v.height, start, end, ascending, func(k, val []byte) bool {
		kvs = append(kvs, [2][]byte{append([]byte(nil), k...), append([]byte(nil), val...)})
		return false
	}); err != nil && v.err == nil {
		v.err = err
	}
	for _, kv := range kvs {
		if fn(kv[0], kv[1]) {
			return
		}
	}
}

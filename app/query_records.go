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

// pageKeys lists up to maxListEntries keys under prefix that sort after
// after (from the start when after is empty), mapped by recordKey, and the
// key the next page starts after (nil when this page is the last).
func (a *App) pageKeys(prefix, after []byte, height int64, recordKey func(indexKey []byte) []byte) (keys [][]byte, next []byte, err error) {
	start := prefix
	if len(after) > 0 {
		start = append(append([]byte(nil), after...), 0) // the smallest key above after
	}
	var last []byte
	err = a.store.IterateAt(height, start, store.PrefixEnd(prefix), true, func(key, _ []byte) bool {
		if len(keys) == maxListEntries {
			next = last
			return true
		}
		last = append([]byte(nil), key...)
		keys = append(keys, recordKey(last))
		return false
	})
	return keys, next, err
}

// stateAt is a read-only view of committed state at height, for keepers'
// query helpers. Writing to it is a bug.
type stateAt struct {
	s      *store.Store
	height int64
	err    error
}

func (v *stateAt) Get(key []byte) []byte {
	b, err := v.s.GetAt(v.height, key)
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

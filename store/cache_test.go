package store

import (
	"fmt"
	"math/rand"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/api"
)

// recorder is a KV parent that logs the writes it receives.
type recorder struct {
	KV
	log []string
}

func (r *recorder) Set(key, value []byte) {
	r.log = append(r.log, fmt.Sprintf("set %s=%s", key, value))
	r.KV.Set(key, value)
}

func (r *recorder) Delete(key []byte) {
	r.log = append(r.log, fmt.Sprintf("del %s", key))
	r.KV.Delete(key)
}

// parentWith returns a committed store holding the given key=value pairs.
func parentWith(t *testing.T, kvs ...string) *Store {
	s := NewMemory()
	for i := 0; i < len(kvs); i += 2 {
		s.Set([]byte(kvs[i]), []byte(kvs[i+1]))
	}
	commit(t, s)
	return s
}

func TestCacheReadsAndShadowing(t *testing.T) {
	parent := parentWith(t, "a", "pa", "b", "pb")
	c := NewCache(parent)

	require.Equal(t, []byte("pa"), c.Get([]byte("a")), "reads fall through")
	c.Set([]byte("a"), []byte("ca"))
	c.Set([]byte("n"), []byte("cn"))
	c.Delete([]byte("b"))

	require.Equal(t, []byte("ca"), c.Get([]byte("a")), "reads see own writes")
	require.Equal(t, []byte("cn"), c.Get([]byte("n")))
	require.Nil(t, c.Get([]byte("b")), "deletes hide parent keys")
	require.False(t, c.Has([]byte("b")))
	require.True(t, c.Has([]byte("n")))

	// Deleting then re-setting a key revives it.
	c.Delete([]byte("n"))
	require.False(t, c.Has([]byte("n")))
	c.Set([]byte("n"), []byte("again"))
	require.Equal(t, []byte("again"), c.Get([]byte("n")))

	// The parent is untouched until Write.
	require.Equal(t, []byte("pa"), parent.Get([]byte("a")))
	require.True(t, parent.Has([]byte("b")))
	require.False(t, parent.Has([]byte("n")))
}

func TestCacheIterateMerges(t *testing.T) {
	parent := parentWith(t, "a", "p", "c", "p", "e", "p", "g", "p")
	c := NewCache(parent)
	c.Set([]byte("b"), []byte("c"))    // new, between parent keys
	c.Set([]byte("c"), []byte("c"))    // overrides parent
	c.Delete([]byte("e"))              // hides parent
	c.Delete([]byte("f"))              // deletes a key the parent lacks
	c.Set([]byte("h"), []byte("c"))    // after the last parent key
	c.Set([]byte("\x00"), []byte("c")) // before the first parent key

	tests := []struct {
		name       string
		start, end []byte
		ascending  bool
		want       []pair
	}{
		{"all ascending", nil, nil, true, []pair{{"\x00", "c"}, {"a", "p"}, {"b", "c"}, {"c", "c"}, {"g", "p"}, {"h", "c"}}},
		{"all descending", nil, nil, false, []pair{{"h", "c"}, {"g", "p"}, {"c", "c"}, {"b", "c"}, {"a", "p"}, {"\x00", "c"}}},
		{"bounded ascending", []byte("b"), []byte("g"), true, []pair{{"b", "c"}, {"c", "c"}}},
		{"bounded descending", []byte("b"), []byte("h"), false, []pair{{"g", "p"}, {"c", "c"}, {"b", "c"}}},
		{"only cache keys in range", []byte("h"), nil, true, []pair{{"h", "c"}}},
		{"only deleted keys in range", []byte("d"), []byte("f"), true, []pair{}},
		{"prefix", []byte("c"), PrefixEnd([]byte("c")), false, []pair{{"c", "c"}}},
	}
	for _, tt := range tests {
		got := collect(func(fn func(k, v []byte) bool) { c.Iterate(tt.start, tt.end, tt.ascending, fn) })
		require.Equal(t, tt.want, got, tt.name)
	}

	// Stopping inside a run of buffered keys and on a parent key.
	for _, stopAfter := range []int{1, 2, 3, 5} {
		var n int
		c.Iterate(nil, nil, true, func(_, _ []byte) bool { n++; return n == stopAfter })
		require.Equal(t, stopAfter, n)
	}
}

// TestCacheIterateModel compares Iterate with a sorted map model over random
// parents, random buffered writes and random ranges, at two cache depths.
func TestCacheIterateModel(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	randKey := func() string { // 1 or 2 letters from a small alphabet, so keys collide
		k := []byte{byte('a' + rng.Intn(6))}
		if rng.Intn(2) == 0 {
			k = append(k, byte('a'+rng.Intn(3)))
		}
		return string(k)
	}
	for round := 0; round < 50; round++ {
		model := map[string]string{}
		parent := NewMemory()
		for i := 0; i < 10; i++ {
			k := randKey()
			parent.Set([]byte(k), []byte("p"+k))
			model[k] = "p" + k
		}
		if round%2 == 0 {
			commit(t, parent)
		}
		var kv KV = parent
		for depth := 0; depth < 2; depth++ {
			c := NewCache(kv)
			for i := 0; i < 8; i++ {
				k := randKey()
				if rng.Intn(3) == 0 {
					c.Delete([]byte(k))
					delete(model, k)
				} else {
					v := fmt.Sprintf("c%d%s", depth, k)
					c.Set([]byte(k), []byte(v))
					model[k] = v
				}
			}
			kv = c
		}
		for q := 0; q < 10; q++ {
			var start, end []byte
			if rng.Intn(3) > 0 {
				start = []byte(randKey())
			}
			if rng.Intn(3) > 0 {
				end = []byte(randKey())
			}
			var want []pair
			for k, v := range model {
				if (start == nil || k >= string(start)) && (end == nil || k < string(end)) {
					want = append(want, pair{k, v})
				}
			}
			slices.SortFunc(want, func(a, b pair) int { return strings.Compare(a.k, b.k) })
			for _, asc := range []bool{true, false} {
				got := collect(func(fn func(k, v []byte) bool) { kv.Iterate(start, end, asc, fn) })
				exp := slices.Clone(want)
				if !asc {
					slices.Reverse(exp)
				}
				if exp == nil {
					exp = []pair{}
				}
				require.Equal(t, exp, got, "round %d range [%q,%q) asc=%v", round, start, end, asc)
			}
		}
	}
}

func TestCacheWriteAppliesInKeyOrder(t *testing.T) {
	parent := &recorder{KV: parentWith(t, "b", "pb", "d", "pd")}
	c := NewCache(parent)
	c.Set([]byte("z"), []byte("1"))
	c.Delete([]byte("b"))
	c.Set([]byte("a"), []byte("2"))
	c.Set([]byte("d"), []byte("3"))
	c.Delete([]byte("x")) // absent in parent: still forwarded, a no-op there

	c.Write()
	require.Equal(t, []string{"set a=2", "del b", "set d=3", "del x", "set z=1"}, parent.log)
	require.Equal(t, []pair{{"a", "2"}, {"d", "3"}, {"z", "1"}},
		collect(func(fn func(k, v []byte) bool) { parent.Iterate(nil, nil, true, fn) }))

	// The buffer is empty afterwards: a second Write does nothing, and reads
	// fall through to the (now updated) parent.
	parent.log = nil
	c.Write()
	require.Empty(t, parent.log)
	parent.Set([]byte("a"), []byte("from-parent"))
	require.Equal(t, []byte("from-parent"), c.Get([]byte("a")))
}

func TestCacheDiscard(t *testing.T) {
	store := parentWith(t, "a", "pa")
	before := store.WorkingHash()
	parent := &recorder{KV: store}
	c := NewCache(parent)
	c.Set([]byte("a"), []byte("ca"))
	c.Set([]byte("b"), []byte("cb"))
	c.Delete([]byte("a"))
	c.Discard()

	require.Empty(t, parent.log)
	require.Equal(t, before, store.WorkingHash())
	require.Equal(t, []byte("pa"), c.Get([]byte("a")), "after Discard reads fall through again")
	require.False(t, c.Has([]byte("b")))
	c.Write()
	require.Empty(t, parent.log)
}

func TestNestedCache(t *testing.T) {
	store := parentWith(t, "a", "pa", "b", "pb")
	outer := NewCache(store)
	outer.Set([]byte("c"), []byte("oc"))
	inner := NewCache(outer)
	inner.Set([]byte("a"), []byte("ia"))
	inner.Delete([]byte("c"))
	inner.Delete([]byte("b"))

	all := func(kv KV) []pair { return collect(func(fn func(k, v []byte) bool) { kv.Iterate(nil, nil, true, fn) }) }
	require.Equal(t, []pair{{"a", "ia"}}, all(inner))
	require.Equal(t, []pair{{"a", "pa"}, {"b", "pb"}, {"c", "oc"}}, all(outer))

	// Discarding the inner cache keeps the outer's writes; writing it
	// applies to the outer only, and the store changes only on outer.Write.
	inner.Write()
	require.Equal(t, []pair{{"a", "ia"}}, all(outer))
	require.Equal(t, []pair{{"a", "pa"}, {"b", "pb"}}, all(store))
	outer.Write()
	require.Equal(t, []pair{{"a", "ia"}}, all(store))
}

func TestCacheWriteDuringIterate(t *testing.T) {
	c := NewCache(parentWith(t, "a", "1", "b", "2", "c", "3"))
	c.Set([]byte("ab"), []byte("x"))
	var seen []string
	c.Iterate(nil, nil, true, func(k, _ []byte) bool {
		seen = append(seen, string(k))
		c.Delete(k)                                  // delete what we visit
		c.Set([]byte("zz"+string(k)), []byte("new")) // not visited by this iteration
		return false
	})
	require.Equal(t, []string{"a", "ab", "b", "c"}, seen)
	var left []string
	c.Iterate(nil, nil, true, func(k, _ []byte) bool { left = append(left, string(k)); return false })
	require.Equal(t, []string{"zza", "zzab", "zzb", "zzc"}, left)
}

// BenchmarkCacheQueuePop is the end-of-block scheduler's access pattern: a
// queue in one Cache where each pass finds the first key of a prefix,
// deletes it and queues the next, n times. A cache that rescans the keys
// it deleted makes each pass cost O(passes so far), the block O(n²).
//
//	go test -run XXX -bench CacheQueuePop ./store/
func BenchmarkCacheQueuePop(b *testing.B) {
	for _, n := range []int{5_000, 20_000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			for range b.N {
				c := NewCache(NewMemory())
				c.Set(queueKey(0), []byte{1})
				for i := range n {
					var first []byte
					IteratePrefix(c, []byte("q/"), func(k, _ []byte) bool { first = append([]byte(nil), k...); return true })
					c.Delete(first)
					c.Set(queueKey(i+1), []byte{1})
				}
			}
		})
	}
}

func queueKey(i int) []byte { return api.Key([]byte("q/"), api.Uint64(uint64(i))) }

// A pass of the queue pattern above must not cost more the more keys the
// cache has deleted before it. Work is measured as bytes allocated, which
// the old cache spent copying every buffered write in range, deletions
// included, on every pass.
func TestCacheQueuePopDoesNotRescanDeletions(t *testing.T) {
	c := NewCache(NewMemory())
	pop := func(i int) {
		var first []byte
		IteratePrefix(c, []byte("q/"), func(k, _ []byte) bool { first = append([]byte(nil), k...); return true })
		require.Equal(t, queueKey(i), first)
		c.Delete(first)
		c.Set(queueKey(i+1), []byte{1})
	}
	c.Set(queueKey(0), []byte{1})
	perPass := func(from, passes int) uint64 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for i := from; i < from+passes; i++ {
			pop(i)
		}
		runtime.ReadMemStats(&after)
		return (after.TotalAlloc - before.TotalAlloc) / uint64(passes)
	}
	early := perPass(0, 200)
	for i := 200; i < 10_000; i++ {
		pop(i)
	}
	late := perPass(10_000, 200)
	require.Less(t, late, 2*early+1024, "a pass after 10,000 deletions allocated %d bytes, one after none %d", late, early)
}

// Cache.Write hands its buffered keys and values up to a Cache or a Store
// as they are (storedWriter); they are still the Cache's own copies, so a
// caller reusing its buffers after Set changes nothing up there.
func TestCacheWriteHandsOnItsOwnCopies(t *testing.T) {
	store := parentWith(t, "a", "pa")
	outer := NewCache(store)
	inner := NewCache(outer)
	key, value := []byte("b"), []byte("ib")
	inner.Set(key, value)
	inner.Set([]byte("e"), nil)
	inner.Delete([]byte("a"))
	copy(key, "x")
	copy(value, "xx")
	inner.Write()
	outer.Write()
	key[0], value[0] = 'y', 'y'
	require.Equal(t, []pair{{"b", "ib"}, {"e", string(Present)}},
		collect(func(fn func(k, v []byte) bool) { store.Iterate(nil, nil, true, fn) }))
	require.Nil(t, store.Get([]byte("x")))
}

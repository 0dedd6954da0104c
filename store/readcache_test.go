package store

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// requireSameReads checks that GetAtCached answers exactly as GetAt for
// every key at version, absent keys and empty values included.
func requireSameReads(t *testing.T, s *Store, version int64, keys [][]byte, step string) {
	t.Helper()
	for _, i := range rand.Perm(len(keys)) { // in any order: an evicting cache read in a cycle would never hit
		k := keys[i]
		want, err := s.GetAt(version, k)
		require.NoError(t, err)
		got, err := s.GetAtCached(version, k)
		require.NoError(t, err)
		require.Equal(t, want == nil, got == nil, "%s: presence of %s at %d", step, k, version)
		require.True(t, bytes.Equal(want, got), "%s: %s at %d: cached %q, tree %q", step, k, version, got, want)
	}
}

// Random blocks of sets, deletes, rewrites of the same value and rolled
// back writes, with the cache read before, during and after each block:
// every read through the cache is the tree's answer at that version. A
// Commit that kept a written key would fail it at once.
func TestReadCacheAnswersAsTheTree(t *testing.T) {
	for _, size := range []int{1 << 20, 2_000} { // large, and evicting
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			s := NewMemory()
			defer s.Close()
			s.EnableReadCache(size)
			rng := rand.New(rand.NewPCG(1, uint64(size)))
			keys := make([][]byte, 48)
			for i := range keys {
				keys[i] = fmt.Appendf(nil, "key/%02d", i)
			}
			s.Set(keys[0], []byte("genesis"))
			v, _ := commit(t, s)
			for block := range 60 {
				requireSameReads(t, s, v, keys, "before the block")
				if block%7 == 3 {
					s.Set(keys[rng.IntN(len(keys))], []byte("rolled back"))
					s.Rollback()
				}
				for range 1 + rng.IntN(8) {
					k := keys[rng.IntN(len(keys))]
					switch rng.IntN(4) {
					case 0:
						s.Delete(k)
					case 1:
						if old := s.Get(k); old != nil {
							s.Set(k, old) // the same value again
						}
					case 2:
						s.Set(k, nil) // stored as present
					default:
						s.Set(k, fmt.Appendf(nil, "v%d-%d", block, rng.IntN(1000)))
					}
				}
				requireSameReads(t, s, v, keys, "during the block")
				prev := v
				v, _ = commit(t, s)
				requireSameReads(t, s, v, keys, "after the commit")
				requireSameReads(t, s, prev, keys, "the version before")
			}
			st := s.ReadCacheStats()
			require.NotZero(t, st.Hits)
			require.LessOrEqual(t, st.Bytes, size)
		})
	}
}

// The cache holds at most its bound as it counts entries, evicts the oldest
// first, and counts each entry at least at what it costs the heap.
func TestReadCacheIsBoundedInBytes(t *testing.T) {
	key := func(i int) []byte { return fmt.Appendf(nil, "account/%014d", i) } // 22 bytes, like an account key
	value := bytes.Repeat([]byte{7}, 100)                                     // an account record

	c := newReadCache(20_000, 1)
	for i := range 1000 {
		c.put(1, key(i), value)
		require.LessOrEqual(t, c.stats().Bytes, 20_000)
	}
	_, ok := c.get(1, key(0))
	require.False(t, ok, "the oldest entry is evicted")
	got, ok := c.get(1, key(999))
	require.True(t, ok, "the newest entry is kept")
	require.Equal(t, value, got)
	c.put(1, key(0), bytes.Repeat([]byte{1}, 30_000)) // larger than the bound: not kept
	_, ok = c.get(1, key(0))
	require.False(t, ok)
	c.put(0, key(5000), value) // read at another version: not kept
	_, ok = c.get(1, key(5000))
	require.False(t, ok)

	const n = 20_000
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	big := newReadCache(1<<30, 1)
	for i := range n {
		big.put(1, key(i), value)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	measured := int(after.HeapAlloc-before.HeapAlloc) / n
	counted := big.stats().Bytes / n
	t.Logf("an entry of a %d-byte key and a %d-byte value: %d bytes of heap, counted %d", len(key(0)), len(value), measured, counted)
	require.LessOrEqual(t, measured, counted)
	runtime.KeepAlive(big)
}

// CheckTx reads the last saved version through the cache while the
// consensus goroutine writes and commits the next ones. Every answer must
// be the tree's at the version read, and, under -race (make test), the
// cache must be free of data races.
func TestConcurrentCachedReadsDuringCommits(t *testing.T) {
	s := NewMemory()
	defer s.Close()
	s.EnableReadCache(4_000) // small: reads evict while commits drop
	keys := make([][]byte, 32)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "k%02d", i)
		s.Set(keys[i], []byte("v0"))
	}
	commit(t, s)
	stop := make(chan struct{})
	errs := make(chan error, 4)
	var wg sync.WaitGroup
	for r := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				v, _ := s.LastCommit()
				k := keys[(i*7+r)%len(keys)]
				got, err := s.GetAtCached(v, k)
				if err == nil {
					var want []byte
					want, err = s.GetAt(v, k)
					if err == nil && !bytes.Equal(got, want) {
						err = fmt.Errorf("%s at %d: cached %q, tree %q", k, v, got, want)
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for block := 1; block <= 200; block++ {
		for i, k := range keys {
			switch {
			case (i+block)%5 == 0:
				s.Delete(k)
			case (i+block)%3 == 0:
				s.Set(k, fmt.Appendf(nil, "v%d", block))
			}
		}
		commit(t, s)
	}
	close(stop)
	wg.Wait()
	close(errs)
	require.NoError(t, <-errs)
	// The readers may have raced the commits without a hit (the writes wait
	// for Commit, so the blocks are quick): a read repeated now must hit.
	v, _ := s.LastCommit()
	for range 2 {
		_, err := s.GetAtCached(v, keys[0])
		require.NoError(t, err)
	}
	require.NotZero(t, s.ReadCacheStats().Hits)
}

// A cache enabled over a working tree that already holds writes still
// drops the written keys at the next Commit: the store records writes from
// Open, cache or not.
func TestReadCacheEnabledAfterWritesDropsThem(t *testing.T) {
	s := NewMemory()
	defer s.Close()
	k := []byte("k")
	s.Set(k, []byte("v1"))
	v, _ := commit(t, s)
	s.Set(k, []byte("v2")) // before the cache
	s.EnableReadCache(1 << 20)
	requireSameReads(t, s, v, [][]byte{k, k}, "before the commit")
	v, _ = commit(t, s)
	requireSameReads(t, s, v, [][]byte{k, k}, "after the commit")
	require.NotZero(t, s.ReadCacheStats().Hits)
}

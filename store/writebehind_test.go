package store

import (
	"fmt"
	"math/rand"
	"testing"

	dbm "github.com/cosmos/cosmos-db"
	"github.com/cosmos/iavl"
	idb "github.com/cosmos/iavl/db"
	"github.com/stretchr/testify/require"
)

// TestWriteBehindBuildsTheSameTree drives a Store and a bare IAVL tree,
// which applies every write the moment it is made, with the same random
// writes, reads, iterations, rollbacks and saves over a small key space,
// so that keys are inserted, rewritten, deleted, deleted while absent and
// set again within one version. Every read must agree, and so must the
// root hash at every point the Store's tree is brought up to date: the
// pending log and read values must change nothing the tree records.
//
// The memiavl engine runs the same sequences against the same bare IAVL
// tree: its working hash, saved hashes, reads and iterations must be IAVL
// v1's, rollbacks included.
func TestWriteBehindBuildsTheSameTree(t *testing.T) {
	for _, engine := range []string{EngineIAVL, EngineMemiavl} {
		for seed := int64(1); seed <= 4; seed++ {
			t.Run(fmt.Sprintf("engine=%s/seed=%d", engine, seed), func(t *testing.T) {
				testWriteBehind(t, engine, seed)
			})
		}
	}
}

func testWriteBehind(t *testing.T, engine string, seed int64) {
	{
		{
			rng := rand.New(rand.NewSource(seed))
			s := NewMemory()
			if engine == EngineMemiavl {
				var err error
				s, err = Open(Options{Engine: EngineMemiavl, Dir: t.TempDir()})
				require.NoError(t, err)
				defer s.Close()
			}
			bare := iavl.NewMutableTree(idb.NewWrapper(dbm.NewMemDB()), 1000, true, iavl.NewNopLogger())
			keys := 40 + rng.Intn(200)
			key := func() []byte { return []byte(fmt.Sprintf("k%03d", rng.Intn(keys))) }
			for op := 0; op < 3000; op++ {
				switch r := rng.Intn(100); {
				case r < 45:
					k, v := key(), []byte(fmt.Sprintf("v%d", op))
					s.Set(k, v)
					_, err := bare.Set(k, v)
					require.NoError(t, err)
				case r < 65:
					k := key()
					s.Delete(k)
					_, _, err := bare.Remove(k)
					require.NoError(t, err)
				case r < 90:
					k := key()
					want, err := bare.Get(k)
					require.NoError(t, err)
					require.Equal(t, want, s.Get(k), "Get %s at op %d", k, op)
					require.Equal(t, want != nil, s.Has(k))
				case r < 93:
					start, end := key(), key()
					asc := rng.Intn(2) == 0
					got := collect(func(fn func(k, v []byte) bool) { s.Iterate(start, end, asc, fn) })
					itr, err := bare.Iterator(start, end, asc)
					require.NoError(t, err)
					want := collect(func(fn func(k, v []byte) bool) { require.NoError(t, drain(itr, fn)) })
					require.Equal(t, want, got, "Iterate [%s, %s) at op %d", start, end, op)
				case r < 96:
					require.Equal(t, bare.WorkingHash(), s.WorkingHash(), "working hash at op %d", op)
				case r < 97:
					s.Rollback()
					bare.Rollback()
				default:
					_, hash := commit(t, s)
					want, _, err := bare.SaveVersion()
					require.NoError(t, err)
					require.Equal(t, want, hash, "saved hash at op %d", op)
				}
			}
			_, hash := commit(t, s)
			want, _, err := bare.SaveVersion()
			require.NoError(t, err)
			require.Equal(t, want, hash)
		}
	}
}

// TestWriteBehindReadsFollowWrites checks the read values against writes,
// rollbacks and saves on one key: a value read before a write is never
// returned after it.
// TestFlushAppliesTheWaitingWrites: Flush puts the logged writes into the
// engine's working tree at once, leaving nothing waiting, and is refused
// inside Iterate like any write.
func TestFlushAppliesTheWaitingWrites(t *testing.T) {
	for _, engine := range []string{EngineIAVL, EngineMemiavl} {
		t.Run(engine, func(t *testing.T) {
			s, err := Open(Options{Engine: engine, Dir: t.TempDir()})
			require.NoError(t, err)
			defer s.Close()
			s.Set([]byte("a"), []byte("1"))
			s.Set([]byte("b"), []byte("2"))
			s.Delete([]byte("b"))
			v, err := s.eng.get([]byte("a"))
			require.NoError(t, err)
			require.Nil(t, v, "before Flush the write waits in the log")
			require.Len(t, s.pending.log, 3)

			s.Flush()
			require.Empty(t, s.pending.log)
			v, err = s.eng.get([]byte("a"))
			require.NoError(t, err)
			require.Equal(t, []byte("1"), v)
			v, err = s.eng.get([]byte("b"))
			require.NoError(t, err)
			require.Nil(t, v)

			require.PanicsWithValue(t, "store: Flush called during Store.Iterate; buffer writes in a Cache", func() {
				s.Iterate(nil, nil, true, func(_, _ []byte) bool { s.Flush(); return true })
			})
		})
	}
}

func TestWriteBehindReadsFollowWrites(t *testing.T) {
	s := NewMemory()
	k := []byte("k")
	require.Nil(t, s.Get(k))
	s.Set(k, []byte("1"))
	require.Equal(t, []byte("1"), s.Get(k))
	commit(t, s)
	require.Equal(t, []byte("1"), s.Get(k))
	s.Delete(k)
	require.Nil(t, s.Get(k))
	require.Equal(t, mustHashAt(t, s, 1), s.eng.(*iavlEngine).tree.WorkingHash(), "nothing reached the tree before it had to")
	s.WorkingHash()
	require.Nil(t, s.Get(k))
	s.Rollback()
	require.Equal(t, []byte("1"), s.Get(k), "a rollback restores the saved value")
	s.Set(k, []byte("2"))
	s.Rollback()
	require.Equal(t, []byte("1"), s.Get(k))
}

func mustHashAt(t *testing.T, s *Store, v int64) []byte {
	h, err := s.HashAt(v)
	require.NoError(t, err)
	return h
}

// A genesis logs millions of writes; the log must not keep that array, which
// the collector would scan at every cycle, for every block after it.
func TestWriteBehindDropsAnArrayFarLargerThanItsUse(t *testing.T) {
	var w writeBehind
	w.reset()
	noop := func(key, value []byte) {}
	for i := 0; i < 4*minReusedLog; i++ {
		w.write(fmt.Sprintf("genesis/%d", i), []byte{1})
	}
	w.apply(noop, noop)
	w.write("block/1", []byte{1})
	w.apply(noop, noop)
	require.LessOrEqual(t, cap(w.log), minReusedLog, "the genesis's array was kept")

	// A block's array is kept for the next block.
	for i := 0; i < 1000; i++ {
		w.write(fmt.Sprintf("block/%d", i), []byte{1})
	}
	w.apply(noop, noop)
	kept := cap(w.log)
	require.GreaterOrEqual(t, kept, 1000)
	w.write("block/x", []byte{1})
	w.reset()
	require.Equal(t, kept, cap(w.log), "a block-sized array was not kept")
	require.Empty(t, w.log)
}

package store

import (
	"fmt"
	"testing"

	dbm "github.com/cosmos/cosmos-db"
	"github.com/cosmos/iavl"
	idb "github.com/cosmos/iavl/db"
	"github.com/stretchr/testify/require"
)

// saveScript writes version v of a small state: v=1 creates keys, later
// versions update some, add some and remove some, so a save writes fast
// index additions and removals as well as tree nodes.
func saveScript(kv interface {
	Set(key, value []byte)
	Delete(key []byte)
}, v int) {
	if v == 1 {
		for i := 0; i < 40; i++ {
			kv.Set([]byte(fmt.Sprintf("k%02d", i)), []byte("v1"))
		}
		return
	}
	for i := v; i < 40; i += 3 {
		kv.Set([]byte(fmt.Sprintf("k%02d", i)), []byte(fmt.Sprintf("v%d", v)))
	}
	kv.Set([]byte(fmt.Sprintf("new%d", v)), []byte("x"))
	for i := v; i < 40; i += 7 {
		kv.Delete([]byte(fmt.Sprintf("k%02d", i)))
	}
}

// crashed runs f and reports whether it panicked, as a crash probe makes it.
func crashed(f func()) (panicked bool) {
	defer func() { panicked = recover() != nil }()
	f()
	return false
}

// A process that dies in the middle of saving a version — IAVL has split
// it into chunks and handed over all but the last — leaves the previous
// version on disk, whole: it reopens at that version, reads (through IAVL's
// fast index too) see exactly that version, and saving the same changes
// again gives the hash of a run that never stopped.
func TestCrashMidSaveLeavesPreviousVersion(t *testing.T) {
	for _, backend := range []string{"goleveldb", "pebbledb"} {
		t.Run(backend, func(t *testing.T) {
			ref := NewMemory()
			refHashes := map[int64][]byte{}
			for v := 1; v <= 4; v++ {
				saveScript(ref, v)
				_, refHashes[int64(v)] = commit(t, ref)
			}

			dir := t.TempDir()
			var midSaves []int64
			s := openLevel(t, dir, Options{Backend: backend, FlushThreshold: 1, Probe: func(at ProbePoint, v int64) {
				if at == ProbeMidSave {
					midSaves = append(midSaves, v)
					if v == 3 {
						panic("crash mid-save")
					}
				}
			}})
			for v := 1; v <= 2; v++ {
				saveScript(s, v)
				commit(t, s)
			}
			want := collect(func(fn func(k, v []byte) bool) { s.Iterate(nil, nil, true, fn) })
			saveScript(s, 3)
			require.True(t, crashed(func() { _, _, _ = s.Commit() }), "the probe did not stop the save")
			require.Equal(t, []int64{1, 2, 3}, midSaves, "every save was split, the crash came in the third")
			require.NoError(t, s.Close())

			s = openLevel(t, dir, Options{Backend: backend})
			defer s.Close()
			v, h := s.LastCommit()
			require.Equal(t, int64(2), v)
			require.Equal(t, refHashes[2], h)
			require.Equal(t, versions(1, 2), s.AvailableVersions())
			require.Equal(t, want, collect(func(fn func(k, v []byte) bool) { s.Iterate(nil, nil, true, fn) }))
			require.Equal(t, []byte("v1"), s.Get([]byte("k03")), "a key version 3 removed")
			require.Equal(t, []byte("v1"), s.Get([]byte("k06")), "a key version 3 updated")
			require.Nil(t, s.Get([]byte("new3")), "a key version 3 added")

			for v := 3; v <= 4; v++ {
				saveScript(s, v)
				_, h := commit(t, s)
				require.Equal(t, refHashes[int64(v)], h, "version %d", v)
			}
		})
	}
}

// The probe reports the version Open loaded, then for each Commit the
// middle of the save (only when IAVL split it) and the saved version.
func TestProbeReportsOpenAndSavePoints(t *testing.T) {
	type call struct {
		at ProbePoint
		v  int64
	}
	for _, tt := range []struct {
		name      string
		threshold int
		want      []call
	}{
		{"a version in one chunk", 0, []call{{ProbeOpened, 0}, {ProbeSaved, 1}, {ProbeOpened, 1}, {ProbeSaved, 2}}},
		{"every version split", 1, []call{{ProbeOpened, 0}, {ProbeMidSave, 1}, {ProbeSaved, 1}, {ProbeOpened, 1}, {ProbeMidSave, 2}, {ProbeSaved, 2}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var got []call
			opts := Options{FlushThreshold: tt.threshold, Probe: func(at ProbePoint, v int64) { got = append(got, call{at, v}) }}
			s := openLevel(t, dir, opts)
			saveScript(s, 1)
			commit(t, s)
			require.NoError(t, s.Close())
			s = openLevel(t, dir, opts)
			saveScript(s, 2)
			commit(t, s)
			require.NoError(t, s.Close())
			require.Equal(t, tt.want, got)
		})
	}
}

// cutDB lets only the first keep non-empty writes of IAVL's batches reach
// the database once armed, as if the process died after them.
type cutDB struct {
	dbm.DB
	armed  bool
	keep   int
	writes int
}

func (d *cutDB) NewBatch() dbm.Batch { return &cutBatch{Batch: d.DB.NewBatch(), db: d} }

func (d *cutDB) NewBatchWithSize(n int) dbm.Batch {
	return &cutBatch{Batch: d.DB.NewBatchWithSize(n), db: d}
}

type cutBatch struct {
	dbm.Batch
	db  *cutDB
	ops int
}

func (b *cutBatch) Set(k, v []byte) error { b.ops++; return b.Batch.Set(k, v) }
func (b *cutBatch) Delete(k []byte) error { b.ops++; return b.Batch.Delete(k) }
func (b *cutBatch) Write() error          { return b.write(b.Batch.Write) }
func (b *cutBatch) WriteSync() error      { return b.write(b.Batch.WriteSync) }

func (b *cutBatch) write(write func() error) error {
	if !b.db.armed || b.ops == 0 {
		return write()
	}
	if b.db.writes >= b.db.keep {
		return nil // dead: nothing more reaches the disk
	}
	b.db.writes++
	return write()
}

// Why save.go exists: IAVL on its own, killed between the chunks of a
// version, leaves a database it cannot load, or one whose fast index
// disagrees with the tree. If this test fails after an IAVL upgrade, IAVL
// may have fixed it; re-read save.go.
func TestIAVLAloneCannotRecoverFromAPartialVersion(t *testing.T) {
	open := func(db dbm.DB) *iavl.MutableTree {
		return iavl.NewMutableTree(idb.NewWrapper(db), 1000, false, iavl.NewNopLogger(), iavl.SyncOption(true), iavl.FlushThresholdOption(1))
	}
	// saveCut saves versions 1 and 2, then version 3 with only the first
	// keep chunks reaching the disk, and reopens the database.
	saveCut := func(t *testing.T, keep func(total int) int) (*iavl.MutableTree, error) {
		count := &cutDB{DB: dbm.NewMemDB(), armed: true, keep: 1 << 30}
		tree := open(count)
		_, err := tree.Load()
		require.NoError(t, err)
		for v := 1; v <= 3; v++ {
			if v == 3 {
				count.writes = 0
			}
			saveScript(treeKV{tree}, v)
			_, _, err := tree.SaveVersion()
			require.NoError(t, err)
		}

		dir := t.TempDir()
		raw, err := dbm.NewDB("cut", dbm.GoLevelDBBackend, dir)
		require.NoError(t, err)
		cut := &cutDB{DB: raw}
		tree = open(cut)
		_, err = tree.Load()
		require.NoError(t, err)
		for v := 1; v <= 3; v++ {
			if v == 3 {
				cut.armed, cut.keep = true, keep(count.writes)
			}
			saveScript(treeKV{tree}, v)
			_, _, err := tree.SaveVersion()
			require.NoError(t, err)
		}
		require.NoError(t, tree.Close())
		require.NoError(t, raw.Close())

		raw, err = dbm.NewDB("cut", dbm.GoLevelDBBackend, dir)
		require.NoError(t, err)
		t.Cleanup(func() { raw.Close() })
		tree = open(raw)
		_, err = tree.Load()
		return tree, err
	}

	t.Run("cut in the tree nodes: Load fails", func(t *testing.T) {
		_, err := saveCut(t, func(total int) int { return total - 1 })
		require.ErrorIs(t, err, iavl.ErrVersionDoesNotExist)
	})
	t.Run("cut in the fast index: reads disagree with the tree", func(t *testing.T) {
		tree, err := saveCut(t, func(int) int { return 2 })
		require.NoError(t, err)
		require.Equal(t, int64(2), tree.Version())
		// Version 2 holds k06 = v1; version 3 set it to v3 and that fast
		// index entry reached the disk.
		itr, err := tree.Iterator([]byte("k06"), []byte("k07"), true)
		require.NoError(t, err)
		defer itr.Close()
		require.True(t, itr.Valid())
		require.Equal(t, "v3", string(itr.Value()))
		got, err := tree.GetImmutable(2)
		require.NoError(t, err)
		v, err := got.Get([]byte("k06"))
		require.NoError(t, err)
		require.Equal(t, "v1", string(v))
	})
}

// treeKV is the part of KV saveScript uses, on a bare IAVL tree.
type treeKV struct{ tree *iavl.MutableTree }

func (kv treeKV) Set(k, v []byte) {
	if _, err := kv.tree.Set(k, v); err != nil {
		panic(err)
	}
}

func (kv treeKV) Delete(k []byte) {
	if _, _, err := kv.tree.Remove(k); err != nil {
		panic(err)
	}
}

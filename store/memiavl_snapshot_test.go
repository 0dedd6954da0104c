package store

import (
	"fmt"
	"math/rand"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/client"
)

// writeBlocks commits n blocks of writes to every store, the same writes
// to each: new keys, rewrites and deletes, from seed.
func writeBlocks(t *testing.T, seed int64, n int, stores ...*Store) (last int64, root []byte) {
	t.Helper()
	rng := rand.New(rand.NewSource(seed))
	for b := 0; b < n; b++ {
		type w struct {
			k, v string
			del  bool
		}
		var ws []w
		for i := 0; i < 40; i++ {
			k := fmt.Sprintf("acct/%04d", rng.Intn(600))
			switch rng.Intn(8) {
			case 0:
				ws = append(ws, w{k: k, del: true})
			default:
				ws = append(ws, w{k: k, v: fmt.Sprintf("v%d-%d", seed, rng.Int63())})
			}
		}
		for i, s := range stores {
			for _, x := range ws {
				if x.del {
					s.Delete([]byte(x.k))
				} else {
					s.Set([]byte(x.k), []byte(x.v))
				}
			}
			v, h := commit(t, s)
			if i == 0 {
				last, root = v, h
			} else {
				require.Equal(t, last, v)
				require.Equal(t, root, h, "block %d: the engines' roots differ", b)
			}
		}
	}
	return last, root
}

// exportAll returns the nodes of version, in export order.
func exportAll(t *testing.T, s *Store, version int64) []Node {
	t.Helper()
	var nodes []Node
	require.NoError(t, s.Export(version, func(n *Node) error {
		nodes = append(nodes, *n)
		return nil
	}))
	require.NotEmpty(t, nodes)
	return nodes
}

// restoreAll restores nodes as version into s and finishes with want.
func restoreAll(t *testing.T, s *Store, version int64, nodes []Node, want []byte) error {
	t.Helper()
	r, err := s.BeginRestore(version)
	require.NoError(t, err)
	for i := range nodes {
		if err := r.Add(&nodes[i]); err != nil {
			require.NoError(t, r.Abort())
			return err
		}
	}
	return r.Finish(want)
}

func openEngine(t *testing.T, engine string, interval uint32) *Store {
	t.Helper()
	s, err := Open(Options{Engine: engine, Dir: t.TempDir(), SnapshotInterval: interval, CacheSize: 1000})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// A state-sync snapshot is the same stream of nodes on both engines, at a
// version memiavl wrote a snapshot of (its snapshot's own walk) and at one
// it holds as a snapshot plus log (a walk of the tree it loads), so a node
// on one engine can restore a snapshot served by nodes on the other.
func TestSnapshotsAreTheSameOnBothEngines(t *testing.T) {
	iavlStore := openEngine(t, EngineIAVL, 0)
	mem := openEngine(t, EngineMemiavl, 4)
	for _, blocks := range []int{8, 3} { // version 8 is memiavl's snapshot of 8; 11 is 8 plus 3 of its log
		last, _ := writeBlocks(t, int64(blocks), blocks, iavlStore, mem)
		want := exportAll(t, iavlStore, last)
		got := exportAll(t, mem, last)
		require.Equal(t, len(want), len(got), "version %d", last)
		for i := range want {
			require.Equal(t, want[i], got[i], "version %d node %d", last, i)
		}
	}
}

// Either engine restores a snapshot exported by the other: the same app
// hash, the same reads and proofs, a reopened store at the restored
// version, and the same roots for the blocks that follow.
func TestRestoreAcrossEngines(t *testing.T) {
	for _, c := range []struct{ from, to string }{{EngineIAVL, EngineMemiavl}, {EngineMemiavl, EngineIAVL}, {EngineMemiavl, EngineMemiavl}} {
		t.Run(c.from+"_to_"+c.to, func(t *testing.T) {
			src := openEngine(t, c.from, 5)
			last, root := writeBlocks(t, 1, 13, src)
			nodes := exportAll(t, src, last)

			dir := t.TempDir()
			dst, err := Open(Options{Engine: c.to, Dir: dir, SnapshotInterval: 5, CacheSize: 1000})
			require.NoError(t, err)
			require.NoError(t, restoreAll(t, dst, last, nodes, root))
			v, h := dst.LastCommit()
			require.Equal(t, last, v)
			require.Equal(t, root, h)
			key := []byte("acct/0007")
			want, err := src.GetAt(last, key)
			require.NoError(t, err)
			got, err := dst.GetAt(last, key)
			require.NoError(t, err)
			require.Equal(t, want, got)
			value, proof, err := dst.Prove(last, key)
			require.NoError(t, err)
			require.NoError(t, client.VerifyProof(root, key, value, proof))
			require.Equal(t, want, dst.Get(key), "the working tree starts at the restored version")

			require.NoError(t, dst.Close())
			dst, err = Open(Options{Engine: c.to, Dir: dir, SnapshotInterval: 5, CacheSize: 1000})
			require.NoError(t, err)
			defer dst.Close()
			v, h = dst.LastCommit()
			require.Equal(t, last, v, "after a reopen")
			require.Equal(t, root, h, "after a reopen")
			writeBlocks(t, 2, 12, src, dst) // across memiavl snapshot switches
		})
	}
}

// Nodes that are not the trusted tree are refused with ErrRestoreRefused,
// never a crash of memiavl's importer, and leave the store empty, ready
// for the true snapshot.
func TestMemiavlRefusesHostileRestores(t *testing.T) {
	src := openEngine(t, EngineIAVL, 0)
	last, root := writeBlocks(t, 3, 4, src)
	nodes := exportAll(t, src, last)
	leaf := Node{Key: []byte("k"), Value: []byte("v"), Version: 1}
	inner := Node{Key: []byte("k"), Version: 1, Height: 1}

	var tooMany []Node
	for i := 0; i <= memMaxPendingSubtrees; i++ {
		tooMany = append(tooMany, Node{Key: []byte(fmt.Sprint(i)), Value: []byte("v"), Version: 1})
	}
	changed := append([]Node(nil), nodes...)
	changed[0].Value = []byte("forged")
	cases := map[string][]Node{
		"an inner node first":                {inner, leaf},
		"an inner node over one subtree":     {leaf, inner},
		"subtrees that never join":           {leaf, leaf},
		"more open subtrees than levels":     tooMany,
		"a changed value":                    changed,
		"the tree without its root":          nodes[:len(nodes)-1],
		"a leaf of a later version":          append([]Node{{Key: []byte("k"), Value: []byte("v"), Version: last + 1}}, nodes...),
		"the nodes of another tree's height": append(append([]Node(nil), nodes...), leaf, inner),
	}
	dir := t.TempDir()
	s, err := Open(Options{Engine: EngineMemiavl, Dir: dir})
	require.NoError(t, err)
	defer s.Close()
	for name, bad := range cases {
		err := restoreAll(t, s, last, bad, root)
		require.ErrorIs(t, err, ErrRestoreRefused, name)
		v, h := s.LastCommit()
		require.Zero(t, v, name)
		require.Nil(t, h, name)
		require.Nil(t, s.AvailableVersions(), name)
	}
	_, err = s.BeginRestore(memMaxRestoreVersion + 1)
	require.ErrorIs(t, err, ErrRestoreRefused)

	require.NoError(t, restoreAll(t, s, last, nodes, root), "the true snapshot after the false ones")
	v, h := s.LastCommit()
	require.Equal(t, last, v)
	require.Equal(t, root, h)
}

// An export on memiavl reads its version while blocks commit and memiavl
// writes, switches to and prunes its snapshots: the nodes are those of the
// version when the export began (run with -race: the export's database
// shares no memory with the consensus one).
func TestMemiavlExportsWhileItCommits(t *testing.T) {
	iavlStore := openEngine(t, EngineIAVL, 0)
	mem := openEngine(t, EngineMemiavl, 2)
	last, _ := writeBlocks(t, 4, 5, iavlStore, mem)
	want := exportAll(t, iavlStore, last)

	release, err := mem.Hold(last)
	require.NoError(t, err)
	started, committed := make(chan struct{}), make(chan struct{})
	var got []Node
	var exportErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer release()
		exportErr = mem.Export(last, func(n *Node) error {
			if len(got) == 0 {
				close(started)
				<-committed // the rest of the walk after the blocks below
			}
			got = append(got, *n)
			return nil
		})
	}()
	<-started
	before := mem.eng.(*memEngine).db.SnapshotVersion()
	writeBlocks(t, 5, 30, mem)
	close(committed)
	wg.Wait()
	require.NoError(t, exportErr)
	require.Greater(t, mem.eng.(*memEngine).db.SnapshotVersion(), before, "memiavl switched snapshots meanwhile")
	require.Equal(t, want, got)
}

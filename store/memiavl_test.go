package store

import (
	"bytes"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/crypto-org-chain/cronos/memiavl"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/client"
)

// Decision evidence for replacing IAVL v1 by memiavl (docs/storage-write-path.md):
// memiavl must build, from the writes Tally's write-behind log hands the
// tree, the same root hash at every version, and the same ICS23 proofs.

// memTree is a memiavl database behind the same write-behind log as Store
// (writebehind.go): reads see the log, then the values read, then the
// tree; Commit hands the log to memiavl in its order, as one change set.
type memTree struct {
	db      *memiavl.DB
	dir     string
	pending writeBehind
	// syncWAL fsyncs the write-ahead log's files after each Commit:
	// memiavl v0.1.0 opens its log with NoSync, so without it a commit is
	// in the page cache, not on disk, when Commit returns.
	syncWAL bool
	// tamper, when set, may change a version's change set before memiavl
	// gets it (tests show the comparison can fail).
	tamper func(version int64, pairs []*memiavl.KVPair) []*memiavl.KVPair
}

// openMemTree opens (or creates) a memiavl database in dir that writes a
// full snapshot every interval versions, with its write-ahead log written
// synchronously at each Commit (AsyncCommitBuffer -1).
func openMemTree(dir string, interval uint32, initialVersion uint32, syncWAL bool) (*memTree, error) {
	db, err := memiavl.Load(dir, memiavl.Options{
		CreateIfMissing:   true,
		InitialStores:     []string{memTreeName},
		InitialVersion:    initialVersion,
		SnapshotInterval:  interval,
		AsyncCommitBuffer: -1,
	})
	if err != nil {
		return nil, err
	}
	m := &memTree{db: db, dir: dir, syncWAL: syncWAL}
	m.pending.reset()
	return m, nil
}

func (m *memTree) tree() *memiavl.Tree { return m.db.TreeByName(memTreeName) }

func (m *memTree) Get(key []byte) []byte {
	if v, ok := m.pending.logged(key); ok {
		return v
	}
	if v, ok := m.pending.reads[string(key)]; ok {
		return v
	}
	v := m.tree().Get(key)
	m.pending.reads[string(key)] = v
	return v
}

func (m *memTree) Set(key, value []byte) { m.pending.write(string(key), storedValue(value)) }

func (m *memTree) Delete(key []byte) { m.pending.write(string(key), nil) }

// Commit applies the logged writes in order, saves the version and
// returns it with the tree's root hash (the app hash; not memiavl's commit
// info hash, which hashes the roots of all its trees).
func (m *memTree) Commit() (int64, []byte, error) {
	var pairs []*memiavl.KVPair
	m.pending.apply(func(key, value []byte) {
		pairs = append(pairs, &memiavl.KVPair{Key: key, Value: value})
	}, func(key, _ []byte) {
		pairs = append(pairs, &memiavl.KVPair{Key: key, Delete: true})
	})
	m.pending.forgetReads()
	if m.tamper != nil {
		pairs = m.tamper(m.db.WorkingCommitInfo().Version, pairs)
	}
	if err := m.db.ApplyChangeSet(memTreeName, memiavl.ChangeSet{Pairs: pairs}); err != nil {
		return 0, nil, err
	}
	v, err := m.db.Commit()
	if err != nil {
		return 0, nil, err
	}
	if m.syncWAL {
		if err := syncLog(filepath.Join(m.dir, "wal")); err != nil {
			return 0, nil, err
		}
	}
	return v, m.tree().RootHash(), nil
}

func (m *memTree) Close() error { return closeMemiavl(m.db) }

// engineKV is what the comparison drives: a Store or a memTree.
type engineKV interface {
	Get(key []byte) []byte
	Set(key, value []byte)
	Delete(key []byte)
	Commit() (int64, []byte, error)
}

// engineBlocks is a deterministic sequence of blocks of reads and writes:
// new keys, rewrites of keys of earlier blocks, deletes of present and
// absent keys, a key set again after its delete in the same block, and
// rewrites of a few hot keys several times a block.
type engineOp struct {
	kind  byte // 'g' get, 's' set, 'd' delete
	key   []byte
	value []byte
}

func engineBlocks(seed int64, blocks, opsPerBlock int) [][]engineOp {
	rng := rand.New(rand.NewSource(seed))
	var present [][]byte
	next := 0
	newKey := func() []byte {
		next++
		// not in insertion order: keys land all over the tree
		return []byte(fmt.Sprintf("acct/%08x/%d", rng.Uint32(), next))
	}
	value := func() []byte {
		v := make([]byte, 100+rng.Intn(200))
		rng.Read(v)
		return v
	}
	hot := [][]byte{[]byte("agency/treasury"), []byte("agency/benefits"), []byte("total/vat")}
	var out [][]engineOp
	for b := 0; b < blocks; b++ {
		var ops []engineOp
		for i := 0; i < opsPerBlock; i++ {
			switch r := rng.Intn(100); {
			case r < 30 || len(present) == 0:
				k := newKey()
				present = append(present, k)
				ops = append(ops, engineOp{kind: 's', key: k, value: value()})
			case r < 55:
				k := present[rng.Intn(len(present))]
				ops = append(ops, engineOp{kind: 'g', key: k}, engineOp{kind: 's', key: k, value: value()})
			case r < 65:
				h := hot[rng.Intn(len(hot))]
				ops = append(ops, engineOp{kind: 'g', key: h}, engineOp{kind: 's', key: h, value: value()})
			case r < 75:
				j := rng.Intn(len(present))
				k := present[j]
				present = slices.Delete(present, j, j+1)
				ops = append(ops, engineOp{kind: 'd', key: k})
				if rng.Intn(3) == 0 { // set again after its delete, in the same block
					present = append(present, k)
					ops = append(ops, engineOp{kind: 's', key: k, value: value()})
				}
			case r < 80:
				ops = append(ops, engineOp{kind: 'd', key: []byte(fmt.Sprintf("absent/%d", rng.Intn(1000)))})
			default:
				ops = append(ops, engineOp{kind: 'g', key: present[rng.Intn(len(present))]})
			}
		}
		out = append(out, ops)
	}
	return out
}

// runEngineBlocks applies blocks to both engines and returns the first
// version at which their root hashes differ (0 if none), and the last
// version and its root hash. Reads must agree unless skipReads (once a
// root differs, the states may).
func runEngineBlocks(t *testing.T, blocks [][]engineOp, a, b engineKV, skipReads bool, after func(block int)) (differs, last int64, root []byte) {
	t.Helper()
	for i, ops := range blocks {
		for _, op := range ops {
			switch op.kind {
			case 'g':
				if !skipReads {
					require.Equal(t, a.Get(op.key), b.Get(op.key), "block %d: get %s", i, op.key)
				}
			case 's':
				a.Set(op.key, op.value)
				b.Set(op.key, op.value)
			case 'd':
				a.Delete(op.key)
				b.Delete(op.key)
			}
		}
		va, ha, err := a.Commit()
		require.NoError(t, err)
		vb, hb, err := b.Commit()
		require.NoError(t, err)
		require.Equal(t, va, vb, "block %d: versions", i)
		if differs == 0 && !bytes.Equal(ha, hb) {
			differs = va
		}
		last, root = va, ha
		if after != nil {
			after(i)
		}
	}
	return differs, last, root
}

// TestMemiavlBuildsIAVLsRoots applies the same blocks to Tally's Store (IAVL
// v1 on goleveldb on disk) and to memiavl behind the same write-behind log,
// with the Store's initial version handling (1, and a chain starting at
// height 7 through SetInitialVersion, as InitChain does), and requires the
// same root hash at every version; snapshots written after blocks 6 and 10
// and mapped back in make memiavl change and hash nodes read from its
// snapshot files, not only from memory. memiavl reopened from its snapshot
// and log has the last root.
// A membership and a non-membership proof from memiavl verify against the
// root with the client's verifier, byte for byte the proofs the Store
// gives. Reordering or dropping one write for memiavl alone moves its
// root: the comparison can fail.
func TestMemiavlBuildsIAVLsRoots(t *testing.T) {
	blocks := engineBlocks(1, 14, 600)
	for _, initial := range []int64{1, 7} {
		t.Run(fmt.Sprint("initial=", initial), func(t *testing.T) {
			s, err := Open(Options{Dir: t.TempDir(), CacheSize: 1000})
			require.NoError(t, err)
			defer s.Close()
			if initial > 1 {
				require.NoError(t, s.SetInitialVersion(initial))
			}
			dir := t.TempDir()
			m, err := openMemTree(dir, 1000, uint32(initial), true)
			require.NoError(t, err)
			differs, last, root := runEngineBlocks(t, blocks, s, m, false, func(block int) {
				if block == 5 || block == 9 {
					// The tree so far to a snapshot, mapped back in: later
					// blocks change and hash nodes read from its files.
					require.NoError(t, m.db.RewriteSnapshot())
					require.NoError(t, m.db.Reload())
					require.Equal(t, initial+int64(block), m.db.SnapshotVersion())
				}
			})
			require.Zero(t, differs, "the roots differ from version %d on", differs)
			require.Equal(t, initial+int64(len(blocks))-1, last)
			require.Equal(t, root, m.tree().RootHash())

			// Proofs of a present and of an absent key.
			present := blocks[len(blocks)-1][0].key
			value := s.Get(present)
			require.NotNil(t, value)
			wantValue, wantP, err := s.Prove(last, present)
			require.NoError(t, err)
			require.Equal(t, value, wantValue)
			gotP, err := m.tree().GetMembershipProof(present)
			require.NoError(t, err)
			require.NoError(t, client.VerifyProof(root, present, value, gotP), "memiavl's membership proof")
			require.NoError(t, client.VerifyProof(root, present, value, wantP), "IAVL v1's membership proof")
			require.Error(t, client.VerifyProof(root, present, append(slices.Clone(value), 0), gotP), "a proof of another value")
			requireSameProof(t, wantP.Marshal, gotP.Marshal)

			absent := []byte("acct/8")
			require.Nil(t, s.Get(absent))
			_, wantN, err := s.Prove(last, absent)
			require.NoError(t, err)
			gotN, err := m.tree().GetNonMembershipProof(absent)
			require.NoError(t, err)
			require.NoError(t, client.VerifyProof(root, absent, nil, gotN), "memiavl's non-membership proof")
			requireSameProof(t, wantN.Marshal, gotN.Marshal)

			// Reopened from its snapshot and write-ahead log.
			require.NoError(t, m.Close())
			m, err = openMemTree(dir, 1000, uint32(initial), true)
			require.NoError(t, err)
			defer m.Close()
			require.Equal(t, last, m.db.Version())
			require.Equal(t, root, m.tree().RootHash(), "memiavl reopened")
		})
	}

	// Each change applies to version 5's change set, given the tree it is
	// applied to.
	tampered := map[string]func(tree *memiavl.Tree, pairs []*memiavl.KVPair) []*memiavl.KVPair{
		// the block's first insert of a new key made last instead
		"reordered": func(tree *memiavl.Tree, pairs []*memiavl.KVPair) []*memiavl.KVPair {
			i := slices.IndexFunc(pairs, func(p *memiavl.KVPair) bool { return !p.Delete && tree.Get(p.Key) == nil })
			out := slices.Delete(slices.Clone(pairs), i, i+1)
			return append(out, pairs[i])
		},
		// the block's first write left out
		"dropped": func(_ *memiavl.Tree, pairs []*memiavl.KVPair) []*memiavl.KVPair {
			return slices.Clone(pairs[1:])
		},
	}
	for name, change := range tampered {
		t.Run(name, func(t *testing.T) {
			s, err := Open(Options{Dir: t.TempDir(), CacheSize: 1000})
			require.NoError(t, err)
			defer s.Close()
			m, err := openMemTree(t.TempDir(), 4, 1, false)
			require.NoError(t, err)
			defer m.Close()
			m.tamper = func(version int64, pairs []*memiavl.KVPair) []*memiavl.KVPair {
				if version != 5 {
					return pairs
				}
				return change(m.tree(), pairs)
			}
			differs, _, _ := runEngineBlocks(t, blocks[:8], s, m, true, nil)
			require.Equal(t, int64(5), differs, "a %s write must move memiavl's root from the tampered version on, not before", name)
		})
	}
}

func requireSameProof(t *testing.T, want, got func() ([]byte, error)) {
	t.Helper()
	w, err := want()
	require.NoError(t, err)
	g, err := got()
	require.NoError(t, err)
	require.Equal(t, w, g, "memiavl's proof is not byte for byte IAVL v1's")
}

// TestMemiavlEngine drives a Store on the memiavl engine and one on IAVL v1
// with the same blocks, then checks the latest-version readers against
// IAVL's, the refusals of what the engine does not do, and a reopen.
func TestMemiavlEngine(t *testing.T) {
	blocks := engineBlocks(2, 10, 400)
	want, err := Open(Options{Dir: t.TempDir(), CacheSize: 1000})
	require.NoError(t, err)
	defer want.Close()
	dir := t.TempDir()
	// No snapshot switch of memiavl's own: it would drop the kept
	// versions at a moment this test does not choose
	// (TestMemiavlEngineSnapshotSwitch).
	s, err := Open(Options{Engine: EngineMemiavl, Dir: dir, SnapshotInterval: 1000})
	require.NoError(t, err)
	differs, last, root := runEngineBlocks(t, blocks, want, s, false, nil)
	require.Zero(t, differs, "the roots differ from version %d on", differs)
	v, h := s.LastCommit()
	require.Equal(t, last, v)
	require.Equal(t, root, h)
	require.Equal(t, []int{int(last) - 2, int(last) - 1, int(last)}, s.AvailableVersions())
	hash, err := s.HashAt(last)
	require.NoError(t, err)
	require.Equal(t, root, hash)

	// Reads of the latest version are IAVL's, listings across chunks too.
	for _, asc := range []bool{true, false} {
		var got, exp []pair
		require.NoError(t, want.IterateAt(last, nil, nil, asc, func(k, v []byte) bool { exp = append(exp, pair{string(k), string(v)}); return false }))
		require.NoError(t, s.IterateAt(last, nil, nil, asc, func(k, v []byte) bool { got = append(got, pair{string(k), string(v)}); return false }))
		require.Greater(t, len(exp), 3*memIterateChunk)
		require.Equal(t, exp, got, "ascending %v", asc)
	}
	key := blocks[len(blocks)-1][0].key
	for _, k := range [][]byte{key, []byte("acct/8")} {
		wv, err := want.GetAt(last, k)
		require.NoError(t, err)
		gv, err := s.GetAt(last, k)
		require.NoError(t, err)
		require.Equal(t, wv, gv)
		_, wp, err := want.Prove(last, k)
		require.NoError(t, err)
		pv, gp, err := s.Prove(last, k)
		require.NoError(t, err)
		require.Equal(t, wv, pv)
		require.NoError(t, client.VerifyProof(root, k, pv, gp))
		requireSameProof(t, wp.Marshal, gp.Marshal)
	}

	// The two versions before the latest are kept, as IAVL's.
	for v := last - 2; v < last; v++ {
		wv, err := want.GetAt(v, key)
		require.NoError(t, err)
		gv, err := s.GetAt(v, key)
		require.NoError(t, err)
		require.Equal(t, wv, gv, "version %d", v)
		wh, err := want.HashAt(v)
		require.NoError(t, err)
		gh, err := s.HashAt(v)
		require.NoError(t, err)
		require.Equal(t, wh, gh, "version %d", v)
		pv, gp, err := s.Prove(v, key)
		require.NoError(t, err)
		require.NoError(t, client.VerifyProof(gh, key, pv, gp))
	}

	// Refused: older versions.
	old := last - memKeptVersions
	_, err = s.GetAt(old, key)
	require.ErrorIs(t, err, ErrVersionUnavailable)
	_, _, err = s.Prove(old, key)
	require.ErrorIs(t, err, ErrVersionUnavailable)
	require.ErrorIs(t, s.IterateAt(old, nil, nil, true, func(k, v []byte) bool { return false }), ErrVersionUnavailable)
	_, err = s.Hold(old)
	require.ErrorIs(t, err, ErrVersionUnavailable)

	// A listing that outlives its version stops with an error instead of
	// mixing two versions.
	n := 0
	err = s.IterateAt(last, nil, nil, true, func(k, v []byte) bool {
		if n++; n == 1 {
			for i := 0; i < memKeptVersions; i++ {
				s.Set([]byte("acct/during"), []byte(fmt.Sprint(i)))
				commit(t, s)
			}
		}
		return false
	})
	require.ErrorIs(t, err, ErrVersionUnavailable)
	require.Equal(t, memIterateChunk, n)
	for i := 0; i < memKeptVersions; i++ {
		want.Set([]byte("acct/during"), []byte(fmt.Sprint(i)))
		last, root = commit(t, want)
	}

	// A rollback of writes the tree already has reloads the saved version.
	s.Set(key, []byte("rolled back"))
	s.Delete([]byte("acct/during"))
	require.NotEqual(t, root, s.WorkingHash())
	s.Rollback()
	require.Equal(t, root, s.WorkingHash())
	require.Equal(t, []byte(fmt.Sprint(memKeptVersions-1)), s.Get([]byte("acct/during")))
	require.Equal(t, []int{int(last)}, s.AvailableVersions(), "a reload keeps the latest version only")

	// Reopened: the same latest version; the other engine refuses the
	// directory, and memiavl refuses IAVL's.
	require.NoError(t, s.Close())
	_, err = Open(Options{Dir: dir})
	require.ErrorContains(t, err, "holds memiavl state")
	s, err = Open(Options{Engine: EngineMemiavl, Dir: dir})
	require.NoError(t, err)
	defer s.Close()
	v, h = s.LastCommit()
	require.Equal(t, last, v)
	require.Equal(t, root, h)
	iavlDir := t.TempDir()
	st, err := Open(Options{Dir: iavlDir})
	require.NoError(t, err)
	require.NoError(t, st.Close())
	_, err = Open(Options{Engine: EngineMemiavl, Dir: iavlDir})
	require.ErrorContains(t, err, "holds IAVL state")
	_, err = Open(Options{Engine: "rocks", Dir: t.TempDir()})
	require.ErrorContains(t, err, "unknown state engine")
}

// TestMemiavlEngineInitialVersion: a chain starting above height 1
// (InitChain's SetInitialVersion) saves the same first version and root on
// both engines.
func TestMemiavlEngineInitialVersion(t *testing.T) {
	var roots [][]byte
	for _, engine := range []string{EngineIAVL, EngineMemiavl} {
		s, err := Open(Options{Engine: engine, Dir: t.TempDir()})
		require.NoError(t, err)
		require.NoError(t, s.SetInitialVersion(7))
		s.Set([]byte("a"), []byte("1"))
		s.Set([]byte("b"), []byte("2"))
		v, h := commit(t, s)
		require.Equal(t, int64(7), v, engine)
		require.Error(t, s.SetInitialVersion(9), "after a commit")
		roots = append(roots, h)
		require.NoError(t, s.Close())
	}
	require.Equal(t, roots[0], roots[1])
}

// TestMemiavlEngineSnapshotSwitch: when memiavl switches to a snapshot it
// wrote in the background, the versions kept from before it, whose nodes
// were in the old snapshot's unmapped files, become unavailable instead of
// being read; the latest is read from the new snapshot.
func TestMemiavlEngineSnapshotSwitch(t *testing.T) {
	s, err := Open(Options{Engine: EngineMemiavl, Dir: t.TempDir(), SnapshotInterval: 2})
	require.NoError(t, err)
	defer s.Close()
	for i := 0; i < 50; i++ {
		s.Set([]byte(fmt.Sprintf("k%03d", i)), []byte("v"))
	}
	commit(t, s)
	switched := false
	for i := 0; i < 1000 && !switched; i++ { // until a background rewrite has finished at a commit
		before := s.eng.(*memEngine).db.SnapshotVersion()
		s.Set([]byte(fmt.Sprintf("k%03d", i%50)), []byte(fmt.Sprint(i)))
		commit(t, s)
		switched = s.eng.(*memEngine).db.SnapshotVersion() != before
	}
	require.True(t, switched, "memiavl switched to none of its snapshots")
	last, root := s.LastCommit()
	require.Equal(t, []int{int(last)}, s.AvailableVersions())
	_, err = s.GetAt(last-1, []byte("k001"))
	require.ErrorIs(t, err, ErrVersionUnavailable)
	h, err := s.HashAt(last)
	require.NoError(t, err)
	require.Equal(t, root, h)
	v, p, err := s.Prove(last, []byte("k001"))
	require.NoError(t, err)
	require.NoError(t, client.VerifyProof(root, []byte("k001"), v, p))
}

// The log's fsync after a commit looks only at segments: while memiavl
// prunes the log's front in the background, the directory also holds
// tidwall/wal's TEMP and <index>.START files, which are renamed or removed
// at any moment (a bench network's validators stopped with "sync the log:
// open .../wal/TEMP: no such file or directory" at their first snapshot
// switch). Here they are links to nothing: opening them fails as a file
// that vanished does.
func TestSyncLogSkipsTheFilesOfAFrontTruncation(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"00000000000000000001", "00000000000000000021"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("entries"), 0o600))
	}
	for _, name := range []string{"TEMP", "00000000000000000011.START", "00000000000000000021.END"} {
		require.NoError(t, os.Symlink(filepath.Join(dir, "gone"), filepath.Join(dir, name)))
	}
	require.NoError(t, syncLog(dir))

	// A segment that is itself gone is still an error, after the retries.
	require.NoError(t, os.Symlink(filepath.Join(dir, "gone"), filepath.Join(dir, "00000000000000000031")))
	require.ErrorIs(t, syncLog(dir), fs.ErrNotExist)
}

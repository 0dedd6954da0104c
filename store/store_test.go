package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/tallyledger/tally/client"
	"math/rand"
	"os"
	"os/exec"
	"strings"
	"testing"

	ics23 "github.com/cosmos/ics23/go"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// pair is one visited key/value, as strings for readable failures.
type pair struct{ k, v string }

// collect runs an iteration and returns what it visited.
func collect(iterate func(fn func(k, v []byte) bool)) []pair {
	out := []pair{}
	iterate(func(k, v []byte) bool {
		out = append(out, pair{string(k), string(v)})
		return false
	})
	return out
}

func versions(from, to int) []int {
	var out []int
	for v := from; v <= to; v++ {
		out = append(out, v)
	}
	return out
}

func openLevel(t testing.TB, dir string, opts Options) *Store {
	t.Helper()
	opts.Dir = dir
	if opts.Backend == "" {
		opts.Backend = "goleveldb"
	}
	s, err := Open(opts)
	require.NoError(t, err)
	return s
}

func commit(t testing.TB, s *Store) (int64, []byte) {
	t.Helper()
	v, h, err := s.Commit()
	require.NoError(t, err)
	return v, h
}

func TestPrefixEnd(t *testing.T) {
	tests := []struct {
		prefix, want []byte
	}{
		{nil, nil},
		{[]byte{}, nil},
		{[]byte{0x01}, []byte{0x02}},
		{[]byte{0x01, 0x02}, []byte{0x01, 0x03}},
		{[]byte{0x01, 0xFF}, []byte{0x02}},
		{[]byte{0x00, 0xFF, 0xFF}, []byte{0x01}},
		{[]byte{0xFF}, nil},
		{[]byte{0xFF, 0xFF}, nil},
		{[]byte{0xFE, 0xFF}, []byte{0xFF}},
	}
	for _, tt := range tests {
		in := bytes.Clone(tt.prefix)
		require.Equal(t, tt.want, PrefixEnd(in), "PrefixEnd(%X)", tt.prefix)
		require.Equal(t, tt.prefix, in, "PrefixEnd must not modify its input")
	}
}

// kvBackends returns the KV implementations the conformance tests run on:
// the Store itself (part committed, part working) and a Cache over it.
func kvBackends() map[string]func(t *testing.T) KV {
	return map[string]func(t *testing.T) KV{
		"store": func(t *testing.T) KV { return NewMemory() },
		"store/goleveldb": func(t *testing.T) KV {
			s := openLevel(t, t.TempDir(), Options{})
			t.Cleanup(func() { require.NoError(t, s.Close()) })
			return s
		},
		"cache": func(t *testing.T) KV { return NewCache(NewMemory()) },
	}
}

func TestKVBasics(t *testing.T) {
	for name, newKV := range kvBackends() {
		t.Run(name, func(t *testing.T) {
			kv := newKV(t)
			require.Nil(t, kv.Get([]byte("a")))
			require.False(t, kv.Has([]byte("a")))

			val := []byte("one")
			kv.Set([]byte("a"), val)
			val[0] = 'X' // Set must have copied
			require.Equal(t, []byte("one"), kv.Get([]byte("a")))
			require.True(t, kv.Has([]byte("a")))

			kv.Set([]byte("a"), []byte("two"))
			require.Equal(t, []byte("two"), kv.Get([]byte("a")))

			kv.Set([]byte("empty"), []byte{})
			kv.Set([]byte("nil"), nil)
			for _, k := range []string{"empty", "nil"} {
				require.Equal(t, Present, kv.Get([]byte(k)), k)
				require.True(t, kv.Has([]byte(k)), k)
			}

			kv.Delete([]byte("a"))
			kv.Delete([]byte("never-set")) // no-op
			require.Nil(t, kv.Get([]byte("a")))
			require.False(t, kv.Has([]byte("a")))
		})
	}
}

func TestEmptyValueSurvivesReload(t *testing.T) {
	dir := t.TempDir()
	s := openLevel(t, dir, Options{})
	s.Set([]byte("e"), nil)
	commit(t, s)
	require.NoError(t, s.Close())

	s = openLevel(t, dir, Options{})
	defer s.Close()
	require.NotNil(t, s.Get([]byte("e")))
	require.True(t, s.Has([]byte("e")))
	v, err := s.GetAt(1, []byte("e"))
	require.NoError(t, err)
	require.NotNil(t, v)
}

// iterKeys are the keys the iteration tests use, ascending.
var iterKeys = []string{"a", "b", "ba", "bb", "c", "\xff", "\xff\xff"}

// fillForIteration writes iterKeys (value = key + "v") into kv. On a Store,
// half of the keys are committed first so both saved and unsaved state are
// merged, and a committed key is deleted in the working tree.
func fillForIteration(t *testing.T, kv KV) {
	for i, k := range iterKeys {
		kv.Set([]byte(k), []byte(k+"v"))
		if s, ok := kv.(*Store); ok && i == 3 {
			s.Set([]byte("gone"), []byte("x"))
			commit(t, s)
		}
	}
	kv.Delete([]byte("gone"))
}

func TestIterate(t *testing.T) {
	all := func(keys ...string) []pair {
		out := []pair{}
		for _, k := range keys {
			out = append(out, pair{k, k + "v"})
		}
		return out
	}
	tests := []struct {
		name       string
		start, end []byte
		ascending  bool
		want       []pair
	}{
		{"all ascending", nil, nil, true, all(iterKeys...)},
		{"all descending", nil, nil, false, all("\xff\xff", "\xff", "c", "bb", "ba", "b", "a")},
		{"bounded ascending", []byte("b"), []byte("c"), true, all("b", "ba", "bb")},
		{"bounded descending", []byte("b"), []byte("c"), false, all("bb", "ba", "b")},
		{"start between keys", []byte("bab"), nil, true, all("bb", "c", "\xff", "\xff\xff")},
		{"end between keys", nil, []byte("bab"), false, all("ba", "b", "a")},
		{"end is exclusive", []byte("a"), []byte("b"), true, all("a")},
		{"empty range", []byte("b"), []byte("b"), true, all()},
		{"inverted range", []byte("c"), []byte("a"), true, all()},
		{"from 0xFF", []byte{0xFF}, nil, true, all("\xff", "\xff\xff")},
	}
	for name, newKV := range kvBackends() {
		t.Run(name, func(t *testing.T) {
			kv := newKV(t)
			fillForIteration(t, kv)
			for _, tt := range tests {
				got := collect(func(fn func(k, v []byte) bool) { kv.Iterate(tt.start, tt.end, tt.ascending, fn) })
				require.Equal(t, tt.want, got, tt.name)
			}

			// Stopping early visits exactly the keys up to the stop.
			var visited []string
			kv.Iterate(nil, nil, false, func(k, _ []byte) bool {
				visited = append(visited, string(k))
				return len(visited) == 2
			})
			require.Equal(t, []string{"\xff\xff", "\xff"}, visited)
		})
	}
}

func TestIteratePrefix(t *testing.T) {
	tests := []struct {
		prefix string
		want   []string // ascending
	}{
		{"b", []string{"b", "ba", "bb"}},
		{"ba", []string{"ba"}},
		{"\xff", []string{"\xff", "\xff\xff"}},
		{"", iterKeys},
		{"z", nil},
	}
	for name, newKV := range kvBackends() {
		t.Run(name, func(t *testing.T) {
			kv := newKV(t)
			fillForIteration(t, kv)
			for _, tt := range tests {
				var asc, desc []string
				IteratePrefix(kv, []byte(tt.prefix), func(k, _ []byte) bool { asc = append(asc, string(k)); return false })
				ReverseIteratePrefix(kv, []byte(tt.prefix), func(k, _ []byte) bool { desc = append(desc, string(k)); return false })
				require.Equal(t, tt.want, asc, "prefix %q ascending", tt.prefix)
				var rev []string
				for i := len(tt.want) - 1; i >= 0; i-- {
					rev = append(rev, tt.want[i])
				}
				require.Equal(t, rev, desc, "prefix %q descending", tt.prefix)
			}
		})
	}
}

func TestProtoHelpers(t *testing.T) {
	kv := NewMemory()
	var got wrapperspb.StringValue

	found, err := GetProto(kv, []byte("k"), &got)
	require.NoError(t, err)
	require.False(t, found)

	require.NoError(t, SetProto(kv, []byte("k"), wrapperspb.String("hello")))
	found, err = GetProto(kv, []byte("k"), &got)
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, "hello", got.GetValue())

	// An empty message encodes to zero bytes but is still present.
	require.NoError(t, SetProto(kv, []byte("zero"), wrapperspb.String("")))
	require.True(t, kv.Has([]byte("zero")))
	found, err = GetProto(kv, []byte("zero"), &got)
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, "", got.GetValue())

	kv.Set([]byte("bad"), []byte{0xFF, 0xFF, 0xFF})
	found, err = GetProto(kv, []byte("bad"), &got)
	require.True(t, found)
	require.ErrorContains(t, err, "decode")
	require.ErrorContains(t, err, "626164") // the key, hex
}

func TestStoreWriteDuringIteratePanics(t *testing.T) {
	s := NewMemory()
	s.Set([]byte("a"), []byte("1"))
	require.PanicsWithValue(t, "store: Delete called during Store.Iterate; buffer writes in a Cache", func() {
		s.Iterate(nil, nil, true, func(k, _ []byte) bool { s.Delete(k); return false })
	})
	// The guard is released afterwards, also after the panic.
	s.Delete([]byte("a"))
	require.False(t, s.Has([]byte("a")))
}

func TestCommitAndRollback(t *testing.T) {
	s := NewMemory()
	v, h := s.LastCommit()
	require.Zero(t, v)
	require.Nil(t, h)
	require.Empty(t, s.AvailableVersions())

	s.Set([]byte("a"), []byte("1"))
	working := s.WorkingHash()
	v, h = commit(t, s)
	require.Equal(t, int64(1), v)
	require.Equal(t, working, h, "WorkingHash must predict the committed hash")
	lv, lh := s.LastCommit()
	require.Equal(t, v, lv)
	require.Equal(t, h, lh)

	// Rollback discards uncommitted changes and restores the working hash.
	s.Set([]byte("a"), []byte("2"))
	s.Set([]byte("b"), []byte("2"))
	require.NotEqual(t, h, s.WorkingHash())
	s.Rollback()
	require.Equal(t, h, s.WorkingHash())
	require.Equal(t, []byte("1"), s.Get([]byte("a")))
	require.False(t, s.Has([]byte("b")))

	// An empty block still creates a version with the same hash.
	v2, h2 := commit(t, s)
	require.Equal(t, int64(2), v2)
	require.Equal(t, h, h2)
	require.Equal(t, []int{1, 2}, s.AvailableVersions())

	// Equal contents give equal hashes regardless of write order.
	other := NewMemory()
	other.Set([]byte("b"), []byte("x"))
	other.Set([]byte("a"), []byte("1"))
	other.Delete([]byte("b"))
	_, oh := commit(t, other)
	require.Equal(t, h, oh)
}

func TestInitialVersion(t *testing.T) {
	s, err := Open(Options{Backend: "memdb", InitialVersion: 10})
	require.NoError(t, err)
	s.Set([]byte("a"), []byte("1"))
	v, _ := commit(t, s)
	require.Equal(t, int64(10), v)
	v, _ = commit(t, s)
	require.Equal(t, int64(11), v)
	require.Equal(t, []int{10, 11}, s.AvailableVersions())
}

func TestOpenErrors(t *testing.T) {
	_, err := Open(Options{Backend: "rocksdb", Dir: t.TempDir()})
	require.ErrorContains(t, err, `unsupported backend "rocksdb"`)
	_, err = Open(Options{Backend: "goleveldb"})
	require.ErrorContains(t, err, "directory is empty")
	_, err = Open(Options{Backend: "memdb", CacheSize: -1})
	require.ErrorContains(t, err, "negative cache size")
}

func TestReload(t *testing.T) {
	for _, backend := range []string{"goleveldb", "pebbledb"} {
		t.Run(backend, func(t *testing.T) {
			dir := t.TempDir()
			s := openLevel(t, dir, Options{Backend: backend})
			var hashes [][]byte
			for v := 1; v <= 5; v++ {
				s.Set([]byte(fmt.Sprintf("k%d", v)), []byte(fmt.Sprintf("v%d", v)))
				s.Set([]byte("latest"), []byte(fmt.Sprintf("v%d", v)))
				_, h := commit(t, s)
				hashes = append(hashes, h)
			}
			wantV, wantH := s.LastCommit()
			s.Set([]byte("uncommitted"), []byte("x"))
			s.Set([]byte("latest"), []byte("x"))
			require.NoError(t, s.Close())

			s = openLevel(t, dir, Options{Backend: backend})
			defer s.Close()
			v, h := s.LastCommit()
			require.Equal(t, wantV, v)
			require.Equal(t, wantH, h)
			require.Equal(t, h, s.WorkingHash())
			require.Equal(t, versions(1, 5), s.AvailableVersions())
			require.Equal(t, []byte("v5"), s.Get([]byte("latest")))
			require.Equal(t, []byte("v3"), s.Get([]byte("k3")))
			require.Nil(t, s.Get([]byte("uncommitted")))

			old, err := s.GetAt(2, []byte("latest"))
			require.NoError(t, err)
			require.Equal(t, []byte("v2"), old)

			// Proofs against old versions still verify after the reload.
			val, proof, err := s.Prove(3, []byte("k2"))
			require.NoError(t, err)
			require.NoError(t, client.VerifyProof(hashes[2], []byte("k2"), val, proof))

			// Committing continues the version sequence.
			s.Set([]byte("k6"), []byte("v6"))
			v, _ = commit(t, s)
			require.Equal(t, int64(6), v)
		})
	}
}

// TestSurvivesKill commits in a child process that then SIGKILLs itself
// without closing the store; every committed version must be readable.
func TestSurvivesKill(t *testing.T) {
	if dir := os.Getenv("STORE_KILL_DIR"); dir != "" {
		s := openLevel(t, dir, Options{})
		for v := 1; v <= 3; v++ {
			s.Set([]byte("k"), []byte(fmt.Sprint(v)))
			_, h := commit(t, s)
			fmt.Printf("hash=%X\n", h)
		}
		s.Set([]byte("k"), []byte("uncommitted"))
		self, err := os.FindProcess(os.Getpid())
		require.NoError(t, err)
		require.NoError(t, self.Kill())
		select {} // wait for the signal
	}
	if testing.Short() {
		t.Skip("spawns a process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSurvivesKill$")
	cmd.Env = append(os.Environ(), "STORE_KILL_DIR="+dir)
	out, err := cmd.Output()
	require.Error(t, err, "child must die by SIGKILL")
	lines := strings.Fields(string(out))
	require.Len(t, lines, 3, "child output: %s", out)

	s := openLevel(t, dir, Options{})
	defer s.Close()
	v, h := s.LastCommit()
	require.Equal(t, int64(3), v)
	require.Equal(t, lines[2], fmt.Sprintf("hash=%X", h))
	require.Equal(t, []byte("3"), s.Get([]byte("k")))
}

func TestPruneTarget(t *testing.T) {
	tests := []struct {
		latest                int64
		keepRecent, keepEvery uint64
		want                  int64
	}{
		{10, 0, 0, 0},   // no pruning
		{10, 0, 5, 0},   // keep-every alone does not prune
		{3, 3, 0, 0},    // window not yet full
		{4, 3, 0, 1},    // window 2..4
		{10, 3, 0, 7},   // window 8..10
		{10, 1, 0, 9},   // only the latest
		{12, 3, 5, 9},   // window 10..12 starts on a multiple
		{13, 3, 5, 9},   // window 11..13, aligned down to 10
		{14, 3, 5, 9},   // window 12..14, aligned down to 10
		{17, 3, 5, 14},  // window 15..17
		{6, 3, 5, 0},    // window 4..6 aligns down to 0: nothing
		{10, 3, 100, 0}, // no multiple at or before the window
		{10, 1 << 63, 0, 0},
		{1 << 62, 3, 1 << 63, 0},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, pruneTarget(tt.latest, tt.keepRecent, tt.keepEvery),
			"latest=%d keepRecent=%d keepEvery=%d", tt.latest, tt.keepRecent, tt.keepEvery)
	}
}

func TestPruning(t *testing.T) {
	tests := []struct {
		name                  string
		keepRecent, keepEvery uint64
		initial               uint64
		commits               int
		wantFirst             int // available versions are exactly [wantFirst, last]
	}{
		{"no pruning", 0, 0, 0, 12, 1},
		{"keep every alone", 0, 5, 0, 12, 1},
		{"keep recent 3", 3, 0, 0, 12, 10},
		{"keep recent 1", 1, 0, 0, 12, 12},
		{"keep recent 3, every 5, aligned", 3, 5, 0, 12, 10},
		{"keep recent 3, every 5, 13", 3, 5, 0, 13, 10},
		{"keep recent 3, every 5, 14", 3, 5, 0, 14, 10},
		{"keep recent 3, every 5, 17", 3, 5, 0, 17, 15},
		{"keep recent 3, every 5, 19", 3, 5, 0, 19, 15},
		{"keep recent 2, every 10, 9", 2, 10, 0, 9, 1},
		{"initial version 100", 3, 0, 100, 6, 103},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openLevel(t, t.TempDir(), Options{KeepRecent: tt.keepRecent, KeepEvery: tt.keepEvery, InitialVersion: tt.initial})
			defer s.Close()
			var last int64
			for i := 0; i < tt.commits; i++ {
				s.Set([]byte("counter"), []byte(fmt.Sprint(i)))
				s.Set([]byte(fmt.Sprintf("k%03d", i)), []byte("v"))
				last, _ = commit(t, s)

				// Invariants after every commit.
				avail := s.AvailableVersions()
				require.Equal(t, int(last), avail[len(avail)-1])
				if tt.keepRecent > 0 {
					require.GreaterOrEqual(t, len(avail), min(int(tt.keepRecent), i+1))
				}
				if tt.keepEvery > 0 && tt.keepRecent > 0 && avail[0] > 1 {
					require.Zero(t, uint64(avail[0])%tt.keepEvery, "oldest kept %d is not a multiple of %d", avail[0], tt.keepEvery)
					require.Less(t, len(avail), int(tt.keepRecent+tt.keepEvery))
				}
			}
			require.Equal(t, versions(tt.wantFirst, int(last)), s.AvailableVersions())

			// The oldest kept version is readable with its own contents.
			first, base := int64(tt.wantFirst), int64(max(tt.initial, 1)) // base: version of commit 0
			v, err := s.GetAt(first, []byte("counter"))
			require.NoError(t, err)
			require.Equal(t, []byte(fmt.Sprint(first-base)), v)
			if first > base {
				_, err := s.GetAt(first-1, []byte("counter"))
				require.ErrorIs(t, err, ErrVersionUnavailable)
			}
		})
	}
}

func TestGetAtIterateAt(t *testing.T) {
	s := NewMemory()
	s.Set([]byte("a"), []byte("1"))
	s.Set([]byte("b"), []byte("1"))
	commit(t, s) // v1: a=1 b=1
	s.Set([]byte("a"), []byte("2"))
	s.Delete([]byte("b"))
	s.Set([]byte("c"), []byte("2"))
	commit(t, s) // v2: a=2 c=2
	s.Set([]byte("d"), []byte("working"))

	tests := []struct {
		version int64
		key     string
		want    []byte
	}{
		{1, "a", []byte("1")},
		{1, "b", []byte("1")},
		{1, "c", nil},
		{2, "a", []byte("2")},
		{2, "b", nil},
		{2, "c", []byte("2")},
		{2, "d", nil}, // uncommitted
		{2, "", nil},  // empty key (user-controlled query input)
	}
	for _, tt := range tests {
		got, err := s.GetAt(tt.version, []byte(tt.key))
		require.NoError(t, err)
		require.Equal(t, tt.want, got, "GetAt(%d, %q)", tt.version, tt.key)
	}

	iter := func(v int64, start, end []byte, asc bool) []pair {
		var err error
		got := collect(func(fn func(k, v []byte) bool) { err = s.IterateAt(v, start, end, asc, fn) })
		require.NoError(t, err)
		return got
	}
	require.Equal(t, []pair{{"a", "1"}, {"b", "1"}}, iter(1, nil, nil, true))
	require.Equal(t, []pair{{"b", "1"}, {"a", "1"}}, iter(1, nil, nil, false))
	require.Equal(t, []pair{{"a", "2"}, {"c", "2"}}, iter(2, nil, nil, true))
	require.Equal(t, []pair{{"c", "2"}}, iter(2, []byte("b"), nil, true))
	require.Equal(t, []pair{}, iter(2, []byte("c"), []byte("a"), true))

	for _, v := range []int64{-1, 0, 3, 100} {
		_, err := s.GetAt(v, []byte("a"))
		require.ErrorIs(t, err, ErrVersionUnavailable, "GetAt version %d", v)
		require.ErrorIs(t, s.IterateAt(v, nil, nil, true, func(_, _ []byte) bool { return false }), ErrVersionUnavailable)
		_, _, err = s.Prove(v, []byte("a"))
		require.ErrorIs(t, err, ErrVersionUnavailable)
	}
}

// TestConcurrentReaders runs saved-version readers (as ABCI queries would)
// while the consensus goroutine writes, commits, prunes and rolls back.
// Run with -race.
func TestConcurrentReaders(t *testing.T) {
	s := openLevel(t, t.TempDir(), Options{KeepRecent: 2})
	defer s.Close()
	s.Set([]byte("k"), []byte("0"))
	commit(t, s)

	done := make(chan struct{})
	readerErr := make(chan error, 1)
	go func() {
		defer close(readerErr)
		for {
			select {
			case <-done:
				return
			default:
			}
			v, h := s.LastCommit()
			val, proof, err := s.Prove(v, []byte("k"))
			if errors.Is(err, ErrVersionUnavailable) {
				continue // pruned between LastCommit and Prove
			}
			if err == nil {
				err = client.VerifyProof(h, []byte("k"), val, proof)
			}
			if err == nil {
				err = s.IterateAt(v, nil, nil, true, func(_, _ []byte) bool { return false })
			}
			if err != nil && !errors.Is(err, ErrVersionUnavailable) {
				readerErr <- err
				return
			}
			_ = s.AvailableVersions()
		}
	}()
	for i := 1; i <= 100; i++ {
		s.Set([]byte("k"), []byte(fmt.Sprint(i)))
		s.Set([]byte(fmt.Sprintf("x%d", i)), []byte("v"))
		if i%7 == 0 {
			s.Rollback()
		}
		commit(t, s)
	}
	close(done)
	require.NoError(t, <-readerErr)
}

func TestProofs(t *testing.T) {
	s := NewMemory()
	for _, k := range []string{"b", "d", "f"} {
		s.Set([]byte(k), []byte("val-"+k))
	}
	_, root := commit(t, s)
	// Later versions must not affect proofs against version 1.
	s.Set([]byte("c"), []byte("new"))
	s.Delete([]byte("d"))
	commit(t, s)

	t.Run("existence", func(t *testing.T) {
		for _, k := range []string{"b", "d", "f"} {
			val, proof, err := s.Prove(1, []byte(k))
			require.NoError(t, err)
			require.Equal(t, []byte("val-"+k), val)
			require.NotNil(t, proof.GetExist())
			require.NoError(t, client.VerifyProof(root, []byte(k), val, proof), k)
		}
	})

	t.Run("non-existence", func(t *testing.T) {
		for _, k := range []string{"a", "c", "e", "g", ""} { // before first, between, after last, empty
			val, proof, err := s.Prove(1, []byte(k))
			require.NoError(t, err, k)
			require.Nil(t, val)
			require.NotNil(t, proof.GetNonexist())
			require.NoError(t, client.VerifyProof(root, []byte(k), nil, proof), "%q", k)
		}
	})

	_, existB, err := s.Prove(1, []byte("b"))
	require.NoError(t, err)
	_, absentC, err := s.Prove(1, []byte("c"))
	require.NoError(t, err)
	otherRoot := bytes.Repeat([]byte{0xAB}, 32)

	failures := []struct {
		name     string
		root     []byte
		key, val []byte
		proof    *ics23.CommitmentProof
		wantErr  string
	}{
		{"wrong value", root, []byte("b"), []byte("val-x"), existB, "not the value its proof commits to"},
		{"wrong key", root, []byte("d"), []byte("val-b"), existB, "the proof is for key b, not the key asked for, d"},
		{"wrong root", otherRoot, []byte("b"), []byte("val-b"), existB, "does not lead to app hash"},
		{"empty root", nil, []byte("b"), []byte("val-b"), existB, "root hash to check the proof of key b against is empty"},
		{"existence proof for absence", root, []byte("b"), nil, existB, "sent no proof of absence"},
		{"absence proof for existence", root, []byte("c"), []byte("x"), absentC, "no proof that it exists"},
		{"absence of present key", root, []byte("d"), nil, absentC, "the proof of absence is for key c, not the key asked for, d"},
		{"absence with wrong root", otherRoot, []byte("c"), nil, absentC, "does not lead to app hash"},
		{"absence of key outside neighbours", root, []byte("a"), nil, absentC, "not the key asked for"},
		{"nil proof", root, []byte("b"), []byte("val-b"), nil, "there is no proof of key b"},
		{"empty proof", root, []byte("b"), []byte("val-b"), &ics23.CommitmentProof{}, "no proof that it exists"},
		{"nil path step", root, []byte("b"), []byte("val-b"), &ics23.CommitmentProof{Proof: &ics23.CommitmentProof_Exist{Exist: &ics23.ExistenceProof{
			Key: []byte("b"), Value: []byte("val-b"), Leaf: existB.GetExist().Leaf, Path: []*ics23.InnerOp{nil},
		}}}, "the proof of key b"},
		{"no leaf", root, []byte("b"), []byte("val-b"), &ics23.CommitmentProof{Proof: &ics23.CommitmentProof_Exist{Exist: &ics23.ExistenceProof{
			Key: []byte("b"), Value: []byte("val-b"),
		}}}, "has no leaf"},
	}
	for _, tt := range failures {
		err := client.VerifyProof(tt.root, tt.key, tt.val, tt.proof)
		require.ErrorContains(t, err, tt.wantErr, tt.name)
	}

	t.Run("empty tree", func(t *testing.T) {
		e := NewMemory()
		commit(t, e)
		_, _, err := e.Prove(1, []byte("a"))
		require.ErrorContains(t, err, "tree is empty")
	})
}

// BenchmarkCommit measures one block: 1000 sets (half updates, half inserts)
// and a Commit, on a goleveldb tree that starts with 100k keys, with the
// default node cache, without and with pruning.
func BenchmarkCommit(b *testing.B) {
	for _, keepRecent := range []uint64{0, 10} {
		b.Run(fmt.Sprintf("keep-recent=%d", keepRecent), func(b *testing.B) {
			benchmarkCommit(b, Options{KeepRecent: keepRecent})
		})
	}
}

func benchmarkCommit(b *testing.B, opts Options) {
	s := openLevel(b, b.TempDir(), opts)
	defer s.Close()
	key := func(i uint64) []byte { // spread keys over the key space
		return binary.BigEndian.AppendUint64([]byte("acct/"), i*2654435761%(1<<40))
	}
	next := uint64(0)
	for next < 100_000 {
		for j := 0; j < 10_000; j++ {
			s.Set(key(next), []byte("initial-value"))
			next++
		}
		commit(b, s)
	}
	rng := rand.New(rand.NewSource(1))
	value := make([]byte, 64)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := 0; j < 1000; j++ {
			rng.Read(value)
			if j%2 == 0 {
				s.Set(key(uint64(rng.Int63n(int64(next)))), value)
			} else {
				s.Set(key(next), value)
				next++
			}
		}
		commit(b, s)
	}
}

// An empty value is stored as Present, so the key and the absence of the
// keys beside it can be proven: ICS23 cannot prove an empty value.
func TestEmptyValuesAreProvable(t *testing.T) {
	s := NewMemory()
	defer s.Close()
	s.Set([]byte("idx/a"), []byte{})
	s.Set([]byte("idx/c"), nil)
	require.NoError(t, SetProto(s, []byte("rec"), &emptypb.Empty{}))
	_, root, err := s.Commit()
	require.NoError(t, err)

	v, p, err := s.Prove(1, []byte("idx/a"))
	require.NoError(t, err)
	require.Equal(t, Present, v)
	require.NoError(t, client.VerifyProof(root, []byte("idx/a"), v, p))

	v, p, err = s.Prove(1, []byte("idx/b"))
	require.NoError(t, err)
	require.Nil(t, v)
	require.NoError(t, client.VerifyProof(root, []byte("idx/b"), nil, p), "absence between two index entries")

	found, err := GetProto(s, []byte("rec"), &emptypb.Empty{})
	require.NoError(t, err)
	require.True(t, found)
}

// TestProofOfAVersionPrunedWhileReadIsAnError is the race
// TestConcurrentReaders hits now and then, made certain: a query holds
// version 1 when pruning deletes its nodes. IAVL's proof builder then
// dereferences the nil node its failed walk returns; the proof must fail
// with an error, not stop the node with a panic.
func TestProofOfAVersionPrunedWhileReadIsAnError(t *testing.T) {
	s := openLevel(t, t.TempDir(), Options{KeepRecent: 1})
	defer s.Close()
	keys := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	for _, k := range keys {
		s.Set([]byte(k), []byte("1"))
	}
	commit(t, s)
	held, err := s.eng.(*iavlEngine).saved(1) // what Prove holds once it has checked the version
	require.NoError(t, err)
	for _, k := range []string{"c", "cc"} { // the reads before pruning: their paths are cached, their siblings not
		_, err := held.Get([]byte(k))
		require.NoError(t, err)
	}
	for _, k := range keys { // every node of version 1 is replaced, so pruning deletes them all
		s.Set([]byte(k), []byte("2"))
	}
	commit(t, s)
	require.False(t, s.eng.(*iavlEngine).tree.VersionExists(1))
	for _, k := range []string{"c", "cc"} { // present and absent
		_, _, err := prove(held, []byte(k))
		require.Error(t, err, "prove %s", k)
	}
}

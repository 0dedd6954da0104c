package store

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// A held version survives pruning until it is released; then the next
// Commit prunes it.
func TestHoldKeepsAVersionFromPruning(t *testing.T) {
	s, err := Open(Options{Backend: "memdb", KeepRecent: 1})
	require.NoError(t, err)
	defer s.Close()
	s.Set([]byte("k"), []byte("v1"))
	commit(t, s)
	release, err := s.Hold(1)
	require.NoError(t, err)
	for i := 2; i <= 4; i++ {
		s.Set([]byte("k"), []byte(fmt.Sprint("v", i)))
		commit(t, s)
	}
	v, err := s.GetAt(1, []byte("k"))
	require.NoError(t, err)
	require.Equal(t, "v1", string(v))
	release()
	release() // a second call is harmless
	s.Set([]byte("k"), []byte("v5"))
	commit(t, s)
	require.Equal(t, []int{5}, s.AvailableVersions())
	_, err = s.Hold(1)
	require.ErrorIs(t, err, ErrVersionUnavailable)
}

// An exported version restores, on disk, into another store with the same
// root hash and contents; a restore whose hash is not the trusted one
// leaves the store empty and able to restore again, also after reopening.
func TestExportRestoreRoundTrip(t *testing.T) {
	src := NewMemory()
	defer src.Close()
	for i := 0; i < 300; i++ {
		src.Set([]byte(fmt.Sprintf("key-%03d", i)), []byte(fmt.Sprint("value ", i)))
		if i%100 == 99 {
			commit(t, src)
		}
	}
	src.Set([]byte("empty"), nil)
	version, hash := commit(t, src)
	var nodes []*Node
	require.NoError(t, src.Export(version, func(n *Node) error { nodes = append(nodes, n); return nil }))

	dir := t.TempDir()
	dst := openLevel(t, dir, Options{})
	restore := func(want []byte) error {
		r, err := dst.BeginRestore(version)
		require.NoError(t, err)
		for _, n := range nodes {
			require.NoError(t, r.Add(n))
		}
		return r.Finish(want)
	}
	require.ErrorIs(t, restore(append([]byte{1}, hash[1:]...)), ErrRestoreRefused)
	v, _ := dst.LastCommit()
	require.Zero(t, v)
	require.NoError(t, dst.Close())
	dst = openLevel(t, dir, Options{})
	v, _ = dst.LastCommit()
	require.Zero(t, v, "a refused restore leaves nothing on disk")

	require.NoError(t, restore(hash))
	v, h := dst.LastCommit()
	require.Equal(t, version, v)
	require.Equal(t, hash, h)
	require.Equal(t, "value 123", string(dst.Get([]byte("key-123"))))
	require.NotNil(t, dst.Get([]byte("empty")))
	require.NoError(t, dst.Close())
	dst = openLevel(t, dir, Options{})
	defer dst.Close()
	v, h = dst.LastCommit()
	require.Equal(t, version, v)
	require.Equal(t, hash, h)
	dst.Set([]byte("next"), []byte("x"))
	src.Set([]byte("next"), []byte("x"))
	_, h1 := commit(t, src)
	_, h2 := commit(t, dst)
	require.Equal(t, h1, h2, "the restored store goes on like the original")

	_, err := dst.BeginRestore(version)
	require.Error(t, err, "no restore over existing state")
}

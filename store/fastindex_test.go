package store

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// The fast index can be turned off and on again on one database: with it
// off, saves leave the old index stale on disk; turning it on rebuilds it
// at Open, so reads never see the stale values, and the app hash is the
// same either way (the index is not part of the tree).
func TestFastIndexCanBeSwitchedOffAndOn(t *testing.T) {
	dir := t.TempDir()
	want := map[string]string{}
	var hashes [][]byte
	run := func(fast bool, round int) {
		s, err := Open(Options{Dir: dir, FastIndex: fast})
		require.NoError(t, err)
		for k, v := range want {
			require.Equal(t, v, string(s.Get([]byte(k))), "fast=%v round %d key %s", fast, round, k)
		}
		for i := 0; i < 50; i++ {
			k := fmt.Sprintf("k%02d", (i*7+round)%60)
			if i%5 == 0 {
				s.Delete([]byte(k))
				delete(want, k)
				continue
			}
			v := fmt.Sprintf("v%d-%d", round, i)
			s.Set([]byte(k), []byte(v))
			want[k] = v
		}
		_, h, err := s.Commit()
		require.NoError(t, err)
		hashes = append(hashes, h)
		require.NoError(t, s.Close())
	}
	run(true, 1)
	run(false, 2)
	run(true, 3)
	run(false, 4)

	// The same changes on a tree that never had the index give the same hashes.
	other := t.TempDir()
	dir, want = other, map[string]string{}
	got := hashes
	hashes = nil
	for round := 1; round <= 4; round++ {
		run(false, round)
	}
	require.Equal(t, got, hashes)
}

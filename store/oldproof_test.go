package store

import (
	"fmt"
	"github.com/tallyledger/tally/client"
	"testing"

	"github.com/stretchr/testify/require"
)

// Proofs at an old version verify against that version's root, for keys
// created, changed or deleted after it.
func TestProofsAtOldVersions(t *testing.T) {
	for _, backend := range []string{"memdb", "goleveldb"} {
		t.Run(backend, func(t *testing.T) {
			s, err := Open(Options{Backend: backend, Dir: t.TempDir()})
			require.NoError(t, err)
			defer s.Close()
			roots := map[int64][]byte{}
			for v := 1; v <= 12; v++ {
				for i := 0; i < 20; i++ {
					s.Set([]byte(fmt.Sprintf("k/%03d/%02d", v, i)), []byte(fmt.Sprintf("v%d", v)))
				}
				if v > 3 {
					s.Delete([]byte(fmt.Sprintf("k/%03d/%02d", v-3, 5)))
					s.Set([]byte(fmt.Sprintf("k/%03d/%02d", v-2, 6)), []byte("changed"))
				}
				ver, root, err := s.Commit()
				require.NoError(t, err)
				roots[ver] = root
			}
			for v := int64(1); v <= 12; v++ {
				for w := 1; w <= 12; w++ {
					for _, i := range []int{0, 5, 6, 19, 20} {
						key := []byte(fmt.Sprintf("k/%03d/%02d", w, i))
						val, p, err := s.Prove(v, key)
						require.NoError(t, err)
						require.NoError(t, client.VerifyProof(roots[v], key, val, p), "version %d key %s present=%v", v, key, val != nil)
					}
				}
			}
		})
	}
}

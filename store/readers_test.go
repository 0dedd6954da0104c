package store

import (
	"errors"
	"fmt"
	"github.com/tallyledger/tally/client"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// liveness bounds how long TestReaderDoesNotHoldUpCommit waits before it
// declares Commit blocked. It is a deadlock detector, not a speed check:
// with the fix Commit completes at once; without it, never.
const liveness = 30 * time.Second

// A query in the middle of reading a saved version must not stop the block
// after it from being written and committed: the reader is parked inside
// IterateAt's callback until Set, Delete and Commit have all returned.
func TestReaderDoesNotHoldUpCommit(t *testing.T) {
	for name, s := range map[string]*Store{
		"memdb":     NewMemory(),
		"goleveldb": openLevel(t, t.TempDir(), Options{KeepRecent: 2}),
	} {
		t.Run(name, func(t *testing.T) {
			defer s.Close()
			for i := range 10 {
				s.Set(fmt.Appendf(nil, "k%02d", i), []byte("v1"))
			}
			v1, h1 := commit(t, s)

			inside := make(chan struct{})
			committed := make(chan struct{})
			read := make(chan []pair, 1)
			readErr := make(chan error, 1)
			blocked := false
			go func() {
				var got []pair
				readErr <- s.IterateAt(v1, nil, nil, true, func(k, v []byte) bool {
					if len(got) == 0 {
						close(inside)
						select {
						case <-committed:
						case <-time.After(liveness):
							blocked = true // let the writer through, so the test ends
						}
					}
					got = append(got, pair{string(k), string(v)})
					return false
				})
				read <- got
			}()

			<-inside
			s.Set([]byte("k00"), []byte("v2"))
			s.Delete([]byte("k05"))
			v2, h2 := commit(t, s)
			close(committed)

			require.NoError(t, <-readErr)
			got := <-read
			require.False(t, blocked, "Set and Commit waited for a reader inside IterateAt")
			require.Len(t, got, 10, "the reader saw version %d whole, as it was", v1)
			require.Equal(t, pair{"k00", "v1"}, got[0])
			require.Equal(t, v1+1, v2)
			require.NotEqual(t, h1, h2)
		})
	}
}

// A version pruned while a reader walks it must fail that read, not end it
// early as if the list were complete (IAVL's iterator stops quietly when a
// node is missing).
func TestReadOfVersionPrunedMidWalkFails(t *testing.T) {
	s := openLevel(t, t.TempDir(), Options{KeepRecent: 1})
	defer s.Close()
	for i := range 200 {
		s.Set(fmt.Appendf(nil, "k%03d", i), []byte("v1"))
	}
	v1, _ := commit(t, s)
	seen := 0
	err := s.IterateAt(v1, nil, nil, true, func(_, _ []byte) bool {
		if seen++; seen == 1 {
			for i := range 200 { // rewrite every leaf, so pruning v1 deletes them
				s.Set(fmt.Appendf(nil, "k%03d", i), []byte("v2"))
			}
			commit(t, s) // KeepRecent 1: v1 is pruned now
		}
		return false
	})
	require.ErrorIs(t, err, ErrVersionUnavailable, "walked %d of 200 keys", seen)
	require.Less(t, seen, 200, "the walk could not have finished")
}

// Readers of saved versions run while the consensus goroutine writes and
// commits: every answer must match the version asked for (its proof
// verifies against that version's hash), and `go test -race` must find no
// data race between reads and IAVL's writes.
func TestReadersDuringWritesSeeCommittedVersions(t *testing.T) {
	s := openLevel(t, t.TempDir(), Options{KeepRecent: 3})
	defer s.Close()
	s.Set([]byte("n"), []byte("1"))
	commit(t, s)

	stop := make(chan struct{})
	errs := make(chan error, 4)
	for range 3 {
		go func() {
			for {
				select {
				case <-stop:
					errs <- nil
					return
				default:
				}
				v, h := s.LastCommit()
				val, proof, err := s.Prove(v, []byte("n"))
				if err == nil {
					err = client.VerifyProof(h, []byte("n"), val, proof)
				}
				if err == nil && string(val) != fmt.Sprint(v) {
					err = fmt.Errorf("version %d holds n=%s, want %d", v, val, v)
				}
				if err == nil {
					count := 0
					err = s.IterateAt(v, []byte("x"), []byte("y"), true, func(_, _ []byte) bool { count++; return false })
					if err == nil && count != int(v)-1 {
						err = fmt.Errorf("version %d has %d x keys, want %d", v, count, v-1)
					}
				}
				if err != nil && !isUnavailable(err) {
					errs <- err
					return
				}
			}
		}()
	}
	for i := 2; i <= 60; i++ {
		s.Set([]byte("n"), []byte(fmt.Sprint(i)))
		s.Set(fmt.Appendf(nil, "x%03d", i), []byte("v"))
		s.Set([]byte("scratch"), []byte("gone"))
		s.Delete([]byte("scratch"))
		commit(t, s)
	}
	close(stop)
	for range 3 {
		require.NoError(t, <-errs)
	}
}

// isUnavailable reports a version pruned before or while it was read,
// which a reader of old versions must expect.
func isUnavailable(err error) bool { return errors.Is(err, ErrVersionUnavailable) }

package store

import (
	"fmt"
	"math/rand"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// What an export costs the blocks committing beside it on memiavl, and
// how long it takes, against IAVL v1: 100,000 keys, then blocks of 5,000
// writes over 120,000 keys to version 39, whose memiavl snapshot is 20 (an
// export loads it and replays 19 versions of the log, the most with a
// snapshot every 20), exported while 10 more such blocks commit. Run with
//
//	TALLY_MEASURE_EXPORT=1 go test ./store -run TestMeasureExportBesideCommits -count=1 -v
func TestMeasureExportBesideCommits(t *testing.T) {
	if os.Getenv("TALLY_MEASURE_EXPORT") == "" {
		t.Skip("a measurement: set TALLY_MEASURE_EXPORT=1")
	}
	for _, engine := range []string{EngineMemiavl, EngineIAVL} {
		s, err := Open(Options{Engine: engine, Dir: t.TempDir(), SnapshotInterval: 20})
		require.NoError(t, err)
		rng := rand.New(rand.NewSource(1))
		block := func() time.Duration {
			for i := 0; i < 5000; i++ {
				s.Set([]byte(fmt.Sprintf("acct/%08d", rng.Intn(120_000))), []byte(fmt.Sprint(rng.Int63())))
			}
			start := time.Now()
			commit(t, s)
			return time.Since(start)
		}
		for i := 0; i < 100_000; i++ {
			s.Set([]byte(fmt.Sprintf("acct/%08d", i)), []byte(fmt.Sprint(rng.Int63())))
		}
		commit(t, s)
		var alone time.Duration
		for v := 2; v <= 39; v++ {
			if v == 39 {
				time.Sleep(2 * time.Second) // memiavl's rewrite of 20 ends: 39 switches to it
			}
			if d := block(); v > 29 {
				alone = max(alone, d)
			}
		}
		last := int64(39)
		require.Equal(t, last, mustLast(s))
		start := time.Now()
		var first time.Duration
		nodes := 0
		done := make(chan error)
		go func() {
			done <- s.Export(last, func(*Node) error {
				if nodes == 0 {
					first = time.Since(start)
				}
				nodes++
				return nil
			})
		}()
		var beside time.Duration
		for i := 0; i < 10; i++ {
			beside = max(beside, block())
		}
		require.NoError(t, <-done)
		t.Logf("%s: export of version %d, %d nodes: first node after %v, all after %v; the longest Commit of 5,000 writes: %v alone (versions 30-39), %v beside the export",
			engine, last, nodes, first.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), alone.Round(time.Millisecond), beside.Round(time.Millisecond))
		require.NoError(t, s.Close())
	}
}

func mustLast(s *Store) int64 {
	v, _ := s.LastCommit()
	return v
}

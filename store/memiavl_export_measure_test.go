package store

import (
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// What an export costs the blocks committing beside it on memiavl, and
// how long it takes, against IAVL v1: 100,000 keys, then blocks of 5,000
// writes over 120,000 keys to version 39, whose memiavl snapshot is 20 (an
// export loads it and replays 19 versions of the log, the most with a
// snapshot every 20), exported while 10 more such blocks commit. A
// benchmark, not a test: it measures and asserts only that the export and
// the blocks succeed. Run with
//
//	go test ./store -run '^$' -bench ExportBesideCommits -benchtime 1x
func BenchmarkExportBesideCommits(b *testing.B) {
	for _, engine := range []string{EngineMemiavl, EngineIAVL} {
		b.Run(engine, func(b *testing.B) {
			for range b.N {
				exportBesideCommits(b, engine)
			}
		})
	}
}

func exportBesideCommits(b *testing.B, engine string) {
	s, err := Open(Options{Engine: engine, Dir: b.TempDir(), SnapshotInterval: 20})
	require.NoError(b, err)
	rng := rand.New(rand.NewSource(1))
	block := func() time.Duration {
		for i := 0; i < 5000; i++ {
			s.Set([]byte(fmt.Sprintf("acct/%08d", rng.Intn(120_000))), []byte(fmt.Sprint(rng.Int63())))
		}
		start := time.Now()
		commit(b, s)
		return time.Since(start)
	}
	for i := 0; i < 100_000; i++ {
		s.Set([]byte(fmt.Sprintf("acct/%08d", i)), []byte(fmt.Sprint(rng.Int63())))
	}
	commit(b, s)
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
	require.Equal(b, last, mustLast(s))
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
	require.NoError(b, <-done)
	all := time.Since(start)
	b.Logf("%s: export of version %d, %d nodes: first node after %v, all after %v; the longest Commit of 5,000 writes: %v alone (versions 30-39), %v beside the export",
		engine, last, nodes, first.Round(time.Millisecond), all.Round(time.Millisecond), alone.Round(time.Millisecond), beside.Round(time.Millisecond))
	b.ReportMetric(float64(nodes), "nodes")
	b.ReportMetric(float64(first.Milliseconds()), "first_node_ms")
	b.ReportMetric(float64(all.Milliseconds()), "export_ms")
	b.ReportMetric(float64(alone.Milliseconds()), "commit_alone_ms")
	b.ReportMetric(float64(beside.Milliseconds()), "commit_beside_ms")
	require.NoError(b, s.Close())
}

func mustLast(s *Store) int64 {
	v, _ := s.LastCommit()
	return v
}

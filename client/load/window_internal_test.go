package load

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSteadyWindowUsesHeaderTimes: under overload the load client reads
// several blocks in one poll, so they share the time it first saw them.
// The window is measured in the blocks' header times, so such a run still
// gets the rate the chain committed at (a bench run at 4,000 tx/s offered
// reported 0 tx/s for a window of four blocks holding 5,274 of its
// transactions, all seen in one poll).
func TestSteadyWindowUsesHeaderTimes(t *testing.T) {
	start := time.Date(2026, 12, 4, 17, 0, 0, 0, time.UTC)
	warm, end := start.Add(2*time.Second), start.Add(20*time.Second)
	seen := start.Add(19 * time.Second) // one late poll saw every block
	var blocks []blockStat
	for i := 0; i < 8; i++ {
		blocks = append(blocks, blockStat{height: int64(10 + i), seen: seen, time: start.Add(time.Duration(3*i) * time.Second), ours: 1000, oursOK: 900})
	}
	// Header times 0, 3, ..., 21 s: those from 2 s to 20 s are heights 11-16.
	w := steadyWindow(blocks, start, warm, end)
	require.Equal(t, Window{FirstHeight: 11, LastHeight: 16, Seconds: 15, Txs: 5 * 900}, w)
	require.InDelta(t, 300.0, float64(w.Txs)/w.Seconds, 1e-9, "900 committed every 3 s")

	// Fewer than two blocks inside the load: every block that carried load.
	w = steadyWindow(blocks[:2], start, warm, end)
	require.True(t, w.WholeRun)
	require.Equal(t, int64(10), w.FirstHeight)
	require.Equal(t, int64(11), w.LastHeight)
	require.Equal(t, 3.0, w.Seconds)
	require.Equal(t, int64(900), w.Txs)

	// One block carried everything: counted from the start of the load.
	w = steadyWindow([]blockStat{{height: 5, time: start.Add(4 * time.Second), ours: 10, oursOK: 10}}, start, warm, end)
	require.Equal(t, Window{FirstHeight: 5, LastHeight: 5, Seconds: 4, Txs: 10, WholeRun: true}, w)
}

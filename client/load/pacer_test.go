package load_test

import (
	"context"
	mrand "math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/client/load"
)

// The pacer is open loop: calls that are never answered do not hold back
// the ones that fall due after them, so all of them start.
func TestThePacerStartsEveryCallWhateverTheAnswers(t *testing.T) {
	release := make(chan struct{})
	var started atomic.Int64
	done := make(chan load.PaceCounts)
	go func() {
		done <- load.Pacer{Rate: 2000}.Run(context.Background(), 200, func(*mrand.Rand) {
			started.Add(1)
			<-release // no call returns until every one has started
		})
	}()
	require.Eventually(t, func() bool { return started.Load() == 200 }, time.Minute, 5*time.Millisecond,
		"calls waiting for an answer held back the later ones")
	close(release)
	c := <-done
	require.Equal(t, load.PaceCounts{Offered: 200, Started: 200, PeakInFlight: 200}, c)
}

// With MaxInFlight, a call due while that many run is dropped and counted;
// no more than MaxInFlight ever run at once.
func TestThePacerCountsWhatItsLimitHeldBack(t *testing.T) {
	var running, peak atomic.Int64
	release := make(chan struct{})
	go func() {
		for running.Load() < 5 {
			time.Sleep(time.Millisecond)
		}
		close(release) // the first five wait until all five run
	}()
	c := load.Pacer{Rate: 5000, MaxInFlight: 5}.Run(context.Background(), 100, func(*mrand.Rand) {
		n := running.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		<-release
		running.Add(-1)
	})
	require.EqualValues(t, 100, c.Offered)
	require.Equal(t, c.Offered, c.Started+c.Dropped)
	require.LessOrEqual(t, peak.Load(), int64(5))
	require.LessOrEqual(t, c.PeakInFlight, int64(5))
	require.GreaterOrEqual(t, c.Started, int64(5))
}

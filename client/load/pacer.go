package load

import (
	"context"
	"crypto/rand"
	mrand "math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Pacer offers calls at a steady rate, open loop: each due call starts at
// its time in a goroutine of its own (a new one, or one that finished an
// earlier call and waits idle), whether or not earlier calls have been
// answered, so a slow node cannot slow the offered load down (a closed
// loop of N senders offers at most N divided by the node's answer time,
// which is how an overloaded node used to hide its overload). The only
// brake is MaxInFlight, and every call it holds back is counted as
// dropped, never silently skipped.
//
// Both drivers of the Mix use it: `tallyd load` (Run) with a large
// MaxInFlight, and the fault suite's workload with a small one.
type Pacer struct {
	// Rate is how many calls a second are offered.
	Rate float64
	// MaxInFlight is the most calls running at once (0: no limit); a call
	// due while that many run is dropped.
	MaxInFlight int
}

// PaceCounts is what a Pacer did.
type PaceCounts struct {
	// Offered is how many calls fell due.
	Offered int64
	// Started is how many of them were started.
	Started int64
	// Dropped fell due while MaxInFlight calls were running.
	Dropped int64
	// PeakInFlight is the most calls that ran at once.
	PeakInFlight int64
}

// Run offers calls of send, Rate a second, until ctx ends or total calls
// have fallen due (total 0: no end), then waits for the calls it started
// to return. By time t after the start, floor(Rate × t) calls have fallen
// due. send gets a random source of its own for the call.
func (p Pacer) Run(ctx context.Context, total int64, send func(r *mrand.Rand)) PaceCounts {
	var c PaceCounts
	var inFlight atomic.Int64
	var peak atomic.Int64
	var wg sync.WaitGroup
	rnds := sync.Pool{New: func() any { return mrand.New(mrand.NewChaCha8(randomSeed())) }}
	call := func() {
		defer wg.Done()
		defer inFlight.Add(-1)
		r := rnds.Get().(*mrand.Rand)
		send(r)
		rnds.Put(r)
	}
	// A goroutine that has made a call waits for the next (up to
	// maxIdleWorkers of them wait) rather than ending: a new goroutine
	// per call grew its stack again in every call (signing a transaction
	// runs deep), 4.5% of `tallyd load`'s CPU at 1,200 tx/s.
	work := make(chan func()) // unbuffered: handed only to a goroutine waiting now
	stop := make(chan struct{})
	defer close(stop)
	var idle atomic.Int64
	worker := func(f func()) {
		for {
			f()
			if idle.Add(1) > maxIdleWorkers {
				idle.Add(-1)
				return
			}
			select {
			case f = <-work:
				idle.Add(-1)
			case <-stop:
				return
			}
		}
	}
	start := time.Now()
	// One tick per call at low rates; every millisecond (several calls a
	// tick) from 1,000 a second.
	every := max(time.Millisecond, time.Duration(float64(time.Second)/p.Rate))
	tick := time.NewTicker(every)
	defer tick.Stop()
	for total == 0 || c.Offered < total {
		var now time.Time
		select {
		case <-ctx.Done():
			wg.Wait()
			return c.withPeak(&peak)
		case now = <-tick.C:
		}
		due := int64(p.Rate * now.Sub(start).Seconds())
		if total > 0 {
			due = min(due, total)
		}
		for ; c.Offered < due; c.Offered++ {
			n := inFlight.Add(1)
			if p.MaxInFlight > 0 && n > int64(p.MaxInFlight) {
				inFlight.Add(-1)
				c.Dropped++
				continue
			}
			for old := peak.Load(); n > old && !peak.CompareAndSwap(old, n); old = peak.Load() {
			}
			c.Started++
			wg.Add(1)
			// Started now either way: by a goroutine waiting idle for one,
			// or by a new one.
			select {
			case work <- call:
			default:
				go worker(call)
			}
		}
	}
	wg.Wait()
	return c.withPeak(&peak)
}

// maxIdleWorkers is how many goroutines at most wait for a Pacer's next
// call.
const maxIdleWorkers = 512

func (c PaceCounts) withPeak(peak *atomic.Int64) PaceCounts {
	c.PeakInFlight = peak.Load()
	return c
}

func randomSeed() [32]byte {
	var s [32]byte
	_, _ = rand.Read(s[:])
	return s
}

package app

import (
	"sync/atomic"
	"time"

	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	"github.com/tallyledger/tally/x/benefits"
	"github.com/tallyledger/tally/x/module"
	"github.com/tallyledger/tally/x/provenance"
)

// Figures for the node's metrics, read off committed state. Nothing here
// is part of a block's processing: the node calls these from its metrics
// scrape and its periodic invariant check.

// Queues are the end-of-block work waiting and the open recalls, in the
// last committed state.
type Queues struct {
	Height int64
	// PaymentPeriodsDue counts programme periods whose payment run is due
	// (at or before now) and not finished.
	PaymentPeriodsDue int
	// RecallStepsPending counts queued recall propagation steps.
	RecallStepsPending int
	// RecallsOpen counts recall orders still propagating or with items
	// awaiting acknowledgement; RecallsUnacknowledged those with items
	// awaiting acknowledgement, the oldest ordered at OldestUnacknowledged
	// (zero when there is none).
	RecallsOpen           int
	RecallsUnacknowledged int
	OldestUnacknowledged  time.Time
	// Capped is set when a count stopped at the limit asked for.
	Capped bool
}

// Queues counts the work waiting in the last committed state, each count
// stopping at limit so a scrape stays cheap on a large state. now is when
// payment periods count as due (the caller's clock: this is a reading for
// operators, not a state transition).
func (a *App) Queues(now time.Time, limit int) (Queues, error) {
	v, _ := a.store.LastCommit()
	q := Queues{Height: v}
	if v == 0 {
		return q, nil
	}
	view := &stateAt{s: a.store, height: v}
	var capped [3]bool
	q.PaymentPeriodsDue, capped[0] = benefits.DuePeriods(view, now.Unix(), limit)
	q.RecallStepsPending, capped[1] = provenance.QueueLengthUpTo(view, limit)
	r, err := provenance.OpenRecalls(view, limit)
	if err != nil {
		return q, err
	}
	capped[2] = r.Capped
	q.RecallsOpen, q.RecallsUnacknowledged = r.Open, r.Unacknowledged
	if r.OldestUnacknowledgedUnix > 0 {
		q.OldestUnacknowledged = time.Unix(r.OldestUnacknowledgedUnix, 0)
	}
	q.Capped = capped[0] || capped[1] || capped[2]
	return q, view.err
}

// CarriedOver counts, by module, the blocks whose end-of-block work for
// that module spent its share of end_block_units and left the rest for
// later blocks, since this process started.
func (a *App) CarriedOver() map[string]uint64 {
	out := make(map[string]uint64, len(a.carried))
	for name, n := range a.carried {
		out[name] = n.Load()
	}
	return out
}

// newCarried makes the carried-over counters of the modules with
// end-of-block work.
func newCarried(modules []module.Module) map[string]*atomic.Uint64 {
	out := map[string]*atomic.Uint64{}
	for _, m := range modules {
		if m.EndBlock != nil {
			out[m.Name] = new(atomic.Uint64)
		}
	}
	return out
}

// CheckInvariants runs every module's invariants over the last committed
// state, for the node's periodic check. It takes the one whole-state walk
// allowed at a time and is refused while another runs, with ErrBusy
// (errors.Is) and when to try again.
func (a *App) CheckInvariants() (*appv1.InvariantsReport, int64, error) {
	release, err := a.startWalk("the periodic invariant check")
	if err != nil {
		return nil, 0, err
	}
	defer release()
	v, _ := a.store.LastCommit()
	if v == 0 {
		return &appv1.InvariantsReport{Ok: true}, 0, nil
	}
	view := &stateAt{s: a.store, height: v}
	r, err := a.invariants(view)
	if err == nil {
		err = view.err
	}
	return r, v, err
}

package node

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cometbft/cometbft/libs/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tallyledger/tally/app"
)

// Metrics read off the app's committed state rather than off what a block
// returned: the end-of-block queues, the open recalls, the work carried
// over, and the periodic invariant check.

// queueLimit bounds each count a scrape makes, so a scrape of a node with
// a large backlog stays a bounded walk; a count at the limit is reported
// as the limit with tally_queue_counts_capped = 1.
const queueLimit = 100_000

// invariantFirstCheck is when, after start, a node with metrics on first
// runs every module's invariants over its last committed state (then every
// app.toml invariant_check_every: a whole-state walk, so rarely).
const invariantFirstCheck = time.Minute

// queueCollector reads the app's queues once per scrape. One serves the
// process (metrics are per process); it reads the app of the node built
// last, so a node restarted in-process is read, not its closed
// predecessor.
type queueCollector struct {
	a atomic.Pointer[app.App]

	paymentsDue, recallSteps, recallsOpen, recallsUnacked, oldestUnacked, capped, carried *prometheus.Desc
	snapHeight, snapDuration, snapTaken, snapFailed, snapSkipped                          *prometheus.Desc
}

// processQueues is the process's queue collector, registered once.
var (
	processQueues     = newQueueCollector()
	processQueuesOnce sync.Once
)

// watchQueues makes the process's queue collector read a and registers
// it with reg the first time.
func watchQueues(reg prometheus.Registerer, a *app.App) {
	processQueues.a.Store(a)
	processQueuesOnce.Do(func() { register(reg, prometheus.Collector(processQueues)) })
}

func newQueueCollector() *queueCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("tally_"+name, help, labels, nil)
	}
	return &queueCollector{
		paymentsDue:    d("queue_payment_periods_due", "Programme periods whose scheduled payment run is due and not finished (end-of-block work waiting)."),
		recallSteps:    d("queue_recall_steps", "Recall propagation steps queued for end-of-block work."),
		recallsOpen:    d("recalls_open", "Recall orders still propagating or with items whose custodian has not acknowledged."),
		recallsUnacked: d("recalls_unacknowledged", "Recall orders with items whose custodian has not acknowledged."),
		oldestUnacked:  d("recall_unacknowledged_oldest_age_seconds", "Age (by this node's clock) of the oldest recall order with items not yet acknowledged; 0 when there is none."),
		capped:         d("queue_counts_capped", "1 when a queue count above stopped at its limit (100,000): the real figure is larger."),
		carried:        d("end_block_carried_over_total", "Blocks whose end-of-block work for the module spent its share of end_block_units and carried the rest over, since the node started.", "module"),
		snapHeight:     d("snapshot_last_height", "Height of the last state-sync snapshot this node took since it started (0: none yet; app.toml snapshot_interval)."),
		snapDuration:   d("snapshot_last_duration_seconds", "How long the last state-sync snapshot took to write."),
		snapTaken:      d("snapshot_last_timestamp_seconds", "When the last state-sync snapshot was finished (Unix time; 0: none yet)."),
		snapFailed:     d("snapshots_failed_total", "State-sync snapshots that failed since the node started (the log says why)."),
		snapSkipped:    d("snapshots_skipped_total", "Due state-sync snapshots skipped because the previous one was still being written: snapshot_interval is too short for the state's size."),
	}
}

// Describe sends the collector's metric descriptions.
func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.paymentsDue, c.recallSteps, c.recallsOpen, c.recallsUnacked, c.oldestUnacked, c.capped, c.carried,
		c.snapHeight, c.snapDuration, c.snapTaken, c.snapFailed, c.snapSkipped} {
		ch <- d
	}
}

// Collect reads the queues at the last committed height.
func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	a := c.a.Load()
	if a == nil {
		return
	}
	now := time.Now()
	sn := a.SnapshotStats()
	taken := 0.0
	if !sn.Taken.IsZero() {
		taken = float64(sn.Taken.UnixNano()) / 1e9
	}
	ch <- prometheus.MustNewConstMetric(c.snapHeight, prometheus.GaugeValue, float64(sn.Height))
	ch <- prometheus.MustNewConstMetric(c.snapDuration, prometheus.GaugeValue, sn.Duration.Seconds())
	ch <- prometheus.MustNewConstMetric(c.snapTaken, prometheus.GaugeValue, taken)
	ch <- prometheus.MustNewConstMetric(c.snapFailed, prometheus.CounterValue, float64(sn.Failed))
	ch <- prometheus.MustNewConstMetric(c.snapSkipped, prometheus.CounterValue, float64(sn.Skipped))
	for module, n := range a.CarriedOver() {
		ch <- prometheus.MustNewConstMetric(c.carried, prometheus.CounterValue, float64(n), module)
	}
	q, err := a.Queues(now, queueLimit)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.paymentsDue, err)
		return
	}
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	gauge(c.paymentsDue, float64(q.PaymentPeriodsDue))
	gauge(c.recallSteps, float64(q.RecallStepsPending))
	gauge(c.recallsOpen, float64(q.RecallsOpen))
	gauge(c.recallsUnacked, float64(q.RecallsUnacknowledged))
	age := 0.0
	if !q.OldestUnacknowledged.IsZero() {
		age = max(0, now.Sub(q.OldestUnacknowledged).Seconds())
	}
	gauge(c.oldestUnacked, age)
	capped := 0.0
	if q.Capped {
		capped = 1
	}
	gauge(c.capped, capped)
}

// invariantWatch runs the app's invariants every invariantCheckEvery and
// publishes how many checks fail.
type invariantWatch struct {
	a       *app.App
	every   time.Duration
	logger  log.Logger
	now     func() time.Time // time.Now; a test's clock
	failing prometheus.Gauge
	height  prometheus.Gauge
	checked prometheus.Gauge
}

func newInvariantWatch(reg prometheus.Registerer, a *app.App, every time.Duration, logger log.Logger) *invariantWatch {
	return &invariantWatch{
		a: a, every: every, logger: logger, now: time.Now,
		failing: register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "tally", Name: "invariant_checks_failing",
			Help: "Invariant checks (every module's, as /invariants reports them) failing at the last periodic check of this node's committed state; anything above 0 is a bug or a corrupted state.",
		})),
		height: register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "tally", Name: "invariants_checked_height", Help: "Height of the state the last periodic invariant check read.",
		})),
		checked: register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "tally", Name: "invariants_checked_timestamp_seconds", Help: "When the last periodic invariant check finished (Unix time).",
		})),
	}
}

// run checks now and then until stop is closed.
func (w *invariantWatch) run(stop <-chan struct{}) {
	t := time.NewTimer(min(invariantFirstCheck, w.every))
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			t.Reset(w.check())
		}
	}
}

// invariantBusyRetry is how soon the periodic check runs again when it
// met another whole-state walk (an operator's /invariants query).
const invariantBusyRetry = 30 * time.Second

// invariantQuiet bounds the share of a node's time the periodic check
// takes: after a walk that took d, the next starts no sooner than
// invariantQuiet·d later, so the walks take at most about a twentieth of
// the node's time (of one core: a walk reads on one goroutine) whatever
// invariant_check_every says. The walk reads every record, so its length
// grows with the state: at 100,000-odd transactions' state on IAVL v1 it
// took 3.6-3.9 s of CPU on each node of a loaded network (5 December),
// and a state a hundred times larger would walk for minutes, every ten
// minutes, beside consensus, through the database cache consensus reads.
const invariantQuiet = 20

// check runs the invariants once, publishes the result and says when to
// check next: after every, or later when the walk was long (see
// invariantQuiet), or sooner when the node was busy with another walk
// (app.ErrBusy).
func (w *invariantWatch) check() (next time.Duration) {
	start := w.now()
	r, h, err := w.a.CheckInvariants()
	if errors.Is(err, app.ErrBusy) {
		w.logger.Info("periodic invariant check put off: another whole-state walk is running", "retry_in", min(invariantBusyRetry, w.every))
		return min(invariantBusyRetry, w.every)
	}
	next = w.spaced(w.now().Sub(start))
	if err != nil {
		w.logger.Info("periodic invariant check skipped", "err", err, "next_in", next)
		return next
	}
	failing := 0
	for _, m := range r.Modules {
		for _, c := range m.Checks {
			if !c.Ok {
				failing++
				w.logger.Error("invariant check failed", "module", m.Module, "check", c.Name, "height", h, "detail", c.Detail)
			}
		}
	}
	w.failing.Set(float64(failing))
	w.height.Set(float64(h))
	w.checked.SetToCurrentTime()
	return next
}

// spaced is how long to wait after a walk that took took: every, or
// invariantQuiet times the walk when that is longer.
func (w *invariantWatch) spaced(took time.Duration) time.Duration {
	quiet := took * invariantQuiet
	if quiet <= w.every {
		return w.every
	}
	w.logger.Info("periodic invariant check spaced out: the whole-state walk took long, so the next waits twenty times as long (at most a twentieth of the node's time)",
		"took", took, "next_in", quiet, "invariant_check_every", w.every)
	return quiet
}

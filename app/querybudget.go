package app

import (
	"sync"
	"sync/atomic"
	"time"
)

// Query pacing. Queries run on their own ABCI connection, beside
// FinalizeBlock and Commit, but they share the machine's CPU with them: a
// client that asks for expensive pages without pause takes a core the
// consensus connection needs (issue 13 measured blocks 42% slower under such
// a flood). So a node spends at most a share of one core answering queries:
// a token bucket of query time, refilled at that share of wall time. A query
// that arrives while the bucket is in debt waits (it holds the query
// connection, so the queries behind it wait too, without using the CPU)
// until the debt is repaid, and if that would take longer than
// maxQueryWait it is refused with ErrBusy after waiting maxQueryWait. A
// query that starts is answered whatever it costs; its time is charged after.

// DefaultQueryBudgetPercent is the share of one core a node spends
// answering queries when app.toml does not say (query_budget_percent).
const DefaultQueryBudgetPercent = 10

const (
	// queryBurst is the most query time saved up while the node is idle,
	// so a burst of reads after a quiet spell is answered at once.
	queryBurst = time.Second
	// maxQueryWait is the longest a query waits for the budget before it
	// is refused: clients (CometBFT's RPC) time out after about 10 s.
	maxQueryWait = 2 * time.Second
)

// queryBudget is the token bucket of query time. The zero value is not
// used; newQueryBudget makes one.
type queryBudget struct {
	// outer counts readers admitted and being charged by the node's RPC
	// lane (PaceReader); while it is positive, Query's time is part of
	// theirs.
	outer   atomic.Int32
	mu      sync.Mutex
	percent int64         // share of one core, 1..99; 0 = no limit
	balance time.Duration // query time available; negative is debt
	last    time.Time     // when balance was last refilled
	now     func() time.Time
	sleep   func(time.Duration)
}

// newQueryBudget paces queries to percent of one core; 0 (an App built
// without the node's config, as in tests) or 100 and more mean no limit.
func newQueryBudget(percent int) *queryBudget {
	if percent <= 0 || percent >= 100 {
		percent = 0
	}
	b := &queryBudget{percent: int64(percent), balance: queryBurst, now: time.Now, sleep: time.Sleep}
	b.last = b.now()
	return b
}

// refill adds the time earned since the last refill. b.mu is held.
func (b *queryBudget) refill(now time.Time) {
	if d := now.Sub(b.last); d > 0 {
		b.balance = min(b.balance+d*time.Duration(b.percent)/100, queryBurst)
	}
	b.last = now
}

// wait returns how long the next query must wait for the budget: 0 when
// it may run now.
func (b *queryBudget) wait() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill(b.now())
	if b.balance > 0 {
		return 0
	}
	return (-b.balance)*100/time.Duration(b.percent) + time.Millisecond
}

// admit waits for the budget and reports whether the query may run; when
// it may not, retry says after how long it would.
func (b *queryBudget) admit() (ok bool, retry time.Duration) {
	if b == nil || b.percent == 0 || b.outer.Load() > 0 {
		return true, 0
	}
	w := b.wait()
	if w == 0 {
		return true, 0
	}
	if w > maxQueryWait {
		b.sleep(maxQueryWait)
		return false, w - maxQueryWait
	}
	b.sleep(w)
	return true, 0
}

// start marks the beginning of an admitted query; the returned func
// charges its time when it has answered.
func (b *queryBudget) start() (done func()) {
	if b == nil || b.percent == 0 || b.outer.Load() > 0 {
		return func() {}
	}
	return b.charge()
}

// charge starts charging the bucket; the returned func stops.
func (b *queryBudget) charge() (done func()) {
	t0 := b.now()
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		now := b.now()
		b.refill(now)
		b.balance -= now.Sub(t0)
	}
}

// PaceReader admits one reader request of the node's RPC server (anything
// but a transaction broadcast) against this node's query budget: it waits
// while the budget is in debt, as Query does, and reports whether the
// request may run, or after how long asking again would succeed. When it
// may, done must be called once the answer is written: the request's whole
// time (decoding, the queries it makes, encoding and writing the answer)
// is charged, and Query does not charge its part again. The caller runs
// one reader at a time, so time charged is never more than time used.
func (a *App) PaceReader() (ok bool, retry time.Duration, done func()) {
	b := a.queries
	if b == nil || b.percent == 0 {
		return true, 0, func() {}
	}
	if ok, retry := b.admit(); !ok {
		return false, retry, nil
	}
	b.outer.Add(1)
	stop := b.charge()
	return true, 0, func() {
		stop()
		b.outer.Add(-1)
	}
}

// PacesReaders says whether this node limits its readers
// (query_budget_percent below 100); when it does not, the node's RPC has
// no reader lane either.
func (a *App) PacesReaders() bool { return a.queries != nil && a.queries.percent != 0 }

// BusyRetry is the refusal of a reader the budget turned away, for the
// node's RPC server to send: the code of ErrBusy and a message saying when
// to ask again.
func BusyRetry(retry time.Duration) error {
	return ErrBusy.Wrapf("this node has spent its share of time on readers; try again in %d ms (or ask another node)", (retry+time.Millisecond-1)/time.Millisecond)
}

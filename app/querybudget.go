package app

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Query pacing. Queries run on their own ABCI connection, beside
// FinalizeBlock and Commit, but they share the machine's CPU with them: a
// client that asks for expensive pages without pause takes CPU the
// consensus connection needs (issue 13 measured blocks 42% slower under such
// a flood). So readers get a share of the CPU this node gets, not of a
// core: on a saturated machine a node gets only what the scheduler hands
// it (7-13% of a core each for the fault suite's nodes on a loaded 2-core
// machine), and "10% of a core" there is the node's whole share.
//
// The budget is a token bucket of reader CPU time. It earns
// query_budget_percent of the larger of
//
//   - the CPU time this process used (getrusage RUSAGE_SELF), readers
//     included: readers can take at most that share of what the node gets,
//     however loaded the machine is;
//   - the CPU a thread of this node could have had: wall time times the
//     part of it in which no thread on the machine waited for a CPU
//     (Linux's CPU pressure, /proc/pressure/cpu "some avg10"; without it,
//     the part of their runnable time reader threads ran, from their run
//     delay in /proc/thread-self/schedstat). On an idle machine that is a
//     whole core, so readers get the share of a core they always had,
//     which the consensus threads, finding a CPU free, do not miss; on a
//     saturated one it is small;
//   - 1% of a core, so readers are never shut out completely.
//
// The bucket saves up at most a second of what it earns, so a flood that
// starts after a quiet spell gets no more than that at once (a fixed
// burst of 250 ms let each 5-second flood of the hostile client run
// unpaced on a loaded node).
//
// A reader is charged overhead times the CPU time its own OS thread ran
// (it is locked to one from decoding its request to sending its answer),
// not its wall time: waiting for a CPU, for the disk or for the query
// connection costs nothing, and a slow machine does not make a reader
// dearer. Nothing a client sends raises the earnings: the pressure and the
// run delay are the kernel's, and reader CPU adds to the first term only
// percent of itself. The overhead stands for what a reader costs outside
// its thread (the garbage collector's work its allocations cause, the HTTP
// connection's reading), measured, not per reader.
//
// A reader that arrives while the bucket is in debt waits (without using
// the CPU) until the debt is repaid at the recent earning rate; if that
// would take longer than maxQueryWait it is refused with ErrBusy after
// waiting maxQueryWait. A reader that starts is answered whatever it costs;
// its CPU is charged after.

// DefaultQueryBudgetPercent is the share of this node's CPU its readers
// may use when app.toml does not say (query_budget_percent).
const DefaultQueryBudgetPercent = 10

const (
	// minBurst is the least reader CPU time the bucket may save up.
	minBurst = 2 * time.Millisecond
	// overhead is what a reader costs the node for each unit of CPU its
	// thread runs: the garbage collector's work its allocations cause and
	// the HTTP connection's own reading run elsewhere. Measured under the
	// hostile client's query flood (TestHostileClient, shared 2-core
	// machine): the node's process used 1.4-2.2 times the CPU its reader
	// threads ran beyond what it used without the flood.
	overhead = 2
	// maxQueryWait is the longest a query waits for the budget before it
	// is refused: clients (CometBFT's RPC) time out after about 10 s.
	maxQueryWait = 2 * time.Second
	// refillEvery is the shortest interval the bucket measures earnings
	// over (the process's CPU time moves in steps).
	refillEvery = 50 * time.Millisecond
	// floorPPM is the CPU, in millionths of a core, whose percent readers
	// always earn (1% of a core).
	floorPPM = 10_000
)

// cpuClock reads CPU time: the process's, and the calling OS thread's.
type cpuClock interface {
	// process is the CPU time (user and system) this process has used.
	process() time.Duration
	// thread is the CPU time the calling OS thread has run and how long
	// it has waited for a CPU while runnable; ok is false where the
	// system does not say (readers are then charged wall time).
	thread() (ran, waited time.Duration, ok bool)
	// threadID names the calling OS thread.
	threadID() int64
	// stalled is the part of recent time, in millionths, in which some
	// runnable thread on this machine waited for a CPU (Linux's pressure
	// stall information, /proc/pressure/cpu "some avg10"); ok is false
	// where the system does not say.
	stalled() (ppm int64, ok bool)
}

// queryBudget is the token bucket of reader CPU time. The zero value is
// not used; newQueryBudget makes one.
type queryBudget struct {
	// lane is the OS thread of the reader the node's RPC lane is
	// charging (0: none); Query on that thread is part of its charge.
	lane    atomic.Int64
	mu      sync.Mutex
	percent int64         // share of the node's CPU, 1..99; 0 = no limit
	balance time.Duration // reader CPU time available; negative is debt
	last    time.Time     // when balance was last refilled
	lastCPU time.Duration // the process's CPU time then
	// rate is what the bucket earned over the last refill, in millionths
	// of a core; it says how long a debt takes to repay.
	rate int64
	// ran and waited are reader threads' recent run time and run delay
	// (decayed sums): the part of its runnable time a thread of this node
	// gets a CPU.
	ran, waited time.Duration
	now         func() time.Time
	sleep       func(time.Duration)
	cpu         cpuClock
}

// newQueryBudget paces readers to percent of this node's CPU; 0 (an App
// built without the node's config, as in tests) or 100 and more mean no
// limit.
func newQueryBudget(percent int) *queryBudget {
	if percent <= 0 || percent >= 100 {
		percent = 0
	}
	b := &queryBudget{percent: int64(percent), now: time.Now, sleep: time.Sleep, cpu: systemCPU{}}
	b.reset()
	return b
}

// reset starts measuring earnings from now (after a clock is swapped in
// tests, and at construction).
func (b *queryBudget) reset() {
	b.last, b.lastCPU = b.now(), b.cpu.process()
	b.rate = b.percent * 1_000_000 / 100 // a core, until measured
	b.balance = b.burst()
}

// refill adds what readers earned since the last refill. b.mu is held.
func (b *queryBudget) refill(now time.Time) {
	d := now.Sub(b.last)
	if d < refillEvery {
		return
	}
	cpu := b.cpu.process()
	used := max(cpu-b.lastCPU, 0)
	b.last, b.lastCPU = now, cpu
	d = min(d, time.Minute) // the bucket holds a second of earnings at most anyway
	// Parts per million of a core: what a thread of ours could have run
	// (a whole core until readers have been measured), and the floor.
	sparePPM := int64(1_000_000)
	if stalled, ok := b.cpu.stalled(); ok {
		sparePPM = 1_000_000 - min(max(stalled, 0), 1_000_000)
	} else if total := b.ran + b.waited; total > 0 {
		sparePPM = int64(b.ran) * 1_000_000 / int64(total)
	}
	earnable := max(used, d*time.Duration(max(sparePPM, floorPPM))/1_000_000)
	earned := earnable * time.Duration(b.percent) / 100
	b.rate = int64(earned) * 1_000_000 / int64(d)
	b.balance = min(b.balance+earned, b.burst())
}

// burst is the most reader CPU the bucket saves up while readers are
// quiet: a second of what it earns now, so a flood that starts after a
// quiet spell gets no more than a second's share at once. b.mu is held.
func (b *queryBudget) burst() time.Duration {
	return max(time.Duration(b.rate)*time.Second/1_000_000, minBurst)
}

// wait returns how long the next reader must wait for the budget: 0 when
// it may run now.
func (b *queryBudget) wait() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill(b.now())
	if b.balance > 0 {
		return 0
	}
	rate := max(b.rate, b.percent*floorPPM/100)
	return time.Duration(int64(-b.balance)*1_000_000/rate) + time.Millisecond
}

// admit waits for the budget and reports whether the reader may run; when
// it may not, retry says after how long it would.
func (b *queryBudget) admit() (ok bool, retry time.Duration) {
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

// paced says whether this budget limits anything.
func (b *queryBudget) paced() bool { return b != nil && b.percent != 0 }

// meter measures one reader's CPU on the calling goroutine, which it locks
// to its OS thread until stop.
type meter struct {
	b      *queryBudget
	start  time.Time
	ran    time.Duration
	waited time.Duration
	ok     bool
}

func (b *queryBudget) startMeter() *meter {
	runtime.LockOSThread()
	m := &meter{b: b, start: b.now()}
	m.ran, m.waited, m.ok = b.cpu.thread()
	return m
}

// stop charges the reader what it used, when charge is set, and unlocks
// its thread.
func (m *meter) stop(charge bool) {
	b := m.b
	ran, waited, ok := b.cpu.thread()
	now := b.now()
	runtime.UnlockOSThread()
	if !charge {
		return
	}
	cost := now.Sub(m.start) // where the system cannot say: wall time
	b.mu.Lock()
	defer b.mu.Unlock()
	if ok && m.ok {
		cost = max(ran-m.ran, 0) * overhead
		// Decayed sums: the last few readers' experience counts most.
		b.ran = b.ran*7/8 + max(ran-m.ran, 0)
		b.waited = b.waited*7/8 + max(waited-m.waited, 0)
	}
	b.refill(now)
	b.balance -= cost
}

// Query's pacing: a query the RPC lane is already charging (same OS
// thread) is neither paced nor charged again; any other (a websocket
// message, a direct ABCI client) is admitted and charged on its own.
func (b *queryBudget) query() (ok bool, retry time.Duration, done func()) {
	if !b.paced() || b.lane.Load() == b.cpu.threadID() {
		return true, 0, func() {}
	}
	if ok, retry := b.admit(); !ok {
		return false, retry, nil
	}
	m := b.startMeter()
	return true, 0, func() { m.stop(true) }
}

// Reader is one request of the node's RPC server that reads (anything but
// a transaction broadcast), measured from StartReader to Done on the
// calling goroutine, which stays on one OS thread meanwhile.
type Reader struct {
	b      *queryBudget
	m      *meter
	inLane bool
}

// StartReader starts measuring a reader's CPU: everything the calling
// goroutine does until Done (decoding the request, the queries it makes,
// encoding and sending the answer) is charged to this node's reader
// budget. Done or Cancel must be called, on the same goroutine.
func (a *App) StartReader() *Reader {
	b := a.queries
	if !b.paced() {
		return &Reader{}
	}
	return &Reader{b: b, m: b.startMeter()}
}

// Admit waits while the budget is in debt, as Query does, and reports
// whether the reader may run, or after how long asking again would
// succeed. The caller runs one admitted reader at a time; until Leave,
// Query on its goroutine does not charge again.
func (r *Reader) Admit() (ok bool, retry time.Duration) {
	if r.b == nil {
		return true, 0
	}
	if ok, retry = r.b.admit(); !ok {
		return false, retry
	}
	r.inLane = true
	r.b.lane.Store(r.b.cpu.threadID())
	return true, 0
}

// Leave marks the end of the reader's turn (its answer is built); what it
// does until Done is still charged to it.
func (r *Reader) Leave() {
	if r.inLane {
		r.b.lane.Store(0)
		r.inLane = false
	}
}

// Done charges the reader's CPU, refused or not (its decoding was spent
// either way), and releases its thread.
func (r *Reader) Done() {
	if r.b == nil {
		return
	}
	r.Leave()
	r.m.stop(true)
}

// Cancel releases the thread without charging: the request turned out not
// to be a reader (a broadcast).
func (r *Reader) Cancel() {
	if r.b == nil {
		return
	}
	r.Leave()
	r.m.stop(false)
}

// Encoding cost of an answer written outside any reader's thread (a
// websocket connection's: CometBFT encodes it on the connection's own
// goroutines), per answer and per byte. Measured as thread CPU time of
// CometBFT's encoding of abci_query answers (NewRPCSuccessResponse and
// json.Marshal) on the loaded 2-core machine: 17 µs for 210 bytes, 62 µs
// for 1.7 KB, 103 µs for 4.2 KB, 980 µs for 68 KB.
const (
	writeCost     = 20 * time.Microsecond
	writeByteCost = 20 * time.Nanosecond
)

// ChargeWritten charges the reader budget for an answer of n bytes that a
// websocket connection wrote: its encoding ran on CometBFT's goroutines,
// where no reader's thread is measured (its query is charged by Query).
// Past the budget, the connection's next queries wait and are refused as
// busy like any reader's.
func (a *App) ChargeWritten(n int) {
	b := a.queries
	if !b.paced() || n <= 0 {
		return
	}
	cost := (writeCost + time.Duration(n)*writeByteCost) * overhead
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill(b.now())
	b.balance -= cost
}

// PacesReaders says whether this node limits its readers
// (query_budget_percent below 100); when it does not, the node's RPC has
// no reader lane either.
func (a *App) PacesReaders() bool { return a.queries.paced() }

// BusyRetry is the refusal of a reader the budget turned away, for the
// node's RPC server to send: the code of ErrBusy and a message saying when
// to ask again.
func BusyRetry(retry time.Duration) error {
	return ErrBusy.Wrapf("this node has spent its share of time on readers; try again in %d ms (or ask another node)", (retry+time.Millisecond-1)/time.Millisecond)
}

// parseSchedstat reads the first two numbers of a schedstat line: time
// run and time waited for a CPU, in nanoseconds.
func parseSchedstat(b []byte) (ran, waited time.Duration, ok bool) {
	var v [2]int64
	i := 0
	for f := range v {
		for i < len(b) && b[i] == ' ' {
			i++
		}
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' && v[f] < 1<<58 {
			v[f] = v[f]*10 + int64(b[i]-'0')
			i++
		}
		if i == start {
			return 0, 0, false
		}
	}
	return time.Duration(v[0]), time.Duration(v[1]), true
}

// parsePressure reads "some avg10=82.78 ..." as 827,800 millionths.
func parsePressure(b []byte) (ppm int64, ok bool) {
	const key = "some avg10="
	if len(b) < len(key) || string(b[:len(key)]) != key {
		return 0, false
	}
	b = b[len(key):]
	var whole, frac, digits int64
	i := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9' && whole < 1000; i++ {
		whole = whole*10 + int64(b[i]-'0')
	}
	if i == 0 {
		return 0, false
	}
	if i < len(b) && b[i] == '.' {
		for i++; i < len(b) && b[i] >= '0' && b[i] <= '9' && digits < 4; i++ {
			frac = frac*10 + int64(b[i]-'0')
			digits++
		}
	}
	for ; digits < 4; digits++ {
		frac *= 10
	}
	return whole*10_000 + frac, true // percent to millionths: ×10,000
}

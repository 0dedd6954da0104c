package app

import (
	"context"
	"strings"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/module"
)

// fakeCPU is a CPU clock the test moves by hand: the process's CPU time,
// and the calling thread's run time and run-queue wait (one thread, named
// tid).
type fakeCPU struct {
	proc, ran, waited time.Duration
	tid               int64
	unknown           bool  // the system gives no thread times
	stall             int64 // CPU pressure, millionths; -1: the system does not say
}

func (f *fakeCPU) process() time.Duration { return f.proc }
func (f *fakeCPU) thread() (time.Duration, time.Duration, bool) {
	return f.ran, f.waited, !f.unknown
}
func (f *fakeCPU) threadID() int64        { return f.tid }
func (f *fakeCPU) stalled() (int64, bool) { return f.stall, f.stall >= 0 }

// budgetClock gives an App's query budget a fake wall clock, sleep and
// CPU clock; it returns them.
type budgetClock struct {
	now   time.Time
	slept time.Duration
	cpu   *fakeCPU
}

func fakeBudget(b *queryBudget) *budgetClock {
	c := &budgetClock{now: time.Unix(1_000_000, 0), cpu: &fakeCPU{tid: 7, stall: -1}}
	b.now = func() time.Time { return c.now }
	b.sleep = func(d time.Duration) { c.slept += d; c.now = c.now.Add(d) }
	b.cpu = c.cpu
	b.reset()
	return c
}

// run advances the wall clock by wall, during which the process used
// proc of CPU.
func (c *budgetClock) run(wall, proc time.Duration) {
	c.now = c.now.Add(wall)
	c.cpu.proc += proc
}

func committedApp(t *testing.T) *App {
	t.Helper()
	a, err := New(store.NewMemory(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	a.store.Set([]byte("k"), []byte("v"))
	if _, _, err := a.store.Commit(); err != nil {
		t.Fatal(err)
	}
	return a
}

// A reader is charged the CPU time its own thread ran (times overhead),
// not its wall time: on a loaded machine a request that waited 4 s for a
// CPU and ran 40 ms costs 80 ms. Its query is part of it (same thread): not
// paced or charged again.
func TestAReaderIsChargedTheCPUItsThreadRan(t *testing.T) {
	a := committedApp(t)
	a.queries = newQueryBudget(10)
	c := fakeBudget(a.queries)
	c.cpu.stall = 1_000_000 // nothing spare: readers earn only the floor
	a.queries.balance = time.Millisecond
	r := a.StartReader()
	if ok, _ := r.Admit(); !ok {
		t.Fatal("the first reader was refused with budget left")
	}
	c.now = c.now.Add(2 * time.Second)
	c.cpu.ran += 10 * time.Millisecond
	c.cpu.waited += 2 * time.Second
	res, err := a.Query(context.Background(), &abci.RequestQuery{Path: api.PathKey, Data: []byte("k")})
	if err != nil || res.Code != 0 {
		t.Fatalf("the reader's query: %v %s/%d %s", err, res.Codespace, res.Code, res.Log)
	}
	r.Leave()
	c.now = c.now.Add(2 * time.Second)
	c.cpu.ran += 30 * time.Millisecond // encoding and sending the answer
	r.Done()
	// 4 s at the floor (10% of 1% of a core) earned 4 ms, capped at a
	// second's earnings (2 ms at least); the reader ran 40 ms: 80 ms.
	if got, want := a.queries.balance, 2*time.Millisecond-80*time.Millisecond; got != want {
		t.Fatalf("balance after a reader that ran 40 ms in 4 s: %s; want %s (its CPU times %d, charged once)", got, want, overhead)
	}
	if c.slept != 0 {
		t.Fatalf("the reader's own query waited %s", c.slept)
	}
}

// Readers earn a share of the CPU this node gets. On a saturated machine
// (some thread waits for a CPU 90% of the time) where the node used 100 ms
// of CPU a second, 10% of it is 10 ms a second, not 10% of a core; on an
// idle machine (no wait) it is 10% of a core, as a budget in shares of a
// core was. Without the machine's pressure figures, reader threads' own
// run delay says how much of a core a thread of ours gets.
func TestReadersEarnAShareOfTheCPUTheNodeGets(t *testing.T) {
	for _, tc := range []struct {
		name        string
		stall       int64
		ran, waited time.Duration // a reader's, when stall is -1
		perSecond   time.Duration // the budget's earning
	}{
		{"saturated machine", 900_000, 0, 0, 10 * time.Millisecond},
		{"idle machine", 0, 0, 0, 100 * time.Millisecond},
		{"half the time waiting", 500_000, 0, 0, 50 * time.Millisecond},
		{"no pressure figures, reader threads wait 9 parts in 10", -1, 10 * time.Millisecond, 90 * time.Millisecond, 10 * time.Millisecond},
		{"no pressure figures, reader threads never wait", -1, 10 * time.Millisecond, 0, 100 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newQueryBudget(10)
			c := fakeBudget(b)
			c.cpu.stall = tc.stall
			m := b.startMeter()
			c.cpu.ran += tc.ran
			c.cpu.waited += tc.waited
			m.stop(true)
			b.balance = -time.Second
			c.run(2*time.Second, 200*time.Millisecond) // the node: 10% of a core
			b.wait()
			if got, want := b.balance, -time.Second+2*tc.perSecond; got != want {
				t.Fatalf("earned in 2 s: %s; want %s", got+time.Second, 2*tc.perSecond)
			}
			if got, want := b.burst(), tc.perSecond; got != want {
				t.Fatalf("saves up at most %s; want a second's earnings, %s", got, want)
			}
		})
	}
}

// Past the budget a reader waits for the debt to be repaid at the rate
// readers now earn, and is refused busy (tx/70) when that would take more
// than maxQueryWait, after waiting that long; the rate is the node's, so on
// a loaded node a debt takes longer to repay than a share of a core would.
// The peer filter's queries (CometBFT's own) are never paced.
func TestReadersPastTheBudgetWaitThenAreRefusedBusy(t *testing.T) {
	a := committedApp(t)
	a.queries = newQueryBudget(10)
	c := fakeBudget(a.queries)
	// A loaded node: a thread waits for a CPU 90% of the time, it uses
	// 100 ms of CPU a second; readers earn 10 ms a second.
	c.cpu.stall = 900_000
	m := a.queries.startMeter()
	c.cpu.ran += 300 * time.Millisecond
	c.run(time.Second, 100*time.Millisecond)
	m.stop(true)
	if a.queries.rate != 10_000 {
		t.Fatalf("readers earn %d millionths of a core; want 10,000 (10%% of the node's 100 ms a second)", a.queries.rate)
	}
	// 30 ms of debt: 3 s to repay.
	a.queries.balance = -30 * time.Millisecond
	query := func() *abci.ResponseQuery {
		res, err := a.Query(context.Background(), &abci.RequestQuery{Path: api.PathKey, Data: []byte("k")})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := query()
	if res.Code != ErrBusy.Code || res.Codespace != Codespace || !strings.Contains(res.Log, "try again in 1001 ms") {
		t.Fatalf("a query while readers are 3 s in debt answered %s/%d %q; want tx/%d busy, try again in 1001 ms", res.Codespace, res.Code, res.Log, ErrBusy.Code)
	}
	if c.slept != maxQueryWait {
		t.Fatalf("the refused query waited %s; want %s (it holds back the flood without using the CPU)", c.slept, maxQueryWait)
	}
	// The node kept using 100 ms a second while it waited: 10 ms of debt
	// left, which the next query waits out.
	c.cpu.proc += 200 * time.Millisecond
	c.slept = 0
	if res := query(); res.Code != 0 {
		t.Fatalf("a query with 1 s of debt: %s/%d %s", res.Codespace, res.Code, res.Log)
	}
	if c.slept != 1001*time.Millisecond {
		t.Fatalf("it waited %s; want the rest of the debt, 1001 ms", c.slept)
	}
	// The peer filter (CometBFT asking whether to admit a peer) is not
	// paced, even in debt.
	a.queries.balance = -time.Hour
	c.slept = 0
	res, err := a.Query(context.Background(), &abci.RequestQuery{Path: "/p2p/filter/id/0123456789abcdef0123456789abcdef01234567"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Codespace == Codespace && res.Code == ErrBusy.Code || c.slept != 0 {
		t.Fatalf("the peer filter was paced: %s/%d, waited %s", res.Codespace, res.Code, c.slept)
	}
}

// Readers are never shut out completely: a node whose process used no CPU
// on a machine where some thread always waits still earns a tenth of 1% of
// a core (at 10%).
func TestReadersAlwaysEarnAFloor(t *testing.T) {
	b := newQueryBudget(10)
	c := fakeBudget(b)
	c.cpu.stall = 1_000_000
	b.balance = -time.Second
	c.run(10*time.Second, 0)
	b.wait()
	if got := b.balance + time.Second; got != 10*time.Millisecond {
		t.Fatalf("earned in 10 s with no CPU used: %s; want 10 ms (10%% of 1%% of a core)", got)
	}
	b.balance = -5 * time.Millisecond
	if w := b.wait(); w != 5001*time.Millisecond {
		t.Fatalf("a 5 ms debt at the floor waits %s; want 5.001 s", w)
	}
}

// Where the system gives no thread CPU time, a reader is charged its wall
// time (the budget of a share of a core that every node had before).
func TestWithoutThreadTimesAReaderIsChargedWallTime(t *testing.T) {
	a := committedApp(t)
	a.queries = newQueryBudget(10)
	c := fakeBudget(a.queries)
	c.cpu.unknown = true
	r := a.StartReader()
	if ok, _ := r.Admit(); !ok {
		t.Fatal("refused with a full budget")
	}
	c.now = c.now.Add(time.Second)
	r.Done()
	// 1 s earned 10% of a core (no figures: the core counts as spare), on
	// top of a full bucket (a second of that), then the reader's 1 s was
	// charged.
	if got, want := a.queries.balance, 100*time.Millisecond-time.Second; got != want {
		t.Fatalf("balance %s; want %s", got, want)
	}
	ok, retry := a.StartReader().Admit()
	if ok || retry <= 0 {
		t.Fatalf("a reader 900 ms in debt (9 s to repay): ok=%v retry=%s; want refused", ok, retry)
	}
	space, code, log := module.CodeOf(BusyRetry(retry))
	if space != Codespace || code != ErrBusy.Code || !strings.Contains(log, "try again in") {
		t.Fatalf("refusal %s/%d %q; want tx/%d with when to try again", space, code, log, ErrBusy.Code)
	}
}

// A query from another thread than the lane's reader (a websocket message
// while an HTTP reader runs) is paced and charged on its own.
func TestAQueryBesideTheLanesReaderIsChargedItself(t *testing.T) {
	a := committedApp(t)
	a.queries = newQueryBudget(10)
	c := fakeBudget(a.queries)
	r := a.StartReader()
	r.Admit()
	c.cpu.tid = 8 // another thread
	a.queries.balance = -time.Hour
	res, err := a.Query(context.Background(), &abci.RequestQuery{Path: api.PathKey, Data: []byte("k")})
	if err != nil || res.Code != ErrBusy.Code {
		t.Fatalf("a query beside the lane's reader with the budget in debt: %v code %d; want busy", err, res.Code)
	}
	c.cpu.tid = 7
	r.Done()
}

// query_budget_percent 100 (or more) turns pacing off.
func TestQueryBudgetOfAWholeCoreIsNoLimit(t *testing.T) {
	a := committedApp(t)
	a.queries = newQueryBudget(100)
	if a.PacesReaders() {
		t.Fatal("100% paces readers")
	}
	if ok, _ := a.StartReader().Admit(); !ok {
		t.Fatal("an unlimited budget refused a reader")
	}
}

func TestParseSchedstatAndPressure(t *testing.T) {
	ran, waited, ok := parseSchedstat([]byte("1133724 7266477 13\n"))
	if !ok || ran != 1133724 || waited != 7266477 {
		t.Fatalf("got %d %d %v", ran, waited, ok)
	}
	if _, _, ok := parseSchedstat([]byte("x")); ok {
		t.Fatal("garbage parsed")
	}
	for in, want := range map[string]int64{
		"some avg10=82.78 avg60=58.41 avg300=30.45 total=22461712155\n": 827_800,
		"some avg10=0.00 avg60=0.00":                                    0,
		"some avg10=100.00 avg60=1":                                     1_000_000,
		"some avg10=5 avg60=1":                                          50_000,
	} {
		if got, ok := parsePressure([]byte(in)); !ok || got != want {
			t.Errorf("parsePressure(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
	if _, ok := parsePressure([]byte("full avg10=1.00")); ok {
		t.Error("the full line parsed as some")
	}
	ran, _, ok = systemCPU{}.thread()
	if ok && ran <= 0 {
		t.Fatalf("this thread ran %s", ran)
	}
}

// A websocket answer's encoding is charged by its size.
func TestAWebsocketAnswerIsChargedItsEncoding(t *testing.T) {
	a := committedApp(t)
	a.queries = newQueryBudget(10)
	fakeBudget(a.queries)
	a.queries.balance = 0
	a.ChargeWritten(10_000)
	if got, want := a.queries.balance, -(writeCost+10_000*writeByteCost)*overhead; got != want {
		t.Fatalf("balance after a 10 kB websocket answer: %s; want %s", got, want)
	}
}

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

// A node pays for queries out of a share of one core: once a query has
// spent the saved-up budget, the next one waits for it to be earned back,
// and if that would take longer than maxQueryWait it is refused as busy
// (tx/70) without running. The peer filter's queries (CometBFT's own) are
// never paced. The clock is a fake one: no timing is asserted.
func TestQueriesPastTheBudgetWaitThenAreRefusedBusy(t *testing.T) {
	a, err := New(store.NewMemory(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	a.store.Set([]byte("k"), []byte("v"))
	if _, _, err := a.store.Commit(); err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_000_000, 0)
	var slept time.Duration
	a.queries = newQueryBudget(10)
	a.queries.now = func() time.Time { return now }
	a.queries.sleep = func(d time.Duration) { slept += d; now = now.Add(d) }
	a.queries.last = now
	query := func() *abci.ResponseQuery {
		res, err := a.Query(context.Background(), &abci.RequestQuery{Path: api.PathKey, Data: []byte("k")})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := query(); res.Code != 0 {
		t.Fatalf("first query: %s/%d %s", res.Codespace, res.Code, res.Log)
	}
	// A query that took 3 s of the node's time: 2 s of debt past the 1 s
	// saved, which 10% of a core earns back in 20 s.
	done := a.queries.start()
	now = now.Add(3 * time.Second)
	done()

	res := query()
	if res.Code != ErrBusy.Code || res.Codespace != Codespace {
		t.Fatalf("a query while the node is 20 s in debt answered %s/%d %q; want tx/%d busy", res.Codespace, res.Code, res.Log, ErrBusy.Code)
	}
	if slept != maxQueryWait {
		t.Fatalf("the refused query waited %s; want %s (it holds back the flood without using the CPU)", slept, maxQueryWait)
	}
	// After the debt is repaid the node answers again, waiting out only
	// what is left.
	now = now.Add(17*time.Second + 500*time.Millisecond) // 19.5 s since the debt, with the refused query's wait
	slept = 0
	if res := query(); res.Code != 0 {
		t.Fatalf("a query once the debt is nearly repaid: %s/%d %s", res.Codespace, res.Code, res.Log)
	}
	if slept <= 0 || slept > time.Second {
		t.Fatalf("it waited %s; want the rest of the debt (under 1 s)", slept)
	}
	// The peer filter (CometBFT asking whether to admit a peer) is not
	// paced, even in debt.
	done = a.queries.start()
	now = now.Add(30 * time.Second)
	done()
	slept = 0
	res, err = a.Query(context.Background(), &abci.RequestQuery{Path: "/p2p/filter/id/0123456789abcdef0123456789abcdef01234567"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Codespace == Codespace && res.Code == ErrBusy.Code || slept != 0 {
		t.Fatalf("the peer filter was paced: %s/%d, waited %s", res.Codespace, res.Code, slept)
	}
}

// query_budget_percent 100 (or more) turns pacing off.
func TestQueryBudgetOfAWholeCoreIsNoLimit(t *testing.T) {
	b := newQueryBudget(100)
	b.sleep = func(time.Duration) { t.Fatal("an unlimited budget waited") }
	b.balance = -time.Hour
	if ok, _ := b.admit(); !ok {
		t.Fatal("an unlimited budget refused a query")
	}
}

// The node's RPC lane admits a reader's whole request (PaceReader) and
// charges all of its time, once: a query it makes is not paced or charged
// again by Query, and the next reader, with the budget in debt, waits
// then is refused busy (tx/70). The clock is a fake one.
func TestAReaderPacedByTheNodeIsChargedItsWholeRequestOnce(t *testing.T) {
	a, err := New(store.NewMemory(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	a.store.Set([]byte("k"), []byte("v"))
	if _, _, err := a.store.Commit(); err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_000_000, 0)
	var slept time.Duration
	a.queries = newQueryBudget(10)
	a.queries.now = func() time.Time { return now }
	a.queries.sleep = func(d time.Duration) { slept += d; now = now.Add(d) }
	a.queries.last = now

	ok, _, done := a.PaceReader()
	if !ok {
		t.Fatal("the first reader was refused with a full budget")
	}
	now = now.Add(2 * time.Second) // decoding the request, before the query
	res, err := a.Query(context.Background(), &abci.RequestQuery{Path: api.PathKey, Data: []byte("k")})
	if err != nil || res.Code != 0 {
		t.Fatalf("the reader's query: %v %s/%d %s", err, res.Codespace, res.Code, res.Log)
	}
	now = now.Add(2 * time.Second) // encoding and writing the answer
	done()
	// 4 s charged against 1 s saved: 3 s of debt, 30 s to repay at 10%.
	if got := -a.queries.balance; got != 3*time.Second {
		t.Fatalf("debt after a 4 s request: %s; want 3s (the whole request, charged once)", got)
	}
	if slept != 0 {
		t.Fatalf("the reader's own query waited %s", slept)
	}
	ok, retry, _ := a.PaceReader()
	if ok || retry <= 0 {
		t.Fatalf("a reader with the budget 30 s in debt: ok=%v retry=%s; want refused with a retry time", ok, retry)
	}
	if slept != maxQueryWait {
		t.Fatalf("the refused reader waited %s; want %s", slept, maxQueryWait)
	}
	space, code, log := module.CodeOf(BusyRetry(retry))
	if space != Codespace || code != ErrBusy.Code || !strings.Contains(log, "try again in") {
		t.Fatalf("refusal %s/%d %q; want tx/%d with when to try again", space, code, log, ErrBusy.Code)
	}
}

package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/client"
)

// walkingNode answers abci_query as an operator's node does while another
// whole-state walk runs (tx/70, the app's wording) for its first `busy`
// calls, then with code and log as given (code 0: a value), and counts
// calls.
func walkingNode(t *testing.T, busy int64, code uint32, log string) (*client.Client, *atomic.Int64) {
	t.Helper()
	return stubNode(t, func(n int64, id json.RawMessage) (int, string) {
		switch {
		case n <= busy:
			return http.StatusOK, fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":{"response":{"code":70,"codespace":"tx","log":"tx/70: node busy answering queries: /invariants: another whole-state walk is running on this node; try again in 5 ms, when it has answered","height":"7"}}}`, id)
		case code == 0:
			return http.StatusOK, fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":{"response":{"value":"CAE=","height":"7"}}}`, id)
		}
		return http.StatusOK, fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":{"response":{"code":%d,"codespace":"tx","log":%q,"height":"7"}}}`, id, code, log)
	})
}

// A whole-state walk refused because another runs is a busy refusal,
// matched by its code: QueryWhenFree asks again after the time named and
// gets the answer; Query alone returns the refusal as busy, not
// operator-only.
func TestAWalkRefusedBusyIsAskedAgain(t *testing.T) {
	c, calls := walkingNode(t, 2, 0, "")
	_, _, err := c.Query(context.Background(), api.PathInvariants, nil, 0, false)
	var qe *client.QueryError
	if !errors.As(err, &qe) {
		t.Fatalf("query during another walk: %v; want a *client.QueryError", err)
	}
	if retry, busy := qe.Busy(); !busy || retry != 10*time.Millisecond || qe.OperatorOnly() {
		t.Fatalf("busy refusal %v: Busy() = %v, %v, OperatorOnly() = %v; want busy, retry 10 ms (5 ms raised to the floor), not operator-only", err, retry, busy, qe.OperatorOnly())
	}
	res, _, err := c.QueryWhenFree(context.Background(), 5*time.Second, api.PathInvariants, nil, 0, false)
	if err != nil || string(res.Value) != "\x08\x01" {
		t.Fatalf("query when free: %v, %v; want the answer after the busy one", res, err)
	}
	if calls.Load() != 3 {
		t.Fatalf("%d calls; want 3 (two busy, one answered)", calls.Load())
	}
}

// A node whose operator did not turn operator_queries on refuses the walk
// for good (tx/41): QueryWhenFree returns that at once, as operator-only.
func TestAWalkRefusedOperatorOnlyIsNotAskedAgain(t *testing.T) {
	c, calls := walkingNode(t, 0, 41, "tx/41: query served only to the node's operator: /invariants walks all of state")
	_, _, err := c.QueryWhenFree(context.Background(), 5*time.Second, api.PathInvariants, nil, 0, false)
	var qe *client.QueryError
	if !errors.As(err, &qe) || !qe.OperatorOnly() {
		t.Fatalf("operator-only refusal: %v; want a *client.QueryError that is OperatorOnly", err)
	}
	if _, busy := qe.Busy(); busy || calls.Load() != 1 {
		t.Fatalf("operator-only refusal: busy %v after %d calls; want not busy, one call", busy, calls.Load())
	}
}

// A node that stays busy: QueryWhenFree stops once its patience is spent
// and returns the busy refusal.
func TestAWalkBusyPastPatienceReturnsTheRefusal(t *testing.T) {
	c, calls := walkingNode(t, 1<<40, 0, "")
	_, _, err := c.QueryWhenFree(context.Background(), 100*time.Millisecond, api.PathInvariants, nil, 0, false)
	var qe *client.QueryError
	if !errors.As(err, &qe) {
		t.Fatalf("a node that stays busy: %v; want its refusal", err)
	}
	if _, busy := qe.Busy(); !busy || calls.Load() < 2 || calls.Load() > 11 {
		t.Fatalf("a node that stays busy: busy %v after %d calls; want busy after 2-11 (100 ms of 10 ms waits)", busy, calls.Load())
	}
}

package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tallyledger/tally/client"
)

// stubNode serves JSON-RPC calls with answer (given the call's number,
// from 1, and its id: the HTTP status and the JSON body) and counts them.
func stubNode(t *testing.T, answer func(n int64, id json.RawMessage) (int, string)) (*client.Client, *atomic.Int64) {
	t.Helper()
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ID json.RawMessage `json:"id"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		w.Header().Set("Content-Type", "application/json")
		status, body := answer(calls.Add(1), req.ID)
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	c, err := client.Dial(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return c, &calls
}

// busyNode answers its first `busy` calls as a node whose reader budget
// is spent (HTTP 503, tx/70, try again in 5 ms), then health's empty
// result, and counts calls.
func busyNode(t *testing.T, busy int64) (*client.Client, *atomic.Int64) {
	t.Helper()
	return stubNode(t, func(n int64, id json.RawMessage) (int, string) {
		if n <= busy {
			return http.StatusServiceUnavailable, fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"error":{"code":-32000,"message":"Server error","data":"tx/70: node busy answering queries: this node has spent its share of time on readers; try again in 5 ms (or ask another node)"}}`, id)
		}
		return http.StatusOK, fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":{}}`, id)
	})
}

// A node that refuses a read as busy (tx/70) names when to ask again; the
// client does, with the same request, and gets the answer.
func TestAReadRefusedBusyIsAskedAgain(t *testing.T) {
	c, calls := busyNode(t, 2)
	if _, err := c.RPC.Health(context.Background()); err != nil {
		t.Fatalf("health after two busy answers: %v", err)
	}
	if calls.Load() != 3 {
		t.Fatalf("%d calls; want 3 (two busy, one answered)", calls.Load())
	}
}

// A node that stays busy: the client stops when the call's context ends
// (or after busyAttempts) and returns the node's refusal.
func TestAReadBusyUntilTheContextEndsReturnsTheRefusal(t *testing.T) {
	c, calls := busyNode(t, 1<<40)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for calls.Load() < 3 {
			runtime.Gosched()
		}
		cancel()
	}()
	_, err := c.RPC.Health(ctx)
	if err == nil || !strings.Contains(err.Error(), "tx/70") && !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("health from a node that stays busy: %v; want its tx/70 refusal", err)
	}
}

package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/client"
)

// fakeRPC serves one CometBFT JSON-RPC method, answering its n-th call
// (from 1) with result(n), and counts calls.
func fakeRPC(t *testing.T, method string, result func(n int64) any) (*client.Client, *atomic.Int64) {
	t.Helper()
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Method != method {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"jsonrpc": "2.0", "id": req.ID, "result": result(calls.Add(1))})
	}))
	t.Cleanup(srv.Close)
	c, err := client.Dial(srv.URL)
	require.NoError(t, err)
	return c, &calls
}

// rpcAnswering serves broadcast_tx_sync, answering the n-th call with
// code(n) in the given codespace.
func rpcAnswering(t *testing.T, codespace string, code func(n int64) uint32) (*client.Client, *atomic.Int64) {
	return fakeRPC(t, "broadcast_tx_sync", func(n int64) any {
		c, space := code(n), codespace
		if c == 0 {
			space = ""
		}
		return map[string]any{"code": c, "codespace": space, "log": "answer", "data": "", "hash": "00"}
	})
}

// A node that has not committed its first block refuses with "node not
// ready", asking for the transaction again; Broadcast sends it again.
func TestBroadcastRetriesNodeNotReady(t *testing.T) {
	c, calls := rpcAnswering(t, app.ErrNotReady.Codespace, func(n int64) uint32 {
		if n <= 2 {
			return app.ErrNotReady.Code
		}
		return 0
	})
	require.NoError(t, c.Broadcast(context.Background(), []byte("tx")))
	require.EqualValues(t, 3, calls.Load())
}

// Every other refusal is final: sent once, returned as a *TxError.
func TestBroadcastDoesNotRetryOtherRefusals(t *testing.T) {
	c, calls := rpcAnswering(t, app.ErrNotFound.Codespace, func(int64) uint32 { return app.ErrNotFound.Code })
	err := c.Broadcast(context.Background(), []byte("tx"))
	var te *client.TxError
	require.True(t, errors.As(err, &te), "got %v", err)
	require.Equal(t, app.ErrNotFound.Code, te.Code)
	require.EqualValues(t, 1, calls.Load())
}

// A node that never becomes ready: Broadcast gives up when its context ends
// and returns the node's refusal, not a context error.
func TestBroadcastNotReadyGivesUpWithContext(t *testing.T) {
	c, calls := rpcAnswering(t, app.ErrNotReady.Codespace, func(int64) uint32 { return app.ErrNotReady.Code })
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := c.Broadcast(ctx, []byte("tx"))
	var te *client.TxError
	require.True(t, errors.As(err, &te), "got %v", err)
	require.Equal(t, app.ErrNotReady.Code, te.Code)
	require.GreaterOrEqual(t, calls.Load(), int64(1))
}

// The context ends while a retry is in flight (the node is slow to answer
// the second time): Broadcast still returns the node's refusal, not the
// transport's "context deadline exceeded".
func TestBroadcastNotReadyCutOffDuringRetry(t *testing.T) {
	release := make(chan struct{})
	c, calls := fakeRPC(t, "broadcast_tx_sync", func(n int64) any {
		if n > 1 {
			<-release // hold the retry until the test ends
		}
		return map[string]any{"code": app.ErrNotReady.Code, "codespace": app.ErrNotReady.Codespace, "log": "node not ready", "data": "", "hash": "00"}
	})
	t.Cleanup(func() { close(release) }) // runs before fakeRPC's server closes
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err := c.Broadcast(ctx, []byte("tx"))
	var te *client.TxError
	require.True(t, errors.As(err, &te), "got %v", err)
	require.Equal(t, app.ErrNotReady.Code, te.Code)
	require.EqualValues(t, 2, calls.Load())
}

// A query to a node with no committed block is answered "node not ready";
// Query asks again until it has an answer.
func TestQueryRetriesNodeNotReady(t *testing.T) {
	c, calls := fakeRPC(t, "abci_query", func(n int64) any {
		if n <= 2 {
			return map[string]any{"response": map[string]any{"code": app.ErrNotReady.Code, "codespace": app.ErrNotReady.Codespace, "log": "node not ready", "height": "0"}}
		}
		return map[string]any{"response": map[string]any{"code": 0, "value": "dmFsdWU=", "height": "1"}} // "value"
	})
	res, _, err := c.Query(context.Background(), api.PathParams, nil, 0, false)
	require.NoError(t, err)
	require.Equal(t, "value", string(res.Value))
	require.EqualValues(t, 3, calls.Load())
}

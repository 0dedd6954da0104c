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

// rpcAnswering serves CometBFT's broadcast_tx_sync over JSON-RPC, answering
// the n-th call (from 1) with code(n) in the given codespace, and counts calls.
func rpcAnswering(t *testing.T, codespace string, code func(n int64) uint32) (*client.Client, *atomic.Int64) {
	t.Helper()
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Method != "broadcast_tx_sync" {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		c := code(calls.Add(1))
		space := codespace
		if c == 0 {
			space = ""
		}
		res := map[string]any{"code": c, "codespace": space, "log": "answer", "data": "", "hash": "00"}
		_ = json.NewEncoder(w).Encode(map[string]any{"jsonrpc": "2.0", "id": req.ID, "result": res})
	}))
	t.Cleanup(srv.Close)
	c, err := client.Dial(srv.URL)
	require.NoError(t, err)
	return c, &calls
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

// A query to a node with no committed block is answered "node not ready";
// Query asks again until it has an answer.
func TestQueryRetriesNodeNotReady(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Method != "abci_query" {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		res := map[string]any{"code": 0, "value": "dmFsdWU=", "height": "1"} // "value"
		if calls.Add(1) <= 2 {
			res = map[string]any{"code": app.ErrNotReady.Code, "codespace": app.ErrNotReady.Codespace, "log": "node not ready", "height": "0"}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"jsonrpc": "2.0", "id": req.ID, "result": map[string]any{"response": res}})
	}))
	t.Cleanup(srv.Close)
	c, err := client.Dial(srv.URL)
	require.NoError(t, err)
	res, _, err := c.Query(context.Background(), api.PathParams, nil, 0, false)
	require.NoError(t, err)
	require.Equal(t, "value", string(res.Value))
	require.EqualValues(t, 3, calls.Load())
}

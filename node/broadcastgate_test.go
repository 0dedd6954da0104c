package node_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	cfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/libs/log"
	grpccore "github.com/cometbft/cometbft/rpc/grpc"
	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/client"
	"github.com/tallyledger/tally/node"
	"github.com/tallyledger/tally/x/module"
)

// A real node with a mempool of 3 answers a broadcast it could not take
// at once, before CheckTx, with HTTP 503, Retry-After and the coded
// refusal tx/85 in the shape of a CheckTx answer: both when 3 broadcasts
// are already waiting for CheckTx (here held by the mempool's lock, as a
// block's Commit and recheck hold it) and when the mempool is full. The
// node makes no block during the test (timeout_commit of an hour after a
// restart), so the mempool stays as the test filled it; nothing is timed.
func TestAFullMempoolRefusesBroadcastsAtOnceWithACode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	n, c, adminKey, rpcAddr := frozenNode(ctx, t, nil)
	_, height, err := c.Status(ctx)
	require.NoError(t, err)

	url := strings.Replace(rpcAddr, "tcp://", "http://", 1)
	post := func(tx []byte) (*http.Response, []byte) {
		t.Helper()
		body := fmt.Sprintf(`{"jsonrpc":"2.0","id":7,"method":"broadcast_tx_sync","params":{"tx":%q}}`, base64.StdEncoding.EncodeToString(tx))
		pctx, cancel := context.WithTimeout(ctx, time.Minute) // an answer at all, not a speed
		defer cancel()
		req, err := http.NewRequestWithContext(pctx, http.MethodPost, url, strings.NewReader(body))
		require.NoError(t, err)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err, "the broadcast was not answered")
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res, b
	}
	// refusedAtOnce checks a broadcast's answer is the gate's refusal.
	refusedAtOnce := func(tx []byte, why string) {
		t.Helper()
		res, body := post(tx)
		require.Equal(t, http.StatusServiceUnavailable, res.StatusCode, "%s: %s", why, body)
		require.Equal(t, "1", res.Header.Get("Retry-After"), why)
		var answer struct {
			ID     int `json:"id"`
			Result struct {
				Code      uint32 `json:"code"`
				Codespace string `json:"codespace"`
				Log       string `json:"log"`
				Hash      string `json:"hash"`
			} `json:"result"`
		}
		require.NoError(t, json.Unmarshal(body, &answer), "%s", body)
		require.Equal(t, 7, answer.ID)
		requireCode(t, app.ErrMempoolFull, answer.Result.Codespace, answer.Result.Code, answer.Result.Log, "send again after the next block")
		require.Equal(t, fmt.Sprintf("%X", client.TxHash(tx)), answer.Result.Hash)
	}

	// 1. The mempool's lock held, as during a block's Commit: three
	// broadcasts wait for CheckTx; a fourth is refused at once.
	mp := n.Mempool()
	mp.Lock()
	locked := true
	defer func() {
		if locked {
			mp.Unlock()
		}
	}()
	accepted := make(chan error, 3)
	for i := 0; i < 3; i++ {
		tx := memberTx(ctx, t, c, "tally-test", adminKey)
		go func() { accepted <- c.Broadcast(ctx, tx) }()
	}
	require.Eventually(t, func() bool {
		select {
		case err := <-accepted:
			t.Fatalf("a broadcast was answered while the mempool was locked: %v", err)
		default:
		}
		return n.BroadcastsWaiting() == 3
	}, time.Minute, 10*time.Millisecond, "three broadcasts did not reach CheckTx")
	refusedAtOnce(memberTx(ctx, t, c, "tally-test", adminKey), "a fourth broadcast behind three waiting for CheckTx")
	// Through the Go client it is a coded CheckTx refusal like any other.
	err = c.Broadcast(ctx, memberTx(ctx, t, c, "tally-test", adminKey))
	var refused *client.TxError
	require.ErrorAs(t, err, &refused)
	requireCode(t, app.ErrMempoolFull, refused.Codespace, refused.Code, refused.Log, "being checked")
	mp.Unlock()
	locked = false
	for i := 0; i < 3; i++ {
		require.NoError(t, <-accepted, "a broadcast the gate let through")
	}

	// 2. The mempool now holds 3 transactions, all it takes, and no block
	// will take them: the next broadcast is refused at once too.
	require.Equal(t, 3, mp.Size())
	refusedAtOnce(memberTx(ctx, t, c, "tally-test", adminKey), "a broadcast to a full mempool")
	require.Equal(t, 3, mp.Size(), "a refused transaction entered the mempool")
	require.Equal(t, 0, n.BroadcastsWaiting())

	_, h, err := c.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, height, h, "a block was made during the test")
	res, err := c.RPC.BroadcastTxAsync(ctx, memberTx(ctx, t, c, "tally-test", adminKey))
	require.NoError(t, err)
	requireCode(t, app.ErrMempoolFull, res.Codespace, res.Code, res.Log, "mempool holds 3")
}

// requireCode checks an answer's codespace and code against a registered
// error, and that its log contains each fragment.
func requireCode(t *testing.T, want *module.Error, space string, code uint32, log string, fragments ...string) {
	t.Helper()
	require.Equal(t, fmt.Sprintf("%s/%d", want.Codespace, want.Code), fmt.Sprintf("%s/%d", space, code), "log: %s", log)
	for _, f := range append([]string{want.Desc}, fragments...) {
		require.Contains(t, log, f)
	}
}

// frozenNode starts a one-validator node whose mempool takes 3
// transactions (node.MempoolLimit(3) = 3) and that makes no block during
// the test: after a first run that commits a block, so the app has state to
// check against, it restarts with a timeout_commit of an hour. So its
// mempool stays as the test fills it. It returns the node (shut down at
// the end of the test), a client, the treasury admin's key and the RPC
// address.
func frozenNode(ctx context.Context, t *testing.T, edit func(*cfg.Config, *app.Config)) (*node.Node, *client.Client, ed25519.PrivateKey, string) {
	t.Helper()
	dir := t.TempDir()
	_, adminKey, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	rpcAddr := initHome(t, dir, "tally-test", adminKey, func(comet *cfg.Config, appCfg *app.Config) {
		comet.Consensus.TimeoutCommit = 200 * time.Millisecond
		comet.Mempool.Size = 3
		if edit != nil {
			edit(comet, appCfg)
		}
	})
	n, c := startHome(t, dir, rpcAddr)
	require.Eventually(t, func() bool { _, h, err := c.Status(ctx); return err == nil && h >= 2 }, 2*time.Minute, 100*time.Millisecond)
	require.NoError(t, n.Shutdown())
	comet, appCfg, err := node.LoadConfigs(dir)
	require.NoError(t, err)
	comet.Consensus.TimeoutCommit = time.Hour
	require.NoError(t, node.WriteConfigs(dir, comet, appCfg))
	n, err = node.NewNode(dir, log.NewNopLogger(), app.Options{})
	require.NoError(t, err)
	require.NoError(t, n.Start())
	t.Cleanup(func() { require.NoError(t, n.Shutdown()) })
	// A new client (the old one's kept-alive connections were closed by
	// Shutdown: its next call could fail once).
	c, err = client.Dial(rpcAddr)
	require.NoError(t, err)
	return n, c, adminKey, rpcAddr
}

// A broadcast over the websocket or CometBFT's gRPC broadcast API meets the
// same gate as over HTTP: with the mempool full and locked (as during a
// block's Commit) each is answered at once with tx/85 in its method's own
// result, instead of waiting for the lock and CheckTx. Before, only HTTP
// JSON-RPC was gated and these waited for the lock. A websocket broadcast
// the gate admits is checked as before.
func TestWebsocketAndGRPCBroadcastsMeetTheGate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	grpcAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	n, c, adminKey, rpcAddr := frozenNode(ctx, t, func(comet *cfg.Config, _ *app.Config) {
		comet.RPC.GRPCListenAddress = "tcp://" + grpcAddr
	})
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, strings.Replace(rpcAddr, "tcp://", "ws://", 1)+"/websocket", nil)
	require.NoError(t, err)
	defer ws.Close()
	type result struct {
		Code      uint32 `json:"code"`
		Codespace string `json:"codespace"`
		Log       string `json:"log"`
		Hash      string `json:"hash"`
	}
	// overWebsocket broadcasts tx by method and returns its result as
	// broadcast_tx_sync's, or broadcast_tx_commit's check_tx.
	overWebsocket := func(method string, tx []byte) result {
		t.Helper()
		require.NoError(t, ws.WriteJSON(map[string]any{"jsonrpc": "2.0", "id": 3, "method": method, "params": map[string]any{"tx": tx}}))
		require.NoError(t, ws.SetReadDeadline(time.Now().Add(time.Minute))) // an answer at all, not a speed
		_, answer, err := ws.ReadMessage()
		require.NoError(t, err, "%s over the websocket was not answered", method)
		var res struct {
			Result struct {
				result
				CheckTx result `json:"check_tx"`
			} `json:"result"`
		}
		require.NoError(t, json.Unmarshal(answer, &res), "%s", answer)
		if method == "broadcast_tx_commit" {
			return res.Result.CheckTx
		}
		return res.Result.result
	}

	// Admitted: checked and taken into the mempool, as before.
	tx := memberTx(ctx, t, c, "tally-test", adminKey)
	res := overWebsocket("broadcast_tx_sync", tx)
	require.Zero(t, res.Code, res.Log)
	require.Equal(t, fmt.Sprintf("%X", client.TxHash(tx)), res.Hash)
	for i := 0; i < 2; i++ {
		require.NoError(t, c.Broadcast(ctx, memberTx(ctx, t, c, "tally-test", adminKey)))
	}
	mp := n.Mempool()
	require.Equal(t, 3, mp.Size())

	// Full and locked: refused at once over every transport.
	mp.Lock()
	defer mp.Unlock()
	tx = memberTx(ctx, t, c, "tally-test", adminKey)
	res = overWebsocket("broadcast_tx_sync", tx)
	requireCode(t, app.ErrMempoolFull, res.Codespace, res.Code, res.Log, "mempool holds 3", "send again after the next block")
	require.Equal(t, fmt.Sprintf("%X", client.TxHash(tx)), res.Hash)
	res = overWebsocket("broadcast_tx_commit", tx)
	requireCode(t, app.ErrMempoolFull, res.Codespace, res.Code, res.Log, "mempool holds 3")

	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	gctx, gcancel := context.WithTimeout(ctx, time.Minute) // an answer at all, not a speed
	defer gcancel()
	answer, err := grpccore.NewBroadcastAPIClient(conn).BroadcastTx(gctx, &grpccore.RequestBroadcastTx{Tx: tx})
	require.NoError(t, err, "the gRPC broadcast was not answered")
	requireCode(t, app.ErrMempoolFull, answer.CheckTx.Codespace, answer.CheckTx.Code, answer.CheckTx.Log, "mempool holds 3")
	require.Equal(t, 3, mp.Size(), "a refused transaction entered the mempool")
	require.Equal(t, 0, n.BroadcastsWaiting())
}

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
	"github.com/stretchr/testify/require"

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
	dir := t.TempDir()
	_, adminKey, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	rpcAddr := initHome(t, dir, "tally-test", adminKey, func(comet *cfg.Config, _ *app.Config) {
		comet.Consensus.TimeoutCommit = 200 * time.Millisecond
		comet.Mempool.Size = 3 // the app's limit is node.MempoolLimit(3) = 3
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// A first run commits a block, so the app has state to check against.
	n, c := startHome(t, dir, rpcAddr)
	require.Eventually(t, func() bool { _, h, err := c.Status(ctx); return err == nil && h >= 2 }, 2*time.Minute, 100*time.Millisecond)
	require.NoError(t, n.Shutdown())
	// After a restart the next block waits timeout_commit: an hour.
	comet, appCfg, err := node.LoadConfigs(dir)
	require.NoError(t, err)
	comet.Consensus.TimeoutCommit = time.Hour
	require.NoError(t, node.WriteConfigs(dir, comet, appCfg))
	n, err = node.NewNode(dir, log.NewNopLogger(), app.Options{})
	require.NoError(t, err)
	require.NoError(t, n.Start())
	defer func() { require.NoError(t, n.Shutdown()) }()
	// A new client (the old one's kept-alive connections were closed by
	// Shutdown: its next call could fail once).
	c, err = client.Dial(rpcAddr)
	require.NoError(t, err)
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

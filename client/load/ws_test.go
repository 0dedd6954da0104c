package load_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cfg "github.com/cometbft/cometbft/config"
	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/client"
	"github.com/tallyledger/tally/client/load"
)

// wsProxy stands in front of a node: HTTP requests are passed to it and
// their answers back, and each websocket is relayed frame by frame to a
// websocket of its own to the node, so that the test sees which transport
// the load's broadcasts took and can break a connection as a node would.
type wsProxy struct {
	node string // the node's RPC, tcp://
	// closeEvery, when positive, closes each websocket at its
	// closeEvery-th broadcast frame, once every earlier request on it has
	// been answered: the frame is lost (with deliver, the node checks it
	// and only its answer is lost). A frame sent again after a close is
	// among the first of a new websocket, so it is not lost again.
	closeEvery int64
	deliver    bool
	// swallow takes broadcast frames and never answers them.
	swallow bool
	// gone refuses websockets (HTTP 503) once one was closed.
	gone bool
	// oversize passes on each answer to a broadcast padded to one byte over
	// load.MaxBroadcastAnswerBytes (oversized): over a websocket always,
	// over HTTP once armed.
	oversize bool

	armed          atomic.Bool  // HTTP broadcasts are counted once armed (after setup)
	httpBroadcasts atomic.Int64 // broadcast_tx_sync posted over HTTP, once armed
	wsBroadcasts   atomic.Int64 // broadcast_tx_sync frames over websockets
	upgrades       atomic.Int64 // websockets opened
	closed         atomic.Int64 // websockets the proxy closed
	srv            *httptest.Server
}

func (p *wsProxy) start(t *testing.T) *wsProxy {
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *wsProxy) addr() string { return "tcp://" + strings.TrimPrefix(p.srv.URL, "http://") }

func (p *wsProxy) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/websocket" {
		p.relay(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	node := "http://" + strings.TrimPrefix(p.node, "tcp://")
	if p.armed.Load() && bytes.Contains(body, []byte(`"broadcast_tx_sync"`)) {
		p.httpBroadcasts.Add(1)
		if p.oversize {
			res, err := http.Post(node, "application/json", bytes.NewReader(body))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			answer, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(oversized(answer))
			return
		}
	}
	passOn(w, node, body)
}

// oversized is answer, a node's JSON-RPC answer, padded with spaces (which
// JSON allows) to one byte over load.MaxBroadcastAnswerBytes.
func oversized(answer []byte) []byte {
	return append(answer, bytes.Repeat([]byte(" "), load.MaxBroadcastAnswerBytes+1-len(answer))...)
}

// relay passes one websocket's frames to the node and the node's answers
// back.
func (p *wsProxy) relay(w http.ResponseWriter, r *http.Request) {
	if p.gone && p.closed.Load() > 0 {
		http.Error(w, "gone", http.StatusServiceUnavailable)
		return
	}
	up, _, err := websocket.DefaultDialer.DialContext(r.Context(), "ws://"+strings.TrimPrefix(p.node, "tcp://")+"/websocket", nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer up.Close()
	down, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer down.Close()
	p.upgrades.Add(1)

	var answered sync.WaitGroup // requests relayed and not yet answered
	var dropID atomic.Int64     // the id whose answer is not passed back
	dropID.Store(-1)
	go func() {
		for {
			_, msg, err := up.ReadMessage()
			if err != nil {
				down.Close()
				return
			}
			var a struct {
				ID int64 `json:"id"`
			}
			_ = json.Unmarshal(msg, &a)
			if a.ID != dropID.Load() {
				if p.oversize {
					msg = oversized(msg)
				}
				_ = down.WriteMessage(websocket.TextMessage, msg)
			}
			answered.Done()
		}
	}()
	var frames int64 // broadcast frames on this websocket
	for {
		_, msg, err := down.ReadMessage()
		if err != nil {
			return
		}
		if !bytes.Contains(msg, []byte(`"broadcast_tx_sync"`)) {
			answered.Add(1)
			_ = up.WriteMessage(websocket.TextMessage, msg)
			continue
		}
		p.wsBroadcasts.Add(1)
		frames++
		if p.swallow {
			continue
		}
		if frames == p.closeEvery {
			if p.deliver {
				var req struct {
					ID int64 `json:"id"`
				}
				_ = json.Unmarshal(msg, &req)
				dropID.Store(req.ID)
				answered.Add(1)
				_ = up.WriteMessage(websocket.TextMessage, msg)
			}
			answered.Wait() // every earlier request answered (the node runs them in order)
			p.closed.Add(1)
			down.Close()
			return
		}
		answered.Add(1)
		_ = up.WriteMessage(websocket.TextMessage, msg)
	}
}

// wsNode starts a node (its CometBFT configuration edited by edit, if
// set) whose admin is the key it returns, with a client of it, once it is
// at height 2.
func wsNode(ctx context.Context, t *testing.T, edit func(*cfg.Config)) (string, *client.Client, ed25519.PrivateKey) {
	t.Helper()
	_, adminPriv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	rpcAddr, _ := startNodeEdited(t, adminPriv, app.Options{}, edit)
	c, err := client.Dial(rpcAddr)
	require.NoError(t, err)
	waitHeight(ctx, t, c, 2)
	return rpcAddr, c, adminPriv
}

// wsRun runs c's load over websockets (to p alone unless c names
// endpoints), with 8 accounts and a drain of 20 s.
func wsRun(ctx context.Context, t *testing.T, p *wsProxy, c load.Config) *load.Report {
	t.Helper()
	if c.Endpoints == nil {
		c.Endpoints = []string{p.addr()}
	}
	c.Transport, c.Accounts, c.Drain, c.Log = load.TransportWS, 8, 20*time.Second, armWriter{t, &p.armed}
	rep, err := load.Run(ctx, c)
	require.NoError(t, err)
	return rep
}

// Over websockets (Transport ws) a run sends every broadcast as a frame,
// none over HTTP, on DefaultWSConnections connections, and its report
// agrees with the blocks as an HTTP run's does.
func TestWebsocketRunCommitsEveryAcceptedTx(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	rpcAddr, c, adminPriv := wsNode(ctx, t, nil)
	p := (&wsProxy{node: rpcAddr}).start(t)
	rep := wsRun(ctx, t, p, load.Config{Rate: 60, Duration: 4 * time.Second, Admin: adminPriv})
	require.Equal(t, load.TransportWS, rep.Transport)
	require.Equal(t, load.DefaultWSConnections, rep.Connections)
	require.EqualValues(t, 240, rep.Submitted)
	require.Equal(t, rep.Submitted, p.wsBroadcasts.Load(), "every broadcast went over a websocket")
	require.Zero(t, p.httpBroadcasts.Load(), "broadcasts over HTTP")
	require.EqualValues(t, load.DefaultWSConnections, p.upgrades.Load(), "one websocket per connection, each opened once")
	require.Zero(t, rep.Reconnects)
	require.Zero(t, rep.Resent)

	requireAllAcceptedAndCommitted(t, rep)
	requireBlocksMatch(ctx, t, c, rep)
}

// A node that refuses broadcasts (its mempool full: the broadcast gate's
// or CheckTx's tx/85) refuses those sent over a websocket with the code,
// counted as refusals with their answer times, not as errors; what it
// accepted is committed.
func TestWebsocketRefusalsArriveCoded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	rpcAddr, _, adminPriv := wsNode(ctx, t, func(c *cfg.Config) {
		c.Mempool.Size = 10
		c.Consensus.TimeoutCommit = time.Second
	})
	p := (&wsProxy{node: rpcAddr}).start(t)
	rep := wsRun(ctx, t, p, load.Config{Rate: 100, Duration: 3 * time.Second, Admin: adminPriv})
	t.Logf("accepted %d, refused %+v, errors %+v", rep.Accepted, rep.Rejected, rep.BroadcastErrors)
	require.Equal(t, rep.Submitted, p.wsBroadcasts.Load(), "every broadcast went over a websocket")
	require.Zero(t, p.httpBroadcasts.Load())
	require.Positive(t, rep.RejectedTotal, "a mempool of 10 took 300 transactions in 3 s")
	for _, r := range rep.Rejected {
		require.Equal(t, "tx/85", r.Codespace+"/"+itoa(r.Code), "%+v", r)
		require.Contains(t, r.Example, app.ErrMempoolFull.Desc)
	}
	require.Zero(t, rep.BroadcastErrorsTotal, "broadcast errors: %+v", rep.BroadcastErrors)
	require.Equal(t, rep.RejectedTotal, rep.Refusals.Count, "each refusal's answer time")
	require.Equal(t, rep.Submitted, rep.Accepted+rep.RejectedTotal)
	require.Positive(t, rep.Accepted)
	require.Zero(t, rep.Pending)
	require.Equal(t, rep.Accepted, rep.CommittedOK)
	require.Equal(t, rep.Accepted, rep.Committed)
}

func itoa(n uint32) string { b, _ := json.Marshal(n); return string(b) }

// A websocket the node's end closes mid-run fails the broadcasts waiting
// on it; each is sent once more over a new connection and counted by that
// answer (one the node had checked already is answered "tx already exists
// in cache": ResentKnown), and the lost connection is reported
// (Reconnects). When the node then takes no new websocket, its broadcasts
// fail with a classed error instead of hanging the run, and broadcasts it
// takes but never answers fail when broadcastTimeout runs out. An answer
// over the load's read limit (load.MaxBroadcastAnswerBytes: a hostile or
// broken node's) ends its connection as a close does, and the broadcasts
// whose answers are all over it fail with an error that says so; over HTTP
// such an answer is an error too, read no further.
func TestWebsocketClosedByTheNodeIsReported(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rpcAddr, _, adminPriv := wsNode(ctx, t, nil)

	run := func(p *wsProxy) *load.Report {
		t.Helper()
		// Every other transaction goes through the proxy.
		rep := wsRun(ctx, t, p, load.Config{Endpoints: []string{rpcAddr, p.addr()}, Rate: 40, Duration: 3 * time.Second, Connections: 2, Admin: adminPriv})
		t.Logf("proxy: %d broadcasts, %d websockets opened, %d closed; report: reconnects %d, resent %d (node had %d), errors %+v",
			p.wsBroadcasts.Load(), p.upgrades.Load(), p.closed.Load(), rep.Reconnects, rep.Resent, rep.ResentKnown, rep.BroadcastErrors)
		require.Equal(t, rep.Submitted, rep.Accepted+rep.RejectedTotal+rep.BroadcastErrorsTotal+rep.ResentKnown)
		require.Zero(t, rep.RejectedTotal, "rejected: %+v", rep.Rejected)
		require.Zero(t, rep.Pending)
		require.Equal(t, rep.Committed, rep.CommittedOK)
		return rep
	}

	for _, deliver := range []bool{false, true} {
		p := (&wsProxy{node: rpcAddr, closeEvery: 7, deliver: deliver}).start(t)
		rep := run(p)
		closed := p.closed.Load()
		require.Positive(t, closed, "the proxy closed no websocket")
		require.Equal(t, closed, rep.Reconnects, "each closed websocket reported")
		require.Equal(t, p.upgrades.Load(), int64(2)+closed, "each reopened once")
		require.GreaterOrEqual(t, rep.Resent, closed, "at least the frame each close lost was resent")
		require.Zero(t, rep.BroadcastErrorsTotal, "broadcast errors: %+v", rep.BroadcastErrors)
		if deliver {
			require.Equal(t, closed, rep.ResentKnown, "the node had each frame a close lost")
			require.Equal(t, rep.ResentKnown, rep.CommittedUnacknowledged, "and it is found in a block")
		} else {
			require.Zero(t, rep.ResentKnown)
			require.Zero(t, rep.CommittedUnacknowledged)
		}
		require.Equal(t, rep.Submitted, rep.Committed, "every transaction sent was committed once")
	}

	// Closed, and no new websocket taken: an error per broadcast, classed.
	p := (&wsProxy{node: rpcAddr, closeEvery: 5, gone: true}).start(t)
	rep := run(p)
	require.Positive(t, p.closed.Load())
	require.Positive(t, rep.BroadcastErrorsTotal)
	for _, e := range rep.BroadcastErrors {
		require.Contains(t, e.Error, "websocket dial ws://N.N.N.N:N/websocket failed: websocket: bad handshake (HTTP status N Service Unavailable)")
	}
	require.Equal(t, rep.Submitted-rep.BroadcastErrorsTotal, rep.Committed)

	// Taken and never answered: each fails at broadcastTimeout.
	p = (&wsProxy{node: rpcAddr, swallow: true}).start(t)
	rep = run(p)
	require.Equal(t, p.wsBroadcasts.Load(), rep.BroadcastErrorsTotal, "%+v", rep.BroadcastErrors)
	require.Len(t, rep.BroadcastErrors, 1)
	require.Contains(t, rep.BroadcastErrors[0].Error, "no answer: context deadline exceeded")
	require.Equal(t, rep.Submitted-rep.BroadcastErrorsTotal, rep.Committed)

	// Every answer over the limit: each broadcast through the proxy is
	// resent once over a new connection, then fails, the limit named. The
	// node checked each (the proxy passes the frames on): what the load
	// counts an error is found in blocks, unacknowledged.
	p = (&wsProxy{node: rpcAddr, oversize: true}).start(t)
	rep = run(p)
	require.Positive(t, p.wsBroadcasts.Load())
	require.Equal(t, rep.Submitted/2, rep.BroadcastErrorsTotal, "every broadcast through the proxy failed: %+v", rep.BroadcastErrors)
	// Mostly failed by their own answer; a broadcast that went out just as
	// another's answer ended its connection reads that connection's failure.
	var overLimit int64
	for _, e := range rep.BroadcastErrors {
		require.Contains(t, e.Error, "websocket closed before the answer")
		if strings.HasSuffix(e.Error, "websocket closed before the answer: the node sent a message over N bytes, more than any answer a node gives: websocket: read limit exceeded") {
			overLimit += e.Count
		}
	}
	require.Positive(t, overLimit, "%+v", rep.BroadcastErrors)
	require.Equal(t, rep.BroadcastErrorsTotal, rep.Resent, "each sent twice")
	require.Zero(t, rep.ResentKnown, "no answer through the proxy was read")
	require.Positive(t, rep.Reconnects)
	require.Positive(t, rep.CommittedUnacknowledged)
	require.Equal(t, rep.Accepted+rep.CommittedUnacknowledged, rep.Committed)

	_, _, _, err := load.Broadcast(ctx, p.addr(), []byte("not a transaction"))
	require.ErrorContains(t, err, "answer over 1048576 bytes, more than any answer a node gives: not read")
}

package load_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/client"
	"github.com/tallyledger/tally/client/load"
)

// closingServer is an RPC server in front of a node that closes kept-alive
// connections: once armed, a broadcast_tx_sync that arrives on a
// connection that has served a request before gets no answer, the
// connection is closed, as when a server's idle timeout fires just as the
// client sends on the connection (CometBFT's closes connections idle for
// its read_timeout). With deliver set the broadcast reaches the node first
// and only its answer is lost. Every other request is passed to the node
// and its answer back.
type closingServer struct {
	node    string
	deliver bool
	armed   atomic.Bool
	closed  atomic.Int64
	srv     *httptest.Server
}

type connRequests struct{}

func newClosingServer(t *testing.T, node string, deliver bool) *closingServer {
	s := &closingServer{node: "http://" + strings.TrimPrefix(node, "tcp://"), deliver: deliver}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.srv.Config.ConnContext = func(ctx context.Context, _ net.Conn) context.Context {
		return context.WithValue(ctx, connRequests{}, new(atomic.Int64))
	}
	s.srv.Start()
	t.Cleanup(s.srv.Close)
	return s
}

func (s *closingServer) addr() string { return "tcp://" + strings.TrimPrefix(s.srv.URL, "http://") }

func (s *closingServer) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	reused := r.Context().Value(connRequests{}).(*atomic.Int64).Add(1) > 1
	if s.armed.Load() && reused && bytes.Contains(body, []byte(`"broadcast_tx_sync"`)) {
		if s.deliver {
			if res, err := http.Post(s.node, "application/json", bytes.NewReader(body)); err == nil {
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		}
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(err)
		}
		conn.Close()
		s.closed.Add(1)
		return
	}
	passOn(w, s.node, body)
}

// passOn posts body to node (http://) and writes its answer to w.
func passOn(w http.ResponseWriter, node string, body []byte) {
	res, err := http.Post(node, "application/json", bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer res.Body.Close()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(res.StatusCode)
	_, _ = io.Copy(w, res.Body)
}

// armWriter logs a run's progress and arms a test server once the run's
// setup is done (the setup's own client is not the load's).
type armWriter struct {
	t     *testing.T
	armed *atomic.Bool
}

func (w armWriter) Write(p []byte) (int, error) {
	if bytes.HasPrefix(p, []byte("setup: done")) {
		w.armed.Store(true)
	}
	w.t.Log(string(p))
	return len(p), nil
}

// A broadcast that fails because the node closed the kept-alive connection
// it went out on, before any answer, is sent once more over a new
// connection, and counted by that answer, not as a broadcast error (runs
// reported 0-64 "post failed: ... EOF" each). When the first send had
// reached the node after all, the second is answered "tx already exists in
// cache": counted apart (ResentKnown), neither accepted nor an error, and
// its transaction counted committed from the block it is found in.
func TestABroadcastOnAConnectionTheNodeClosedIsResent(t *testing.T) {
	_, adminPriv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	rpcAddr := startNode(t, adminPriv)
	c, err := client.Dial(rpcAddr)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	waitHeight(ctx, t, c, 2)

	for _, deliver := range []bool{false, true} {
		s := newClosingServer(t, rpcAddr, deliver)
		rep, err := load.Run(ctx, load.Config{
			// Every other transaction goes through the closing server.
			Endpoints:   []string{rpcAddr, s.addr()},
			Rate:        40,
			Duration:    3 * time.Second,
			Accounts:    8,
			Connections: 2, // few, so the server sees them reused
			Admin:       adminPriv,
			Drain:       15 * time.Second,
			Log:         armWriter{t, &s.armed},
		})
		require.NoError(t, err)
		closed := s.closed.Load()
		t.Logf("deliver %v: %d connections closed; resent %d, of which the node had %d; errors %+v",
			deliver, closed, rep.Resent, rep.ResentKnown, rep.BroadcastErrors)
		require.Positive(t, closed, "the server closed no connection")
		require.Equal(t, closed, rep.Resent, "every broadcast the server cut off was sent again")
		require.Zero(t, rep.BroadcastErrorsTotal, "broadcast errors: %+v", rep.BroadcastErrors)
		require.Zero(t, rep.RejectedTotal, "rejected: %+v", rep.Rejected)
		require.Equal(t, rep.Submitted, rep.Accepted+rep.RejectedTotal+rep.BroadcastErrorsTotal+rep.ResentKnown)
		if deliver {
			require.Equal(t, closed, rep.ResentKnown, "each resent broadcast the node already had")
			require.Equal(t, rep.ResentKnown, rep.CommittedUnacknowledged, "and found in a block")
		} else {
			require.Zero(t, rep.ResentKnown)
			require.Zero(t, rep.CommittedUnacknowledged)
		}
		require.Zero(t, rep.Pending)
		require.Equal(t, rep.Submitted, rep.Committed, "every transaction sent was committed once")
		require.Equal(t, rep.Committed, rep.CommittedOK)
	}
}

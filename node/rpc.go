package node

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	cmtlog "github.com/cometbft/cometbft/libs/log"
	cmtpubsub "github.com/cometbft/cometbft/libs/pubsub"
	grpccore "github.com/cometbft/cometbft/rpc/grpc"
	rpcserver "github.com/cometbft/cometbft/rpc/jsonrpc/server"
	"github.com/rs/cors"
	"google.golang.org/grpc"

	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/x/module"
)

// The node serves CometBFT's RPC itself (CometBFT's own server has no
// place for a handler of ours), with the same routes, limits, CORS and TLS
// settings from config.toml's [rpc], behind one addition: the reader lane.
//
// What a reader costs a node is mostly outside the app: a CPU profile of a
// node under the hostile client's query flood had 0.72 s of its 1.82 s
// serving HTTP, of which only 0.21 s was in App.Query (JSON-RPC decoding,
// reflection, the JSON encoding of answers and the writes were the rest),
// and readers ran four at a time beside consensus. So every request that
// is not a transaction broadcast passes one at a time through the lane and
// is admitted and charged the CPU it uses, whole, against the node's reader
// budget (app.toml query_budget_percent; app.StartReader). Its answer is
// built inside the lane and written to the client after it. Past the budget a
// reader waits, then is refused with HTTP 503 and a JSON-RPC error whose
// data is the coded refusal (tx/70, try again in N ms). Broadcasts are not
// readers: the broadcast gate (broadcastGate) and CheckTx limit them (tx/85).

// writeMethods are the JSON-RPC methods that submit rather than read: they
// bypass the reader lane.
var writeMethods = map[string]bool{
	"broadcast_tx_sync":   true,
	"broadcast_tx_async":  true,
	"broadcast_tx_commit": true,
	"broadcast_evidence":  true,
}

// readerLane paces the RPC's readers: one at a time, within the budget.
type readerLane struct {
	next    http.Handler
	start   func() reader
	lane    chan struct{} // holds a token while a reader runs
	maxBody int64
	// wait is the longest a reader waits for the lane before it is
	// refused, like the budget's own wait.
	wait time.Duration
	// written charges what a websocket connection writes (its answers'
	// encoding runs on CometBFT's goroutines, outside any reader's
	// thread); nil: not charged.
	written func(n int)
}

// reader is one request measured against the budget (app.Reader): from
// its start, through Admit, to Done, on one goroutine.
type reader interface {
	Admit() (ok bool, retry time.Duration)
	Leave()  // its turn in the lane is over
	Done()   // charge it
	Cancel() // not a reader after all: no charge
}

func newReaderLane(next http.Handler, start func() reader, maxBody int64) *readerLane {
	return &readerLane{next: next, start: start, lane: make(chan struct{}, 1), maxBody: maxBody, wait: 2 * time.Second}
}

func (l *readerLane) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/websocket" {
		// A websocket connection lasts as long as its client wants:
		// holding the lane for it would refuse every other reader. Its
		// abci_query calls are paced one by one in App.Query instead,
		// and what it writes is charged by the byte (encoding).
		if l.written != nil {
			w = chargedWebsocket{ResponseWriter: w, charge: l.written}
		}
		l.next.ServeHTTP(w, r)
		return
	}
	rd := l.start() // from here to the answer sent, its CPU is the reader's
	calls, id, ok := parsedCalls(r)
	if !ok {
		calls, id, _ = readCalls(r, l.maxBody)
	}
	if isWrite(calls) {
		rd.Cancel()
		l.next.ServeHTTP(w, r)
		return
	}
	defer rd.Done()
	t := time.NewTimer(l.wait)
	select {
	case l.lane <- struct{}{}:
		t.Stop()
	case <-t.C:
		l.refuse(w, id, l.wait)
		return
	case <-r.Context().Done():
		t.Stop()
		return
	}
	ok, retry := rd.Admit()
	if !ok {
		<-l.lane
		l.refuse(w, id, retry)
		return
	}
	// The answer is built inside the lane and written after it: a client
	// that reads its answer slowly (or never) holds only its own
	// connection, not every other reader's turn.
	answer := &bufferedAnswer{header: w.Header(), code: http.StatusOK}
	l.next.ServeHTTP(answer, r)
	rd.Leave()
	<-l.lane
	answer.send(w)
}

// chargedWebsocket hands the websocket upgrader a connection whose writes
// are charged to the reader budget.
type chargedWebsocket struct {
	http.ResponseWriter
	charge func(n int)
}

func (c chargedWebsocket) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return hijack(c.ResponseWriter, func(conn net.Conn) (net.Conn, error) { return chargedConn{Conn: conn, charge: c.charge}, nil })
}

// hijack takes over w's connection for a websocket, as wrap wraps it.
func hijack(w http.ResponseWriter, wrap func(net.Conn) (net.Conn, error)) (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("this connection cannot be taken over for a websocket")
	}
	conn, brw, err := h.Hijack()
	if err != nil {
		return nil, nil, err
	}
	if conn, err = wrap(conn); err != nil {
		return nil, nil, err
	}
	return conn, brw, nil
}

// chargedConn charges every write (a websocket frame: an answer, an
// event, a ping) by its size.
type chargedConn struct {
	net.Conn
	charge func(n int)
}

func (c chargedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.charge(n)
	return n, err
}

// bufferedAnswer holds a reader's answer until the lane is free again.
// What it holds is bounded by max_open_connections times the largest
// answer CometBFT builds.
type bufferedAnswer struct {
	header http.Header // the real writer's: set before anything is sent
	code   int
	wrote  bool
	body   bytes.Buffer
}

func (b *bufferedAnswer) Header() http.Header { return b.header }

func (b *bufferedAnswer) WriteHeader(code int) {
	if !b.wrote {
		b.code, b.wrote = code, true
	}
}

func (b *bufferedAnswer) Write(p []byte) (int, error) {
	b.wrote = true
	return b.body.Write(p)
}

// send writes the answer to the client.
func (b *bufferedAnswer) send(w http.ResponseWriter) {
	w.WriteHeader(b.code)
	_, _ = w.Write(b.body.Bytes()) // a client gone is CometBFT's usual case: nothing to do
}

// rpcCall is one JSON-RPC call of a request, as far as the node's front
// handlers need it.
type rpcCall struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
}

// readCalls reads the JSON-RPC calls of r, the id to answer a refusal
// with (a single call's; none for a batch) and whether they came as a
// batch (a JSON array). A GET is one call named by its
// path. It reads a POST body (up to maxBody; CometBFT refuses larger ones)
// and puts it back. Calls it cannot read come back empty: not a write.
func readCalls(r *http.Request, maxBody int64) (calls []rpcCall, id json.RawMessage, batch bool) {
	if r.Method != http.MethodPost {
		return []rpcCall{{Method: strings.TrimPrefix(r.URL.Path, "/")}}, nil, false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), r.Body))
	if err != nil {
		return nil, nil, false
	}
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) > 0 && t[0] == '[' {
		if json.Unmarshal(body, &calls) != nil {
			return nil, nil, true
		}
		return calls, nil, true
	}
	var c rpcCall
	if json.Unmarshal(body, &c) != nil {
		return nil, nil, false
	}
	return []rpcCall{c}, c.ID, false
}

// isWrite says whether every call only submits.
func isWrite(calls []rpcCall) bool {
	for _, c := range calls {
		if !writeMethods[c.Method] {
			return false
		}
	}
	return len(calls) > 0
}

// callsKey is the request context key under which the broadcast gate
// leaves the calls it read, so the reader lane behind it need not read
// the body again.
type callsKey struct{}

type parsed struct {
	calls []rpcCall
	id    json.RawMessage
}

func withCalls(r *http.Request, calls []rpcCall, id json.RawMessage) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), callsKey{}, parsed{calls, id}))
}

// parsedCalls is what the gate read from r, if it did.
func parsedCalls(r *http.Request) ([]rpcCall, json.RawMessage, bool) {
	p, ok := r.Context().Value(callsKey{}).(parsed)
	return p.calls, p.id, ok
}

// refuse answers a reader the budget turned away: HTTP 503 with
// Retry-After, and a JSON-RPC error whose data is the coded refusal.
func (l *readerLane) refuse(w http.ResponseWriter, id json.RawMessage, retry time.Duration) {
	space, code, msg := module.CodeOf(app.BusyRetry(retry))
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	data, _ := json.Marshal(fmt.Sprintf("%s/%d: %s", space, code, msg))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Retry-After", fmt.Sprint(max(int(retry.Round(time.Second)/time.Second), 1)))
	w.WriteHeader(http.StatusServiceUnavailable)
	fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"error":{"code":-32000,"message":"Server error","data":%s}}`, id, data)
}

// serveRPC starts the RPC server on every address of [rpc] laddr, as
// CometBFT's own startRPC would, with the broadcast gate and the reader
// lane in front.
func (n *Node) serveRPC(laddr string) error {
	env, err := n.ConfigureRPC()
	if err != nil {
		return fmt.Errorf("rpc: %w", err)
	}
	c := n.Config().RPC
	routes := env.GetRoutes()
	if c.Unsafe {
		env.AddUnsafeRoutes(routes)
	}
	routes[RemoteSignerRoute] = remoteSignerRoute(n.signer)
	routes[BlockOutcomesRoute] = blockOutcomesRoute(env)
	config := rpcserver.DefaultConfig()
	config.MaxRequestBatchSize = c.MaxRequestBatchSize
	config.MaxBodyBytes = c.MaxBodyBytes
	config.MaxHeaderBytes = c.MaxHeaderBytes
	config.MaxOpenConnections = c.MaxOpenConnections
	if config.WriteTimeout <= c.TimeoutBroadcastTxCommit {
		config.WriteTimeout = c.TimeoutBroadcastTxCommit + time.Second
	}
	logger := n.Logger.With("module", "rpc-server")
	for _, addr := range strings.Split(laddr, ",") {
		addr = strings.TrimSpace(addr)
		if addr == "" {
			continue
		}
		mux := http.NewServeMux()
		wm := rpcserver.NewWebsocketManager(n.gate.gatedRoutes(routes, env),
			rpcserver.OnDisconnect(func(remoteAddr string) {
				if err := n.EventBus().UnsubscribeAll(context.Background(), remoteAddr); err != nil && err != cmtpubsub.ErrSubscriptionNotFound {
					logger.Error("unsubscribing a websocket client", "addr", remoteAddr, "err", err)
				}
			}),
			rpcserver.ReadLimit(config.MaxBodyBytes),
			rpcserver.WriteChanCapacity(c.WebSocketWriteBufferSize),
		)
		wm.SetLogger(wsRequestsAtDebug{logger.With("protocol", "websocket")})
		mux.HandleFunc("/websocket", wm.WebsocketHandler)
		rpcserver.RegisterRPCFuncs(mux, routes, logger)
		var handler http.Handler = mux
		if n.App.PacesReaders() {
			lane := newReaderLane(mux, func() reader { return n.App.StartReader() }, config.MaxBodyBytes)
			lane.written = n.App.ChargeWritten
			handler = lane
		}
		handler = n.gate.handler(handler, config.MaxBodyBytes)
		if c.IsCorsEnabled() {
			handler = cors.New(cors.Options{
				AllowedOrigins: c.CORSAllowedOrigins,
				AllowedMethods: c.CORSAllowedMethods,
				AllowedHeaders: c.CORSAllowedHeaders,
			}).Handler(handler)
		}
		ln, err := rpcserver.Listen(addr, config.MaxOpenConnections)
		if err != nil {
			return fmt.Errorf("rpc: %w", err)
		}
		// The server is the node's own (not rpcserver.Serve's, which
		// gives no handle on it), with the same handlers and timeouts, so
		// that Shutdown closes its connections and not only the listener:
		// a kept-alive connection would otherwise go on reaching this
		// node's closed app after a restart in the same process.
		srv := &http.Server{
			Handler:           rpcserver.PreChecksHandler(rpcserver.RecoverAndLogHandler(n.rpc.websockets.track(handler), logger), config),
			ReadTimeout:       config.ReadTimeout,
			ReadHeaderTimeout: config.ReadTimeout,
			WriteTimeout:      config.WriteTimeout,
			MaxHeaderBytes:    config.MaxHeaderBytes,
		}
		n.rpc.servers = append(n.rpc.servers, srv)
		go func() {
			logger.Info("serve", "msg", "Starting RPC HTTP server on "+ln.Addr().String())
			var err error
			if c.IsTLSEnabled() {
				err = srv.ServeTLS(ln, c.CertFile(), c.KeyFile())
			} else {
				err = srv.Serve(ln)
			}
			if !errors.Is(err, http.ErrServerClosed) {
				logger.Error("rpc server stopped", "err", err)
			}
		}()
	}
	// CometBFT's gRPC broadcast API, when configured, as its startRPC does
	// (grpccore.StartGRPCServer) but behind the broadcast gate and with a
	// server Shutdown stops. It only submits transactions, so it has no
	// reader lane.
	if c.GRPCListenAddress != "" {
		ln, err := rpcserver.Listen(c.GRPCListenAddress, c.GRPCMaxOpenConnections)
		if err != nil {
			return fmt.Errorf("grpc: %w", err)
		}
		srv := grpc.NewServer()
		grpccore.RegisterBroadcastAPIServer(srv, gatedBroadcastAPI{gate: n.gate, env: env})
		n.rpc.grpc = append(n.rpc.grpc, srv)
		go func() {
			if err := srv.Serve(ln); err != nil {
				logger.Error("grpc server stopped", "err", err)
			}
		}()
	}
	return nil
}

// rpcServers are the servers serveRPC started.
type rpcServers struct {
	servers []*http.Server
	grpc    []*grpc.Server
	// websockets are the connections the HTTP servers handed over to the
	// websocket handler, which an http.Server no longer closes.
	websockets hijackedConns
}

// closeRPC closes the RPC servers serveRPC started, their listeners and
// every connection to them (kept alive or taken by a websocket), so no
// client reaches this node's app after Shutdown.
func (n *Node) closeRPC() {
	for _, srv := range n.rpc.servers {
		_ = srv.Close() // closes its listener and connections; errors are the listener's, already closed
	}
	for _, srv := range n.rpc.grpc {
		srv.Stop() // closes its listener and connections
	}
	n.rpc.websockets.closeAll()
	n.rpc.servers, n.rpc.grpc = nil, nil
}

// hijackedConns are the connections websocket clients hold open.
type hijackedConns struct {
	mu    sync.Mutex
	conns map[*trackedConn]struct{}
	// closed: the node is shutting down; a websocket still being opened
	// is closed at once.
	closed bool
}

// track hands the websocket handler behind h connections that
// hijackedConns knows of until they close.
func (hc *hijackedConns) track(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/websocket" {
			w = trackedWebsocket{ResponseWriter: w, conns: hc}
		}
		h.ServeHTTP(w, r)
	})
}

func (hc *hijackedConns) closeAll() {
	hc.mu.Lock()
	conns := hc.conns
	hc.conns, hc.closed = nil, true
	hc.mu.Unlock()
	for c := range conns {
		_ = c.Conn.Close() // the websocket's goroutines see the error and stop
	}
}

// trackedWebsocket registers the connection the websocket upgrader takes.
type trackedWebsocket struct {
	http.ResponseWriter
	conns *hijackedConns
}

func (t trackedWebsocket) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return hijack(t.ResponseWriter, t.conns.add)
}

// add registers conn, or closes it if the node is shutting down.
func (hc *hijackedConns) add(conn net.Conn) (net.Conn, error) {
	hc.mu.Lock()
	defer hc.mu.Unlock()
	if hc.closed {
		_ = conn.Close()
		return nil, errors.New("the node is shutting down")
	}
	if hc.conns == nil {
		hc.conns = map[*trackedConn]struct{}{}
	}
	tc := &trackedConn{Conn: conn, conns: hc}
	hc.conns[tc] = struct{}{}
	return tc, nil
}

// trackedConn leaves hijackedConns when it closes.
type trackedConn struct {
	net.Conn
	conns *hijackedConns
}

func (c *trackedConn) Close() error {
	c.conns.mu.Lock()
	delete(c.conns.conns, c)
	c.conns.mu.Unlock()
	return c.Conn.Close()
}

// BroadcastsWaiting is how many transaction broadcasts the node's RPC has
// let through its broadcast gate and not yet answered: those waiting for
// CheckTx (and broadcast_tx_commit calls waiting for their block).
func (n *Node) BroadcastsWaiting() int { return int(n.gate.waiting.Load()) }

// wsRequestsAtDebug logs the line CometBFT's websocket handler writes for
// every request ("WSJSONRPC", at info) at debug, as CometBFT logs every
// HTTP JSON-RPC request. At info a websocket load wrote a line per
// broadcast to each node's log: 27,000 a node in 45 s at 2,400 tx/s
// offered over four nodes (4.3 MB), 1.8% of the nodes' CPU.
type wsRequestsAtDebug struct{ cmtlog.Logger }

func (l wsRequestsAtDebug) Info(msg string, keyvals ...any) {
	if msg == "WSJSONRPC" {
		l.Logger.Debug(msg, keyvals...)
		return
	}
	l.Logger.Info(msg, keyvals...)
}

func (l wsRequestsAtDebug) With(keyvals ...any) cmtlog.Logger {
	return wsRequestsAtDebug{l.Logger.With(keyvals...)}
}

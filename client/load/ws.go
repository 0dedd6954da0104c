package load

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// The transports a run can send its broadcasts over (Config.Transport).
const (
	// TransportHTTP posts each broadcast as an HTTP request over a pool of
	// kept-alive connections (rpcConn).
	TransportHTTP = "http"
	// TransportWS sends each broadcast as a frame over one of a few
	// websockets to the node's /websocket endpoint (wsPool), as CometBFT's
	// loadtime (tm-load-test) loads kvstore.
	TransportWS = "ws"
)

// broadcaster sends a transaction with broadcast_tx_sync and returns
// CheckTx's verdict; resent says it was sent a second time, after its
// connection failed before any answer (rpcConn.post, wsPool.broadcastTxSync).
type broadcaster interface {
	broadcastTxSync(ctx context.Context, tx []byte) (_ broadcastResult, resent bool, _ error)
}

// wsPool speaks CometBFT's JSON-RPC over websockets to one node's
// /websocket endpoint: conns connections, each broadcast sent over the
// next in turn. CometBFT's websocket server runs one connection's
// requests one at a time, in order (rpc/jsonrpc/server/ws_handler.go,
// readRoutine), so a broadcast waits behind those sent before it on its
// connection; several connections let the node check as many at once as
// it would HTTP requests. Answers are matched to their requests by
// JSON-RPC id, by one reader goroutine per connection.
//
// A connection the node closes, or on which it sends a message over
// maxBroadcastAnswerBytes, fails the broadcasts waiting on it
// ("websocket closed"); each is sent once more over a new connection
// (safe for the reasons rpcConn.post gives: a transaction is applied at
// most once, and one the node received the first time is answered "tx
// already exists in cache"). The next broadcast on that slot opens the new
// connection; Reconnects counts the connections lost so.
//
// Its errors are classed as the HTTP transport's are (errorClass): a
// node's JSON-RPC error reads "error in json rpc client, with websocket
// …. RPC error …", a transport failure "websocket …: <cause>".
type wsPool struct {
	url    string
	dialer *websocket.Dialer
	conns  []*wsSlot
	turn   atomic.Uint64
	id     atomic.Int64
	// reconnects counts connections the node closed (or that failed) while
	// the run used them.
	reconnects atomic.Int64
	closed     atomic.Bool
}

// wsSlot is one of the pool's connections, reopened when it fails.
type wsSlot struct {
	p      *wsPool
	dialMu sync.Mutex // one dial at a time
	mu     sync.Mutex // guards cur
	cur    *wsSession // nil: not open
}

// wsSession is one open websocket: its in-flight requests by id.
type wsSession struct {
	conn *websocket.Conn
	wmu  sync.Mutex // one writer at a time (gorilla/websocket's rule)
	mu   sync.Mutex
	// pending are the requests sent and not yet answered; nil once the
	// connection failed (err says how).
	pending map[int64]chan wsAnswer
	err     error
}

type wsAnswer struct {
	res broadcastResult
	err error
}

// errWSClosed is wrapped by the error of a broadcast whose connection
// failed before its answer came.
var errWSClosed = errors.New("websocket closed before the answer")

// wsURL is the websocket endpoint of addr (tcp://, unix://, http://,
// https://, ws:// or wss://) and the dialer that reaches it.
func wsURL(addr string) (string, *websocket.Dialer, error) {
	u, err := url.Parse(addr)
	if err != nil || u.Scheme == "" {
		return "", nil, fmt.Errorf("invalid remote %s: want tcp://HOST:PORT", addr)
	}
	d := &websocket.Dialer{ReadBufferSize: 4096, WriteBufferSize: 4096}
	path := strings.TrimSuffix(u.Path, "/")
	switch u.Scheme {
	case "tcp", "http", "ws":
		return "ws://" + u.Host + strings.TrimSuffix(path, "/websocket") + "/websocket", d, nil
	case "https", "wss":
		return "wss://" + u.Host + strings.TrimSuffix(path, "/websocket") + "/websocket", d, nil
	case "unix":
		sock := u.Host + u.Path
		d.NetDialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var nd net.Dialer
			return nd.DialContext(ctx, "unix", sock)
		}
		return "ws://" + strings.ReplaceAll(sock, "/", ".") + "/websocket", d, nil
	}
	return "", nil, fmt.Errorf("invalid remote %s: unknown scheme %q", addr, u.Scheme)
}

// newWSPool makes a pool of conns websockets to addr; each is opened by
// its first broadcast.
func newWSPool(addr string, conns int) (*wsPool, error) {
	u, d, err := wsURL(addr)
	if err != nil {
		return nil, err
	}
	p := &wsPool{url: u, dialer: d, conns: make([]*wsSlot, conns)}
	for i := range p.conns {
		p.conns[i] = &wsSlot{p: p}
	}
	return p, nil
}

// Close closes the pool's connections; broadcasts waiting on them fail.
func (p *wsPool) Close() {
	p.closed.Store(true)
	for _, s := range p.conns {
		s.mu.Lock()
		cur := s.cur
		s.cur = nil
		s.mu.Unlock()
		if cur != nil {
			cur.fail(errors.New("the load closed the connection"))
		}
	}
}

// broadcastTxSync sends tx with broadcast_tx_sync over the next
// connection and returns CheckTx's verdict. A broadcast whose connection
// failed after it was written, before its answer, is sent once more over
// a new connection (resent).
func (p *wsPool) broadcastTxSync(ctx context.Context, tx []byte) (_ broadcastResult, resent bool, _ error) {
	id := p.id.Add(1)
	body := broadcastBody(id, tx)
	slot := p.conns[(p.turn.Add(1)-1)%uint64(len(p.conns))]
	res, err := slot.roundTrip(ctx, body, id)
	if err == nil || !errors.Is(err, errWSClosed) || ctx.Err() != nil || p.closed.Load() {
		return res, false, err
	}
	res, err = slot.roundTrip(ctx, body, id)
	return res, true, err
}

// roundTrip sends body (a request whose id is id) over the slot's
// connection, opening one if it has none, and waits for its answer.
func (s *wsSlot) roundTrip(ctx context.Context, body []byte, id int64) (broadcastResult, error) {
	sess, err := s.session(ctx)
	if err != nil {
		return broadcastResult{}, err
	}
	ch := make(chan wsAnswer, 1)
	sess.mu.Lock()
	if sess.pending == nil {
		err := sess.err
		sess.mu.Unlock()
		return broadcastResult{}, fmt.Errorf("websocket %s: %w: %w", s.p.url, errWSClosed, err)
	}
	sess.pending[id] = ch
	sess.mu.Unlock()

	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(broadcastTimeout)
	}
	sess.wmu.Lock()
	_ = sess.conn.SetWriteDeadline(deadline)
	err = sess.conn.WriteMessage(websocket.TextMessage, body)
	sess.wmu.Unlock()
	if err != nil {
		// gorilla/websocket fails every write after one failed: the
		// connection is done (the node may have read part of it, or all).
		sess.fail(err)
		s.drop(sess)
		return broadcastResult{}, fmt.Errorf("websocket %s: %w: write: %w", s.p.url, errWSClosed, err)
	}
	select {
	case a := <-ch:
		return a.res, a.err
	case <-ctx.Done():
		sess.mu.Lock()
		delete(sess.pending, id)
		sess.mu.Unlock()
		// An answer that comes later is dropped (no one waits for its id).
		return broadcastResult{}, fmt.Errorf("websocket %s: no answer: %w", s.p.url, ctx.Err())
	}
}

// session returns the slot's open connection, opening one if needed.
func (s *wsSlot) session(ctx context.Context) (*wsSession, error) {
	s.mu.Lock()
	cur := s.cur
	s.mu.Unlock()
	if cur != nil {
		return cur, nil
	}
	s.dialMu.Lock()
	defer s.dialMu.Unlock()
	s.mu.Lock()
	cur = s.cur
	s.mu.Unlock()
	if cur != nil { // another sender opened it meanwhile
		return cur, nil
	}
	if s.p.closed.Load() {
		return nil, fmt.Errorf("websocket %s: the load closed its connections", s.p.url)
	}
	conn, res, err := s.p.dialer.DialContext(ctx, s.p.url, nil)
	if err != nil {
		if res != nil {
			return nil, fmt.Errorf("websocket dial %s failed: %w (HTTP status %s)", s.p.url, err, res.Status)
		}
		return nil, fmt.Errorf("websocket dial %s failed: %w", s.p.url, err)
	}
	// A message over the limit fails the connection in read: gorilla adds
	// up a message's length from its frames' headers and stops at the
	// frame that passes the limit, before reading it, so a node cannot make
	// the load hold more than this of one message.
	conn.SetReadLimit(maxBroadcastAnswerBytes)
	sess := &wsSession{conn: conn, pending: map[int64]chan wsAnswer{}}
	go s.read(sess)
	s.mu.Lock()
	s.cur = sess
	s.mu.Unlock()
	return sess, nil
}

// drop forgets sess, a connection that failed, so that the next broadcast
// opens a new one; each connection lost counts once.
func (s *wsSlot) drop(sess *wsSession) {
	s.mu.Lock()
	dropped := s.cur == sess
	if dropped {
		s.cur = nil
	}
	s.mu.Unlock()
	if dropped && !s.p.closed.Load() {
		s.p.reconnects.Add(1)
	}
}

// fail ends the session: its connection is closed and every request
// waiting on it fails with err.
func (sess *wsSession) fail(err error) {
	sess.mu.Lock()
	pending := sess.pending
	if pending != nil {
		sess.pending, sess.err = nil, err
	}
	sess.mu.Unlock()
	_ = sess.conn.Close()
	for _, ch := range pending {
		ch <- wsAnswer{err: fmt.Errorf("%w: %w", errWSClosed, err)}
	}
}

// read delivers sess's answers to the requests waiting for them, until
// the connection fails. (gorilla/websocket answers the node's pings with
// pongs while it reads.) A message over maxBroadcastAnswerBytes fails the
// connection as a close does: the broadcasts waiting on it are sent again
// over a new one (wsPool.broadcastTxSync), and fail if their answer is
// over the limit again, with an error that says so.
func (s *wsSlot) read(sess *wsSession) {
	var buf bytes.Buffer
	for {
		_, r, err := sess.conn.NextReader()
		if err == nil {
			buf.Reset()
			_, err = buf.ReadFrom(r)
		}
		if errors.Is(err, websocket.ErrReadLimit) {
			err = fmt.Errorf("the node sent a message over %d bytes, %w: %w", maxBroadcastAnswerBytes, errAnswerTooLarge, err)
		}
		if err != nil {
			sess.fail(err)
			s.drop(sess)
			return
		}
		id, a := s.p.decode(buf.Bytes())
		sess.mu.Lock()
		ch := sess.pending[id]
		delete(sess.pending, id)
		sess.mu.Unlock()
		if ch != nil {
			ch <- a
		}
		if buf.Cap() > maxPooledBuf {
			buf = bytes.Buffer{}
		}
	}
}

// decode reads one answer: its id, and the broadcast's result or error.
// An answer without a usable id has id 0, which no request has.
func (p *wsPool) decode(msg []byte) (int64, wsAnswer) {
	rawID, result, err := unmarshalAnswer[broadcastResult](msg, wsPrefix)
	id, idErr := strconv.ParseInt(string(rawID), 10, 64)
	if err != nil && idErr != nil {
		// The answer did not decode up to its id: read just the id, to
		// fail that request rather than let it wait for its timeout.
		var idOnly struct {
			ID int64 `json:"id"`
		}
		_ = json.Unmarshal(msg, &idOnly)
		id = idOnly.ID
	}
	switch {
	case err != nil:
		return id, wsAnswer{err: err}
	case result == nil:
		return id, wsAnswer{err: fmt.Errorf("%s. the answer has no result", wsPrefix)}
	}
	return id, wsAnswer{res: *result}
}

// wsPrefix begins a node's error over the websocket, as httpPrefix does
// over HTTP (errorClass keeps what follows "RPC error ").
const wsPrefix = "error in json rpc client, with websocket"

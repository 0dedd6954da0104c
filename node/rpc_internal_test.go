package node

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The reader lane paces every RPC request that reads (abci_query, block,
// status, a batch with any read in it) against the node's budget and
// refuses one the budget turns away with HTTP 503 and a JSON-RPC error
// carrying the coded refusal (tx/70) and the request's id; transaction
// broadcasts pass without being paced.
func TestTheReaderLanePacesReadersAndLetsBroadcastsThrough(t *testing.T) {
	var served, paced atomic.Int32
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		body, _ := io.ReadAll(r.Body)
		_, _ = w.Write(body) // the handler still sees the whole body
	})
	busy := func() reader { return fakeReader{ok: false, retry: 1500 * time.Millisecond, admits: &paced} }
	srv := httptest.NewServer(newReaderLane(next, busy, 1<<20))
	defer srv.Close()

	post := func(body string) (int, string) {
		t.Helper()
		res, err := http.Post(srv.URL, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	for _, body := range []string{
		`{"jsonrpc":"2.0","id":7,"method":"abci_query","params":{"path":"/invariants"}}`,
		`{"jsonrpc":"2.0","id":7,"method":"block"}`,
		`[{"jsonrpc":"2.0","id":7,"method":"broadcast_tx_sync","params":{"tx":"AA=="}},{"jsonrpc":"2.0","id":8,"method":"status"}]`,
		`not json`,
	} {
		code, answer := post(body)
		if code != http.StatusServiceUnavailable || !strings.Contains(answer, `tx/70`) || !strings.Contains(answer, "try again in 1500 ms") {
			t.Errorf("a reader with the budget spent, %s: HTTP %d %s; want 503 with tx/70 and when to try again", body, code, answer)
		}
		if strings.HasPrefix(body, `{`) && !strings.Contains(answer, `"id":7`) {
			t.Errorf("the refusal of %s does not carry its id: %s", body, answer)
		}
	}
	if served.Load() != 0 {
		t.Fatalf("%d refused readers reached the RPC handler", served.Load())
	}

	paced.Store(0)
	tx := `{"jsonrpc":"2.0","id":1,"method":"broadcast_tx_sync","params":{"tx":"AA=="}}`
	if code, answer := post(tx); code != http.StatusOK || answer != tx {
		t.Fatalf("a broadcast with the budget spent: HTTP %d %s; want it served with its body intact", code, answer)
	}
	res, err := http.Get(srv.URL + "/broadcast_tx_async?tx=0x00")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || paced.Load() != 0 {
		t.Fatalf("broadcasts were paced: GET answered %d, %d paced", res.StatusCode, paced.Load())
	}
	res, err = http.Get(srv.URL + "/status")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable || paced.Load() != 1 {
		t.Fatalf("GET /status with the budget spent: %d, %d paced; want 503, 1", res.StatusCode, paced.Load())
	}
}

// fakeReader admits or refuses every reader, as the budget would.
type fakeReader struct {
	ok     bool
	retry  time.Duration
	admits *atomic.Int32 // counts the readers asking to be admitted
}

func (f fakeReader) Admit() (bool, time.Duration) {
	if f.admits != nil {
		f.admits.Add(1)
	}
	return f.ok, f.retry
}
func (f fakeReader) Leave()  {}
func (f fakeReader) Done()   {}
func (f fakeReader) Cancel() {}

// Readers go one at a time: while one is being answered, the next waits
// for the lane, and is refused busy if it waits longer than the lane's
// wait (so a crowd of readers costs the node no more than one).
func TestTheReaderLaneServesOneReaderAtATime(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 2)
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	})
	free := func() reader { return fakeReader{ok: true} }
	lane := newReaderLane(next, free, 1<<20)
	lane.wait = 50 * time.Millisecond
	srv := httptest.NewServer(lane)
	defer srv.Close()

	first := make(chan int, 1)
	go func() {
		res, err := http.Get(srv.URL + "/status")
		if err != nil {
			first <- 0
			return
		}
		res.Body.Close()
		first <- res.StatusCode
	}()
	<-entered // the first reader holds the lane
	res, err := http.Get(srv.URL + "/abci_info")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a second reader while the first is answered: HTTP %d; want 503 after waiting for the lane", res.StatusCode)
	}
	close(release)
	if code := <-first; code != http.StatusOK {
		t.Fatalf("the first reader: HTTP %d", code)
	}
	if len(entered) != 0 {
		t.Fatal("the second reader reached the handler")
	}
}

// A websocket connection stays open as long as its client likes: it does
// not hold the lane, so readers keep being answered while it is open.
func TestAnOpenWebsocketDoesNotHoldTheReaderLane(t *testing.T) {
	release := make(chan struct{})
	opened := make(chan struct{})
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/websocket" {
			close(opened)
			<-release // the connection stays open
		}
	})
	free := func() reader { return fakeReader{ok: true} }
	lane := newReaderLane(next, free, 1<<20)
	lane.wait = 50 * time.Millisecond
	srv := httptest.NewServer(lane)
	defer srv.Close()
	defer close(release) // runs before srv.Close

	go func() {
		if res, err := http.Get(srv.URL + "/websocket"); err == nil {
			res.Body.Close()
		}
	}()
	<-opened
	res, err := http.Get(srv.URL + "/status")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("a reader while a websocket is open: HTTP %d; want 200", res.StatusCode)
	}
}

// The broadcast gate lets at most broadcast_max_waiting broadcasts wait for CheckTx
// and refuses the next at once with tx/85 in the shape of each method's
// answer (a batch gets one answer per call), while other calls pass.
func TestTheBroadcastGateRefusesBeyondItsQueue(t *testing.T) {
	release := make(chan struct{})
	var inside atomic.Int32
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inside.Add(1)
		<-release
		_, _ = w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":{}}`))
	})
	g := newBroadcastGate(func() int { return 0 }, gateLimits{mempool: 160, maxWaiting: 16})
	srv := httptest.NewServer(g.handler(next, 1<<20))
	defer srv.Close()
	defer close(release)

	post := func(body string) (int, string) {
		t.Helper()
		res, err := http.Post(srv.URL, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	// send posts from another goroutine; its answer is not looked at.
	send := func(body string) {
		if res, err := http.Post(srv.URL, "application/json", strings.NewReader(body)); err == nil {
			res.Body.Close()
		}
	}
	tx := `{"jsonrpc":"2.0","id":%d,"method":"broadcast_tx_sync","params":{"tx":"AA=="}}`
	for i := 0; i < 16; i++ {
		go send(fmt.Sprintf(tx, i))
	}
	deadline := time.Now().Add(time.Minute)
	for inside.Load() < 16 {
		if time.Now().After(deadline) {
			t.Fatalf("%d of 16 broadcasts reached the handler", inside.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	code, answer := post(fmt.Sprintf(tx, 99))
	if code != http.StatusServiceUnavailable || !strings.Contains(answer, `"id":99`) || !strings.Contains(answer, `"code":85`) ||
		!strings.Contains(answer, `"codespace":"tx"`) || !strings.Contains(answer, "16 broadcasts are already waiting") ||
		!strings.Contains(answer, `"hash":"6E340B9CFFB37A989CA544E6BB780A2C78901D3FB33738768511A30617AFA01D"`) {
		t.Fatalf("a 17th broadcast: HTTP %d %s; want 503 with tx/85, its id and its tx's hash", code, answer)
	}
	code, answer = post(`[` + fmt.Sprintf(tx, 5) + `,{"jsonrpc":"2.0","id":6,"method":"broadcast_tx_commit","params":["AA=="]}]`)
	if code != http.StatusServiceUnavailable || !strings.Contains(answer, `"id":5`) || !strings.Contains(answer, `"check_tx":{"code":85`) {
		t.Fatalf("a batch of broadcasts: HTTP %d %s; want 503 with an answer for each", code, answer)
	}
	res, err := http.Get(srv.URL + "/broadcast_tx_async?tx=0x00")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") != "1" {
		t.Fatalf("GET /broadcast_tx_async: %d, Retry-After %q; want 503, 1", res.StatusCode, res.Header.Get("Retry-After"))
	}
	before := inside.Load()
	go send(`{"jsonrpc":"2.0","id":1,"method":"status"}`)
	for inside.Load() == before {
		if time.Now().After(deadline) {
			t.Fatal("a status call did not pass the gate")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// When the app says its mempool holds as much work as it takes
// (app.App.MempoolFull: blocks of work, which the gate cannot count from
// the mempool's size), the gate refuses a broadcast at once with tx/85;
// other calls pass, and once the app has room broadcasts pass again.
func TestTheBroadcastGateRefusesWhenTheAppsMempoolIsFull(t *testing.T) {
	var passed atomic.Int32
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		passed.Add(1)
		_, _ = w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":{}}`))
	})
	var full atomic.Bool
	full.Store(true)
	g := newBroadcastGate(func() int { return 7 }, gateLimits{mempool: 1000, maxWaiting: 100})
	g.full = full.Load
	srv := httptest.NewServer(g.handler(next, 1<<20))
	defer srv.Close()
	post := func(body string) (int, string) { t.Helper(); return postJSON(t, srv.URL, body) }
	tx := `{"jsonrpc":"2.0","id":3,"method":"broadcast_tx_sync","params":{"tx":"AA=="}}`
	code, answer := post(tx)
	if code != http.StatusServiceUnavailable || !strings.Contains(answer, `"code":85`) || !strings.Contains(answer, "holds 7 transactions, as much work as it takes") {
		t.Fatalf("a broadcast to a full app: HTTP %d %s; want 503 with tx/85", code, answer)
	}
	if passed.Load() != 0 {
		t.Fatal("the refused broadcast reached the handler")
	}
	if code, _ = post(`{"jsonrpc":"2.0","id":1,"method":"status"}`); code != http.StatusOK || passed.Load() != 1 {
		t.Fatalf("a status call: HTTP %d; want it to pass", code)
	}
	full.Store(false)
	if code, _ = post(tx); code != http.StatusOK || passed.Load() != 2 {
		t.Fatalf("a broadcast once the app has room: HTTP %d; want it to pass", code)
	}
}

// postJSON posts body to url and returns the answer's status and body.
func postJSON(t *testing.T, url, body string) (int, string) {
	t.Helper()
	res, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// A reader's answer is built inside the lane and written after it: a
// client that never reads its (large) answer holds only its own connection,
// and the next reader is answered meanwhile.
func TestAClientThatNeverReadsItsAnswerDoesNotHoldTheReaderLane(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 8<<20) // far more than both sockets' buffers
	entered := make(chan struct{}, 1)
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			entered <- struct{}{}
			_, _ = w.Write(big)
		}
	})
	free := func() reader { return fakeReader{ok: true} }
	lane := newReaderLane(next, free, 1<<20)
	lane.wait = time.Minute // a lane held by the stuck write refuses the second reader after this
	srv := httptest.NewUnstartedServer(lane)
	srv.Listener = smallSendBuffers{srv.Listener}
	srv.Start()
	defer srv.Close()

	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		if cerr := c.Control(func(fd uintptr) { err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) }); cerr != nil {
			return cerr
		}
		return err
	}}
	stuck, err := d.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Close()
	if _, err := fmt.Fprintf(stuck, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	<-entered // and never read the answer
	res, err := http.Get(srv.URL + "/status")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("a reader while another client does not read its answer: HTTP %d; want 200 (the lane was held by the write)", res.StatusCode)
	}
}

// smallSendBuffers gives every accepted connection a small send buffer, so
// a large answer to a client that does not read blocks the write.
type smallSendBuffers struct{ net.Listener }

func (l smallSendBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}

// What a websocket connection writes (its answers, encoded on CometBFT's
// goroutines, outside any reader's thread) is charged by the byte.
func TestWhatAWebsocketWritesIsCharged(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		_, _ = conn.Write(bytes.Repeat([]byte("a"), 5000))
		_, _ = conn.Write([]byte("bc"))
	})
	var charged atomic.Int64
	lane := newReaderLane(next, func() reader { return fakeReader{ok: true} }, 1<<20)
	lane.written = func(n int) { charged.Add(int64(n)) }
	srv := httptest.NewServer(lane)
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := fmt.Fprintf(conn, "GET /websocket HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(conn)
	if err != nil || len(got) != 5002 {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
	if charged.Load() != 5002 {
		t.Fatalf("charged %d bytes of the 5,002 the websocket wrote", charged.Load())
	}
}

// While admitted broadcasts are answered slowly (the node's CPU is short),
// the gate lets only broadcast_slow_max_waiting wait and refuses the next with tx/85; with
// fast answers the same queue is admitted.
func TestTheBroadcastGateShortensItsQueueWhenAnswersAreSlow(t *testing.T) {
	release := make(chan struct{})
	var inside atomic.Int32
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inside.Add(1)
		<-release
	})
	const slowQueue, slowAnswer = 64, time.Second
	g := newBroadcastGate(func() int { return 0 }, gateLimits{slowWaiting: slowQueue, slowAnswer: slowAnswer}) // no mempool or queue limit
	g.answer.Store(int64(2 * slowAnswer))
	srv := httptest.NewServer(g.handler(next, 1<<20))
	defer srv.Close()
	defer close(release)
	tx := `{"jsonrpc":"2.0","id":1,"method":"broadcast_tx_sync","params":{"tx":"AA=="}}`
	hc := &http.Client{Timeout: 30 * time.Second} // an answer at all, not a speed
	post := func() *http.Response {
		res, err := hc.Post(srv.URL, "application/json", strings.NewReader(tx))
		if err == nil {
			res.Body.Close()
		}
		return res
	}
	for i := 0; i < slowQueue; i++ {
		go post()
	}
	deadline := time.Now().Add(time.Minute)
	for inside.Load() < slowQueue {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d broadcasts reached the handler", inside.Load(), slowQueue)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if res := post(); res == nil || res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("broadcast %d with answers taking 2 s: %v; want 503", slowQueue+1, res)
	}
	g.answer.Store(int64(slowAnswer / 2))
	go post()
	for inside.Load() == slowQueue {
		if time.Now().After(deadline) {
			t.Fatal("with fast answers the next broadcast was not admitted")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

package load

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	rpcclient "github.com/cometbft/cometbft/rpc/jsonrpc/client"
	rpctypes "github.com/cometbft/cometbft/rpc/jsonrpc/types"

	"github.com/tallyledger/tally/client"
)

// rpcConn speaks CometBFT's JSON-RPC over HTTP for the calls the load makes
// many times — broadcast_tx_sync for every transaction, abci_info every poll,
// block and block_results for every height — and decodes only the fields
// it uses with encoding/json into small structs. CometBFT's own client
// decodes every field of every result through its reflection-based JSON
// (each transaction result's events through jsonpb): at 1,200 tx/s offered
// that was a third of the load sender's CPU, taken from the cores the
// validators run on (README, "Measuring").
//
// Its errors read as CometBFT's client's do (errorClass counts them by
// that text): "post failed: …" for transport errors and
// "error in json rpc client, with http response metadata: (Status: …,
// Protocol …). RPC error …" for a node's JSON-RPC error.
type rpcConn struct {
	url string
	hc  *http.Client
	// fresh opens a new connection for each request: a request that
	// failed on a reused connection is sent again over it (post).
	fresh *http.Client
	id    atomic.Int64
}

// newRPCConn talks to addr (tcp://, unix://, http:// or https://) over hc,
// an HTTP client made for addr (CometBFT's DefaultHTTPClient, which dials
// addr whatever the URL's host says).
func newRPCConn(addr string, hc *http.Client) (*rpcConn, error) {
	u, err := url.Parse(addr)
	if err != nil || u.Scheme == "" {
		return nil, fmt.Errorf("invalid remote %s: want tcp://HOST:PORT", addr)
	}
	fresh, err := rpcclient.DefaultHTTPClient(addr)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", addr, err)
	}
	if t, ok := fresh.Transport.(*http.Transport); ok {
		t.DisableKeepAlives = true
	}
	switch u.Scheme {
	case "tcp", "unix":
		// CometBFT's dialer connects to addr itself; the URL only needs a
		// host (a unix socket's path, its slashes replaced, as CometBFT does).
		host := u.Host
		if u.Scheme == "unix" {
			host = strings.ReplaceAll(u.Host+u.Path, "/", ".")
		}
		return &rpcConn{url: "http://" + host, hc: hc, fresh: fresh}, nil
	case "http", "https":
		return &rpcConn{url: u.Scheme + "://" + u.Host + strings.TrimSuffix(u.Path, "/"), hc: hc, fresh: fresh}, nil
	}
	return nil, fmt.Errorf("invalid remote %s: unknown scheme %q", addr, u.Scheme)
}

// bufPool holds response buffers for the broadcasts (many at once).
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBuf is the largest buffer put back in bufPool.
const maxPooledBuf = 64 << 10

// The most bytes of one answer the load reads from a node, over HTTP or a
// websocket: a node that sends more (a broken or hostile one) fails the
// call with errAnswerTooLarge, instead of making the load allocate without
// bound.
const (
	// maxBroadcastAnswerBytes bounds an answer to broadcast_tx_sync (and
	// abci_info's, smaller still). CometBFT's ResultBroadcastTx is CheckTx's
	// code, codespace (a registered name of a few letters) and log (at most
	// module.MaxLogBytes, 1 KiB, which JSON may write six bytes a byte), its
	// data (Tally's CheckTx sets none) and the transaction's 32-byte hash:
	// under 8 KiB with the JSON-RPC envelope. 1 MiB leaves the margin for a
	// node of another release with longer logs, and is what a hostile node
	// can make the load hold per connection.
	maxBroadcastAnswerBytes = 1 << 20
	// maxBlockAnswerBytes bounds an answer about one block: block_outcomes,
	// at most node.MaxBlockOutcomesBytes (98 MB at the default
	// max_block_units of 30M, when every transaction of a block of the
	// smallest ones fails with a 1 KiB log; honest blocks' are a few MB),
	// or for a node without it block (at CometBFT's largest max_bytes, 100
	// MB of transactions, base64 makes about 134 MB) and block_results.
	// client.MaxAnswerBytes, 256 MiB, covers both, and block_outcomes up to
	// a max_block_units of 82,000,000, 2.7 times the default
	// (TestTheLoadReadsTheLargestAnswers).
	maxBlockAnswerBytes = client.MaxAnswerBytes
)

// blockAnswerLimit is the limit the watcher reads block answers with:
// maxBlockAnswerBytes, lowered by tests (SetBlockAnswerLimit) that show an
// answer over it fails.
var blockAnswerLimit int64 = maxBlockAnswerBytes

// errAnswerTooLarge is wrapped by the error of a call whose answer was over
// its limit: it would be over it again, so it is not asked again.
var errAnswerTooLarge = client.ErrAnswerTooLarge

// call posts one JSON-RPC request (body, whose id is id) to c and decodes
// the answer's result as a T. buf receives the response body, of at most
// limit bytes. resent says the request was sent a second time (post).
func call[T any](ctx context.Context, c *rpcConn, body []byte, id int64, buf *bytes.Buffer, limit int64) (_ *T, resent bool, _ error) {
	res, resent, err := c.post(ctx, body)
	if err != nil {
		return nil, resent, err
	}
	defer res.Body.Close()
	result, err := decode[T](res, id, buf, limit)
	return result, resent, err
}

// post sends body to the node. A request that failed over a reused
// keep-alive connection before any answer came (EOF, or the connection
// reset) is sent once more, over a new connection: the node closed the
// connection as the request went out. (A node's RPC server closes a
// connection idle for 10 s, its read timeout: node/rpc.go sets no idle
// timeout, so net/http uses CometBFT's rpcserver default ReadTimeout. The
// client keeps idle connections without limit, and one taken from the pool
// just as the server closes it fails so: 0 to 64 broadcasts a bench run.)
// Sending again is safe for every call the load makes: the reads change
// nothing, and a transaction is applied at most once (its nonce); a
// transaction the node did receive the first time is answered "tx already
// exists in cache" (runner.answered counts those apart). A request that
// failed on a new connection, or after its answer began, is not sent
// again.
func (c *rpcConn) post(ctx context.Context, body []byte) (*http.Response, bool, error) {
	var reused bool
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}
	res, err := c.send(httptrace.WithClientTrace(ctx, trace), c.hc, body)
	if err == nil || !reused || ctx.Err() != nil || !connClosed(err) {
		return res, false, err
	}
	res, err = c.send(ctx, c.fresh, body)
	return res, true, err
}

func (c *rpcConn) send(ctx context.Context, hc *http.Client, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("request failed: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("post failed: %w", err)
	}
	return res, nil
}

// connClosed says err is the node's end closing the connection.
func connClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// decode reads res, the answer to the JSON-RPC request whose id is id,
// into buf and decodes its result as a T. An answer over limit bytes is
// read no further: an error wrapping errAnswerTooLarge.
func decode[T any](res *http.Response, id int64, buf *bytes.Buffer, limit int64) (*T, error) {
	buf.Reset()
	if _, err := buf.ReadFrom(io.LimitReader(res.Body, limit+1)); err != nil {
		return nil, fmt.Errorf("%s. Failed to read response body: %w", httpPrefix(res), err)
	}
	if int64(buf.Len()) > limit {
		return nil, fmt.Errorf("%s. answer over %d bytes, %w: not read", httpPrefix(res), limit, errAnswerTooLarge)
	}
	gotID, result, err := unmarshalAnswer[T](buf.Bytes(), httpPrefix(res))
	if err != nil {
		return nil, err
	}
	if got := string(gotID); got != strconv.FormatInt(id, 10) {
		return nil, fmt.Errorf("%s. wrong ID: got %s, want %d", httpPrefix(res), got, id)
	}
	if result == nil {
		return nil, fmt.Errorf("%s. the answer has no result", httpPrefix(res))
	}
	return result, nil
}

// unmarshalAnswer decodes a JSON-RPC answer: its id, and its result as a
// T (nil if it has none) or its error, which begins with prefix.
func unmarshalAnswer[T any](msg []byte, prefix string) (json.RawMessage, *T, error) {
	// One pass: the result is decoded in place (encoding/json decodes into
	// the pointer an interface holds), not kept raw and decoded again.
	var result *T
	env := struct {
		ID     json.RawMessage    `json:"id"`
		Result any                `json:"result"`
		Error  *rpctypes.RPCError `json:"error"`
	}{Result: &result}
	if err := json.Unmarshal(msg, &env); err != nil {
		return env.ID, nil, fmt.Errorf("%s. error unmarshalling: %w", prefix, err)
	}
	if env.Error != nil {
		return env.ID, nil, fmt.Errorf("%s. %w", prefix, *env.Error)
	}
	return env.ID, result, nil
}

func httpPrefix(res *http.Response) string {
	return fmt.Sprintf("error in json rpc client, with http response metadata: (Status: %s, Protocol %s)", res.Status, res.Proto)
}

// request writes a JSON-RPC request for method with params, an encoded
// JSON object, and returns it with its id.
func (c *rpcConn) request(method, params string) ([]byte, int64) {
	id := c.id.Add(1)
	b := make([]byte, 0, 64+len(method)+len(params))
	b = append(b, `{"jsonrpc":"2.0","id":`...)
	b = strconv.AppendInt(b, id, 10)
	b = append(b, `,"method":"`...)
	b = append(b, method...)
	b = append(b, `","params":`...)
	b = append(b, params...)
	b = append(b, '}')
	return b, id
}

// broadcastResult is broadcast_tx_sync's answer: CheckTx's verdict.
type broadcastResult struct {
	Code      uint32 `json:"code"`
	Codespace string `json:"codespace"`
	Log       string `json:"log"`
}

// broadcastBody is the JSON-RPC request, whose id is id, that sends tx
// with broadcast_tx_sync.
func broadcastBody(id int64, tx []byte) []byte {
	const head, mid, tail = `{"jsonrpc":"2.0","id":`, `,"method":"broadcast_tx_sync","params":{"tx":"`, `"}}`
	body := make([]byte, 0, len(head)+20+len(mid)+base64.StdEncoding.EncodedLen(len(tx))+len(tail))
	body = append(body, head...)
	body = strconv.AppendInt(body, id, 10)
	body = append(body, mid...)
	body = base64.StdEncoding.AppendEncode(body, tx)
	return append(body, tail...)
}

// broadcastTxSync sends tx with broadcast_tx_sync and returns CheckTx's
// verdict; resent says it was sent a second time (post).
func (c *rpcConn) broadcastTxSync(ctx context.Context, tx []byte) (_ broadcastResult, resent bool, _ error) {
	id := c.id.Add(1)
	body := broadcastBody(id, tx)
	buf := bufPool.Get().(*bytes.Buffer)
	res, resent, err := call[broadcastResult](ctx, c, body, id, buf, maxBroadcastAnswerBytes)
	if buf.Cap() <= maxPooledBuf {
		bufPool.Put(buf)
	}
	if err != nil {
		return broadcastResult{}, resent, err
	}
	return *res, resent, nil
}

// committedHeight is the last height the node's app has committed
// (abci_info's last_block_height): its state at that height is what a
// query reads. status's latest_block_height is not: CometBFT reports a
// height once it has stored the block, before executing it, and stores
// the block's results before the app's Commit of it returns
// (state/execution.go: SaveFinalizeBlockResponse, then Commit).
func (c *rpcConn) committedHeight(ctx context.Context, buf *bytes.Buffer) (int64, error) {
	type info struct {
		Response struct {
			LastBlockHeight int64 `json:"last_block_height,string"`
		} `json:"response"`
	}
	body, id := c.request("abci_info", `{}`)
	res, _, err := call[info](ctx, c, body, id, buf, maxBroadcastAnswerBytes)
	if err != nil {
		return 0, fmt.Errorf("node abci_info: %w", err)
	}
	return res.Response.LastBlockHeight, nil
}

// txResult is what the load reads of one transaction's result in a block.
type txResult struct {
	Code      uint32 `json:"code"`
	Codespace string `json:"codespace"`
	Log       string `json:"log"`
	GasWanted int64  `json:"gas_wanted,string"`
	GasUsed   int64  `json:"gas_used,string"`
}

// blockResults returns the results of the transactions of block h, in
// block order (their events are skipped, not decoded).
func (c *rpcConn) blockResults(ctx context.Context, h int64, buf *bytes.Buffer) ([]txResult, error) {
	type results struct {
		Height     int64      `json:"height,string"`
		TxsResults []txResult `json:"txs_results"`
	}
	body, id := c.request("block_results", `{"height":"`+strconv.FormatInt(h, 10)+`"}`)
	res, _, err := call[results](ctx, c, body, id, buf, blockAnswerLimit)
	if err != nil {
		return nil, err
	}
	if res.Height != h {
		return nil, fmt.Errorf("asked for the results of block %d, got %d's", h, res.Height)
	}
	return res.TxsResults, nil
}

// blockTxs returns block h's header time and the hashes (SHA-256, as
// CometBFT's) of its transactions, in block order.
func (c *rpcConn) blockTxs(ctx context.Context, h int64, buf *bytes.Buffer) (time.Time, [][32]byte, error) {
	type blockResult struct {
		Block *struct {
			Header struct {
				Height int64     `json:"height,string"`
				Time   time.Time `json:"time"`
			} `json:"header"`
			Data struct {
				Txs [][]byte `json:"txs"` // base64, decoded by encoding/json
			} `json:"data"`
		} `json:"block"`
	}
	body, id := c.request("block", `{"height":"`+strconv.FormatInt(h, 10)+`"}`)
	res, _, err := call[blockResult](ctx, c, body, id, buf, blockAnswerLimit)
	if err != nil {
		return time.Time{}, nil, err
	}
	if res.Block == nil {
		return time.Time{}, nil, fmt.Errorf("block %d: the node returned no block", h)
	}
	if res.Block.Header.Height != h {
		return time.Time{}, nil, fmt.Errorf("asked for block %d, got %d", h, res.Block.Header.Height)
	}
	hashes := make([][32]byte, len(res.Block.Data.Txs))
	for i, tx := range res.Block.Data.Txs {
		hashes[i] = sha256.Sum256(tx)
	}
	return res.Block.Header.Time, hashes, nil
}

// errMethodNotFound is in a node's answer to a method it does not serve
// (JSON-RPC's -32601, as CometBFT writes it).
const errMethodNotFound = "Method not found"

// blockOutcomes returns block h's header time, and the hashes and results
// of its transactions in block order, in one call: the node's
// block_outcomes (node.BlockOutcomesRoute). Against a node that does not
// serve it (a release before it) it returns an error containing
// errMethodNotFound.
func (c *rpcConn) blockOutcomes(ctx context.Context, h int64, buf *bytes.Buffer) (time.Time, [][32]byte, []txResult, error) {
	type outcome struct {
		Hash string `json:"hash"`
		txResult
	}
	type outcomes struct {
		Height int64     `json:"height,string"`
		Time   time.Time `json:"time"`
		Txs    []outcome `json:"txs"`
	}
	body, id := c.request("block_outcomes", `{"height":"`+strconv.FormatInt(h, 10)+`"}`)
	res, _, err := call[outcomes](ctx, c, body, id, buf, blockAnswerLimit)
	if err != nil {
		return time.Time{}, nil, nil, err
	}
	if res.Height != h {
		return time.Time{}, nil, nil, fmt.Errorf("asked for the outcomes of block %d, got %d's", h, res.Height)
	}
	hashes := make([][32]byte, len(res.Txs))
	results := make([]txResult, len(res.Txs))
	for i, o := range res.Txs {
		if len(o.Hash) != 64 {
			return time.Time{}, nil, nil, fmt.Errorf("block %d: transaction %d has hash %q, not 32 bytes of hex", h, i, o.Hash)
		}
		if _, err := hex.Decode(hashes[i][:], []byte(o.Hash)); err != nil {
			return time.Time{}, nil, nil, fmt.Errorf("block %d: transaction %d has hash %q, not 32 bytes of hex", h, i, o.Hash)
		}
		results[i] = o.txResult
	}
	return res.Time, hashes, results, nil
}

package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	rpcclient "github.com/cometbft/cometbft/rpc/client"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	ctypes "github.com/cometbft/cometbft/rpc/core/types"
	jsonrpcclient "github.com/cometbft/cometbft/rpc/jsonrpc/client"
	"github.com/cometbft/cometbft/types"
)

// ProofOpType is the proof type Tally nodes put in query responses: an ICS23
// CommitmentProof against the IAVL root, which is the app hash.
const ProofOpType = "ics23:iavl"

// Client talks to one node's CometBFT RPC.
type Client struct {
	RPC *rpchttp.HTTP
}

// Dial connects to a node's RPC address (for example tcp://127.0.0.1:26657).
// A node that answers a read "busy" (tx/70: its readers have used their
// share of its CPU; HTTP 503) is asked again after the time it names, while
// the call's context lasts, at most busyAttempts times.
func Dial(addr string) (*Client, error) {
	hc, err := HTTPClient(addr)
	if err != nil {
		return nil, err
	}
	c, err := rpchttp.NewWithClient(addr, "/websocket", hc)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", addr, err)
	}
	return &Client{RPC: c}, nil
}

// HTTPClient is the HTTP client Dial's RPC client uses for addr: CometBFT's
// (tcp:// or unix:// addresses) with reads refused busy asked again, as
// Dial says. For callers that speak JSON-RPC to the node themselves.
func HTTPClient(addr string) (*http.Client, error) {
	hc, err := jsonrpcclient.DefaultHTTPClient(addr)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", addr, err)
	}
	hc.Transport = limitAnswers{busyRetry{next: hc.Transport}}
	return hc, nil
}

// MaxAnswerBytes is the most of one answer HTTPClient (so Dial's client
// too) reads from a node: a broken or hostile node that sends more fails
// the call, instead of making the client allocate without bound (CometBFT's
// client reads a whole answer into memory). It is above the largest answer
// a node gives about a block: block_outcomes (node.MaxBlockOutcomesBytes,
// 98 MB at the default max_block_units) and block at CometBFT's largest
// max_bytes (100 MB of transactions, about 134 MB in base64).
const MaxAnswerBytes = 256 << 20

// ErrAnswerTooLarge is wrapped by the error of a read past MaxAnswerBytes
// (and of tallyd load's reads past its own limits).
var ErrAnswerTooLarge = errors.New("more than any answer a node gives")

// answerLimit is MaxAnswerBytes, lowered by a test that shows an answer
// over it fails.
var answerLimit int64 = MaxAnswerBytes

// limitAnswers reads at most answerLimit bytes of an answer's body; a read
// past that fails.
type limitAnswers struct{ next http.RoundTripper }

func (l limitAnswers) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := l.next.RoundTrip(req)
	if res != nil {
		res.Body = &limitedBody{ReadCloser: res.Body, left: answerLimit}
	}
	return res, err
}

type limitedBody struct {
	io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if int64(len(p)) > b.left+1 { // one byte past the limit tells a longer answer
		p = p[:b.left+1]
	}
	n, err := b.ReadCloser.Read(p)
	if int64(n) > b.left {
		return 0, fmt.Errorf("the node's answer is over %d bytes, %w: not read further", answerLimit, ErrAnswerTooLarge)
	}
	b.left -= int64(n)
	return n, err
}

// busyAttempts is how many times a read refused busy is sent in all.
const busyAttempts = 30

// busyRetry sends a request again when the node refused it as busy
// (HTTP 503 whose JSON-RPC error is tx/70, "try again in N ms"), after N ms
// (at most 2 s), while the request's context lasts. Any other answer,
// including a broadcast refused as tx/85, is returned as it came.
type busyRetry struct{ next http.RoundTripper }

func (b busyRetry) RoundTrip(req *http.Request) (*http.Response, error) {
	for attempt := 1; ; attempt++ {
		res, err := b.next.RoundTrip(req)
		if err != nil || res.StatusCode != http.StatusServiceUnavailable || attempt >= busyAttempts || (req.Body != nil && req.GetBody == nil) {
			return res, err
		}
		body, rerr := io.ReadAll(io.LimitReader(res.Body, 4096))
		_ = res.Body.Close()
		res.Body = io.NopCloser(bytes.NewReader(body))
		wait, busy := busyWait(body)
		if rerr != nil || !busy {
			return res, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-req.Context().Done():
			t.Stop()
			return res, nil
		case <-t.C:
		}
		again := req.Clone(req.Context())
		if req.GetBody != nil {
			if again.Body, err = req.GetBody(); err != nil {
				return res, nil
			}
		}
		req = again
	}
}

// busyWait reads a busy refusal's "try again in N ms" (capped at 2 s).
func busyWait(body []byte) (time.Duration, bool) {
	if !bytes.Contains(body, []byte("tx/70")) {
		return 0, false
	}
	return retryIn(body), true
}

// retryIn is the "try again in N ms" of a busy refusal's message, at least
// 10 ms and at most 2 s; a second when it names none.
func retryIn(msg []byte) time.Duration {
	const marker = "try again in "
	i := bytes.Index(msg, []byte(marker))
	if i < 0 {
		return time.Second
	}
	var ms int64
	for _, c := range msg[i+len(marker):] {
		if c < '0' || c > '9' || ms > 2000 {
			break
		}
		ms = ms*10 + int64(c-'0')
	}
	return min(max(time.Duration(ms)*time.Millisecond, 10*time.Millisecond), 2*time.Second)
}

// Status returns the chain id and latest height the node reports.
func (c *Client) Status(ctx context.Context) (chainID string, height int64, err error) {
	st, err := c.RPC.Status(ctx)
	if err != nil {
		return "", 0, fmt.Errorf("node status: %w", err)
	}
	return st.NodeInfo.Network, st.SyncInfo.LatestBlockHeight, nil
}

// TxError is a transaction refused by CheckTx or failed in its block.
type TxError struct {
	Codespace string
	Code      uint32
	Log       string
	Height    int64 // 0 when refused before inclusion
}

func (e *TxError) Error() string {
	if e.Height > 0 {
		return fmt.Sprintf("failed in block %d: %s", e.Height, e.Log)
	}
	return "refused: " + e.Log
}

// BroadcastAndWait sends tx with broadcast_tx_sync and waits until it is
// committed, returning its result. A CheckTx refusal or an in-block failure
// is a *TxError.
func (c *Client) BroadcastAndWait(ctx context.Context, tx []byte) (*ctypes.ResultTx, error) {
	if err := c.Broadcast(ctx, tx); err != nil {
		return nil, err
	}
	return c.WaitTx(ctx, TxHash(tx))
}

// Broadcast sends tx with broadcast_tx_sync: it returns once the node's
// CheckTx has accepted it into the mempool (nil) or refused it (a
// *TxError). Use WaitTx for its block.
//
// A node that has not committed its first block yet (or whose committed
// state was momentarily unreadable) refuses with "node not ready"
// (tx/40), which asks for the same transaction again: Broadcast does so,
// every notReadyRetry, for at most notReadyAttempts tries while ctx lasts.
// CometBFT reports a block height before the app has committed it, so a
// client that waits for height 1 can meet this refusal.
func (c *Client) Broadcast(ctx context.Context, tx []byte) error {
	var refused *TxError
	for attempt := 1; ; attempt++ {
		res, err := c.RPC.BroadcastTxSync(ctx, tx)
		if err != nil {
			if refused != nil && ctx.Err() != nil {
				// The context ended during a retry: the node's own answer
				// says more than "context deadline exceeded".
				return refused
			}
			return fmt.Errorf("broadcast: %w", err)
		}
		if res.Code == abci.CodeTypeOK {
			return nil
		}
		refused = &TxError{Codespace: res.Codespace, Code: res.Code, Log: res.Log}
		if !notReady(res.Codespace, res.Code) || attempt >= notReadyAttempts || !waitNotReady(ctx) {
			return refused
		}
	}
}

// notReady says whether a node's answer is "node not ready" (app.ErrNotReady).
func notReady(codespace string, code uint32) bool {
	return codespace == notReadyCodespace && code == notReadyCode
}

// waitNotReady waits notReadyRetry before asking a node that was not ready
// again; false when ctx ends first.
func waitNotReady(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(notReadyRetry):
		return true
	}
}

// The code a node answers before it can check transactions (app.ErrNotReady),
// and how Broadcast retries it.
const (
	notReadyCodespace = "tx"
	notReadyCode      = 40
	notReadyAttempts  = 50
	notReadyRetry     = 100 * time.Millisecond
)

// ErrNotYetCommitted is WaitTx's answer when its context ends before the
// transaction is seen in a block: it may still commit, until its timeout
// height.
var ErrNotYetCommitted = errors.New("not seen in a block yet")

// WaitTx polls until the transaction with hash is in a committed block.
func (c *Client) WaitTx(ctx context.Context, hash []byte) (*ctypes.ResultTx, error) {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		r, err := c.RPC.Tx(ctx, hash, false)
		if err == nil {
			if r.TxResult.Code != abci.CodeTypeOK {
				return r, &TxError{Codespace: r.TxResult.Codespace, Code: r.TxResult.Code, Log: r.TxResult.Log, Height: r.Height}
			}
			return r, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("transaction %X: %w (%w)", hash, ErrNotYetCommitted, ctx.Err())
		case <-tick.C:
		}
	}
}

// TxHash is the hash CometBFT uses for a transaction.
func TxHash(tx []byte) []byte { h := sha256.Sum256(tx); return h[:] }

// Proven says what a query answer was checked against.
type Proven struct {
	// Height is the state version read; its app hash is in header Height+1.
	Height  int64
	AppHash []byte
	// HeaderChecked is true when header Height+1 carried a commit signed by
	// more than two thirds of the validator set the node reported.
	HeaderChecked bool
}

// The code a node answers for an absent record (app.ErrNotFound).
const (
	notFoundCodespace = "tx"
	notFoundCode      = 18
)

// ErrNotFound is returned by Query when the key is absent (with a proof of
// absence when proving).
var ErrNotFound = errors.New("not found")

// Query reads path at height (0 = latest). With prove, the value, or its
// absence, is checked against the app hash in the header of the next block,
// whose commit is checked against the validator set the same node reports.
// (The verifiable-reads work replaces that with a light client.)
//
// Like Broadcast, it asks again while the node answers "node not ready"
// (no block committed yet).
func (c *Client) Query(ctx context.Context, path string, data []byte, height int64, prove bool) (*abci.ResponseQuery, *Proven, error) {
	var r abci.ResponseQuery
	for attempt := 1; ; attempt++ {
		res, err := c.RPC.ABCIQueryWithOptions(ctx, path, data, rpcclient.ABCIQueryOptions{Height: height, Prove: prove})
		if err != nil {
			if attempt > 1 && ctx.Err() != nil {
				break // the context ended during a retry: answer with the node's refusal
			}
			return nil, nil, fmt.Errorf("query %s: %w", path, err)
		}
		r = res.Response
		if !notReady(r.Codespace, r.Code) || attempt >= notReadyAttempts || !waitNotReady(ctx) {
			break
		}
	}
	absent := r.Value == nil && r.Codespace == notFoundCodespace && r.Code == notFoundCode
	if r.Code != abci.CodeTypeOK && !absent {
		return &r, nil, &QueryError{Path: path, Codespace: r.Codespace, Code: r.Code, Log: r.Log}
	}
	var proven *Proven
	if prove && r.ProofOps != nil {
		var err error
		if proven, err = c.verify(ctx, &r); err != nil {
			return &r, nil, err
		}
	}
	if absent {
		return &r, proven, ErrNotFound
	}
	return &r, proven, nil
}

// QueryError is a query the node answered with a refusal code (the
// table is api.Codes, docs/errors.md). Match refusals by code, not text:
// Busy and OperatorOnly name the ones a caller reacts to.
type QueryError struct {
	Path      string
	Codespace string
	Code      uint32
	Log       string
}

func (e *QueryError) Error() string { return fmt.Sprintf("query %s: %s", e.Path, e.Log) }

// Busy says the node refused as busy (tx/70: its readers have used their
// share of its CPU, or it is already running the one whole-state walk it
// runs at a time) and how long it said to wait: asking again then
// succeeds.
func (e *QueryError) Busy() (retry time.Duration, busy bool) {
	if e.Codespace != busyCodespace || e.Code != busyCode {
		return 0, false
	}
	return retryIn([]byte(e.Log)), true
}

// OperatorOnly says the node serves this query (a whole-state walk) only
// to its operator (tx/41: operator_queries is off in its app.toml):
// asking it again does not help; ask the operator's node.
func (e *QueryError) OperatorOnly() bool {
	return e.Codespace == operatorOnlyCodespace && e.Code == operatorOnlyCode
}

// The codes of a busy node (app.ErrBusy) and of a query served only to
// the node's operator (app.ErrOperatorOnly).
const (
	busyCodespace         = "tx"
	busyCode              = 70
	operatorOnlyCodespace = "tx"
	operatorOnlyCode      = 41
)

// QueryWhenFree is Query that, while the node answers busy
// (QueryError.Busy), asks again after the time the node names, for at most
// patience in all (and while ctx lasts); then it returns the last answer.
// Any other refusal is returned at once.
func (c *Client) QueryWhenFree(ctx context.Context, patience time.Duration, path string, data []byte, height int64, prove bool) (*abci.ResponseQuery, *Proven, error) {
	deadline := time.Now().Add(patience)
	for {
		res, proven, err := c.Query(ctx, path, data, height, prove)
		var qe *QueryError
		if !errors.As(err, &qe) {
			return res, proven, err
		}
		retry, busy := qe.Busy()
		if !busy || time.Now().Add(retry).After(deadline) {
			return res, proven, err
		}
		t := time.NewTimer(retry)
		select {
		case <-ctx.Done():
			t.Stop()
			return res, proven, err
		case <-t.C:
		}
	}
}

// ProvenValue checks an ICS23 proof of key (with value, or absent when value
// is nil) against root, an app hash. It is the client's one proof check
// (checkProof): a malformed proof from an untrusted node is an error, never
// a panic.
func ProvenValue(root, key, value, proofBytes []byte) error {
	return checkProof(root, fmt.Sprintf("app hash %X", root), key, value, proofBytes)
}

func (c *Client) verify(ctx context.Context, r *abci.ResponseQuery) (*Proven, error) {
	if len(r.ProofOps.Ops) != 1 || r.ProofOps.Ops[0].Type != ProofOpType {
		return nil, fmt.Errorf("node returned no %s proof", ProofOpType)
	}
	root, checked, err := c.appHashAfter(ctx, r.Height)
	if err != nil {
		return nil, err
	}
	if err := ProvenValue(root, r.Key, r.Value, r.ProofOps.Ops[0].Data); err != nil {
		return nil, err
	}
	return &Proven{Height: r.Height, AppHash: root, HeaderChecked: checked}, nil
}

// AppHashAfter returns the app hash of state at height (from header
// height+1), waiting for that block if needed, with its commit checked.
func (c *Client) AppHashAfter(ctx context.Context, height int64) ([]byte, error) {
	root, _, err := c.appHashAfter(ctx, height)
	return root, err
}

func (c *Client) appHashAfter(ctx context.Context, height int64) ([]byte, bool, error) {
	next := height + 1
	var commit *ctypes.ResultCommit
	for {
		var err error
		commit, err = c.RPC.Commit(ctx, &next)
		if err == nil && commit.CanonicalCommit {
			break
		}
		select {
		case <-ctx.Done():
			return nil, false, fmt.Errorf("header %d not available: %w", next, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	sh := commit.SignedHeader
	vals, err := c.RPC.Validators(ctx, &next, nil, nil)
	if err != nil {
		return nil, false, fmt.Errorf("validators at %d: %w", next, err)
	}
	set, err := types.ValidatorSetFromExistingValidators(vals.Validators)
	if err != nil {
		return nil, false, fmt.Errorf("validator set at %d: %w", next, err)
	}
	if err := set.VerifyCommitLight(sh.ChainID, sh.Commit.BlockID, next, sh.Commit); err != nil {
		return nil, false, fmt.Errorf("commit of header %d does not verify: %w", next, err)
	}
	if sh.Commit.BlockID.Hash.String() != sh.Header.Hash().String() {
		return nil, false, fmt.Errorf("header %d does not match the block id its commit signs", next)
	}
	return sh.Header.AppHash, true, nil
}

package node

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	cmtjson "github.com/cometbft/cometbft/libs/json"
	ctypes "github.com/cometbft/cometbft/rpc/core/types"

	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/x/module"
)

// The broadcast gate answers a transaction broadcast at once, with the
// coded refusal tx/85 (HTTP 503, Retry-After), when the node could not
// take the transaction anyway: its mempool is full, or so many broadcasts
// are already waiting for CheckTx that this one would wait behind them —
// more than a tenth of the mempool limit, or more than slowQueue while
// the recent answers took longer than slowAnswer (a node whose CPU is
// short checks far fewer transactions a second than its limits assume).
//
// Without it a broadcast under overload queues twice before anyone says
// no: CometBFT's mempool takes a read lock that every block's Commit and
// recheck holds exclusively, then the app's single mempool connection
// runs CheckTx one transaction at a time (a signature check each). The
// app's own tx/85 (CheckTx, app.Options.MempoolLimit) therefore came
// seconds late under load, and an overloaded client could not tell a slow
// node from a full one. The gate reads only the mempool's size (an atomic
// counter) and its own count of broadcasts in flight, so its answer never
// waits for a block or for CheckTx.
//
// It refuses in the shape of a CheckTx refusal (the method's own result,
// code 85 in codespace "tx"), so every client that handles CheckTx codes
// handles it; the HTTP status and Retry-After tell plain HTTP clients and
// proxies the same. Broadcasts over the websocket and CometBFT's gRPC
// broadcast API do not pass through it (CheckTx's tx/85 still applies).
type broadcastGate struct {
	next http.Handler
	// size is how many transactions the mempool holds.
	size func() int
	// limit is the app's mempool limit (app.Options.MempoolLimit): a
	// broadcast that would make the mempool and the broadcasts waiting
	// for CheckTx more than limit is refused; 0 turns the rule off.
	limit int
	// maxWaiting is the most broadcasts let wait for CheckTx at once (0:
	// no limit).
	maxWaiting int64
	maxBody    int64
	// waiting counts the broadcast calls between the gate and their
	// answer: CheckTx's queue, and for broadcast_tx_commit also the wait
	// for its block. Every listener's gate shares the node's count.
	waiting *atomic.Int64
	// answer is the recent time an admitted broadcast took to be answered
	// (a moving average, in nanoseconds; broadcast_tx_commit excluded).
	answer *atomic.Int64
}

// slowAnswer and slowQueue: while admitted broadcasts take longer than
// slowAnswer to be answered, at most slowQueue wait at once. slowQueue is
// above what the fault suite's honest workload and flood send one node
// together (8 + 48 in flight), so only a client overload meets it.
const (
	slowAnswer = time.Second
	slowQueue  = 64
)

// broadcastMethods are the calls the gate admits or refuses.
var broadcastMethods = map[string]bool{
	"broadcast_tx_sync":   true,
	"broadcast_tx_async":  true,
	"broadcast_tx_commit": true,
}

// waitingLimit is the most broadcasts the gate lets wait for CheckTx: a
// tenth of the mempool limit (450 with CometBFT's default mempool of
// 5,000), roughly what one node's CheckTx clears in well under a second
// (a signature check each), so an admitted broadcast is answered soon and
// the rest are told at once to come back. With no mempool limit there is
// no waiting limit either (0).
func waitingLimit(mempoolLimit int) int64 {
	if mempoolLimit <= 0 {
		return 0
	}
	return int64(max(mempoolLimit/10, 16))
}

func newBroadcastGate(next http.Handler, size func() int, limit int, waiting, answer *atomic.Int64, maxBody int64) *broadcastGate {
	return &broadcastGate{next: next, size: size, limit: limit, maxWaiting: waitingLimit(limit), waiting: waiting, answer: answer, maxBody: maxBody}
}

func (g *broadcastGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/websocket" {
		g.next.ServeHTTP(w, r)
		return
	}
	calls, id, batch := readCalls(r, g.maxBody)
	r = withCalls(r, calls, id)
	n := int64(len(calls))
	commit := false
	for _, c := range calls {
		if !broadcastMethods[c.Method] {
			n = 0
			break
		}
		commit = commit || c.Method == "broadcast_tx_commit"
	}
	if n == 0 {
		g.next.ServeHTTP(w, r)
		return
	}
	waiting := g.waiting.Add(n)
	defer g.waiting.Add(-n)
	var why string
	switch size := g.size(); {
	case g.maxWaiting > 0 && waiting > g.maxWaiting:
		why = fmt.Sprintf("%d broadcasts are already waiting for this node to check them (at most %d wait)", waiting-n, g.maxWaiting)
	case g.limit > 0 && int64(size)+waiting > int64(g.limit):
		why = fmt.Sprintf("this node's mempool holds %d transactions and %d more are being checked; it takes %d", size, waiting-n, g.limit)
	case waiting > slowQueue && time.Duration(g.answer.Load()) > slowAnswer:
		why = fmt.Sprintf("%d broadcasts are already waiting for this node to check them, each answered in about %d ms", waiting-n, time.Duration(g.answer.Load()).Milliseconds())
	default:
		start := time.Now()
		g.next.ServeHTTP(w, r)
		if !commit {
			g.observe(time.Since(start))
		}
		return
	}
	g.refuse(w, r, calls, batch, why)
}

// observe folds one admitted broadcast's answer time into the average
// (weight 1/8: a few dozen answers make it follow a change).
func (g *broadcastGate) observe(d time.Duration) {
	for {
		old := g.answer.Load()
		if g.answer.CompareAndSwap(old, old+(int64(d)-old)/8) {
			return
		}
	}
}

// refuse answers every call of the request with tx/85.
func (g *broadcastGate) refuse(w http.ResponseWriter, r *http.Request, calls []rpcCall, batch bool, why string) {
	space, code, log := module.CodeOf(app.ErrMempoolFull.Wrapf("%s; send again after the next block (in about a second), or to another node", why))
	answers := make([]json.RawMessage, len(calls))
	for i, c := range calls {
		id := c.ID
		if len(id) == 0 {
			id = json.RawMessage("-1") // CometBFT's id for calls by URI
		}
		hash := txHash(r, c)
		var result any = &ctypes.ResultBroadcastTx{Code: code, Codespace: space, Log: log, Hash: hash}
		if c.Method == "broadcast_tx_commit" {
			result = &ctypes.ResultBroadcastTxCommit{CheckTx: abci.ResponseCheckTx{Code: code, Codespace: space, Log: log}, Hash: hash}
		}
		res, err := cmtjson.Marshal(result)
		if err != nil { // a result of CometBFT's own types always encodes
			res = []byte("null")
		}
		answers[i] = json.RawMessage(fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":%s}`, id, res))
	}
	body := []byte(answers[0])
	if batch {
		body, _ = json.Marshal(answers)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Retry-After", "1")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write(body)
}

// txHash is the hash of the transaction a call carries, as CometBFT
// reports it (sha256), when it can be read cheaply: a POST's base64 tx
// or a GET's hex tx. Otherwise nil (the refusal still carries its code).
func txHash(r *http.Request, c rpcCall) []byte {
	var tx []byte
	if r.Method == http.MethodGet {
		if v := r.URL.Query().Get("tx"); strings.HasPrefix(v, "0x") {
			tx, _ = hex.DecodeString(v[2:])
		}
	} else {
		var named struct {
			Tx string `json:"tx"`
		}
		var positional []string
		var s string
		switch {
		case json.Unmarshal(c.Params, &named) == nil && named.Tx != "":
			s = named.Tx
		case json.Unmarshal(c.Params, &positional) == nil && len(positional) > 0:
			s = positional[0]
		}
		tx, _ = base64.StdEncoding.DecodeString(s)
	}
	if len(tx) == 0 {
		return nil
	}
	h := sha256.Sum256(tx)
	return h[:]
}

package node

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	cmtjson "github.com/cometbft/cometbft/libs/json"
	"github.com/cometbft/cometbft/rpc/core"
	ctypes "github.com/cometbft/cometbft/rpc/core/types"
	grpccore "github.com/cometbft/cometbft/rpc/grpc"
	rpcserver "github.com/cometbft/cometbft/rpc/jsonrpc/server"
	rpctypes "github.com/cometbft/cometbft/rpc/jsonrpc/types"
	"github.com/cometbft/cometbft/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/x/module"
)

// The broadcast gate answers a transaction broadcast at once, with the
// coded refusal tx/85 (HTTP 503, Retry-After), when the node could not
// take the transaction anyway: its mempool is full, or so many broadcasts
// are already waiting for CheckTx that this one would wait behind them —
// more than app.toml's broadcast_max_waiting, or more than
// broadcast_slow_max_waiting while the recent answers took longer than
// broadcast_slow_answer (a node whose CPU is
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
// proxies the same. Broadcasts over the websocket (gatedRoutes) and
// CometBFT's gRPC broadcast API (gatedBroadcastAPI) pass the same gate,
// counted together, so no transport bypasses the fast refusal.
type broadcastGate struct {
	// size is how many transactions the mempool holds.
	size   func() int
	limits gateLimits
	// waiting counts the broadcasts between the gate and their answer:
	// CheckTx's queue, and for broadcast_tx_commit also the wait for its
	// block. Every listener and transport shares the node's gate.
	waiting atomic.Int64
	// answer is the recent time an admitted broadcast took to be answered
	// (a moving average, in nanoseconds; broadcast_tx_commit excluded).
	answer atomic.Int64
	// refused counts refusals by reason and transport
	// (tally_broadcasts_refused_total); nil: metrics are off.
	refused *prometheus.CounterVec
	// full reports whether CheckTx would refuse a new transaction as the
	// mempool being full (app.App.MempoolFull: its transaction count or
	// its blocks of work, which the mempool's size does not show); nil:
	// not asked.
	full func() bool
}

// Why the gate refused (the reason label of tally_broadcasts_refused_total).
const (
	refusedWaiting = "waiting_limit" // broadcast_max_waiting were waiting
	refusedMempool = "mempool_full"  // the mempool and those waiting reached its limit
	refusedSlow    = "slow_answers"  // broadcast_slow_max_waiting were waiting, answers slow
)

// The transports whose broadcasts pass the gate (the transport label).
const (
	viaHTTP      = "http"
	viaWebsocket = "websocket"
	viaGRPC      = "grpc"
)

// gateLimits are the gate's limits: the app's mempool limit and app.toml's
// broadcast_* settings (app.Config).
type gateLimits struct {
	// mempool is the app's mempool limit (app.Options.MempoolLimit): a
	// broadcast that would make the mempool and the broadcasts waiting
	// for CheckTx more than it is refused; 0 turns the rule off.
	mempool int
	// maxWaiting is the most broadcasts let wait for CheckTx at once (0:
	// no limit).
	maxWaiting int64
	// While admitted broadcasts take longer than slowAnswer to be
	// answered, at most slowWaiting wait at once (slowAnswer 0: never).
	slowWaiting int64
	slowAnswer  time.Duration
}

// newGateLimits are the gate's limits for a node whose app takes mempool
// transactions, from its app.toml.
func newGateLimits(mempool int, c app.Config) gateLimits {
	return gateLimits{mempool: mempool, maxWaiting: int64(c.BroadcastMaxWaiting), slowWaiting: int64(c.BroadcastSlowMaxWaiting), slowAnswer: c.BroadcastSlowAnswer}
}

// broadcastMethods are the calls the gate admits or refuses.
var broadcastMethods = map[string]bool{
	"broadcast_tx_sync":   true,
	"broadcast_tx_async":  true,
	"broadcast_tx_commit": true,
}

func newBroadcastGate(size func() int, limits gateLimits) *broadcastGate {
	return &broadcastGate{size: size, limits: limits}
}

// enter counts n broadcasts that came by transport via as waiting, or
// says why they must be refused (and does not count them). Every admitted
// one ends with leave.
func (g *broadcastGate) enter(n int64, via string) (why string) {
	waiting := g.waiting.Add(n)
	l := g.limits
	var reason string
	switch size := g.size(); {
	case l.maxWaiting > 0 && waiting > l.maxWaiting:
		reason = refusedWaiting
		why = fmt.Sprintf("%d broadcasts are already waiting for this node to check them (at most %d wait)", waiting-n, l.maxWaiting)
	case l.mempool > 0 && int64(size)+waiting > int64(l.mempool):
		reason = refusedMempool
		why = fmt.Sprintf("this node's mempool holds %d transactions and %d more are being checked; it takes %d", size, waiting-n, l.mempool)
	case g.full != nil && g.full():
		reason = refusedMempool
		why = fmt.Sprintf("this node's mempool holds %d transactions, as much work as it takes (app.toml mempool_blocks)", size)
	case l.slowAnswer > 0 && waiting > l.slowWaiting && time.Duration(g.answer.Load()) > l.slowAnswer:
		reason = refusedSlow
		why = fmt.Sprintf("%d broadcasts are already waiting for this node to check them, each answered in about %d ms", waiting-n, time.Duration(g.answer.Load()).Milliseconds())
	default:
		return ""
	}
	g.waiting.Add(-n)
	if g.refused != nil {
		g.refused.WithLabelValues(reason, via).Add(float64(n))
	}
	return why
}

// leave ends n admitted broadcasts answered after took; timed says
// whether that time is a CheckTx answer's (not broadcast_tx_commit's wait
// for a block).
func (g *broadcastGate) leave(n int64, took time.Duration, timed bool) {
	if timed {
		g.observe(took)
	}
	g.waiting.Add(-n)
}

// handler puts the gate in front of next, the node's HTTP JSON-RPC.
func (g *broadcastGate) handler(next http.Handler, maxBody int64) http.Handler {
	return gateHandler{gate: g, next: next, maxBody: maxBody}
}

// gateHandler passes a request's transaction broadcasts through the gate.
type gateHandler struct {
	gate    *broadcastGate
	next    http.Handler
	maxBody int64
}

func (h gateHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/websocket" {
		h.next.ServeHTTP(w, r)
		return
	}
	calls, id, batch := readCalls(r, h.maxBody)
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
		h.next.ServeHTTP(w, r)
		return
	}
	if why := h.gate.enter(n, viaHTTP); why != "" {
		refuse(w, r, calls, batch, why)
		return
	}
	start := time.Now()
	defer func() { h.gate.leave(n, time.Since(start), !commit) }()
	h.next.ServeHTTP(w, r)
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

// refusal is the gate's tx/85: why, and what to do.
func refusal(why string) *abci.ResponseCheckTx {
	space, code, log := module.CodeOf(app.ErrMempoolFull.Wrapf("%s; send again after the next block (in about a second), or to another node", why))
	return &abci.ResponseCheckTx{Code: code, Codespace: space, Log: log}
}

// refusedSync is the gate's answer to broadcast_tx_sync and _async.
func refusedSync(hash []byte, why string) *ctypes.ResultBroadcastTx {
	r := refusal(why)
	return &ctypes.ResultBroadcastTx{Code: r.Code, Codespace: r.Codespace, Log: r.Log, Hash: hash}
}

// refusedCommit is the gate's answer to broadcast_tx_commit.
func refusedCommit(hash []byte, why string) *ctypes.ResultBroadcastTxCommit {
	return &ctypes.ResultBroadcastTxCommit{CheckTx: *refusal(why), Hash: hash}
}

// gated runs one broadcast through the gate: call if admitted (timed:
// its answer time counts towards the slow-answer rule), else refused.
func gated[R any](g *broadcastGate, via string, timed bool, refused func(why string) R, call func() (R, error)) (R, error) {
	if why := g.enter(1, via); why != "" {
		return refused(why), nil
	}
	start := time.Now()
	defer func() { g.leave(1, time.Since(start), timed) }()
	return call()
}

// gatedRoutes are routes with the broadcast methods behind the gate, for
// the websocket, which calls routes directly (CometBFT's wsConnection runs
// each request's route function; no HTTP handler sees it). A websocket
// refusal is the method's result carrying tx/85, as over HTTP.
func (g *broadcastGate) gatedRoutes(routes map[string]*rpcserver.RPCFunc, env *core.Environment) map[string]*rpcserver.RPCFunc {
	out := maps.Clone(routes)
	sync := func(f func(*rpctypes.Context, types.Tx) (*ctypes.ResultBroadcastTx, error)) *rpcserver.RPCFunc {
		return rpcserver.NewRPCFunc(func(ctx *rpctypes.Context, tx types.Tx) (*ctypes.ResultBroadcastTx, error) {
			return gated(g, viaWebsocket, true, func(why string) *ctypes.ResultBroadcastTx { return refusedSync(tx.Hash(), why) },
				func() (*ctypes.ResultBroadcastTx, error) { return f(ctx, tx) })
		}, "tx")
	}
	out["broadcast_tx_sync"] = sync(env.BroadcastTxSync)
	out["broadcast_tx_async"] = sync(env.BroadcastTxAsync)
	out["broadcast_tx_commit"] = rpcserver.NewRPCFunc(func(ctx *rpctypes.Context, tx types.Tx) (*ctypes.ResultBroadcastTxCommit, error) {
		return gated(g, viaWebsocket, false, func(why string) *ctypes.ResultBroadcastTxCommit { return refusedCommit(tx.Hash(), why) },
			func() (*ctypes.ResultBroadcastTxCommit, error) { return env.BroadcastTxCommit(ctx, tx) })
	}, "tx")
	return out
}

// gatedBroadcastAPI is CometBFT's gRPC broadcast API (rpc/grpc: Ping, and
// BroadcastTx, which runs broadcast_tx_commit) behind the gate. It answers
// as CometBFT's own does, with each result's codespace added (a Tally
// code means nothing without it).
type gatedBroadcastAPI struct {
	gate *broadcastGate
	env  *core.Environment
}

// Ping answers that the server is up.
func (gatedBroadcastAPI) Ping(context.Context, *grpccore.RequestPing) (*grpccore.ResponsePing, error) {
	return &grpccore.ResponsePing{}, nil
}

// BroadcastTx submits req's transaction and waits for its block, unless
// the gate refuses it (CheckTx tx/85, no block result).
func (a gatedBroadcastAPI) BroadcastTx(_ context.Context, req *grpccore.RequestBroadcastTx) (*grpccore.ResponseBroadcastTx, error) {
	return gated(a.gate, viaGRPC, false, func(why string) *grpccore.ResponseBroadcastTx {
		return &grpccore.ResponseBroadcastTx{CheckTx: refusal(why), TxResult: &abci.ExecTxResult{}}
	}, func() (*grpccore.ResponseBroadcastTx, error) {
		res, err := a.env.BroadcastTxCommit(&rpctypes.Context{}, req.Tx)
		if err != nil {
			return nil, err
		}
		return &grpccore.ResponseBroadcastTx{
			CheckTx:  &abci.ResponseCheckTx{Code: res.CheckTx.Code, Codespace: res.CheckTx.Codespace, Data: res.CheckTx.Data, Log: res.CheckTx.Log},
			TxResult: &abci.ExecTxResult{Code: res.TxResult.Code, Codespace: res.TxResult.Codespace, Data: res.TxResult.Data, Log: res.TxResult.Log},
		}, nil
	})
}

// refuse answers every call of the request with tx/85.
func refuse(w http.ResponseWriter, r *http.Request, calls []rpcCall, batch bool, why string) {
	answers := make([]json.RawMessage, len(calls))
	for i, c := range calls {
		id := c.ID
		if len(id) == 0 {
			id = json.RawMessage("-1") // CometBFT's id for calls by URI
		}
		var result any = refusedSync(txHash(r, c), why)
		if c.Method == "broadcast_tx_commit" {
			result = refusedCommit(txHash(r, c), why)
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

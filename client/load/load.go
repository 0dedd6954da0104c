// Package load is Tally's load generator, the library behind `tallyd load`.
//
// A run has three phases:
//
//  1. Setup (not measured): the Mix adds fresh signing accounts, created in
//     memory, to each agency its message types need (signed by that
//     agency's admin key), with the roles they need, and prepares the state
//     they draw on (money, a programme, a tax type, items); the run waits
//     until every endpoint has applied it (setup.go).
//  2. Load: a Pacer offers Rate transactions per second for Duration, open
//     loop: each transaction is started on time in its own goroutine,
//     whatever the nodes answer (at most Workers in flight; one due beyond
//     that is counted as dropped). It asks the Mix for a job, signs it with
//     the job's load account (a random nonce per transaction, so one
//     account has many in flight) and sends it with broadcast_tx_sync to
//     the next endpoint over a pool of Connections kept-alive HTTP
//     connections, or of Connections websockets (Transport).
//     The sending goroutine learns CheckTx's verdict (or the node's
//     immediate tx/85 refusal, or an RPC error); the pacer never waits for
//     it. (broadcast_tx_async would not send faster: CometBFT runs an
//     in-process app's CheckTx inside the async call too, local_client.go,
//     and it would hide the verdict.)
//  3. Drain: the run keeps reading blocks until every accepted transaction
//     has been found in one, or Drain has passed.
//
// Commits are counted from the blocks, never from acknowledgements: every
// block from the start height on is read (Block and BlockResults) from the
// first endpoint, its transaction hashes are matched against the submitted
// set, and the wall-clock time at which the run first saw the block
// committed is the commit time of its transactions.
//
// Committed means the first endpoint's app has committed the block: its
// abci_info reports last_block_height at or above it, so a query sent to
// that node once the run has reported a transaction committed reads the
// state with it. (CometBFT reports a height in status, and serves its
// block_results, a moment before that: it stores the results and only then
// calls the app's Commit.) The rate's window is still measured in the
// blocks' header times (Window).
package load

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	rpcclient "github.com/cometbft/cometbft/rpc/jsonrpc/client"

	"github.com/tallyledger/tally/client"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
)

// Defaults used where a Config field is zero.
const (
	DefaultAccounts      = 50
	DefaultTimeoutBlocks = 100
	DefaultDrain         = 30 * time.Second
	DefaultPollInterval  = 25 * time.Millisecond
	DefaultConnections   = 256
	// DefaultWSConnections is Connections' default for TransportWS: a
	// node's websocket server answers one connection's requests one at a
	// time (wsPool).
	DefaultWSConnections = 8
	// setupBatch is how many AddMember messages one setup tx carries (the
	// chain's default max_messages).
	setupBatch = 32
	// broadcastTimeout bounds one broadcast_tx_sync call.
	broadcastTimeout = 10 * time.Second
	// setupTimeout bounds waiting for the setup transactions to commit.
	setupTimeout = 2 * time.Minute
)

// Config describes a run.
type Config struct {
	// Endpoints are CometBFT RPC addresses (tcp://host:port). Worker i
	// sends to Endpoints[i mod len]; blocks are read from Endpoints[0].
	Endpoints []string
	// Rate is the offered load in transactions per second.
	Rate float64
	// Duration is how long load is offered.
	Duration time.Duration
	// Accounts is how many signing accounts to create for each party of
	// the mix (DefaultAccounts).
	Accounts int
	// Workers is the most broadcasts in flight at once (0: two seconds of
	// the offered load, within 64..8192). The load is open loop: a
	// transaction due while Workers are waiting for their answers is not
	// sent, and counted (Report.ClientDropped).
	Workers int
	// Transport is how broadcasts are sent: TransportHTTP (the default:
	// one HTTP request each) or TransportWS (a frame each over a node's
	// websocket, as CometBFT's loadtime sends). Setup and the block
	// watcher use HTTP either way.
	Transport string
	// Connections is how many connections to each endpoint the senders
	// keep open and reuse (DefaultConnections over HTTP,
	// DefaultWSConnections over websockets).
	Connections int
	// Mix is the message types to send, by weight (DefaultMix).
	Mix []MixEntry
	// MsgsPerTx is how many messages each transaction of an independent
	// message type carries (0 or 1: one; at most the chain's
	// max_messages). Rate stays in transactions per second, so a batch
	// grows state MsgsPerTx times faster per signature checked.
	MsgsPerTx int
	// RouteUnits sends transactions that declare no unit limit
	// (TxBody.max_units), so the chain counts each at its messages' route
	// bounds: the load as a client unaware of limits sends it, and the
	// only load a release before max_units accepts (it refuses the field
	// as tx/19). By default each transaction declares load.MessageUnits.
	RouteUnits bool
	// Admin is the private key of an account with the admin role; it adds
	// the add_member signers (PartyAgency) in the setup phase.
	Admin ed25519.PrivateKey
	// AdminAddress is the admin's account address, when it differs from
	// the address of Admin's public key (after a key rotation).
	AdminAddress []byte
	// Admins are the admin keys of the other parties the mix needs
	// (Parties: treasury, benefits, tax, provenance).
	Admins map[string]Admin
	// ChainID is asked from the node when empty.
	ChainID string
	// TimeoutBlocks is how far above the current height each transaction's
	// timeout height is set (DefaultTimeoutBlocks); it must not exceed the
	// chain's timeout window.
	TimeoutBlocks uint64
	// WarmUp is excluded from the start of the steady window: 0 picks
	// min(2s, Duration/5); negative excludes nothing.
	WarmUp time.Duration
	// Drain bounds how long after the load stops the run keeps waiting for
	// accepted transactions to appear in blocks (DefaultDrain).
	Drain time.Duration
	// PollInterval is how often the chain is polled for new blocks
	// (DefaultPollInterval); it bounds the resolution of commit times.
	PollInterval time.Duration
	// SignWhenSent signs every transaction as it falls due, instead of
	// signing ahead (presign) those that do not depend on what the chain
	// has committed.
	SignWhenSent bool
	// Log, when set, receives progress lines.
	Log io.Writer
}

// CodeCount counts transactions that ended with one result code.
type CodeCount struct {
	Codespace string `json:"codespace"`
	Code      uint32 `json:"code"`
	Count     int64  `json:"count"`
	Example   string `json:"example_log,omitempty"`
}

// ErrorCount counts broadcast calls that failed with one kind of error.
type ErrorCount struct {
	Error string `json:"error"`
	Count int64  `json:"count"`
}

// Latency summarises submit-to-commit times in milliseconds.
type Latency struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	Mean  float64 `json:"mean_ms"`
	Max   float64 `json:"max_ms"`
}

// Window is the part of the run over which the committed rate is measured:
// the blocks whose header time (the chain's own clock, as CometBFT's
// loadtime reports kvstore's) falls after the warm-up and before the
// offered load stopped. Its rate counts the load transactions of every
// block after the first, over the header time between the first and the
// last. Header times, not the times the load client first saw the blocks:
// under overload the client reads blocks late and several at once (the
// node's reader lane is busy too), and a window of blocks all seen in one
// poll measured no time, a committed rate of 0 while the chain committed
// 5,274 of the load's transactions in it.
type Window struct {
	FirstHeight int64   `json:"first_height"`
	LastHeight  int64   `json:"last_height"`
	Seconds     float64 `json:"seconds"`
	Txs         int64   `json:"txs"`
	// WholeRun is set when fewer than two blocks fell inside the offered
	// interval, so the window spans every block that carried load
	// (warm-up and drain included): run longer for a steady figure.
	WholeRun bool `json:"whole_run"`
}

// Report is the outcome of a run.
type Report struct {
	ChainID   string   `json:"chain_id"`
	Endpoints []string `json:"endpoints"`
	Mix       string   `json:"mix"`
	// MsgsPerTx is Config.MsgsPerTx: Kinds count messages, the rest of
	// the report transactions.
	MsgsPerTx int `json:"msgs_per_tx"`
	// Kinds is what became of each message type: sent, committed with
	// code 0, and not (refused, failed, or not seen committed).
	Kinds []KindCount `json:"kinds"`
	// LastCommitted is, for each message type, the latest message seen
	// committed with code 0: a record to look up.
	LastCommitted map[string]*txv1.Msg `json:"-"`
	Accounts      int                  `json:"accounts"`
	Workers       int                  `json:"workers"`

	OfferedRate float64 `json:"offered_rate"`
	DurationSec float64 `json:"duration_s"`
	SetupSec    float64 `json:"setup_s"`
	DrainSec    float64 `json:"drain_s"`

	// Offered is how many transactions the pacer scheduled (Rate × Duration).
	Offered int64 `json:"offered"`
	// ClientDropped were scheduled but not sent because Workers broadcasts
	// were already waiting for their answers: the nodes answered too
	// slowly for the offered rate (or the client's limit is too low).
	ClientDropped int64 `json:"client_dropped"`
	// Submitted is how many transactions were sent, at SubmitRate over the
	// load's duration.
	Submitted  int64   `json:"submitted"`
	SubmitRate float64 `json:"submit_rate"`
	// PeakInFlight is the most broadcasts that waited for answers at once.
	PeakInFlight int64 `json:"peak_in_flight"`
	// Transport and Connections are Config's.
	Transport   string `json:"transport"`
	Connections int    `json:"connections"`
	// Reconnects counts the senders' websockets the node closed (or that
	// failed) during the run, each opened again by the next broadcast on
	// it; the broadcasts waiting on one were resent (Resent) or failed
	// (BroadcastErrors). Over HTTP, 0: net/http reopens connections unseen.
	Reconnects int64 `json:"reconnects"`
	// Presigned were sent as signed before the load started (presign):
	// every transaction of a message type that does not depend on what
	// the chain has committed, while its timeout height left at least half
	// of TimeoutBlocks; the rest were built and signed when due.
	// PresignSec is how long signing them took (before the load, not part
	// of Duration).
	Presigned  int64   `json:"presigned"`
	PresignSec float64 `json:"presign_s"`
	// SignedAhead is how many were signed before the load: those due
	// within presignHorizon that depend on nothing committed. Presigned of
	// them were sent as signed; the others were signed again when due.
	SignedAhead int64 `json:"signed_ahead"`
	// LoadCPUSec is the CPU time (user and system) this process used while
	// it offered the load (from its start until the pacer's last call
	// returned): what the load sender took from the machine the nodes may
	// share, at the time it mattered. -1 where the system does not say.
	LoadCPUSec float64 `json:"load_window_cpu_s"`
	// Accepted passed CheckTx (broadcast_tx_sync code 0).
	Accepted      int64       `json:"accepted"`
	RejectedTotal int64       `json:"rejected_total"`
	Rejected      []CodeCount `json:"rejected"`
	// BroadcastErrors are calls that returned no CheckTx result (mempool
	// full, tx already in cache, connection errors, timeouts).
	BroadcastErrorsTotal int64        `json:"broadcast_errors_total"`
	BroadcastErrors      []ErrorCount `json:"broadcast_errors"`
	// Resent broadcasts failed over a reused keep-alive connection before
	// any answer (the node had closed it), or on a websocket that closed
	// before their answer, and were sent again over a new one; each is counted once above, by the second answer, except those
	// the node answered "tx already exists in cache" (ResentKnown).
	Resent int64 `json:"resent"`
	// ResentKnown were resent and answered "tx already exists in cache":
	// the first send reached the node after all. They are neither accepted
	// nor refused nor errors (CheckTx's verdict on the first send is
	// unknown); a block they are found in counts them committed (and
	// CommittedUnacknowledged). Submitted = Accepted + RejectedTotal +
	// BroadcastErrorsTotal + ResentKnown.
	ResentKnown int64 `json:"resent_known"`

	// Committed were found in blocks: CommittedOK succeeded, the rest
	// failed in their block with CommittedFailed's codes.
	Committed            int64       `json:"committed"`
	CommittedOK          int64       `json:"committed_ok"`
	CommittedFailedTotal int64       `json:"committed_failed_total"`
	CommittedFailed      []CodeCount `json:"committed_failed"`
	// CommittedUnacknowledged were found in blocks although their
	// broadcast did not return acceptance (for example it timed out).
	CommittedUnacknowledged int64 `json:"committed_unacknowledged"`
	// Pending were accepted but not found in any block read before the
	// drain ended. Under overload this need not be a bug in the chain:
	// CometBFT v0.40 silently drops a tx that passed CheckTx if its
	// mempool filled up meanwhile (clist_mempool.go, resCbFirstTime).
	Pending int64 `json:"pending"`

	// CommittedRate is load transactions committed with code 0 per second
	// over Steady (those that failed in their block do not count).
	CommittedRate float64 `json:"committed_rate"`
	Steady        Window  `json:"steady_window"`
	Latency       Latency `json:"latency"`
	// Refusals is how long refused sends (a CheckTx code, or a broadcast
	// error such as CometBFT's "mempool is full") took to be answered: under
	// overload a client should get a fast, clear no, not a silent drop
	// (Pending) or a timeout.
	Refusals Latency `json:"refusal_latency"`
	// AvgTxBytes is the mean size of the transactions sent.
	AvgTxBytes float64 `json:"avg_tx_bytes"`
	// AvgUnits is the mean resource units (gas_used) of the load
	// transactions that succeeded.
	AvgUnits float64 `json:"avg_units"`
	// AvgUnitLimit is the mean unit limit (gas_wanted) of the same
	// transactions: what proposers count each as, so max_block_units over
	// it is how many fit in a block.
	AvgUnitLimit float64 `json:"avg_unit_limit"`

	// StartHeight is the last height before the load; blocks
	// StartHeight+1..EndHeight were read.
	StartHeight    int64   `json:"start_height"`
	EndHeight      int64   `json:"end_height"`
	Blocks         int64   `json:"blocks"`
	BlockTxs       int64   `json:"block_txs"`
	AvgTxsPerBlock float64 `json:"avg_txs_per_block"`
}

// Run performs setup, load and drain as cfg says and reports what the
// chain did with the load.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg, err := withDefaults(cfg)
	if err != nil {
		return nil, err
	}
	admins := map[string]Admin{}
	for p, a := range cfg.Admins {
		admins[p] = a
	}
	if len(cfg.Admin) == ed25519.PrivateKeySize {
		admins[PartyAgency] = Admin{Key: cfg.Admin, Address: cfg.AdminAddress}
	}
	mix, err := NewMix(cfg.Mix, admins, cfg.Accounts)
	if err != nil {
		return nil, err
	}
	observer, err := client.Dial(cfg.Endpoints[0])
	if err != nil {
		return nil, err
	}
	chainID, _, err := observer.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("endpoint %s: %w", cfg.Endpoints[0], err)
	}
	if cfg.ChainID != "" && cfg.ChainID != chainID {
		return nil, fmt.Errorf("endpoint %s serves chain %q, not %q", cfg.Endpoints[0], chainID, cfg.ChainID)
	}
	endpoints := make([]*client.Client, len(cfg.Endpoints))
	for i, e := range cfg.Endpoints {
		c, err := client.Dial(e)
		if err != nil {
			return nil, err
		}
		id, _, err := c.Status(ctx)
		if err != nil {
			return nil, fmt.Errorf("endpoint %s: %w", e, err)
		}
		if id != chainID {
			return nil, fmt.Errorf("endpoint %s serves chain %q but %s serves %q", e, id, cfg.Endpoints[0], chainID)
		}
		endpoints[i] = c
	}
	r := &runner{cfg: cfg, chainID: chainID, observer: observer, endpoints: endpoints, mix: mix,
		txs: map[[32]byte]*txRecord{}, rejected: map[codeKey]*CodeCount{}, failed: map[codeKey]*CodeCount{}, bcastErrs: map[string]int64{}}

	setupStart := time.Now()
	if err := mix.Setup(ctx, endpoints, r.logf); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	setupDur := time.Since(setupStart)
	r.logf("setup: done in %s; offering %.0f tx/s of %s for %s to %d endpoint(s) with %d workers",
		setupDur.Round(time.Millisecond), cfg.Rate, mix, cfg.Duration, len(endpoints), cfg.Workers)

	var presignDur time.Duration
	if !cfg.SignWhenSent {
		presignStart := time.Now()
		if err := r.presign(ctx); err != nil {
			return nil, fmt.Errorf("presigning: %w", err)
		}
		presignDur = time.Since(presignStart)
		r.logf("presign: %d transactions signed in %s (timeout heights from %d)", r.presignedCount, presignDur.Round(time.Millisecond), r.presignBase+cfg.TimeoutBlocks)
	}

	rep, err := r.load(ctx)
	if err != nil {
		return nil, err
	}
	rep.SetupSec = setupDur.Seconds()
	rep.PresignSec = presignDur.Seconds()
	rep.SignedAhead = r.presignedCount
	return rep, nil
}

func withDefaults(cfg Config) (Config, error) {
	if len(cfg.Endpoints) == 0 {
		return cfg, errors.New("no endpoints")
	}
	if cfg.Rate <= 0 {
		return cfg, errors.New("rate must be positive")
	}
	if cfg.Duration <= 0 {
		return cfg, errors.New("duration must be positive")
	}
	if cfg.Accounts == 0 {
		cfg.Accounts = DefaultAccounts
	}
	if cfg.Accounts < 2 {
		return cfg, errors.New("accounts must be at least 2")
	}
	if cfg.Workers == 0 {
		cfg.Workers = min(max(int(cfg.Rate*2), 64), 8192)
	}
	switch cfg.Transport {
	case "":
		cfg.Transport = TransportHTTP
	case TransportHTTP, TransportWS:
	default:
		return cfg, fmt.Errorf("unknown transport %q: want %s or %s", cfg.Transport, TransportHTTP, TransportWS)
	}
	if cfg.Connections == 0 {
		cfg.Connections = DefaultConnections
		if cfg.Transport == TransportWS {
			cfg.Connections = DefaultWSConnections
		}
	}
	if cfg.Connections < 0 {
		return cfg, errors.New("connections must be positive")
	}
	if cfg.Workers < 0 {
		return cfg, errors.New("workers must be positive")
	}
	if len(cfg.Mix) == 0 {
		cfg.Mix = DefaultMix
	}
	if cfg.MsgsPerTx == 0 {
		cfg.MsgsPerTx = 1
	}
	if cfg.MsgsPerTx < 0 {
		return cfg, errors.New("messages per transaction must be positive")
	}
	if cfg.TimeoutBlocks == 0 {
		cfg.TimeoutBlocks = DefaultTimeoutBlocks
	}
	if cfg.WarmUp == 0 {
		cfg.WarmUp = min(2*time.Second, cfg.Duration/5)
	}
	if cfg.WarmUp < 0 {
		cfg.WarmUp = 0
	}
	if cfg.Drain <= 0 {
		cfg.Drain = DefaultDrain
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	return cfg, nil
}

type codeKey struct {
	codespace string
	code      uint32
}

type ackState uint8

const (
	ackPending ackState = iota
	ackAccepted
	ackRejected
	ackError
)

type txRecord struct {
	job       *Job
	sent      time.Time
	ack       ackState
	committed bool
}

// blockStat is one block read from the chain.
type blockStat struct {
	height int64
	seen   time.Time // when the load client first saw the height
	time   time.Time // the block header's time
	txs    int       // all transactions in the block
	ours   int64     // load transactions matched
	oursOK int64     // of those, the ones that succeeded
}

type runner struct {
	cfg       Config
	chainID   string
	observer  *client.Client
	endpoints []*client.Client
	mix       *Mix

	// height is the latest height seen committed; timeouts are set from it.
	height atomic.Int64

	mu        sync.Mutex
	txs       map[[32]byte]*txRecord
	submitted int64
	accepted  int64
	rejected  map[codeKey]*CodeCount
	bcastErrs map[string]int64
	resent    int64
	known     int64 // resent, and the node already had it
	committed int64
	commitOK  int64
	unacked   int64
	failed    map[codeKey]*CodeCount
	latencies []time.Duration
	refusals  []time.Duration // send to refusal (CheckTx code or broadcast error)
	txBytes   int64
	units     int64 // resource units used by the load transactions that succeeded
	wanted    int64 // and their unit limits
	blocks    []blockStat
	// peakInFlight is the Pacer's.
	peakInFlight int64

	// slots are the load's transactions in the order they fall due, made
	// before it starts (presign); next is the next slot to send.
	slots          []slot
	next           atomic.Int64
	presignBase    uint64 // the height before the load (presignTimeout)
	presignedCount int64
	presignedSent  atomic.Int64
}

func (r *runner) logf(format string, args ...any) {
	if r.cfg.Log != nil {
		fmt.Fprintf(r.cfg.Log, format+"\n", args...)
	}
}

// block is what the watcher reads for one height.
type block struct {
	height  int64
	seen    time.Time
	time    time.Time // header time
	hashes  [][32]byte
	results []txResult
}

// watcher reads every block from next on, in order, from one node.
type watcher struct {
	c    *rpcConn
	next int64
	h    *atomic.Int64
	// buf holds each answer while it is decoded (one call at a time).
	buf bytes.Buffer
	// twoCalls: the node does not serve block_outcomes (a release before
	// it), so each block is read as block_results and block.
	twoCalls bool
}

// poll returns the blocks the node's app has committed since the last
// call, each stamped with the time its commit was first seen.
func (w *watcher) poll(ctx context.Context) ([]block, error) {
	latest, err := w.c.committedHeight(ctx, &w.buf)
	if err != nil {
		return nil, err
	}
	seen := time.Now()
	if latest > w.h.Load() {
		w.h.Store(latest)
	}
	var out []block
	for ; w.next <= latest; w.next++ {
		b, err := w.fetch(ctx, w.next)
		if err != nil {
			return out, err
		}
		b.seen = seen
		out = append(out, b)
	}
	return out, nil
}

// fetch reads a block's transactions and their results: in one call
// (block_outcomes), or from a node without it, its results and then the
// block. A height the app has committed has both (CometBFT stores the
// results before the app's Commit), so a failed read is tried again only
// for what may pass (a busy node, a connection that failed), backing off
// from 50 ms, for up to 10 s; an answer over its limit (errAnswerTooLarge)
// is not asked again, and ends the run with that error. A block's commit
// time is when a poll first saw it committed: waiting here can only delay
// the next poll.
//
// block_outcomes is what keeps the watched node's cost low: CometBFT's
// block_results encodes every result's events through gogoproto's
// reflective jsonpb, 3.0 s of the watched node's 20.5 s of CPU in 45 s at
// 1,300 tx/s (node.BlockOutcomesRoute).
func (w *watcher) fetch(ctx context.Context, h int64) (block, error) {
	deadline := time.Now().Add(10 * time.Second)
	wait := 50 * time.Millisecond
	for {
		b, err := w.read(ctx, h)
		if err == nil {
			return b, nil
		}
		if errors.Is(err, errAnswerTooLarge) || time.Now().After(deadline) {
			return block{}, fmt.Errorf("reading block %d: %w", h, err)
		}
		select {
		case <-ctx.Done():
			return block{}, ctx.Err()
		case <-time.After(wait):
			wait = min(2*wait, 200*time.Millisecond)
		}
	}
}

// read reads block h once.
func (w *watcher) read(ctx context.Context, h int64) (block, error) {
	if !w.twoCalls {
		t, hashes, res, err := w.c.blockOutcomes(ctx, h, &w.buf)
		if err == nil {
			return block{height: h, time: t, results: res, hashes: hashes}, nil
		}
		if !strings.Contains(err.Error(), errMethodNotFound) {
			return block{}, err
		}
		w.twoCalls = true
	}
	res, err := w.c.blockResults(ctx, h, &w.buf)
	if err != nil {
		return block{}, err
	}
	t, hashes, err := w.c.blockTxs(ctx, h, &w.buf)
	if err != nil {
		return block{}, err
	}
	if len(res) != len(hashes) {
		return block{}, fmt.Errorf("block %d has %d txs but %d results", h, len(hashes), len(res))
	}
	return block{height: h, time: t, results: res, hashes: hashes}, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// steadyWindow picks the blocks of Window from blocks (in height order):
// those whose header time is from warm (the end of the warm-up) to loadEnd;
// with fewer than two there, every block that carried load.
func steadyWindow(blocks []blockStat, loadStart, warm, loadEnd time.Time) Window {
	var w Window
	var win []blockStat
	for _, b := range blocks {
		if !b.time.Before(warm) && !b.time.After(loadEnd) {
			win = append(win, b)
		}
	}
	if len(win) < 2 {
		// Blocks slower than the load is long: fall back to every block
		// that carried load, drain included.
		w.WholeRun = true
		win = win[:0]
		for _, b := range blocks {
			if b.ours > 0 {
				win = append(win, b)
			}
		}
	}
	switch {
	case len(win) >= 2:
		first, last := win[0], win[len(win)-1]
		w.FirstHeight, w.LastHeight, w.Seconds = first.height, last.height, last.time.Sub(first.time).Seconds()
		for _, b := range win[1:] {
			w.Txs += b.oursOK
		}
	case len(win) == 1: // one block carried everything: count from the start of the load
		w.FirstHeight, w.LastHeight, w.Seconds, w.Txs = win[0].height, win[0].height, win[0].time.Sub(loadStart).Seconds(), win[0].oursOK
	}
	return w
}

// record notes a block's transactions.
func (r *runner) record(b block) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := blockStat{height: b.height, seen: b.seen, time: b.time, txs: len(b.hashes)}
	for i, h := range b.hashes {
		rec, ok := r.txs[h]
		if !ok || rec.committed {
			continue
		}
		rec.committed = true
		// A transaction is committed once (nonces): forget it, so that a
		// long run keeps only what is still in flight.
		delete(r.txs, h)
		st.ours++
		r.committed++
		if rec.ack != ackAccepted {
			r.unacked++
		}
		r.latencies = append(r.latencies, b.seen.Sub(rec.sent))
		res := b.results[i]
		if rec.job != nil {
			rec.job.Done(res.Code == abci.CodeTypeOK)
			rec.job = nil
		}
		if res.Code == abci.CodeTypeOK {
			r.commitOK++
			st.oursOK++
			r.units += res.GasUsed
			r.wanted += res.GasWanted
			continue
		}
		k := codeKey{res.Codespace, res.Code}
		if r.failed[k] == nil {
			r.failed[k] = &CodeCount{Codespace: res.Codespace, Code: res.Code, Example: truncate(res.Log, 200)}
		}
		r.failed[k].Count++
	}
	r.blocks = append(r.blocks, st)
}

// send builds, signs and broadcasts one transaction of the mix to c (or
// sends the next presigned one), and records CheckTx's verdict.
func (r *runner) send(ctx context.Context, c broadcaster, rnd *mrand.Rand) {
	job, tx, err := r.nextTx(rnd)
	if err != nil {
		r.mu.Lock()
		r.bcastErrs["building tx: "+truncate(err.Error(), 100)]++
		r.mu.Unlock()
		return
	}
	hash := sha256.Sum256(tx)
	rec := &txRecord{sent: time.Now(), job: job}
	r.mu.Lock()
	r.txs[hash] = rec
	r.submitted++
	r.txBytes += int64(len(tx))
	r.mu.Unlock()

	cctx, cancel := context.WithTimeout(ctx, broadcastTimeout)
	res, resent, err := c.broadcastTxSync(cctx, tx)
	cancel()
	r.answered(hash, rec, res, resent, err)
}

// answered records a broadcast's answer (res when err is nil; resent when
// it was sent twice, rpcConn.post, wsPool.broadcastTxSync). A refused transaction is forgotten at
// once: it will never be in a block.
func (r *runner) answered(hash [32]byte, rec *txRecord, res broadcastResult, resent bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if resent {
		r.resent++
	}
	if resent && err != nil && strings.Contains(err.Error(), errTxInCache) {
		// The first send reached the node: neither a refusal nor an
		// acceptance the load saw. Kept, for the blocks to say.
		rec.ack = ackError
		r.known++
		return
	}
	if err != nil || res.Code != abci.CodeTypeOK {
		r.refusals = append(r.refusals, time.Since(rec.sent))
	}
	switch {
	case err != nil:
		rec.ack = ackError
		r.bcastErrs[errorClass(err)]++
	case res.Code == abci.CodeTypeOK:
		rec.ack = ackAccepted
		r.accepted++
		if rec.committed { // seen in a block before the ack came back
			r.unacked--
		}
	default:
		rec.ack = ackRejected
		k := codeKey{res.Codespace, res.Code}
		if r.rejected[k] == nil {
			r.rejected[k] = &CodeCount{Codespace: res.Codespace, Code: res.Code, Example: truncate(res.Log, 200)}
		}
		r.rejected[k].Count++
		if !rec.committed { // refused: it will never be in a block
			rec.job.Done(false)
			rec.job = nil
			delete(r.txs, hash)
		}
	}
}

// errTxInCache is CometBFT's mempool.ErrTxInCache: the node has the
// transaction already (in its mempool, or committed recently).
const errTxInCache = "tx already exists in cache"

// errorClass names a broadcast error without the parts that vary per call
// (numbers, hashes), so errors of one kind count together.
func errorClass(err error) string {
	s := err.Error()
	// CometBFT's client wraps node errors in HTTP metadata; keep the cause.
	if i := strings.Index(s, "RPC error "); i >= 0 {
		s = s[i:]
	}
	var b strings.Builder
	digits := false
	for _, c := range s {
		if (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F' && digits) {
			if !digits {
				b.WriteByte('N')
				digits = true
			}
			continue
		}
		digits = false
		b.WriteRune(c)
	}
	return truncate(b.String(), 160)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// load runs the measured phase and the drain, and builds the report.
func (r *runner) load(ctx context.Context) (*Report, error) {
	cfg := r.cfg
	_, startHeight, err := r.observer.Status(ctx)
	if err != nil {
		return nil, err
	}
	r.height.Store(startHeight)

	// Block watcher: runs until the drain is over.
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	var watchErr error
	watchDone := make(chan struct{})
	wc, err := r.observerConn()
	if err != nil {
		return nil, err
	}
	w := &watcher{c: wc, next: startHeight + 1, h: &r.height}
	go func() {
		defer close(watchDone)
		fails := 0
		for {
			blocks, err := w.poll(watchCtx)
			for _, b := range blocks {
				r.record(b)
			}
			if watchCtx.Err() != nil {
				return
			}
			if err != nil {
				// An answer over its limit would be so again.
				if fails++; fails > 100 || errors.Is(err, errAnswerTooLarge) {
					watchErr = fmt.Errorf("reading blocks from %s: %w", cfg.Endpoints[0], err)
					return
				}
			} else {
				fails = 0
			}
			if sleep(watchCtx, cfg.PollInterval) != nil {
				return
			}
		}
	}()

	// Senders: one pooled client per endpoint, each transaction to the
	// next endpoint in turn.
	senders := make([]broadcaster, len(cfg.Endpoints))
	var pools []*wsPool
	defer func() {
		for _, p := range pools {
			p.Close()
		}
	}()
	for i, e := range cfg.Endpoints {
		if cfg.Transport == TransportWS {
			p, err := newWSPool(e, cfg.Connections)
			if err != nil {
				return nil, err
			}
			pools = append(pools, p)
			senders[i] = p
			continue
		}
		c, err := pooledClient(e, cfg.Connections)
		if err != nil {
			return nil, err
		}
		senders[i] = c
	}
	var turn atomic.Uint64
	total := int64(cfg.Rate * cfg.Duration.Seconds())
	loadStart := time.Now()
	progressDone := make(chan struct{})
	go func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-progressDone:
				return
			case <-t.C:
				r.progress("load", time.Since(loadStart))
			}
		}
	}()
	cpu0 := cpuSeconds()
	counts := Pacer{Rate: cfg.Rate, MaxInFlight: cfg.Workers}.Run(ctx, total, func(rnd *mrand.Rand) {
		r.send(ctx, senders[(turn.Add(1)-1)%uint64(len(senders))], rnd)
	})
	loadCPU := -1.0
	if cpu1 := cpuSeconds(); cpu0 >= 0 && cpu1 >= 0 {
		loadCPU = cpu1 - cpu0
	}
	r.slots = nil // every one was sent or dropped
	close(progressDone)
	// The load ends when the last due transaction was sent; Run also
	// waited for the answers, which take no part in the offered interval.
	loadEnd := loadStart.Add(time.Duration(float64(counts.Offered) / cfg.Rate * float64(time.Second)))
	offered, dropped := counts.Offered, counts.Dropped
	r.peakInFlight = counts.PeakInFlight
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// Drain: until every accepted tx is in a block, or cfg.Drain passed.
	drainStart := time.Now()
	r.logf("load stopped after %s; draining (at most %s)", loadEnd.Sub(loadStart).Round(time.Millisecond), cfg.Drain)
	nextLog := drainStart.Add(5 * time.Second)
	for time.Since(drainStart) < cfg.Drain {
		if r.pending() == 0 {
			break
		}
		select {
		case <-watchDone:
			if watchErr != nil {
				return nil, watchErr
			}
			return nil, ctx.Err()
		case <-time.After(cfg.PollInterval):
		}
		if time.Now().After(nextLog) {
			r.progress("drain", time.Since(loadStart))
			nextLog = nextLog.Add(5 * time.Second)
		}
	}
	drain := time.Since(drainStart)
	stopWatch()
	<-watchDone
	if watchErr != nil {
		return nil, watchErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rep := r.report(startHeight, loadStart, loadEnd, offered, dropped, drain)
	for _, p := range pools {
		rep.Reconnects += p.reconnects.Load()
	}
	rep.Presigned = r.presignedSent.Load()
	rep.LoadCPUSec = loadCPU
	return rep, nil
}

// pooledClient dials addr with CometBFT's HTTP client, keeping up to
// conns connections open for reuse (the default keeps 2, so concurrent
// senders would open and close a connection per transaction) and opening
// no more than conns at once.
func pooledClient(addr string, conns int) (*rpcConn, error) {
	hc, err := rpcclient.DefaultHTTPClient(addr)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", addr, err)
	}
	if t, ok := hc.Transport.(*http.Transport); ok {
		t.MaxIdleConns = conns
		t.MaxIdleConnsPerHost = conns
		t.MaxConnsPerHost = conns
	}
	return newRPCConn(addr, hc)
}

// observerConn is the watcher's connection to the first endpoint: reads
// the node refuses busy (tx/70) are asked again, as client.Dial's are.
func (r *runner) observerConn() (*rpcConn, error) {
	hc, err := client.HTTPClient(r.cfg.Endpoints[0])
	if err != nil {
		return nil, err
	}
	return newRPCConn(r.cfg.Endpoints[0], hc)
}

// pending counts accepted transactions not yet found in a block.
func (r *runner) pending() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.accepted - (r.committed - r.unacked)
}

func (r *runner) progress(phase string, elapsed time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logf("%s %5.0fs: submitted %d, accepted %d, committed %d, height %d",
		phase, elapsed.Seconds(), r.submitted, r.accepted, r.committed, r.height.Load())
}

func (r *runner) report(startHeight int64, loadStart, loadEnd time.Time, offered, dropped int64, drain time.Duration) *Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	cfg := r.cfg
	loadDur := loadEnd.Sub(loadStart)
	rep := &Report{
		ChainID:       r.chainID,
		Endpoints:     cfg.Endpoints,
		Mix:           r.mix.String(),
		MsgsPerTx:     cfg.MsgsPerTx,
		Kinds:         r.mix.Counts(),
		LastCommitted: r.mix.lastCommitted(),
		Accounts:      cfg.Accounts,
		Workers:       cfg.Workers,
		OfferedRate:   cfg.Rate,
		DurationSec:   loadDur.Seconds(),
		DrainSec:      drain.Seconds(),
		Offered:       offered,
		ClientDropped: dropped,
		Submitted:     r.submitted,
		SubmitRate:    float64(r.submitted) / loadDur.Seconds(),
		PeakInFlight:  r.peakInFlight,
		Transport:     cfg.Transport,
		Connections:   cfg.Connections,
		Accepted:      r.accepted,
		Committed:     r.committed,
		CommittedOK:   r.commitOK,
		// Accepted txs not found; unacknowledged ones found do not offset them.
		Pending:                 r.accepted - (r.committed - r.unacked),
		CommittedUnacknowledged: r.unacked,
		StartHeight:             startHeight,
		EndHeight:               startHeight,
		Rejected:                codeCounts(r.rejected),
		CommittedFailed:         codeCounts(r.failed),
		BroadcastErrors:         []ErrorCount{},
		Resent:                  r.resent,
		ResentKnown:             r.known,
	}
	for _, c := range rep.Rejected {
		rep.RejectedTotal += c.Count
	}
	for _, c := range rep.CommittedFailed {
		rep.CommittedFailedTotal += c.Count
	}
	for e, n := range r.bcastErrs {
		rep.BroadcastErrors = append(rep.BroadcastErrors, ErrorCount{Error: e, Count: n})
		rep.BroadcastErrorsTotal += n
	}
	sort.Slice(rep.BroadcastErrors, func(i, j int) bool { return rep.BroadcastErrors[i].Count > rep.BroadcastErrors[j].Count })

	for _, b := range r.blocks {
		rep.Blocks++
		rep.BlockTxs += int64(b.txs)
		rep.EndHeight = b.height
	}
	if rep.Blocks > 0 {
		rep.AvgTxsPerBlock = float64(rep.BlockTxs) / float64(rep.Blocks)
	}

	rep.Steady = steadyWindow(r.blocks, loadStart, loadStart.Add(cfg.WarmUp), loadEnd)
	if rep.Steady.Seconds > 0 {
		rep.CommittedRate = float64(rep.Steady.Txs) / rep.Steady.Seconds
	}

	rep.Latency = summarise(r.latencies)
	rep.Refusals = summarise(r.refusals)
	if r.submitted > 0 {
		rep.AvgTxBytes = float64(r.txBytes) / float64(r.submitted)
	}
	if r.commitOK > 0 {
		rep.AvgUnits = float64(r.units) / float64(r.commitOK)
		rep.AvgUnitLimit = float64(r.wanted) / float64(r.commitOK)
	}
	return rep
}

// summarise gives the percentiles of ds (nearest rank) in milliseconds.
func summarise(ds []time.Duration) Latency {
	n := len(ds)
	if n == 0 {
		return Latency{}
	}
	lat := append([]time.Duration(nil), ds...)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	pct := func(p float64) float64 {
		i := int(p*float64(n)+0.999999) - 1
		return ms(lat[min(max(i, 0), n-1)])
	}
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	return Latency{Count: int64(n), P50: pct(0.50), P95: pct(0.95), P99: pct(0.99), Mean: ms(sum / time.Duration(n)), Max: ms(lat[n-1])}
}

func codeCounts(m map[codeKey]*CodeCount) []CodeCount {
	out := []CodeCount{}
	for _, c := range m {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		if out[i].Codespace != out[j].Codespace {
			return out[i].Codespace < out[j].Codespace
		}
		return out[i].Code < out[j].Code
	})
	return out
}

// WriteTable prints the report for people.
func (rep *Report) WriteTable(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("chain %s, endpoints %s", rep.ChainID, strings.Join(rep.Endpoints, ","))
	transport := "HTTP"
	if rep.Transport == TransportWS {
		transport = "websocket"
	}
	p("mix %s, %d accounts per party, open loop: at most %d broadcasts in flight over %d %s connections per endpoint, setup %.1fs",
		rep.Mix, rep.Accounts, rep.Workers, rep.Connections, transport, rep.SetupSec)
	if rep.MsgsPerTx > 1 {
		p("      up to %d messages per transaction; counts below are messages", rep.MsgsPerTx)
	}
	for _, k := range rep.Kinds {
		p("      %-15s sent %7d, committed ok %7d, not ok %5d", k.Kind, k.Sent, k.CommittedOK, k.NotOK)
	}
	p("")
	p("  offered rate           %10.1f tx/s for %.1fs (%d txs)", rep.OfferedRate, rep.DurationSec, rep.Offered)
	if rep.ClientDropped > 0 {
		p("  not sent (in flight)   %10d   <- %d broadcasts were waiting for answers: the nodes answered too slowly (or raise --workers)", rep.ClientDropped, rep.Workers)
	}
	p("  submitted              %10d   (%.1f tx/s; at most %d waiting for answers at once)", rep.Submitted, rep.SubmitRate, rep.PeakInFlight)
	if rep.Presigned > 0 {
		p("      presigned          %10d   (signed in %.1fs before the load; the rest signed when due)", rep.Presigned, rep.PresignSec)
	}
	if rep.LoadCPUSec >= 0 && rep.Submitted > 0 {
		p("  load sender CPU        %10.1f s while offering (%.0f µs a transaction sent, %.2f cores)", rep.LoadCPUSec, rep.LoadCPUSec/float64(rep.Submitted)*1e6, rep.LoadCPUSec/rep.DurationSec)
	}
	p("  accepted by CheckTx    %10d", rep.Accepted)
	p("  rejected by CheckTx    %10d", rep.RejectedTotal)
	for _, c := range rep.Rejected {
		p("      %s/%d: %d  (%s)", c.Codespace, c.Code, c.Count, c.Example)
	}
	p("  broadcast errors       %10d", rep.BroadcastErrorsTotal)
	for _, e := range rep.BroadcastErrors {
		p("      %d × %s", e.Count, e.Error)
	}
	if rep.Reconnects > 0 {
		p("  connections lost       %10d   (websockets the node closed or that failed; each opened again)", rep.Reconnects)
	}
	if rep.Resent > 0 {
		p("  resent                 %10d   (a kept-alive connection the node had closed failed them; counted above by the second answer)", rep.Resent)
	}
	if rep.ResentKnown > 0 {
		p("      node already had it%10d   (tx already exists in cache: the first send arrived; neither accepted nor refused above)", rep.ResentKnown)
	}
	p("  committed (in blocks)  %10d", rep.Committed)
	p("      succeeded          %10d", rep.CommittedOK)
	p("      failed in block    %10d", rep.CommittedFailedTotal)
	for _, c := range rep.CommittedFailed {
		p("          %s/%d: %d  (%s)", c.Codespace, c.Code, c.Count, c.Example)
	}
	if rep.CommittedUnacknowledged > 0 {
		p("      without CheckTx ack%10d", rep.CommittedUnacknowledged)
	}
	p("  accepted, not committed%10d   (after %.1fs drain)", rep.Pending, rep.DrainSec)
	p("")
	switch {
	case rep.Steady.LastHeight == 0:
		p("  committed rate         %10s (no load tx was committed)", "n/a")
	case rep.Steady.WholeRun:
		p("  committed rate         %10.1f tx/s (WHOLE RUN, heights %d-%d, %.1fs, %d txs: fewer than two blocks during the load; run longer)",
			rep.CommittedRate, rep.Steady.FirstHeight, rep.Steady.LastHeight, rep.Steady.Seconds, rep.Steady.Txs)
	default:
		p("  committed rate         %10.1f tx/s (steady window: heights %d-%d, %.1fs, %d txs)",
			rep.CommittedRate, rep.Steady.FirstHeight, rep.Steady.LastHeight, rep.Steady.Seconds, rep.Steady.Txs)
	}
	p("  latency submit→commit  p50 %.0f ms, p95 %.0f ms, p99 %.0f ms (mean %.0f, max %.0f, n=%d)",
		rep.Latency.P50, rep.Latency.P95, rep.Latency.P99, rep.Latency.Mean, rep.Latency.Max, rep.Latency.Count)
	p("  blocks                 %10d   (heights %d-%d, %.1f txs/block, %.0f bytes/tx, %.0f units/tx used of %.0f limit)", rep.Blocks, rep.StartHeight+1, rep.EndHeight, rep.AvgTxsPerBlock, rep.AvgTxBytes, rep.AvgUnits, rep.AvgUnitLimit)
	if rep.Refusals.Count > 0 {
		p("  refusals answered in   p50 %.0f ms, p99 %.0f ms, max %.0f ms (n=%d)", rep.Refusals.P50, rep.Refusals.P99, rep.Refusals.Max, rep.Refusals.Count)
	}
}

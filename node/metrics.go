package node

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/x/gov"
)

// Metrics are Tally's own Prometheus metrics, served beside CometBFT's on
// the node's instrumentation address (config.toml [instrumentation]). They
// are read off what the app already returns to CometBFT — results, events,
// timings — and never touch state, so they cannot change what a block
// produces.
type Metrics struct {
	txs      *prometheus.CounterVec
	events   *prometheus.CounterVec
	amounts  *prometheus.CounterVec
	finalize prometheus.Histogram
	commit   prometheus.Histogram
	height   prometheus.Gauge
	blockTxs prometheus.Histogram
	// misbehaviour counts the evidence the app recorded (gov's
	// misbehaviour event; its type has no module prefix, so the events
	// counter does not see it).
	misbehaviour prometheus.Counter
}

// amountAttributes are the event attributes that carry money in pence;
// summed per event type they give the business figures (appropriated,
// paid, collected, settled).
var amountAttributes = map[string]bool{"amount": true, "net": true}

// metricsDirs are the data directory and the state directory (IAVL's
// database, data/tally) of the node built last in this process, which the
// size gauges read: registering twice in one process reuses the first
// node's gauges, and they must not go on reading a closed node's folders.
var metricsDirs atomic.Pointer[[2]string]

// newMetrics registers Tally's metrics (and the size gauges of dataDir and
// stateDir, and the disk gauges of dataDir) with reg. Registering twice in
// one process (tests run several nodes) reuses the collectors already
// there.
func newMetrics(reg prometheus.Registerer, dataDir, stateDir string) *Metrics {
	metricsDirs.Store(&[2]string{dataDir, stateDir})
	data := func() string { return metricsDirs.Load()[0] }
	m := &Metrics{
		txs: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "tally", Name: "messages_total",
			Help: "Messages in committed transactions, by module, message and the transaction's result (codespace and code; ok for success).",
		}, []string{"module", "message", "result"})),
		events: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "tally", Name: "events_total",
			Help: "Events of committed blocks by type (tax.receipt_issued, benefits.paid, provenance.recall_ordered, ...).",
		}, []string{"type"})),
		amounts: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "tally", Name: "event_amount_pence_total",
			Help: "Money in committed events, in pence, by event type and attribute (funds.appropriated amount: money appropriated; benefits.paid net: money paid; tax.receipt_issued amount: tax receipted; funds.settled amount: money settled).",
		}, []string{"type", "attribute"})),
		finalize: register(reg, prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "tally", Name: "finalize_block_seconds", Help: "Time FinalizeBlock took: every transaction and the end-of-block work.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		})),
		commit: register(reg, prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "tally", Name: "commit_seconds", Help: "Time Commit took to save the block's state version.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		})),
		height: register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "tally", Name: "block_height", Help: "Height of the last block this node's app finalized.",
		})),
		blockTxs: register(reg, prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "tally", Name: "block_transactions", Help: "Transactions per finalized block.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 14),
		})),
		misbehaviour: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "tally", Name: "misbehaviour_total",
			Help: "Evidence of validator misbehaviour (double signing) committed in blocks and recorded by the app (tallyd query gov misbehaviour lists it).",
		})),
	}
	register(reg, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "tally", Name: "data_bytes", Help: "Bytes of the node's data directory (state, blocks, indexes, WAL).",
	}, func() float64 { return float64(DirSize(data())) }))
	register(reg, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "tally", Name: "state_bytes", Help: "Bytes of the application state alone: the IAVL database (data/tally), every saved version pruning keeps; part of tally_data_bytes.",
	}, func() float64 { return float64(DirSize(metricsDirs.Load()[1])) }))
	register(reg, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "tally", Name: "data_disk_free_bytes", Help: "Bytes free to this node on the file system holding its data directory.",
	}, func() float64 { free, _ := DiskSpace(data()); return float64(free) }))
	register(reg, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "tally", Name: "data_disk_size_bytes", Help: "Size of the file system holding the node's data directory.",
	}, func() float64 { _, size := DiskSpace(data()); return float64(size) }))
	return m
}

// watchMempool exports the number of transactions this node's CheckTx lets
// wait in its mempool before it refuses new ones with tx/85 (app
// Options.MempoolLimit: 90% of config.toml [mempool] size), so an alert
// can compare cometbft_mempool_size with the node's own limit rather than
// with a number written into the rule.
func watchMempool(reg prometheus.Registerer, limit int) {
	register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "tally", Name: "mempool_limit_transactions",
		Help: "Transactions this node's mempool holds before CheckTx refuses new ones with tx/85 (90% of config.toml [mempool] size); cometbft_mempool_size is how many it holds now.",
	})).Set(float64(limit))
}

// watchGate exports the broadcast gate's figures (broadcastgate.go):
// broadcasts refused, by reason and transport (every combination exported
// at 0 from the start, so increase() sees the first), those waiting now,
// and the recent answer time the slow-answer rule reads.
func watchGate(reg prometheus.Registerer, g *broadcastGate) {
	g.refused = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "tally", Name: "broadcasts_refused_total",
		Help: "Transaction broadcasts the broadcast gate refused at once with tx/85, by reason (waiting_limit: broadcast_max_waiting were waiting; mempool_full: the mempool and those waiting reached its limit; slow_answers: broadcast_slow_max_waiting were waiting while answers took over broadcast_slow_answer) and transport (http, websocket, grpc).",
	}, []string{"reason", "transport"}))
	for _, reason := range []string{refusedWaiting, refusedMempool, refusedSlow} {
		for _, via := range []string{viaHTTP, viaWebsocket, viaGRPC} {
			g.refused.WithLabelValues(reason, via)
		}
	}
	register(reg, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "tally", Name: "broadcasts_waiting",
		Help: "Transaction broadcasts the broadcast gate let through and not yet answered (waiting for CheckTx, or for their block with broadcast_tx_commit).",
	}, func() float64 { return float64(g.waiting.Load()) }))
	register(reg, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "tally", Name: "broadcast_answer_seconds",
		Help: "Recent time an admitted broadcast took to be answered (moving average; broadcast_tx_commit excluded), which the gate compares with broadcast_slow_answer.",
	}, func() float64 { return time.Duration(g.answer.Load()).Seconds() }))
}

// register registers c with reg, or returns the collector of the same
// description already registered.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		// A different collector under the same name is a programming
		// error; the metrics of this one are simply not exported.
	}
	return c
}

// DirSize is the total size of the files under dir (0 if unreadable).
func DirSize(dir string) int64 {
	var total int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				total += info.Size()
			}
		}
		return nil
	})
	return total
}

// DiskSpace is the space free to this user and the total size of the
// file system holding dir (zeros if it cannot be read).
func DiskSpace(dir string) (free, size uint64) {
	var st syscall.Statfs_t
	if syscall.Statfs(dir, &st) != nil {
		return 0, 0
	}
	return st.Bavail * uint64(st.Bsize), st.Blocks * uint64(st.Bsize)
}

// meteredApp is the app as CometBFT sees it when metrics are on: the same
// application, with FinalizeBlock and Commit observed.
type meteredApp struct {
	abci.Application
	m *Metrics
}

// FinalizeBlock runs the block and records what it did.
func (a meteredApp) FinalizeBlock(ctx context.Context, req *abci.RequestFinalizeBlock) (*abci.ResponseFinalizeBlock, error) {
	start := time.Now()
	res, err := a.Application.FinalizeBlock(ctx, req)
	a.m.finalize.Observe(time.Since(start).Seconds())
	if err != nil || res == nil {
		return res, err
	}
	a.m.height.Set(float64(req.Height))
	a.m.blockTxs.Observe(float64(len(req.Txs)))
	for i, raw := range req.Txs {
		if i >= len(res.TxResults) {
			break
		}
		r := res.TxResults[i]
		result := "ok"
		if r.Code != abci.CodeTypeOK {
			result = r.Codespace + "/" + strconv.FormatUint(uint64(r.Code), 10)
		}
		for _, msg := range messageNames(raw) {
			a.m.txs.WithLabelValues(msg[0], msg[1], result).Inc()
		}
		a.m.observeEvents(r.Events)
	}
	a.m.observeEvents(res.Events)
	return res, nil
}

// Commit saves the block's state and records how long that took.
func (a meteredApp) Commit(ctx context.Context, req *abci.RequestCommit) (*abci.ResponseCommit, error) {
	start := time.Now()
	res, err := a.Application.Commit(ctx, req)
	a.m.commit.Observe(time.Since(start).Seconds())
	return res, err
}

func (m *Metrics) observeEvents(events []abci.Event) {
	for _, e := range events {
		if e.Type == gov.EventMisbehaviour {
			m.misbehaviour.Inc()
		}
		if !strings.Contains(e.Type, ".") {
			continue // CometBFT's and the app's bookkeeping events (tx, ...), not module events
		}
		m.events.WithLabelValues(e.Type).Inc()
		for _, at := range e.Attributes {
			if amountAttributes[at.Key] {
				if v, err := strconv.ParseUint(at.Value, 10, 64); err == nil {
					m.amounts.WithLabelValues(e.Type, at.Key).Add(float64(v))
				}
			}
		}
	}
}

// messageNames returns (module, message) for each message of a raw
// transaction: the module from the message's protobuf package
// (tally.tax.v1 → tax) and the message its field name in the Msg oneof
// (issue_receipt). A transaction that does not decode has none.
func messageNames(raw []byte) [][2]string {
	var tx txv1.Tx
	var body txv1.TxBody
	if proto.Unmarshal(raw, &tx) != nil || proto.Unmarshal(tx.BodyBytes, &body) != nil {
		return nil
	}
	out := make([][2]string, 0, len(body.Messages))
	for _, msg := range body.Messages {
		r := msg.ProtoReflect()
		oneof := r.Descriptor().Oneofs().Get(0)
		fd := r.WhichOneof(oneof)
		if fd == nil {
			continue
		}
		out = append(out, [2]string{moduleOf(fd), string(fd.Name())})
	}
	return out
}

func moduleOf(fd protoreflect.FieldDescriptor) string {
	if md := fd.Message(); md != nil {
		parts := strings.Split(string(md.ParentFile().Package()), ".") // tally.<module>.v1
		if len(parts) == 3 {
			return parts[1]
		}
	}
	return "unknown"
}

package faults

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/tallyledger/tally/client"
	"github.com/tallyledger/tally/client/keys"
	"github.com/tallyledger/tally/client/load"
)

// The workload is client/load's Mix, the one `tallyd load --mix` sends:
// every module's common transactions (the benefit payments path, tax
// receipts, custody registrations, offers and acceptances, new members),
// each valid whenever it is sent, in any order and concurrently with the
// others, so a failed one is a finding. Its signers are load accounts the
// mix's setup adds through these demo admins.
var workloadAdmins = map[string]string{
	load.PartyAgency:     "benefits-admin",
	load.PartyTreasury:   "treasury-admin",
	load.PartyBenefits:   "benefits-admin",
	load.PartyTax:        "revenue-admin",
	load.PartyProvenance: "dalefarm-admin",
}

// workloadAccounts is how many load accounts each party of the mix gets.
const workloadAccounts = 4

// Sent is one workload transaction a node accepted into its mempool.
type Sent struct {
	Hash []byte
	Kind string
	Node int       // the node that accepted it (or may have: unsure)
	job  *load.Job // told its fate when a node reports it committed
	// unsure is set when no node said it took the transaction, though
	// one may have (its broadcast timed out): the transaction's timeout
	// height, past which, if still in no block, it never will be.
	unsure int64
}

// Workload sends the mixed workload across every node that answers.
type Workload struct {
	c   *Cluster
	mix *load.Mix
	// Rate is the offered load in transactions per second.
	Rate float64

	mu       sync.Mutex
	accepted []Sent
	reported map[string]Report // by tx hash: the first node that said it was committed
	checked  int               // accepted[:checked] have been asked about
	dropped  map[string]bool   // unsure transactions past their timeout in no block

	cancel  context.CancelFunc // set by StartWorkload
	done    chan struct{}
	refused map[string]int // CheckTx refusals by codespace/code: findings for a valid workload
	errors  atomic.Int64   // broadcasts no node answered (all down or partitioned away)
	next    atomic.Int64
	height  atomic.Int64 // a recent height of the chain (followHeight)
}

// NewWorkload prepares the mixed workload on cluster c: its load accounts
// and the state its messages draw on are set up through the nodes.
func NewWorkload(ctx context.Context, c *Cluster, rate float64) (*Workload, error) {
	kr, err := keys.Open(c.M.KeyringDir, keys.BackendTest, nil)
	if err != nil {
		return nil, err
	}
	w := &Workload{c: c, Rate: rate, refused: map[string]int{}, reported: map[string]Report{}, dropped: map[string]bool{}}
	admins := map[string]load.Admin{}
	for party, name := range workloadAdmins {
		priv, err := kr.PrivKey(name)
		if err != nil {
			return nil, fmt.Errorf("workload key %s: %w", name, err)
		}
		admins[party] = load.Admin{Key: priv}
	}
	if w.mix, err = load.NewMix(load.FullMix, admins, workloadAccounts); err != nil {
		return nil, err
	}
	if err := w.mix.Setup(ctx, c.Clients, nil); err != nil {
		return nil, fmt.Errorf("workload setup: %w", err)
	}
	return w, nil
}

// StartWorkload starts the mixed workload on c at rate tx/s in the
// background and tracks what the nodes report committed. The context it
// returns ends when the workload stops (Stop, or the end of the test).
func StartWorkload(t testing.TB, c *Cluster, rate float64) (*Workload, context.Context) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w, err := NewWorkload(ctx, c, rate)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	w.cancel, w.done = cancel, make(chan struct{})
	go func() { w.Run(ctx); close(w.done) }()
	go w.Track(ctx)
	t.Cleanup(cancel)
	return w, ctx
}

// Stop stops sending and waits, up to 20 s, until every accepted
// transaction has been reported committed.
func (w *Workload) Stop() {
	w.cancel()
	<-w.done
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	w.Settle(ctx)
}

// Report is a node saying a transaction was committed.
type Report struct {
	Node      int
	Height    int64
	Code      uint32
	Codespace string
	Log       string
	Kind      string
}

// Track asks, until ctx ends, the node that accepted each transaction
// whether it is committed, and remembers the first answer: the claims the
// end checks hold every node to, even if that node later crashes.
func (w *Workload) Track(ctx context.Context) { w.track(ctx, false) }

// Settle asks about every transaction not yet reported until each is, or
// ctx ends: after the load, for the stragglers.
func (w *Workload) Settle(ctx context.Context) {
	w.mu.Lock()
	w.checked = 0 // ask again about all not yet reported
	w.mu.Unlock()
	w.track(ctx, true)
}

func (w *Workload) track(ctx context.Context, untilEmpty bool) {
	var waiting []Sent
	for {
		w.mu.Lock()
		waiting = append(waiting, w.accepted[w.checked:]...)
		w.checked = len(w.accepted)
		w.mu.Unlock()
		keep := waiting[:0]
		for _, s := range waiting {
			w.mu.Lock()
			_, done := w.reported[string(s.Hash)]
			done = done || w.dropped[string(s.Hash)]
			w.mu.Unlock()
			if done {
				continue
			}
			if ctx.Err() != nil {
				return
			}
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			r, err := w.c.Clients[s.Node].RPC.Tx(cctx, s.Hash, false)
			if err != nil && s.unsure > 0 && w.c.Height(cctx, s.Node) > s.unsure {
				// Past its timeout height and in no block (asked again
				// now that the height is known to be past): never taken.
				if _, err = w.c.Clients[s.Node].RPC.Tx(cctx, s.Hash, false); err != nil {
					cancel()
					s.job.Done(false)
					w.mu.Lock()
					w.dropped[string(s.Hash)] = true
					w.mu.Unlock()
					continue
				}
			}
			cancel()
			if err != nil {
				keep = append(keep, s)
				continue
			}
			w.mu.Lock()
			w.reported[string(s.Hash)] = Report{Node: s.Node, Height: r.Height, Code: r.TxResult.Code, Codespace: r.TxResult.Codespace, Log: r.TxResult.Log, Kind: s.Kind}
			w.mu.Unlock()
			s.job.Done(r.TxResult.Code == abci.CodeTypeOK)
		}
		waiting = keep
		if untilEmpty && len(waiting) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Reported is every commitment a node reported so far, by tx hash.
func (w *Workload) Reported() map[string]Report {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]Report, len(w.reported))
	for k, v := range w.reported {
		out[k] = v
	}
	return out
}

// Run offers the workload until ctx ends. A node that does not answer is
// skipped for that transaction; the transaction goes to the next node. It
// paces with client/load's Pacer, as `tallyd load` does, with at most 8
// transactions in flight: a tick due while 8 wait for nodes (slow or down)
// is skipped, as the fault scenarios expect.
func (w *Workload) Run(ctx context.Context) {
	load.Pacer{Rate: w.Rate, MaxInFlight: 8}.Run(ctx, 0, func(r *rand.Rand) { w.sendOne(ctx, r) })
}

// sendOne builds the next transaction once and offers the same bytes to
// each node in turn until one answers. A broadcast that timed out may
// still have been taken (and committed): sending different bytes to the
// next node could commit the same message twice (it did: duplicate-record
// failures such as funds/9 under a query flood). So after a timeout the
// transaction is resent as it is, and if a later node refuses it (its
// nonce already used, or it is already in a mempool) or none answers, it is
// tracked by hash like an accepted one: the chain says whether it
// committed, and the mix is told that, not a guess.
// followHeight keeps w.height, from whichever node answers, every half
// second until ctx ends. Transactions take their timeout height from it
// rather than asking the node they go to: a public node busy with readers
// (a query flood) answers reads late or not at all but still takes
// broadcasts, and the workload must offer the same load either way.
func (w *Workload) followHeight(ctx context.Context) {
	for n := 0; ctx.Err() == nil; n++ {
		for try := range w.c.Clients {
			if h := w.c.Height(ctx, (n+try)%len(w.c.Clients)); h > 0 {
				w.height.Store(h)
				break
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (w *Workload) sendOne(ctx context.Context, r *rand.Rand) {
	job, err := w.mix.Next(r)
	if err != nil {
		panic(err) // a workload that cannot build its own messages is a bug in client/load
	}
	start := int(w.next.Add(1))
	var tx []byte
	var timeout int64
	mayHave := -1 // a node whose broadcast timed out: it may have taken tx
	for try := 0; try < len(w.c.Clients); try++ {
		i := (start + try) % len(w.c.Clients)
		cl := w.c.Clients[i]
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if tx == nil {
			h := w.height.Load()
			if h == 0 {
				h = w.c.Height(cctx, i)
			}
			if h == 0 {
				cancel()
				continue
			}
			timeout = h + 100
			if tx, err = client.BuildTx(client.TxOptions{ChainID: w.c.M.ChainID, Signer: job.Signer.Address, TimeoutHeight: uint64(timeout), MessageUnits: job.MessageUnits()}, job.Signer.Sign, job.Msg); err != nil {
				cancel()
				panic(err) // as above
			}
		}
		res, err := cl.RPC.BroadcastTxSync(cctx, tx)
		cancel()
		if err != nil {
			if mayHave < 0 {
				mayHave = i
			}
			continue
		}
		w.mu.Lock()
		switch {
		case res.Code == abci.CodeTypeOK:
			w.accepted = append(w.accepted, Sent{Hash: client.TxHash(tx), Kind: job.Kind, Node: i, job: job})
		case mayHave >= 0:
			w.accepted = append(w.accepted, Sent{Hash: client.TxHash(tx), Kind: job.Kind, Node: mayHave, job: job, unsure: timeout})
		default:
			w.refused[fmt.Sprintf("%s/%d %s: %.120s", res.Codespace, res.Code, job.Kind, res.Log)]++
			job.Done(false)
		}
		w.mu.Unlock()
		return
	}
	if mayHave >= 0 {
		w.mu.Lock()
		w.accepted = append(w.accepted, Sent{Hash: client.TxHash(tx), Kind: job.Kind, Node: mayHave, job: job, unsure: timeout})
		w.mu.Unlock()
		return
	}
	job.Done(false)
	w.errors.Add(1)
}

// Accepted is every transaction a node accepted so far.
func (w *Workload) Accepted() []Sent {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Sent(nil), w.accepted...)
}

// Refused counts CheckTx refusals by code and kind.
func (w *Workload) Refused() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]int{}
	for k, v := range w.refused {
		out[k] = v
	}
	return out
}

// Unanswered is how many transactions no node would take.
func (w *Workload) Unanswered() int64 { return w.errors.Load() }

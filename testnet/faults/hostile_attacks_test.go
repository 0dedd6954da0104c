package faults

// This file is the hostile client of issue 13: a member of an agency who
// knows the rules and uses them against the chain, with raw signed
// transactions and ABCI queries. Each attack reports what it observed (the
// chain's own header times, state the nodes answer with, data-directory
// sizes), so the same code measures the attacks (TestHostileMeasure) and
// asserts their safe outcome (TestHostileClient).

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	"github.com/cometbft/cometbft/types"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/api/keyproof"
	"github.com/tallyledger/tally/client"
	"github.com/tallyledger/tally/client/keys"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	benefitsv1 "github.com/tallyledger/tally/proto/tally/benefits/v1"
	provenancev1 "github.com/tallyledger/tally/proto/tally/provenance/v1"
	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/testnet"
	"github.com/tallyledger/tally/x/provenance"
)

// hostile sends the attacks to a cluster seeded with the demo data, whose
// keys it signs with (the attacker is a member of an agency).
type hostile struct {
	c   *Cluster
	kr  *keys.Keyring
	tag string // makes this run's ids unique on the chain
	// profileDir, when set (HOSTILE_PPROF), receives CPU profiles of
	// nodes and of this process during the query flood.
	profileDir string
}

func newHostile(c *Cluster) (*hostile, error) {
	kr, err := keys.Open(c.M.KeyringDir, keys.BackendTest, nil)
	if err != nil {
		return nil, err
	}
	var b [3]byte
	_, _ = rand.Read(b[:])
	return &hostile{c: c, kr: kr, tag: hex.EncodeToString(b[:])}, nil
}

func (h *hostile) key(name string) (ed25519.PrivateKey, error) {
	priv, err := h.kr.PrivKey(name)
	if err != nil {
		return nil, fmt.Errorf("hostile client: demo key %s: %w", name, err)
	}
	return priv, nil
}

// build signs msgs with priv, a random nonce and the given timeout height.
func (h *hostile) build(priv ed25519.PrivateKey, timeout uint64, msgs ...*txv1.Msg) []byte {
	tx, err := client.BuildTx(client.TxOptions{ChainID: h.c.M.ChainID, Signer: api.AddressOf(priv.Public().(ed25519.PublicKey)), TimeoutHeight: timeout},
		func(b []byte) ([]byte, error) { return ed25519.Sign(priv, b), nil }, msgs...)
	if err != nil {
		panic(err) // the attacker's own messages always encode
	}
	return tx
}

// Outcome is what became of one attack transaction: refused by CheckTx,
// or committed (successfully or not) at Height.
type Outcome struct {
	Height    int64
	Refused   bool
	Codespace string
	Code      uint32
	Log       string
	Bytes     int
	Events    []abci.Event
}

// Coded is "codespace/code", or "ok".
func (o Outcome) Coded() string {
	if o.Code == 0 {
		return "ok"
	}
	return fmt.Sprintf("%s/%d", o.Codespace, o.Code)
}

func (o Outcome) String() string {
	switch {
	case o.Refused:
		return fmt.Sprintf("refused by CheckTx with %s: %.160s", o.Coded(), o.Log)
	case o.Code != 0:
		return fmt.Sprintf("failed in block %d with %s: %.160s", o.Height, o.Coded(), o.Log)
	}
	return fmt.Sprintf("committed in block %d", o.Height)
}

// send broadcasts tx through node i and waits until it is committed or
// refused.
func (h *hostile) send(ctx context.Context, i int, tx []byte) (Outcome, error) {
	cl := h.c.Clients[i%len(h.c.Clients)]
	o := Outcome{Bytes: len(tx)}
	res, err := cl.RPC.BroadcastTxSync(ctx, tx)
	if err != nil {
		return o, fmt.Errorf("broadcast: %w", err)
	}
	if res.Code != abci.CodeTypeOK {
		o.Refused, o.Codespace, o.Code, o.Log = true, res.Codespace, res.Code, res.Log
		return o, nil
	}
	r, err := cl.WaitTx(ctx, res.Hash)
	var txErr *client.TxError
	if err != nil && !errors.As(err, &txErr) {
		return o, err
	}
	o.Height, o.Codespace, o.Code, o.Log, o.Events = r.Height, r.TxResult.Codespace, r.TxResult.Code, r.TxResult.Log, r.TxResult.Events
	return o, nil
}

// latest is the newest block's height and header time on node 0.
func (h *hostile) latest(ctx context.Context) (int64, time.Time, error) {
	st, err := h.c.Clients[0].RPC.Status(ctx)
	if err != nil {
		return 0, time.Time{}, err
	}
	return st.SyncInfo.LatestBlockHeight, st.SyncInfo.LatestBlockTime, nil
}

// waitHeight waits until node 0 has committed height.
func (h *hostile) waitHeight(ctx context.Context, height int64) error {
	for {
		if h.c.Height(ctx, 0) >= height {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for height %d: %w", height, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Intervals are the times between consecutive blocks' header times over
// heights from..to: interval k is header(from+k+1).Time - header(from+k).Time.
// A block whose FinalizeBlock is slow shows as a long interval one or two
// blocks later (the header time is the median of the previous block's
// precommit times), so callers look at a window around the attack.
type Intervals []time.Duration

// blockIntervals reads the header times of heights from..to from node 0.
func (h *hostile) blockIntervals(ctx context.Context, from, to int64) (Intervals, error) {
	var times []time.Time
	for lo := from; lo <= to; lo += 20 {
		hi := min(lo+19, to)
		res, err := h.c.Clients[0].RPC.BlockchainInfo(ctx, lo, hi)
		if err != nil {
			return nil, fmt.Errorf("headers %d..%d: %w", lo, hi, err)
		}
		metas := slices.Clone(res.BlockMetas)
		slices.SortFunc(metas, func(a, b *types.BlockMeta) int { return int(a.Header.Height - b.Header.Height) })
		for _, m := range metas {
			times = append(times, m.Header.Time)
		}
	}
	var out Intervals
	for k := 1; k < len(times); k++ {
		out = append(out, times[k].Sub(times[k-1]))
	}
	return out, nil
}

// Max is the longest interval.
func (iv Intervals) Max() time.Duration {
	var m time.Duration
	for _, d := range iv {
		m = max(m, d)
	}
	return m
}

// Median is the middle interval.
func (iv Intervals) Median() time.Duration {
	if len(iv) == 0 {
		return 0
	}
	s := slices.Clone(iv)
	slices.Sort(s)
	return s[len(s)/2]
}

// dataSize is the size of node i's application database on disk (the
// IAVL tree in goleveldb: every kept version, which is what the node pays
// for in disk).
func (h *hostile) dataSize(i int) int64 {
	var n int64
	dir := filepath.Join(h.c.M.Nodes[i].Home, "data", "tally", "application.db")
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// meanDataSize is dataSize averaged over every node.
func (h *hostile) meanDataSize() int64 {
	var sum int64
	for i := range h.c.M.Nodes {
		sum += h.dataSize(i)
	}
	return sum / int64(len(h.c.M.Nodes))
}

// ---------------------------------------------------------------------------
// Attack 1: a programme that starts in the past, with 1-second periods.

// CatchUp is the outcome of the programme catch-up attack.
type CatchUp struct {
	Periods int64
	Tx      Outcome
	// Window are the block intervals from the block before the programme
	// was committed to Blocks blocks after it.
	Window Intervals
	Blocks int
}

// programmeCatchUp has benefits-finance (a programme manager) create a
// programme that started periods seconds before the latest block, paying
// every second, then reads the block intervals of the blocks that follow.
func (h *hostile) programmeCatchUp(ctx context.Context, periods int64, after int) (CatchUp, error) {
	r := CatchUp{Periods: periods, Blocks: after}
	priv, err := h.key("benefits-finance")
	if err != nil {
		return r, err
	}
	height, now, err := h.latest(ctx)
	if err != nil {
		return r, err
	}
	start := now.Unix() - periods
	msg := &txv1.Msg{Sum: &txv1.Msg_CreateProgramme{CreateProgramme: &benefitsv1.MsgCreateProgramme{
		Id: fmt.Sprintf("hostile-%s-%d", h.tag, periods), Name: "Back-dated programme", Amount: 1, Currency: "GBP",
		PeriodSeconds: 1, StartUnix: start, EndUnix: start + periods + 7*24*3600}}}
	r.Tx, err = h.send(ctx, 1, h.build(priv, uint64(height)+100, msg))
	if err != nil {
		return r, err
	}
	from := r.Tx.Height - 1
	if r.Tx.Refused || r.Tx.Height == 0 {
		from = height
	}
	if err := h.waitHeight(ctx, from+int64(after)+1); err != nil {
		return r, err
	}
	r.Window, err = h.blockIntervals(ctx, from, from+int64(after)+1)
	return r, err
}

// ---------------------------------------------------------------------------
// Attack 2: many transactions of one account, sharing one timeout height.

// NonceFlood is the outcome of the nonce-storage attack.
type NonceFlood struct {
	Shared    bool
	Sent      int
	Committed int            // in a block (they fail there: the proof is bad)
	Refused   map[string]int // by CheckTx, by code ("broadcast error": the RPC call itself failed)
	Lost      int            // accepted by CheckTx but in no block 10 blocks after the last was sent
	From, To  int64          // heights the attack spanned
	// Grew is the growth of the application database (mean over the
	// nodes) from before the first transaction to 10 blocks after the
	// last.
	Grew int64
	// Idle is the growth over as many blocks without the attack, measured
	// just before; Grew-Idle is what the attack cost.
	Idle int64
}

// PerTx is the attack's disk growth per committed transaction, above idle.
func (n NonceFlood) PerTx() int64 {
	if n.Committed == 0 {
		return 0
	}
	return max(n.Grew-n.Idle, 0) / int64(n.Committed)
}

// nonceFlood sends n failing transactions from an auditor: rotate-keys to
// the key the auditor already has, with a valid proof of possession (no
// write role needed; CheckTx checks the proof but does not run the
// handler, which refuses a key in use, so the transaction fails in the
// block and still spends its nonce. A bad proof is refused by CheckTx
// today, and before that made a proposal treat the auditor's key as
// changed, holding its later transactions to one per block). With shared,
// all carry the same timeout height; otherwise each carries a timeout a
// client would pick (current height plus a spread of 20..519 blocks).
// workers transactions are in flight at once; with perBlock > 0 the
// attacker paces itself to about perBlock transactions a block, so its
// transactions spread over many blocks (on a layout that rewrites one value
// per signer and timeout every block, the cost grows with the number of
// blocks they span).
//
// The growth it reports is measured against a baseline: the growth over
// the same number of blocks just before (at most 60, scaled), with
// whatever else the chain is doing (the workload) going on in both.
func (h *hostile) nonceFlood(ctx context.Context, n int, shared bool, workers, perBlock int) (NonceFlood, error) {
	r := NonceFlood{Shared: shared, Sent: n, Refused: map[string]int{}}
	priv, err := h.key("fsa-auditor")
	if err != nil {
		return r, err
	}
	pub := priv.Public().(ed25519.PublicKey)
	// A valid proof of possession of the key it already has: CheckTx
	// checks proofs, the block refuses a key in use.
	proof := ed25519.Sign(priv, keyproof.Statement(h.c.M.ChainID, "", api.AddressOf(pub), pub, keyproof.RotateKey))
	window := uint64(600)
	if p, err := h.appParams(ctx); err == nil && p.TimeoutWindow > 0 {
		window = p.TimeoutWindow
	}
	const settle = 10
	span := int64(settle + 20)
	if perBlock > 0 {
		span = int64(n/perBlock) + settle
	}

	// Baseline: growth over span blocks (at most 60, scaled) without the attack.
	base := min(span, 60)
	b0 := h.meanDataSize()
	hb, _, err := h.latest(ctx)
	if err != nil {
		return r, err
	}
	if err := h.waitHeight(ctx, hb+base); err != nil {
		return r, err
	}
	baseRate := float64(h.meanDataSize()-b0) / float64(base)

	size0 := h.meanDataSize()
	hStart, _, err := h.latest(ctx)
	if err != nil {
		return r, err
	}
	r.From = hStart
	sharedTimeout := uint64(hStart) + window - 5
	var mu sync.Mutex
	var hashes [][]byte
	var next atomic.Int64
	var wg sync.WaitGroup
	clients := h.rpcClients(workers)
	// cur follows the chain's height, for the varying timeouts.
	var cur atomic.Int64
	cur.Store(hStart)
	tctx, tstop := context.WithCancel(ctx)
	defer tstop()
	go func() {
		for tctx.Err() == nil {
			if hh := h.c.Height(tctx, 0); hh > 0 {
				cur.Store(hh)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1)) - 1
				if k >= n || ctx.Err() != nil {
					return
				}
				if perBlock > 0 {
					if err := h.waitHeight(ctx, hStart+int64(k/perBlock)); err != nil {
						return
					}
				}
				timeout := sharedTimeout
				if !shared {
					timeout = uint64(cur.Load()) + 20 + uint64(k%500)
				}
				msg := &txv1.Msg{Sum: &txv1.Msg_RotateKey{RotateKey: &agencyv1.MsgRotateKey{NewPubKey: pub, NewKeySignature: proof}}}
				tx := h.build(priv, timeout, msg)
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				res, err := clients[k%len(clients)].BroadcastTxSync(cctx, tx)
				cancel()
				mu.Lock()
				switch {
				case err != nil:
					r.Refused["broadcast error"]++
				case res.Code != abci.CodeTypeOK:
					r.Refused[fmt.Sprintf("%s/%d", res.Codespace, res.Code)]++
				default:
					hashes = append(hashes, client.TxHash(tx))
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	hSent, _, err := h.latest(ctx)
	if err != nil {
		return r, err
	}
	r.To = max(hSent+settle, hStart+span)
	if err := h.waitHeight(ctx, r.To); err != nil {
		return r, err
	}
	r.Grew = h.meanDataSize() - size0
	r.Idle = int64(baseRate * float64(r.To-hStart))
	in, err := h.txsInBlocks(ctx, hStart, r.To)
	if err != nil {
		return r, err
	}
	for _, hs := range hashes {
		if in[string(hs)] {
			r.Committed++
		} else {
			r.Lost++
		}
	}
	return r, nil
}

// appParams reads the app's parameters.
func (h *hostile) appParams(ctx context.Context) (*appv1.Params, error) {
	res, _, err := h.c.Clients[0].Query(ctx, api.PathParams, nil, 0, false)
	if err != nil {
		return nil, err
	}
	p := &appv1.Params{}
	return p, proto.Unmarshal(res.Value, p)
}

// txsInBlocks is the set of transaction hashes in blocks from..to.
func (h *hostile) txsInBlocks(ctx context.Context, from, to int64) (map[string]bool, error) {
	in := map[string]bool{}
	for height := from; height <= to; height++ {
		b, err := h.c.Clients[0].RPC.Block(ctx, &height)
		if err != nil {
			return nil, fmt.Errorf("block %d: %w", height, err)
		}
		for _, tx := range b.Block.Txs {
			in[string(tx.Hash())] = true
		}
	}
	return in, nil
}

// rpcClients are RPC clients, one per node, each keeping up to conns idle
// connections (the default keeps two, so most concurrent calls would open
// a new one).
func (h *hostile) rpcClients(conns int) []*rpchttp.HTTP {
	var out []*rpchttp.HTTP
	for _, n := range h.c.M.Nodes {
		hc := &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: conns}}
		cl, err := rpchttp.NewWithClient(n.RPC, "/websocket", hc)
		if err != nil {
			panic(err)
		}
		out = append(out, cl)
	}
	return out
}

// ---------------------------------------------------------------------------
// Attack 3: one transaction splitting well-documented items into many parts.

// SplitBloat is the outcome of the split attack.
type SplitBloat struct {
	Splits, Parts int
	Tx            Outcome // the splitting transaction
	Setup         []Outcome
	// Children is how many of the children the split should have made
	// exist; ChildBytes is the sum of their item records' sizes as stored
	// (the raw value at the item's state key, /store/key: /provenance/item
	// answers with the metadata a child inherits filled in).
	Children   int
	ChildBytes int64
	// Grew is the application database's growth (mean over nodes) from
	// the block before the split to two blocks after it.
	Grew int64
}

// splitParent is the id of parent k of a splitBloat of splits items.
func splitParent(tag string, splits, k int) string {
	return fmt.Sprintf("lgtin:05012345678900.H%s%dx%d", tag, splits, k)
}

// splitBloat has a producer register splits items carrying as much
// metadata as an item may (16 attributes, 8 documents, each at its
// maximum size), then split each into parts children in one transaction.
func (h *hostile) splitBloat(ctx context.Context, splits, parts int) (SplitBloat, error) {
	r := SplitBloat{Splits: splits, Parts: parts}
	priv, err := h.key("dalefarm-producer")
	if err != nil {
		return r, err
	}
	parentID := func(k int) string { return splitParent(h.tag, splits, k) }
	childID := func(k, i int) string { return fmt.Sprintf("h:%s%dx%d.%d", h.tag, splits, k, i) }
	register := func(k int) *txv1.Msg {
		m := &provenancev1.MsgRegisterItem{Id: parentID(k), Product: "05012345678900", Quantity: uint64(parts), Unit: "l", Origin: "urn:gln:5012345000017"}
		for a := 0; a < 16; a++ {
			m.Attributes = append(m.Attributes, &provenancev1.Attribute{Key: fmt.Sprintf("%02d", a) + strings.Repeat("k", 62), Value: strings.Repeat("v", 256)})
		}
		for d := 0; d < 8; d++ {
			sum := make([]byte, 32)
			sum[0] = byte(d)
			m.Documents = append(m.Documents, &provenancev1.Document{Kind: fmt.Sprintf("doc%d", d), Sha256: sum, Uri: "https://example.org/" + strings.Repeat("d", 200)})
		}
		return &txv1.Msg{Sum: &txv1.Msg_RegisterItem{RegisterItem: m}}
	}
	height, _, err := h.latest(ctx)
	if err != nil {
		return r, err
	}
	for k := 0; k < splits; k += 3 {
		var msgs []*txv1.Msg
		for j := k; j < min(k+3, splits); j++ {
			msgs = append(msgs, register(j))
		}
		o, err := h.send(ctx, k, h.build(priv, uint64(height)+100, msgs...))
		if err != nil {
			return r, err
		}
		r.Setup = append(r.Setup, o)
		if o.Refused || o.Code != 0 {
			return r, fmt.Errorf("registering the parents: %s", o)
		}
	}
	var msgs []*txv1.Msg
	for k := 0; k < splits; k++ {
		m := &provenancev1.MsgSplit{ItemId: parentID(k), Location: "urn:gln:5012345000017"}
		for i := 0; i < parts; i++ {
			m.Parts = append(m.Parts, &provenancev1.SplitPart{Id: childID(k, i), Quantity: 1})
		}
		msgs = append(msgs, &txv1.Msg{Sum: &txv1.Msg_SplitItem{SplitItem: m}})
	}
	height, _, err = h.latest(ctx)
	if err != nil {
		return r, err
	}
	if err := h.waitHeight(ctx, height+1); err != nil { // every node has the parents
		return r, err
	}
	size0 := h.meanDataSize()
	r.Tx, err = h.send(ctx, 2, h.build(priv, uint64(height)+100, msgs...))
	if err != nil {
		return r, err
	}
	if r.Tx.Refused || r.Tx.Height == 0 {
		return r, nil
	}
	if err := h.waitHeight(ctx, r.Tx.Height+2); err != nil {
		return r, err
	}
	r.Grew = h.meanDataSize() - size0
	for k := 0; k < splits; k++ {
		for i := 0; i < parts; i++ {
			res, err := h.c.Clients[0].RPC.ABCIQuery(ctx, api.PathKey, api.ProvenanceItemKey(childID(k, i)))
			if err != nil || res.Response.Code != 0 {
				continue
			}
			r.Children++
			r.ChildBytes += int64(len(res.Response.Value))
		}
	}
	return r, nil
}

// ---------------------------------------------------------------------------
// Attack 4: a flood of expensive queries.

// expensiveQueries are the reads the flood sends: whole-state walks,
// receipts with the most amendments a receipt may have, a lineage page at
// the deepest position a node serves, and list queries.
type expensiveQuery struct {
	path string
	data []byte
	// refused is the coded refusal the node owes the query ("" when it
	// answers it); walk marks a whole-state walk, refused tx/41 by a node
	// whose RPC is public (operator_queries off).
	refused string
	walk    bool
}

// prepareQueries builds the state the expensive queries read, and fails
// with the outcome (code and log) of any transaction it needs that does
// not commit:
//
//   - amendments amendments (by revenue-collector), on as many receipts
//     as that takes at api.MaxAmendments each (the chain refuses a
//     receipt's next amendment with tax/32), each receipt then read
//     whole by /tax/receipt;
//   - a lineage of 11,100 items below one root (100 children, 100
//     grandchildren each, 100 great-grandchildren under 10 of those), so
//     the page at api.MaxLineageOffset, the deepest a node serves, walks
//     api.MaxLineageOffset+api.MaxPage items and answers a full page.
//
// root, when set, is an item whose history is listed (else the demo milk).
func (h *hostile) prepareQueries(ctx context.Context, amendments int, root string) ([]expensiveQuery, []Outcome, error) {
	var setup []Outcome
	// sent sends msgs signed by priv through node i and fails unless they
	// commit.
	sent := func(what string, i int, priv ed25519.PrivateKey, msgs ...*txv1.Msg) (Outcome, error) {
		height, _, err := h.latest(ctx)
		if err != nil {
			return Outcome{}, err
		}
		o, err := h.send(ctx, i, h.build(priv, uint64(height)+100, msgs...))
		if err != nil {
			return o, fmt.Errorf("%s: %w", what, err)
		}
		setup = append(setup, o)
		if o.Refused || o.Code != 0 || o.Height == 0 {
			return o, fmt.Errorf("%s: %s", what, o)
		}
		return o, nil
	}
	collector, err := h.key("revenue-collector")
	if err != nil {
		return nil, nil, err
	}
	var receipts []string
	var msgs []*txv1.Msg
	for k := 0; k*api.MaxAmendments < amendments; k++ {
		o, err := sent(fmt.Sprintf("issuing receipt %d to amend", k), k, collector, &txv1.Msg{Sum: &txv1.Msg_IssueReceipt{IssueReceipt: &taxv1.MsgIssueReceipt{
			TaxType: "VAT", Payer: testnet.DemoPayer("hostile-"+h.tag, "VAT", "2026-Q3"), Period: "2026-Q3", Amount: 1_000_000,
			BankReference: testnet.DemoBankReference(fmt.Sprintf("HOSTILE-%s-%d", h.tag, k))}}})
		if err != nil {
			return nil, setup, err
		}
		receipt := eventAttr(o.Events, "tax.receipt_issued", "receipt")
		if receipt == "" {
			return nil, setup, fmt.Errorf("issuing receipt %d to amend: no tax.receipt_issued event with its id", k)
		}
		receipts = append(receipts, receipt)
		for j := 0; j < min(api.MaxAmendments, amendments-k*api.MaxAmendments); j++ {
			msgs = append(msgs, &txv1.Msg{Sum: &txv1.Msg_CorrectReceipt{CorrectReceipt: &taxv1.MsgCorrectReceipt{
				ReceiptId: receipt, Reason: taxv1.Reason_REASON_KEYING_ERROR, Amount: 999_999 + uint64(j%2)}}}) // each differs from the one before
		}
	}
	for done := 0; done < len(msgs); done += 32 { // 32: the most messages a transaction may carry
		batch := msgs[done:min(done+32, len(msgs))]
		if _, err := sent(fmt.Sprintf("amendments %d..%d of %d", done+1, done+len(batch), amendments), done, collector, batch...); err != nil {
			return nil, setup, err
		}
	}

	producer, err := h.key("dalefarm-producer")
	if err != nil {
		return nil, setup, err
	}
	deep := "lgtin:05012345678900.D" + h.tag
	child := func(parent string, i int) string {
		if parent == deep {
			return fmt.Sprintf("h:D%s.%d", h.tag, i)
		}
		return fmt.Sprintf("%s.%d", parent, i)
	}
	split := func(parent string, quantity uint64) *txv1.Msg {
		m := &provenancev1.MsgSplit{ItemId: parent, Location: "urn:gln:5012345000017"}
		for i := 0; i < provenance.MaxOutputs; i++ {
			m.Parts = append(m.Parts, &provenancev1.SplitPart{Id: child(parent, i), Quantity: quantity / provenance.MaxOutputs})
		}
		return &txv1.Msg{Sum: &txv1.Msg_SplitItem{SplitItem: m}}
	}
	const top = provenance.MaxOutputs * provenance.MaxOutputs * provenance.MaxOutputs // 1 each in the third generation
	if _, err := sent("registering and splitting the deep lineage's root", 0, producer,
		&txv1.Msg{Sum: &txv1.Msg_RegisterItem{RegisterItem: &provenancev1.MsgRegisterItem{Id: deep, Product: "05012345678900", Quantity: top, Unit: "l", Origin: "urn:gln:5012345000017"}}},
		split(deep, top)); err != nil {
		return nil, setup, err
	}
	var splits []*txv1.Msg
	for i := 0; i < provenance.MaxOutputs; i++ {
		splits = append(splits, split(child(deep, i), top/provenance.MaxOutputs))
	}
	for j := 0; j < 10; j++ {
		splits = append(splits, split(child(child(deep, 0), j), top/provenance.MaxOutputs/provenance.MaxOutputs))
	}
	for done := 0; done < len(splits); done += 10 { // 1,000 children a transaction
		batch := splits[done:min(done+10, len(splits))]
		if _, err := sent(fmt.Sprintf("splits %d..%d of %d in the deep lineage", done+1, done+len(batch), len(splits)), done/10, producer, batch...); err != nil {
			return nil, setup, err
		}
	}

	if root == "" {
		root = "lgtin:05012345678900.DALE-MILK-001"
	}
	down := api.LineageArg(provenancev1.LineageDirection_LINEAGE_DIRECTION_DOWN, deep)
	deepest := api.ListData(down, binary.BigEndian.AppendUint64(nil, api.MaxLineageOffset), 0)
	history := api.ListData([]byte(root), nil, 0)
	held := api.ListData(api.AddressOf(producer.Public().(ed25519.PublicKey)), nil, 0)
	qs := []expensiveQuery{
		{path: api.PathInvariants, walk: true},
		{path: api.PathFundsInvariants, walk: true},
		// The deepest lineage page a node serves, a full page deep into a
		// lineage that has one: the costliest lineage query answered.
		{path: api.PathProvenanceLineage, data: deepest},
		// One position further: refused, not walked.
		{path: api.PathProvenanceLineage, data: api.ListData(down, binary.BigEndian.AppendUint64(nil, api.MaxLineageOffset+1), 0), refused: "tx/17"},
		{path: api.PathFundsBalances},
		{path: api.PathTaxReceipts, data: api.ListData([]byte("VAT/2026-Q3"), nil, 0)},
		{path: api.PathGovProposals},
		{path: api.PathProvenanceHistory, data: history},
		{path: api.PathProvenanceHeld, data: held},
		{path: api.PathBenefitsProgrammes},
		{path: api.PathMembers, data: api.ListData([]byte("dalefarm"), nil, 0)},
	}
	for _, r := range receipts {
		qs = append(qs, expensiveQuery{path: api.PathTaxReceipt, data: api.ListData([]byte(r), nil, 0)})
	}
	// What was built is what the queries read: each receipt with its
	// amendments, a full page at the deepest lineage position (asked
	// again while the node answers busy).
	records := func(path string, data []byte) (*appv1.ProvedList, error) {
		res, _, err := h.c.Clients[0].QueryWhenFree(ctx, 30*time.Second, path, data, 0, false)
		if err != nil {
			return nil, err
		}
		list := &appv1.ProvedList{}
		return list, proto.Unmarshal(res.Value, list)
	}
	for k, r := range receipts {
		list, err := records(api.PathTaxReceipt, api.ListData([]byte(r), nil, 0))
		if err != nil {
			return nil, setup, fmt.Errorf("reading receipt %s: %w", r, err)
		}
		if want := 2 + min(api.MaxAmendments, amendments-k*api.MaxAmendments); len(list.Entries) != want {
			return nil, setup, fmt.Errorf("receipt %s answers %d records (the receipt, its state and its amendments); want %d", r, len(list.Entries), want)
		}
	}
	list, err := records(api.PathProvenanceLineage, deepest)
	if err != nil {
		return nil, setup, fmt.Errorf("reading the deepest lineage page served: %w", err)
	}
	if len(list.Entries) != api.MaxPage {
		return nil, setup, fmt.Errorf("the lineage page at position %d answers %d items; want a full page of %d", api.MaxLineageOffset, len(list.Entries), api.MaxPage)
	}
	return qs, setup, nil
}

func eventAttr(events []abci.Event, typ, key string) string {
	for _, e := range events {
		if e.Type != typ {
			continue
		}
		for _, a := range e.Attributes {
			if a.Key == key {
				return a.Value
			}
		}
	}
	return ""
}

// QueryFlood is the outcome of the query flood.
type QueryFlood struct {
	Workers      int
	Sent, Errors int64
	Codes        map[string]int64 // answers by path and code ("ok" or codespace/code)
	// Unexpected counts the answers, by path and code, that are neither
	// what the node owes the query (ok, or its coded refusal: walks tx/41
	// on a public node, the lineage past its deepest page tx/17) nor a
	// busy refusal (tx/70, the query budget's or the reader lane's): an
	// internal error (tally/1), an uncoded JSON-RPC error, another code.
	Unexpected       map[string]int64
	Without, With    Intervals // pooled over the rounds, transitions left out
	Rounds           int
	FromW, ToW       int64 // the first and last heights measured
	Flooding         time.Duration
	SlowestQuery     time.Duration
	SlowestQueryPath string
	// CPUWithout and CPUWith are where the CPU went in each kind of phase.
	CPUWithout, CPUWith CPUUse
}

// Answered is the rate of answers (of any code) while the flood ran.
func (r QueryFlood) Answered() float64 {
	if r.Flooding <= 0 {
		return 0
	}
	return float64(r.Sent-r.Errors) / r.Flooding.Seconds()
}

// floodSettle is how many block intervals after each switch between
// flooding and not are left out of both samples: a header's time is set
// by the votes for the block before it, and queries in flight when the
// flood stops are still answered, so the first intervals of a phase
// belong to the one before.
const floodSettle = 2

// queryFlood compares block intervals with and without a flood of qs:
// rounds of phase blocks without queries, then phase blocks while workers
// goroutines per public node send qs round-robin as fast as the nodes
// answer. Alternating (rather than one long phase of each) keeps the
// comparison fair on a shared machine whose load drifts over minutes.
//
// The flooding client is as cheap as a client can be, because on one box
// its CPU is taken from the nodes under test, while a real attacker's is
// its own: each query's JSON-RPC request is built once, and each answer
// is read into a reused buffer and only scanned for its code, not
// decoded. The flood is not paced: a worker sends its next query as soon
// as the last is answered.
func (h *hostile) queryFlood(ctx context.Context, qs []expensiveQuery, workers int, phase int64, rounds int) (QueryFlood, error) {
	r := QueryFlood{Workers: workers, Rounds: rounds, Codes: map[string]int64{}, Unexpected: map[string]int64{}}
	// An attacker reaches the nodes whose RPC is public (operator_queries
	// off); with none, every node.
	var targets []testnet.Node
	for i, n := range h.c.M.Nodes {
		if len(h.c.Public) == 0 || h.c.Public[i] {
			targets = append(targets, n)
		}
	}
	public := len(h.c.Public) > 0
	bodies := make([][]byte, len(qs))
	for k, q := range qs {
		bodies[k] = []byte(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"abci_query","params":{"path":%q,"data":"%X","height":"0","prove":false}}`, k, q.path, q.data))
	}
	var err error
	if r.FromW, _, err = h.latest(ctx); err != nil {
		return r, err
	}
	var cpuWithout, cpuWith []CPUUse
	for round := 0; round < rounds; round++ {
		// Without.
		from := h.c.MaxHeight(ctx)
		cpu0 := h.c.cpuSample()
		if err := h.waitHeight(ctx, from+phase); err != nil {
			return r, err
		}
		cpuWithout = append(cpuWithout, h.c.cpuSample().since(cpu0))
		iv, err := h.blockIntervals(ctx, from, from+phase)
		if err != nil {
			return r, err
		}
		r.Without = append(r.Without, iv[min(floodSettle, len(iv)):]...)

		// With.
		from = h.c.MaxHeight(ctx)
		cpu0 = h.c.cpuSample()
		fctx, stop := context.WithCancel(ctx)
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, n := range targets {
			post, err := rawPoster(n.RPC, workers)
			if err != nil {
				stop()
				return r, err
			}
			for g := 0; g < workers; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					buf := make([]byte, 0, 64<<10)
					for k := g; fctx.Err() == nil; k++ {
						q := k % len(qs)
						t0 := time.Now()
						var err error
						buf, err = post(fctx, bodies[q], buf[:0])
						d := time.Since(t0)
						code := answerCode(buf)
						mu.Lock()
						r.Sent++
						switch {
						case err != nil:
							if fctx.Err() == nil {
								r.Errors++
							}
						default:
							r.Codes[qs[q].path+" "+code]++
							if !qs[q].expected(code, public) {
								r.Unexpected[qs[q].path+" "+code]++
							}
						}
						if err == nil && d > r.SlowestQuery {
							r.SlowestQuery, r.SlowestQueryPath = d, qs[q].path
						}
						mu.Unlock()
					}
				}()
			}
		}
		if round == 0 && h.profileDir != "" {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var nodes []int
				for i := range h.c.M.Nodes {
					if i == 0 || i == len(h.c.M.Nodes)-1 { // the operator's node and a flooded one
						nodes = append(nodes, i)
					}
				}
				if err := h.c.profileWindow(fctx, h.profileDir, 5*time.Second, nodes...); err != nil {
					h.c.t.Logf("profiles: %v", err)
				}
			}()
		}
		t0 := time.Now()
		werr := h.waitHeight(ctx, from+phase)
		r.Flooding += time.Since(t0)
		cpuWith = append(cpuWith, h.c.cpuSample().since(cpu0))
		stop()
		wg.Wait()
		if werr != nil {
			return r, werr
		}
		if iv, err = h.blockIntervals(ctx, from, from+phase); err != nil {
			return r, err
		}
		r.With = append(r.With, iv[min(floodSettle, len(iv)):]...)
		r.ToW = from + phase
	}
	r.CPUWithout, r.CPUWith = sumCPU(cpuWithout), sumCPU(cpuWith)
	return r, nil
}

// expected says whether code (answerCode's) is an answer the node owes q,
// asked of a node whose RPC is public or not: q's own (ok, or q.refused;
// a walk on a public node tx/41), or busy (tx/70, from the query budget or
// the reader lane) for any query.
func (q expensiveQuery) expected(code string, public bool) bool {
	own := "ok"
	switch {
	case q.refused != "":
		own = q.refused
	case q.walk && public:
		own = "tx/41"
	}
	return code == own || code == "tx/70" || code == answerBusyLane
}

// rawPoster returns a function that POSTs a JSON-RPC body to a node's
// RPC address (tcp:// or unix://) over keep-alive connections and appends
// the answer's bytes to buf, undecoded.
func rawPoster(addr string, conns int) (func(ctx context.Context, body, buf []byte) ([]byte, error), error) {
	tr := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: conns}
	url := ""
	switch {
	case strings.HasPrefix(addr, "tcp://"):
		url = "http://" + strings.TrimPrefix(addr, "tcp://") + "/"
	case strings.HasPrefix(addr, "unix://"):
		sock := strings.TrimPrefix(addr, "unix://")
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}
		url = "http://unix/"
	default:
		return nil, fmt.Errorf("query flood: RPC address %q is neither tcp:// nor unix://", addr)
	}
	hc := &http.Client{Transport: tr}
	return func(ctx context.Context, body, buf []byte) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return buf, err
		}
		req.Header.Set("Content-Type", "application/json")
		res, err := hc.Do(req)
		if err != nil {
			return buf, err
		}
		defer res.Body.Close()
		for {
			if len(buf) == cap(buf) {
				buf = append(buf, 0)[:len(buf)]
			}
			n, err := res.Body.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if err == io.EOF {
				return buf, nil
			}
			if err != nil {
				return buf, err
			}
		}
	}, nil
}

// answerBusyLane is answerCode's name for the reader lane's refusal: a
// JSON-RPC error (HTTP 503) whose data is tx/70.
const answerBusyLane = "tx/70 (the node's RPC)"

// answerCode is an abci_query answer's code as "ok" or "codespace/code",
// found by scanning its JSON rather than decoding it (a zero code is left
// out of the JSON).
func answerCode(b []byte) string {
	field := func(name string) string {
		i := bytes.Index(b, []byte(`"`+name+`":`))
		if i < 0 {
			return ""
		}
		v := b[i+len(name)+3:]
		if j := bytes.IndexAny(v, ",}"); j >= 0 {
			v = v[:j]
		}
		return strings.Trim(string(v), `"`)
	}
	if bytes.Contains(b, []byte(`"error":`)) {
		if bytes.Contains(b, []byte(`tx/70`)) {
			return answerBusyLane
		}
		return "rpc error"
	}
	code := field("code")
	if code == "" || code == "0" {
		return "ok"
	}
	return field("codespace") + "/" + code
}

// The query flood's answers are judged by code, whatever their timing:
// each query's own answer or busy passes; an internal error, an uncoded
// error, or a refusal other than the query's own is a finding.
func TestQueryFloodAnswersAreJudgedByCode(t *testing.T) {
	walk := expensiveQuery{path: api.PathInvariants, walk: true}
	deep := expensiveQuery{path: api.PathProvenanceLineage, refused: "tx/17"}
	plain := expensiveQuery{path: api.PathFundsBalances}
	answer := func(body string) string { return answerCode([]byte(body)) }
	ok := answer(`{"jsonrpc":"2.0","id":1,"result":{"response":{"value":"AA==","height":"9"}}}`)
	busy := answer(`{"jsonrpc":"2.0","id":1,"result":{"response":{"code":70,"log":"tx/70: node busy answering queries","codespace":"tx"}}}`)
	lane := answer(`{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"Internal error","data":"tx/70: node busy answering queries: try again in 20 ms"}}`)
	internal := answer(`{"jsonrpc":"2.0","id":1,"result":{"response":{"code":1,"log":"internal error: boom","codespace":"tally"}}}`)
	uncoded := answer(`{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"Internal error","data":"panic"}}`)
	operator := answer(`{"jsonrpc":"2.0","id":1,"result":{"response":{"code":41,"codespace":"tx"}}}`)
	invalid := answer(`{"jsonrpc":"2.0","id":1,"result":{"response":{"code":17,"codespace":"tx"}}}`)
	for _, c := range []struct {
		q      expensiveQuery
		code   string
		public bool
		want   bool
	}{
		{plain, ok, true, true},
		{plain, busy, true, true},
		{plain, lane, true, true},
		{plain, internal, true, false},
		{plain, uncoded, true, false},
		{plain, operator, true, false},
		{walk, operator, true, true},
		{walk, ok, true, false}, // a public node walked all of state
		{walk, ok, false, true}, // the operator's node does
		{walk, operator, false, false},
		{walk, busy, false, true}, // another walk is running
		{deep, invalid, true, true},
		{deep, ok, true, false}, // the lineage past its deepest page was walked
		{deep, internal, true, false},
	} {
		if got := c.q.expected(c.code, c.public); got != c.want {
			t.Errorf("%s answered %q (public %v): expected %v, want %v", c.q.path, c.code, c.public, got, c.want)
		}
	}
}

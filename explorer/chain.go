package explorer

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	rpcclient "github.com/cometbft/cometbft/rpc/client"
	cmttypes "github.com/cometbft/cometbft/types"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/client"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
)

// readTimeout bounds every page's reads from the chain.
const readTimeout = 10 * time.Second

// snap reads state at one height from one node, every record checked
// against the app hash of the header after that height.
type snap struct {
	s      *Server
	ctx    context.Context
	c      *client.Client
	node   string
	latest int64 // the node's latest block
	// height is the state version read: latest-2, so its app hash is in
	// header latest-1, whose canonical commit is in block latest — there
	// even when the chain has halted.
	height int64
	root   []byte
	method string // how root's header was checked
	// unverified says why the light client could not verify root's
	// header; empty when it did.
	unverified string
	// namer caches the names this page looked up (names.go); each request
	// has its own.
	namer *namer
}

// reader picks the first configured node that answers and fixes the
// height every record of the page is read at.
func (s *Server) reader(r *http.Request) (*snap, context.CancelFunc, error) {
	ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
	s.mu.Lock()
	last := s.last
	s.mu.Unlock()
	if last != nil && time.Since(last.at) < snapReuse {
		sn := *last.sn
		sn.ctx = ctx
		sn.namer = nil
		return &sn, cancel, nil
	}
	var errs []string
	for i, c := range s.clients {
		sctx, scancel := context.WithTimeout(ctx, 1500*time.Millisecond)
		_, h, err := c.Status(sctx)
		scancel()
		if err != nil || h < 3 {
			errs = append(errs, fmt.Sprintf("%s: %v", s.cfg.Nodes[i].Name, firstErr(err, "no blocks yet")))
			continue
		}
		sn := &snap{s: s, ctx: ctx, c: c, node: s.cfg.Nodes[i].Name, latest: h, height: h - 2}
		rctx, rcancel := context.WithTimeout(ctx, 3*time.Second)
		root, err := s.rootAt(rctx, c, sn.height)
		rcancel()
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", s.cfg.Nodes[i].Name, err))
			continue
		}
		sn.root, sn.method, sn.unverified = root.root, root.method, root.unverified
		s.mu.Lock()
		s.last = &lastSnap{sn: sn, at: time.Now()}
		s.mu.Unlock()
		return sn, cancel, nil
	}
	cancel()
	return nil, func() {}, fmt.Errorf("no node answered (%s)", strings.Join(errs, "; "))
}

func firstErr(err error, otherwise string) string {
	if err != nil {
		return err.Error()
	}
	return otherwise
}

// snapReuse is how long one node and height serve successive pages:
// long enough that a page's burst of requests costs one status check,
// short enough that a stopped node is noticed at once.
const snapReuse = 700 * time.Millisecond

type lastSnap struct {
	sn *snap
	at time.Time
}

// rootAt is the app hash of state at height (from header height+1): from
// the light client when it can verify the header; else the node's word,
// marked unverified with the reason, so pages still show what the node
// says but never as verified (light.go). Only verified roots are kept.
func (s *Server) rootAt(ctx context.Context, c *client.Client, height int64) (*checkedRoot, error) {
	s.mu.Lock()
	cr, ok := s.roots[height]
	s.mu.Unlock()
	if ok {
		return cr, nil
	}
	cr, lightErr := s.lightHeaderRoot(ctx, height)
	if lightErr != nil {
		root, err := c.AppHashAfter(ctx, height)
		if err != nil {
			return nil, err
		}
		return &checkedRoot{root: root, unverified: "the light client could not verify header " + strconv.FormatInt(height+1, 10) + ": " + lightErr.Error()}, nil
	}
	s.mu.Lock()
	if len(s.roots) > 10_000 {
		s.roots = map[int64]*checkedRoot{}
	}
	s.roots[height] = cr
	s.mu.Unlock()
	return cr, nil
}

func (sn *snap) verified() *Verified {
	if sn.unverified != "" {
		return &Verified{Reason: sn.unverified, StateHeight: sn.height, HeaderHeight: sn.height + 1, Node: sn.node}
	}
	return &Verified{OK: true, Method: sn.method, StateHeight: sn.height, HeaderHeight: sn.height + 1,
		AppHash: strings.ToUpper(hex.EncodeToString(sn.root)), Node: sn.node}
}

func (sn *snap) view(title string, data any) *view {
	sn.names().annotate(data)
	return &view{Title: title, Height: sn.height, Verified: sn.verified(), Data: data}
}

// errAbsent is a record proven absent.
var errAbsent = errors.New("proven absent")

// raw reads path at the snap's height with a proof and checks it. A
// record proven absent is errAbsent.
func (sn *snap) raw(path string, data []byte) ([]byte, error) {
	res, err := sn.c.RPC.ABCIQueryWithOptions(sn.ctx, path, data, rpcclient.ABCIQueryOptions{Height: sn.height, Prove: true})
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", path, err)
	}
	r := res.Response
	absent := r.Value == nil && r.Codespace == "tx" && r.Code == 18
	if r.Code != 0 && !absent {
		return nil, &queryError{path: path, log: r.Log}
	}
	if r.ProofOps == nil || len(r.ProofOps.Ops) != 1 || r.ProofOps.Ops[0].Type != client.ProofOpType {
		return nil, fmt.Errorf("query %s: the node returned no %s proof", path, client.ProofOpType)
	}
	if r.Height != sn.height {
		return nil, fmt.Errorf("query %s: asked for height %d, answered for %d", path, sn.height, r.Height)
	}
	if err := client.ProvenValue(sn.root, r.Key, r.Value, r.ProofOps.Ops[0].Data); err != nil {
		return nil, fmt.Errorf("query %s: %w", path, err)
	}
	if absent {
		return nil, errAbsent
	}
	return r.Value, nil
}

// queryError is a query the node refused (bad argument, unknown path).
type queryError struct{ path, log string }

func (e *queryError) Error() string { return fmt.Sprintf("query %s: %s", e.path, e.log) }

// record reads one proven record into m.
func (sn *snap) record(path string, data []byte, m proto.Message) error {
	v, err := sn.raw(path, data)
	if err != nil {
		return err
	}
	if err := proto.Unmarshal(v, m); err != nil {
		return fmt.Errorf("query %s: answer does not decode: %w", path, err)
	}
	return nil
}

// list reads a ProvedList answer at the snap's height and checks every
// entry (present or proven absent) against the app hash, and for a listing
// whose layout the client knows, that the page leaves no record out. For
// a listing (api.Page), arg is its ListRequest arg and the answer its
// first page; for other paths arg is the query data.
func (sn *snap) list(path string, arg []byte) (*appv1.ProvedList, error) {
	list, _, err := sn.provenList(path, arg, nil)
	return list, err
}

// provenList is list for the page of a listing after the key after (the
// previous page's next_key), also saying whether the page's range proofs
// showed that it leaves no record out (client.VerifyPage).
func (sn *snap) provenList(path string, arg, after []byte) (*appv1.ProvedList, bool, error) {
	data := arg
	if r, ok := api.RouteOf(path); ok && r.Answer == api.Page {
		data = api.ListData(arg, after, 0)
	}
	list, err := sn.entries(path, data)
	if err != nil {
		return nil, false, err
	}
	l, after, ok := client.ListingOf(path, data)
	if !ok {
		return list, false, nil
	}
	if _, err := client.VerifyPage(sn.root, fmt.Sprintf("app hash %X", sn.root), l, after, list); err != nil {
		return nil, false, fmt.Errorf("query %s: %w", path, err)
	}
	return list, true, nil
}

// listStatus says in words what a page's proofs showed (list nil: a page
// with more after it).
func listStatus(list *appv1.ProvedList, rangeProven bool) string {
	switch {
	case !rangeProven:
		return "each entry proven"
	case list != nil && list.Complete:
		return "complete, proven"
	}
	return "proven: nothing left out up to the last entry of this page"
}

// entries reads a ProvedList answer and checks each entry's proof.
func (sn *snap) entries(path string, data []byte) (*appv1.ProvedList, error) {
	res, err := sn.c.RPC.ABCIQueryWithOptions(sn.ctx, path, data, rpcclient.ABCIQueryOptions{Height: sn.height, Prove: true})
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", path, err)
	}
	r := res.Response
	if r.Code != 0 {
		if r.Codespace == "tx" && r.Code == 18 {
			return nil, errAbsent
		}
		return nil, &queryError{path: path, log: r.Log}
	}
	list := &appv1.ProvedList{}
	if err := proto.Unmarshal(r.Value, list); err != nil {
		return nil, fmt.Errorf("query %s: not a record list: %w", path, err)
	}
	for _, e := range list.Entries {
		if err := sn.check(e); err != nil {
			return nil, fmt.Errorf("query %s: %w", path, err)
		}
	}
	return list, nil
}

func (sn *snap) check(e *appv1.ProvedEntry) error {
	if len(e.Proof) == 0 {
		return fmt.Errorf("record %x has no proof", e.Key)
	}
	v := e.Value
	if len(v) == 0 {
		v = nil
	}
	return client.ProvenValue(sn.root, e.Key, v, e.Proof)
}

// ---- the network page ----

// nodeRow is one configured node as the explorer sees it now.
type nodeRow struct {
	Name       string `json:"name"`
	RPC        string `json:"rpc"`
	Online     bool   `json:"online"`
	Height     int64  `json:"height"`
	AppHash    string `json:"app_hash"`
	CatchingUp bool   `json:"catching_up"`
	Process    string `json:"process,omitempty"` // demo mode: running / stopped
	Error      string `json:"error,omitempty"`
}

type validatorRow struct {
	Address    string `json:"address"`
	Agency     string `json:"agency"`
	AgencyName string `json:"agency_name"`
	Power      int64  `json:"voting_power"`
	LastSigned int64  `json:"last_signed_height"`
	Online     bool   `json:"online"`
}

type blockRow struct {
	Height   int64     `json:"height"`
	Hash     string    `json:"hash"`
	Time     time.Time `json:"time"`
	Txs      int       `json:"txs"`
	Proposer string    `json:"proposer"`
	Signers  []string  `json:"signed_by,omitempty"`
	// Signed of Validators signed the block's commit: the network page
	// shows the count (the names of ten validators do not fit a row), the
	// block page the names.
	Signed     int     `json:"signed"`
	Validators int     `json:"validators"`
	Seconds    float64 `json:"block_seconds"`
	hasSigners bool
}

type networkData struct {
	ChainID     string         `json:"chain_id"`
	Latest      int64          `json:"latest_height"`
	Nodes       []nodeRow      `json:"nodes"`
	Validators  []validatorRow `json:"validators"`
	TotalPower  int64          `json:"total_power"`
	OnlinePower int64          `json:"online_power"`
	OnlineCount int            `json:"online_validators"`
	Blocks      []blockRow     `json:"recent_blocks"`
	Chart       chartSVG       `json:"-"`
	ChartBlocks int            `json:"-"`
	Demo        bool           `json:"demo"`
	Verdict     string         `json:"verdict"`
}

// chartBlocks is how many blocks the chart covers; recentBlocks how many
// are listed with their signatures.
const (
	chartBlocks  = 300
	recentBlocks = 12
	// onlineWithin: a validator whose signature is in one of the last two
	// commits is online (one commit may miss a slow but live validator).
	onlineWithin = 2
)

func (s *Server) nodeRows(ctx context.Context) []nodeRow {
	rows := make([]nodeRow, len(s.cfg.Nodes))
	var wg sync.WaitGroup
	for i, n := range s.cfg.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			row := nodeRow{Name: n.Name, RPC: n.RPC}
			if s.cfg.Demo != nil {
				row.Process = map[bool]string{true: "running", false: "stopped"}[s.cfg.Demo.Running(n.Name)]
			}
			sctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
			defer cancel()
			st, err := s.clients[i].RPC.Status(sctx)
			if err != nil {
				row.Error = "not answering"
			} else {
				row.Online, row.Height, row.CatchingUp = true, st.SyncInfo.LatestBlockHeight, st.SyncInfo.CatchingUp
				row.AppHash = st.SyncInfo.LatestAppHash.String()
			}
			rows[i] = row
		}()
	}
	wg.Wait()
	return rows
}

// operators maps validator addresses to their operating agencies: genesis
// names, and the agencies of validators admitted by a governance vote.
func (s *Server) operators(sn *snap) map[string]string {
	names := maps.Clone(s.validatorNames(sn.ctx, sn.c))
	for addr, ag := range sn.govValidators() {
		if names[addr] == "" {
			names[addr] = ag
		}
	}
	return names
}

// validatorNames maps validator addresses to the names genesis gave them
// (the agency running each seat).
func (s *Server) validatorNames(ctx context.Context, c *client.Client) map[string]string {
	s.mu.Lock()
	names := s.names
	s.mu.Unlock()
	if names != nil {
		return names
	}
	names = map[string]string{}
	g, err := c.RPC.Genesis(ctx)
	if err != nil {
		return names
	}
	for _, v := range g.Genesis.Validators {
		names[v.Address.String()] = v.Name
	}
	s.mu.Lock()
	s.names = names
	s.mu.Unlock()
	return names
}

func (s *Server) network(r *http.Request) (*view, error) {
	nodes := s.nodeRows(r.Context())
	sn, cancel, err := s.reader(r)
	defer cancel()
	d := &networkData{ChainID: s.cfg.ChainID, Nodes: nodes, Demo: s.cfg.Demo != nil}
	if err != nil {
		d.Verdict = "No node is answering: the explorer cannot read the chain. " + err.Error()
		return &view{Title: "Network", Data: d}, nil
	}
	d.Latest = sn.latest
	names := s.operators(sn)
	blocks, err := s.blocks(sn, chartBlocks)
	if err != nil {
		return nil, err
	}
	d.Chart, d.ChartBlocks = blockChart(blocks), len(blocks)
	vals, err := sn.c.RPC.Validators(sn.ctx, &sn.latest, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("validators: %w", err)
	}
	last := map[string]int64{}
	for i := len(blocks) - 1; i >= 0 && i >= len(blocks)-recentBlocks; i-- {
		b := &blocks[i]
		if err := s.fillSigners(sn, b, names); err != nil {
			continue
		}
		for _, a := range b.Signers {
			if last[a] < b.Height {
				last[a] = b.Height
			}
		}
	}
	for _, v := range vals.Validators {
		name := names[v.Address.String()]
		if name == "" {
			name = v.Address.String()
		}
		row := validatorRow{Address: v.Address.String(), Agency: name, AgencyName: firstNonEmpty(sn.names().agency(name), name), Power: v.VotingPower, LastSigned: last[name]}
		row.Online = row.LastSigned > 0 && sn.latest-row.LastSigned < onlineWithin
		if s.cfg.Demo != nil && s.isNode(name) && !s.cfg.Demo.Running(name) {
			row.Online = false // its process is stopped: no need to wait for missed blocks
		}
		d.TotalPower += v.VotingPower
		if row.Online {
			d.OnlinePower += v.VotingPower
			d.OnlineCount++
		}
		d.Validators = append(d.Validators, row)
	}
	sort.Slice(d.Validators, func(i, j int) bool { return d.Validators[i].Agency < d.Validators[j].Agency })
	for i := len(blocks) - 1; i >= 0 && len(d.Blocks) < recentBlocks; i-- {
		d.Blocks = append(d.Blocks, sn.names().agenciesOf(blocks[i]))
	}
	d.Verdict = verdict(d)
	return &view{Title: "Network", Height: sn.latest, Data: d}, nil
}

// isNode reports whether name is one of the local nodes (in demo mode,
// each validator's genesis name is its node's name).
func (s *Server) isNode(name string) bool {
	for _, n := range s.cfg.Nodes {
		if n.Name == name {
			return true
		}
	}
	return false
}

// verdict says in one sentence what the audience should see.
func verdict(d *networkData) string {
	switch {
	case d.TotalPower == 0:
		return ""
	case 3*d.OnlinePower > 2*d.TotalPower && d.OnlinePower == d.TotalPower:
		return "Every agency's validator is signing blocks."
	case 3*d.OnlinePower > 2*d.TotalPower:
		return "Some validators are offline, but more than two thirds of the voting power is signing: the chain carries on."
	default:
		return "Less than two thirds of the voting power is signing: the chain has stopped adding blocks, and will not fork. It resumes when enough validators return."
	}
}

// blocks returns up to n block summaries ending at the latest block,
// oldest first, from the cache where possible.
func (s *Server) blocks(sn *snap, n int64) ([]blockRow, error) {
	lo := max(1, sn.latest-n+1)
	for hi := sn.latest; hi >= lo; {
		s.mu.Lock()
		_, have := s.metas[hi]
		s.mu.Unlock()
		if have {
			hi--
			continue
		}
		from := max(lo, hi-19)
		info, err := sn.c.RPC.BlockchainInfo(sn.ctx, from, hi)
		if err != nil {
			return nil, fmt.Errorf("block headers %d-%d: %w", from, hi, err)
		}
		s.mu.Lock()
		for _, m := range info.BlockMetas {
			s.metas[m.Header.Height] = blockRow{Height: m.Header.Height, Hash: m.BlockID.Hash.String(), Time: m.Header.Time,
				Txs: m.NumTxs, Proposer: m.Header.ProposerAddress.String()}
		}
		s.mu.Unlock()
		hi = from - 1
	}
	names := s.operators(sn)
	out := make([]blockRow, 0, sn.latest-lo+1)
	s.mu.Lock()
	defer s.mu.Unlock()
	for h := lo; h <= sn.latest; h++ {
		b, ok := s.metas[h]
		if !ok {
			continue
		}
		if nm := names[b.Proposer]; nm != "" {
			b.Proposer = nm
		}
		if prev, ok := s.metas[h-1]; ok {
			b.Seconds = b.Time.Sub(prev.Time).Seconds()
		}
		out = append(out, b)
	}
	return out, nil
}

// fillSigners sets which validators signed block b (its commit).
func (s *Server) fillSigners(sn *snap, b *blockRow, names map[string]string) error {
	s.mu.Lock()
	cached := s.metas[b.Height]
	s.mu.Unlock()
	if cached.hasSigners {
		b.Signers, b.Signed, b.Validators = cached.Signers, cached.Signed, cached.Validators
		return nil
	}
	h := b.Height
	cm, err := sn.c.RPC.Commit(sn.ctx, &h)
	if err != nil {
		return err
	}
	var signers []string
	for _, sig := range cm.Commit.Signatures {
		if sig.BlockIDFlag != cmttypes.BlockIDFlagCommit {
			continue
		}
		n := names[sig.ValidatorAddress.String()]
		if n == "" {
			n = sig.ValidatorAddress.String()
		}
		signers = append(signers, n)
	}
	sort.Strings(signers)
	// The commit has one entry per validator of the block's set, absent
	// ones included.
	b.Signers, b.Signed, b.Validators = signers, len(signers), len(cm.Commit.Signatures)
	if cm.CanonicalCommit {
		s.mu.Lock()
		m := s.metas[h]
		m.Signers, m.Signed, m.Validators, m.hasSigners = signers, b.Signed, b.Validators, true
		s.metas[h] = m
		s.mu.Unlock()
	}
	return nil
}

// ---- one block, one transaction ----

type txRow struct {
	Hash   string `json:"hash"`
	Signer string `json:"signer"`
	// SignerName is the signer's display name, or its agency and roles.
	SignerName string `json:"signer_name,omitempty"`
	// Messages are the message kinds in words ("issue receipt").
	Messages []string `json:"messages"`
	// Sentences say what each message did, with names and amounts.
	Sentences []string `json:"sentences,omitempty"`
	Code      uint32   `json:"code"`
	Log       string   `json:"log,omitempty"`
	Height    int64    `json:"height"`
	Events    []string `json:"events,omitempty"`
	Body      any      `json:"body,omitempty"`
}

type blockData struct {
	blockRow
	AppHash  string  `json:"app_hash"`
	DataHash string  `json:"data_hash"`
	TxList   []txRow `json:"transactions"`
}

func (s *Server) block(r *http.Request) (*view, error) {
	h, err := strconv.ParseInt(r.PathValue("height"), 10, 64)
	if err != nil || h < 1 {
		return nil, badRequest("A block height is a whole number from 1.")
	}
	sn, cancel, err := s.reader(r)
	defer cancel()
	if err != nil {
		return nil, err
	}
	if h > sn.latest {
		return nil, notFound("Block %d has not been made yet; the chain is at height %d.", h, sn.latest)
	}
	b, err := sn.c.RPC.Block(sn.ctx, &h)
	if err != nil {
		return nil, notFound("Block %d is not available from the node (it may have been pruned).", h)
	}
	names := s.operators(sn)
	d := &blockData{blockRow: blockRow{Height: h, Hash: b.BlockID.Hash.String(), Time: b.Block.Time, Txs: len(b.Block.Txs),
		Proposer: nameOr(names, b.Block.ProposerAddress.String())}, AppHash: b.Block.AppHash.String(), DataHash: b.Block.DataHash.String()}
	_ = s.fillSigners(sn, &d.blockRow, names)
	d.blockRow = sn.names().agenciesOf(d.blockRow)
	results, _ := sn.c.RPC.BlockResults(sn.ctx, &h)
	for i, raw := range b.Block.Txs {
		row, body := describeTx(raw)
		row.Height = h
		var events []abci.Event
		if results != nil && i < len(results.TxsResults) {
			row.Code, row.Log = results.TxsResults[i].Code, results.TxsResults[i].Log
			events = results.TxsResults[i].Events
		}
		sn.names().sentences(&row, body, events)
		d.TxList = append(d.TxList, row)
	}
	// The block's header and commit checked: its commit signed by the
	// validator set, and the transactions hash to the header's data hash.
	v := &Verified{Node: sn.node, StateHeight: h, HeaderHeight: h}
	if err := s.checkBlock(sn, h, b.Block); err == nil {
		v.OK, v.Method, v.AppHash = true, blockMethod, d.AppHash
	} else {
		v.Reason = err.Error()
	}
	return &view{Title: fmt.Sprintf("Block %d", h), Height: h, Verified: v, Data: d}, nil
}

func nameOr(names map[string]string, addr string) string {
	if n := names[addr]; n != "" {
		return n
	}
	return addr
}

// blockMethod is how a block page's block was checked.
const blockMethod = "the block's header was verified by the light client from its trust root and cross-checked with witnesses; the block hashes to that header and its transactions to the header's data hash"

// checkBlock checks block h against the header the light client verified
// at h: the block is that header's and its transactions hash to the
// header's data hash. It returns the verified header's data hash.
func (s *Server) checkBlock(sn *snap, h int64, b *cmttypes.Block) error {
	lb, _, err := s.lightHeader(sn.ctx, h)
	if err != nil {
		return fmt.Errorf("the light client could not verify header %d: %w", h, err)
	}
	if !bytes.Equal(b.Hash(), lb.Hash()) {
		return fmt.Errorf("node %s serves block %X at height %d; the light client verified %X", sn.node, b.Hash(), h, lb.Hash())
	}
	if !bytes.Equal(b.Txs.Hash(), lb.DataHash) {
		return fmt.Errorf("block %d's transactions do not hash to its verified header's data hash", h)
	}
	return nil
}

// describeTx decodes a transaction's signer and message kinds; body is
// nil when the transaction does not decode.
func describeTx(raw []byte) (txRow, *txv1.TxBody) {
	row := txRow{Hash: strings.ToUpper(hex.EncodeToString(client.TxHash(raw)))}
	tx := &txv1.Tx{}
	body := &txv1.TxBody{}
	if proto.Unmarshal(raw, tx) != nil || proto.Unmarshal(tx.BodyBytes, body) != nil {
		row.Messages = []string{"(undecodable)"}
		return row, nil
	}
	row.Signer = hex.EncodeToString(body.Signer)
	for _, m := range body.Messages {
		row.Messages = append(row.Messages, msgKind(m))
	}
	row.Body = protoMap(body)
	return row, body
}

func msgKind(m *txv1.Msg) string {
	ref := m.ProtoReflect()
	f := ref.WhichOneof(ref.Descriptor().Oneofs().ByName("sum"))
	if f == nil {
		return "(empty)"
	}
	return camelWords(strings.TrimPrefix(string(f.Message().Name()), "Msg"))
}

// camelWords writes "IssueReceipt" as "issue receipt".
func camelWords(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte(' ')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (s *Server) tx(r *http.Request) (*view, error) {
	hash, err := hex.DecodeString(r.PathValue("hash"))
	if err != nil || len(hash) != 32 {
		return nil, badRequest("A transaction hash is 64 hexadecimal characters.")
	}
	sn, cancel, err := s.reader(r)
	defer cancel()
	if err != nil {
		return nil, err
	}
	res, err := sn.c.RPC.Tx(sn.ctx, hash, true)
	if err != nil {
		return nil, notFound("No transaction with hash %X is in the chain (as indexed by node %s).", hash, sn.node)
	}
	row, body := describeTx(res.Tx)
	row.Height, row.Code, row.Log = res.Height, res.TxResult.Code, res.TxResult.Log
	sn.names().sentences(&row, body, res.TxResult.Events)
	for _, e := range res.TxResult.Events {
		var attrs []string
		for _, a := range e.Attributes {
			attrs = append(attrs, a.Key+"="+a.Value)
		}
		row.Events = append(row.Events, e.Type+" "+strings.Join(attrs, " "))
	}
	v := &Verified{Node: sn.node, StateHeight: res.Height, HeaderHeight: res.Height}
	b, err := sn.c.RPC.Block(sn.ctx, &res.Height)
	if err == nil {
		err = s.checkBlock(sn, res.Height, b.Block)
	}
	if err == nil {
		err = res.Proof.Validate(b.Block.DataHash)
	}
	if err == nil {
		v.OK, v.AppHash = true, b.Block.AppHash.String()
		v.Method = "a Merkle proof of the transaction's inclusion was checked against the data hash of block " + strconv.FormatInt(res.Height, 10) + ", whose header the light client verified from its trust root and cross-checked with witnesses"
	} else {
		v.Reason = err.Error()
	}
	sn.names().annotate(&row)
	return &view{Title: "Transaction " + row.Hash[:12], Height: res.Height, Verified: v, Data: row}, nil
}

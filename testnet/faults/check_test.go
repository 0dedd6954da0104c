package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	coretypes "github.com/cometbft/cometbft/rpc/core/types"
	"github.com/cometbft/cometbft/types"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/client"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
)

// chainView is what one node's block store says, heights 1..len.
type chainView struct {
	blockHash [][]byte         // index h-1
	appHash   [][]byte         // index h-1: the app hash in header h (state after h-1)
	txHeight  map[string]int64 // tx hash → height
	txCount   map[string]int   // tx hash → blocks it is in (more than one is a replay)
}

func (c *Cluster) readChain(ctx context.Context, i int, upTo int64) (*chainView, error) {
	cl := c.Clients[i]
	v := &chainView{txHeight: map[string]int64{}, txCount: map[string]int{}}
	for lo := int64(1); lo <= upTo; lo += 20 {
		hi := min(lo+19, upTo)
		var res *coretypes.ResultBlockchainInfo
		err := patiently(ctx, func() (err error) { res, err = cl.RPC.BlockchainInfo(ctx, lo, hi); return err })
		if err != nil {
			return nil, fmt.Errorf("%s: blockchain %d..%d: %w", c.M.Nodes[i].Name, lo, hi, err)
		}
		metas := slices.Clone(res.BlockMetas)
		slices.SortFunc(metas, func(a, b *types.BlockMeta) int { return int(a.Header.Height - b.Header.Height) })
		if int64(len(metas)) != hi-lo+1 {
			return nil, fmt.Errorf("%s: asked for blocks %d..%d, got %d", c.M.Nodes[i].Name, lo, hi, len(metas))
		}
		for _, m := range metas {
			v.blockHash = append(v.blockHash, m.BlockID.Hash)
			v.appHash = append(v.appHash, m.Header.AppHash)
			if m.NumTxs == 0 {
				continue
			}
			h := m.Header.Height
			var b *coretypes.ResultBlock
			err := patiently(ctx, func() (err error) { b, err = cl.RPC.Block(ctx, &h); return err })
			if err != nil {
				return nil, fmt.Errorf("%s: block %d: %w", c.M.Nodes[i].Name, h, err)
			}
			for _, tx := range b.Block.Txs {
				v.txHeight[string(tx.Hash())] = h
				v.txCount[string(tx.Hash())]++
			}
		}
	}
	return v, nil
}

// patiently calls read until it succeeds, fails other than with a public
// node's "busy answering readers" (tx/70: its reader budget is spent, try
// again), or ctx ends. The end checks are a reader like any other: after a
// query flood a public node's budget is in debt for a while.
func patiently(ctx context.Context, read func() error) error {
	for {
		err := read()
		if err == nil || !strings.Contains(err.Error(), "tx/70") {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Verdict is the outcome of the end checks.
type Verdict struct {
	CommonHeight int64
	Reported     int // workload transactions some node reported committed
	InBlocks     int // workload transactions found in the common blocks
	Findings     []string
	Notes        []string // facts worth reporting that break no rule
}

// Check waits (up to a minute) for every node to answer and catch up, then
// checks over heights 1..the lowest common height: every node has the same
// block hash and app hash at every height; every transaction that any
// node reported committed is in the same block on every node; no accepted
// invalid transaction (forbidden) is in any block; every node's
// invariants hold; no node panicked or exited on its own.
func (c *Cluster) Check(ctx context.Context, w *Workload, forbidden [][]byte) Verdict {
	var v Verdict
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	target := c.MaxHeight(wctx)
	for i := range c.Clients {
		for c.Height(wctx, i) < target && wctx.Err() == nil {
			time.Sleep(100 * time.Millisecond)
		}
	}
	wcancel()
	v.CommonHeight = -1
	for i := range c.Clients {
		h := c.Height(ctx, i)
		for try := 0; h == 0 && try < 60 && ctx.Err() == nil; try++ {
			time.Sleep(500 * time.Millisecond) // a public node busy with readers (tx/70) says ask again
			h = c.Height(ctx, i)
		}
		if h == 0 {
			v.Findings = append(v.Findings, fmt.Sprintf("%s does not answer at the end", c.M.Nodes[i].Name))
			continue
		}
		if v.CommonHeight < 0 || h < v.CommonHeight {
			v.CommonHeight = h
		}
	}
	if v.CommonHeight <= 0 {
		v.Findings = append(v.Findings, "no node answers")
		return v
	}
	if v.CommonHeight < target {
		v.Findings = append(v.Findings, fmt.Sprintf("some node stayed below height %d a minute after the faults ended (lowest %d)", target, v.CommonHeight))
	}

	views := make([]*chainView, len(c.Clients))
	errs := make([]error, len(c.Clients))
	var wg sync.WaitGroup
	for i := range c.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			views[i], errs[i] = c.readChain(ctx, i, v.CommonHeight)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			v.Findings = append(v.Findings, err.Error())
			return v
		}
	}
	names := c.Names()
	for h := int64(1); h <= v.CommonHeight; h++ {
		for i := 1; i < len(views); i++ {
			if !bytes.Equal(views[i].blockHash[h-1], views[0].blockHash[h-1]) {
				v.Findings = append(v.Findings, fmt.Sprintf("FORK at height %d: %s has block %X, %s has %X", h, names[0], views[0].blockHash[h-1], names[i], views[i].blockHash[h-1]))
			}
			if !bytes.Equal(views[i].appHash[h-1], views[0].appHash[h-1]) {
				v.Findings = append(v.Findings, fmt.Sprintf("APP HASH DIVERGES in header %d: %s has %X, %s has %X", h, names[0], views[0].appHash[h-1], names[i], views[i].appHash[h-1]))
			}
		}
	}

	if w != nil {
		reported := w.Reported()
		unindexed := map[string]int{}
		for _, s := range w.Accepted() {
			if _, ok := views[0].txHeight[string(s.Hash)]; ok {
				v.InBlocks++
				if _, ok := reported[string(s.Hash)]; !ok {
					// In a block, yet its node never answered /tx for it.
					if err := patiently(ctx, func() error { _, err := c.Clients[s.Node].RPC.Tx(ctx, s.Hash, false); return err }); err != nil {
						unindexed[names[s.Node]]++
					}
				}
			}
		}
		for n, k := range unindexed {
			v.Findings = append(v.Findings, fmt.Sprintf("UNINDEXED: %s's /tx does not find %d committed transactions it accepted (a client waiting for them through this node would wait for ever)", n, k))
		}
		for hash, r := range w.Reported() {
			v.Reported++
			if r.Code != 0 {
				v.Findings = append(v.Findings, fmt.Sprintf("FAILED IN BLOCK: workload %s tx %X failed at height %d with %s/%d: %s (the workload is valid by construction)", r.Kind, hash, r.Height, r.Codespace, r.Code, r.Log))
			}
			if r.Height > v.CommonHeight {
				continue
			}
			for i, view := range views {
				got, ok := view.txHeight[hash]
				switch {
				case !ok:
					v.Findings = append(v.Findings, fmt.Sprintf("LOST: tx %X reported committed at %d by %s is in no block of %s", hash, r.Height, names[r.Node], names[i]))
				case got != r.Height:
					v.Findings = append(v.Findings, fmt.Sprintf("MOVED: tx %X reported committed at %d by %s is at %d on %s", hash, r.Height, names[r.Node], got, names[i]))
				}
			}
		}
	}
	for i, view := range views {
		for hash, n := range view.txCount {
			if n > 1 {
				v.Findings = append(v.Findings, fmt.Sprintf("REPLAYED: tx %X is in %d blocks on %s", hash, n, names[i]))
			}
		}
	}
	for _, f := range forbidden {
		for i, view := range views {
			if h, ok := view.txHeight[string(f)]; ok {
				v.Findings = append(v.Findings, fmt.Sprintf("INVALID COMMITTED: tx %X is in block %d on %s", f, h, names[i]))
			}
		}
	}
	for i := range c.Clients {
		if c.Public[i] {
			continue // refuses the whole-state walk; the app hashes tie it to the operator's node
		}
		v.Findings = append(v.Findings, c.invariants(ctx, i)...)
	}
	v.Findings = append(v.Findings, c.Panics()...)
	return v
}

// invariantsPatience is how long the end check asks again a node that
// refuses /invariants as busy with another whole-state walk (its own
// periodic check, over the suite's small state). A node still busy after
// it is reported like any other failed query.
const invariantsPatience = 10 * time.Second

// invariants asks node i to run every module's invariant checks on its
// latest state (the /invariants query: funds conservation, benefit
// payments within funding, tax receipt chains, provenance quantities and
// custody, agency admins, open proposals).
func (c *Cluster) invariants(ctx context.Context, i int) []string {
	name := c.M.Nodes[i].Name
	// A node runs one whole-state walk at a time, and its own invariant
	// watch (invariant_check_every) walks now and then: asked during it,
	// the node refuses as busy (tx/70, try again in N ms; CI met it once),
	// so the check asks again for a while. An operator-only refusal (tx/41)
	// is returned at once: the node should serve the walk.
	res, _, err := c.Clients[i].QueryWhenFree(ctx, invariantsPatience, api.PathInvariants, nil, 0, false)
	var qe *client.QueryError
	switch {
	case errors.As(err, &qe) && qe.OperatorOnly():
		return []string{fmt.Sprintf("%s: refuses the invariants query as operator-only (operator_queries off in its app.toml), though the suite counts it the operator's: %v", name, err)}
	case err != nil:
		return []string{fmt.Sprintf("%s: invariants query: %v", name, err)}
	}
	rep := &appv1.InvariantsReport{}
	if err := proto.Unmarshal(res.Value, rep); err != nil {
		return []string{fmt.Sprintf("%s: invariants report does not decode: %v", name, err)}
	}
	var out []string
	checks := 0
	for _, m := range rep.Modules {
		for _, ch := range m.Checks {
			checks++
			if !ch.Ok {
				out = append(out, fmt.Sprintf("INVARIANT: %s at height %d: %s/%s fails: %s", name, res.Height, m.Module, ch.Name, ch.Detail))
			}
		}
	}
	if !rep.Ok && len(out) == 0 {
		out = append(out, fmt.Sprintf("INVARIANT: %s at height %d: the report says not ok", name, res.Height))
	}
	if checks == 0 {
		out = append(out, fmt.Sprintf("%s: the invariants report has no checks", name))
	}
	return out
}

// Result is one scenario's line in the suite's table.
type Result struct {
	Scenario     string   `json:"scenario"`
	Runs         int      `json:"runs"`
	Faults       int      `json:"faults"`
	Committed    int      `json:"txs_committed"`
	Divergences  int      `json:"divergences"`
	ResumeMedian float64  `json:"resume_median_s"`
	ResumeWorst  float64  `json:"resume_worst_s"`
	Notes        []string `json:"notes,omitempty"`
	// Failures are the scenario's failed checks, repeated under the table
	// so that a report showing only the end of the output still names them.
	Failures []string `json:"failures,omitempty"`
}

var (
	resultsMu sync.Mutex
	results   []Result
)

// printTable writes the suite's results as a Markdown table.
func printTable(w io.Writer) {
	resultsMu.Lock()
	defer resultsMu.Unlock()
	if len(results) == 0 {
		return
	}
	fmt.Fprintln(w, "\n| scenario | runs | faults injected | txs committed | divergences | resume median | resume worst |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	for _, r := range results {
		fmt.Fprintf(w, "| %s | %d | %d | %d | %d | %.2f s | %.2f s |\n", r.Scenario, r.Runs, r.Faults, r.Committed, r.Divergences, r.ResumeMedian, r.ResumeWorst)
	}
	for _, r := range results {
		for _, f := range r.Failures {
			fmt.Fprintf(w, "FAILED %s: %s\n", r.Scenario, f)
		}
	}
}

// Scenario collects what one scenario did, for its log and the table.
type Scenario struct {
	t       *testing.T
	res     Result
	resumes []time.Duration
}

func NewScenario(t *testing.T, name string) *Scenario {
	s := &Scenario{t: t, res: Result{Scenario: name}}
	t.Cleanup(s.finish)
	return s
}

// Fault records one injected fault.
func (s *Scenario) Fault(format string, args ...any) {
	s.res.Faults++
	s.t.Logf("fault %d: %s", s.res.Faults, fmt.Sprintf(format, args...))
	noteFault(fmt.Sprintf(format, args...))
}

// Resumed records how long progress took to resume after a fault.
func (s *Scenario) Resumed(d time.Duration, what string) {
	s.resumes = append(s.resumes, d)
	s.t.Logf("resumed after %s: %s", d.Round(time.Millisecond), what)
}

// Note adds a line to the scenario's result.
func (s *Scenario) Note(format string, args ...any) {
	n := fmt.Sprintf(format, args...)
	s.res.Notes = append(s.res.Notes, n)
	s.t.Log(n)
}

// Errorf fails the test with a check's finding and records it for the
// table.
func (s *Scenario) Errorf(format string, args ...any) {
	s.t.Helper()
	msg := fmt.Sprintf(format, args...)
	s.res.Failures = append(s.res.Failures, msg)
	s.t.Error(msg)
}

// Verify runs the end checks and fails the test with the findings.
func (s *Scenario) Verify(ctx context.Context, c *Cluster, w *Workload, forbidden [][]byte) Verdict {
	s.res.Runs++
	v := c.Check(ctx, w, forbidden)
	s.res.Committed += v.InBlocks
	s.res.Divergences += len(v.Findings)
	s.t.Logf("checked heights 1..%d on %d nodes: %d workload txs in blocks, %d reported committed by a node, %d findings",
		v.CommonHeight, len(c.Clients), v.InBlocks, v.Reported, len(v.Findings))
	if w != nil {
		if r := w.Refused(); len(r) > 0 {
			for k, n := range r {
				s.t.Logf("workload refused by CheckTx %d×: %s", n, k)
			}
		}
		if n := w.Unanswered(); n > 0 {
			s.t.Logf("workload: %d transactions found no node to take them (nodes down or cut off)", n)
		}
	}
	for _, n := range v.Notes {
		s.Note("%s", n)
	}
	for _, f := range v.Findings {
		s.Errorf("finding: %s", f)
	}
	return v
}

func (s *Scenario) finish() {
	if s.t.Failed() && len(s.res.Failures) == 0 {
		s.res.Failures = append(s.res.Failures, "the test failed: its output says why")
	}
	if len(s.resumes) > 0 {
		d := slices.Clone(s.resumes)
		slices.Sort(d)
		s.res.ResumeMedian = d[len(d)/2].Seconds()
		s.res.ResumeWorst = d[len(d)-1].Seconds()
	}
	s.t.Logf("RESULT %s: runs=%d faults=%d committed=%d divergences=%d resume median=%.2fs worst=%.2fs",
		s.res.Scenario, s.res.Runs, s.res.Faults, s.res.Committed, s.res.Divergences, s.res.ResumeMedian, s.res.ResumeWorst)
	resultsMu.Lock()
	results = append(results, s.res)
	resultsMu.Unlock()
	if path := os.Getenv("FAULTS_REPORT"); path != "" {
		b, _ := json.Marshal(s.res)
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err == nil {
			fmt.Fprintf(f, "%s\n", b)
			f.Close()
		}
	}
}

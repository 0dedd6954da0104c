package faults

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tallyledger/tally/api"
)

// The hostile client's stated bounds (issue 13).
const (
	// maxBlockInterval: every block commits within this of the one before
	// it while the attacks run (from the blocks' header times).
	maxBlockInterval = 2 * time.Second
	// nominalInterval is the cluster's block interval on an unloaded
	// machine (timeout_commit 300 ms plus a round of votes), against which
	// maxBlockInterval is stated.
	nominalInterval = 400 * time.Millisecond
	// maxQueryFloodSlowdown: under the query flood the median block
	// interval stays within this fraction of the median without it.
	maxQueryFloodSlowdown = 0.10
	// floodAttempts: how many measurements of the query flood must all
	// be above maxQueryFloodSlowdown for the bound to count as breached.
	floodAttempts = 3
	// maxChildRecordBytes: a child of a split is stored in at most this
	// many bytes, whatever its parent carries (a child's own fields are
	// far smaller; the parent's metadata alone can be 8 KiB).
	maxChildRecordBytes = 1024
	// maxNonceBytesPerTx: the disk a transaction's replay protection costs
	// (application database growth per committed transaction, above the
	// growth of as many blocks without the attack) whether or not the
	// signer's transactions share a timeout height. Judged by the long
	// variant (12,000 transactions over ~400 blocks: 1,875 B each on the
	// layout of one value per signer and timeout, 593 B on one key per
	// nonce, measured with TestHostileMeasure).
	maxNonceBytesPerTx = 1024
)

// notYetBounded lists the attacks whose fix has not landed on main, with
// the fix that bounds each. The short variant (`make test`) leaves them
// out: each would fail, and some stall the chain for seconds on purpose.
// The long one (`make faults`) runs them, measures them and reports each
// breach as "NOT YET BOUNDED" in the scenario's notes without failing.
// Delete an entry when its fix lands on main; HOSTILE_STRICT=1 treats
// every attack as bounded (to check a fix before deleting its entry).
var notYetBounded = map[string]string{}

// The junk-carrying proposer is not in this scenario: a client cannot make
// a validator propose transactions CheckTx refused. Its measure is
// app-level: BenchmarkJunkProposal in app/ (ProcessProposal on a proposal
// of unknown signers' transactions).

// TestHostileClient sends issue 13's attacks as raw signed transactions
// (and a query flood) from members of agencies, against a real 4-validator
// network under the mixed workload, and asserts the safe outcome of each:
//
//   - programmes that started 20,000 and 3,500 one-second periods ago:
//     refused with a code, or their catch-up spread so every block
//     commits within maxBlockInterval;
//   - hundreds (thousands in the long variant) of failing transactions
//     from one auditor sharing one timeout height, paced over many
//     blocks: the disk they cost per transaction stays within
//     maxNonceBytesPerTx (judged by the long variant; refusals by
//     CheckTx, with a code, are fine);
//   - 13 splits (then 1) of 100 parts of items carrying the most
//     metadata an item may, in one transaction: refused with a code, or
//     every child stored in at most maxChildRecordBytes;
//   - concurrent expensive queries (/invariants, /funds/invariants,
//     receipts with the most amendments a receipt may have, 200 (600)
//     amendments in all, the lineage page at the deepest position a node
//     serves in a lineage of 11,100 items, the page one further, list
//     queries) on every public node, in rounds alternating
//     with rounds without them (the machine's load drifts): the median
//     block interval with them stays within maxQueryFloodSlowdown of the
//     median without (measured again when above it: breached only when
//     each of floodAttempts measurements is above it), and every answer
//     is the query's own (ok, or its coded refusal: tx/41 for the walks
//     on a public node, tx/17 for the lineage past its deepest page) or
//     busy (tx/70), never an internal or uncoded error;
//
// and throughout: every block within maxBlockInterval of the one before,
// honest transactions keep committing, and the suite's end checks (same
// blocks and app hashes everywhere, invariants, no panics).
func TestHostileClient(t *testing.T) {
	strict := os.Getenv("HOSTILE_STRICT") != ""
	bounded := func(attack string) bool { _, open := notYetBounded[attack]; return strict || !open }
	// HOSTILE_ATTACKS (comma-separated) runs only the attacks named, to
	// measure one fix without the others' minutes.
	only := os.Getenv("HOSTILE_ATTACKS")
	run := func(attack string) bool {
		return (long || bounded(attack)) && (only == "" || strings.Contains(","+only+",", ","+attack+","))
	}
	var attacks []string
	for _, a := range []string{"split", "nonce", "programme", "flood"} {
		if run(a) {
			attacks = append(attacks, a)
		}
	}
	if len(attacks) == 0 {
		t.Skipf("no attack of the hostile client is bounded on main yet (see notYetBounded); `make faults` measures them all")
	}

	c := NewCluster(t, ClusterOptions{PublicRPC: 3}) // the flood reaches the public nodes only
	s := NewScenario(t, "hostile client")
	w, ctx := StartWorkload(t, c, 40)
	h, err := newHostile(c)
	if err != nil {
		t.Fatal(err)
	}
	h.profileDir = os.Getenv("HOSTILE_PPROF")
	for a, fix := range notYetBounded {
		if !bounded(a) {
			s.Note("%s: not yet bounded on main (%s)", a, fix)
		}
	}
	// breach reports an attack's unsafe outcome: a failure when its fix is
	// on main, a note otherwise.
	breach := func(attack, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		if bounded(attack) {
			s.Errorf("%s: %s", attack, msg)
			return
		}
		s.Note("NOT YET BOUNDED %s: %s", attack, msg)
	}
	// spans are the heights each attack ran over, for the block-time check.
	type span struct {
		attack   string
		from, to int64
	}
	var spans []span
	mb := func(n int64) float64 { return float64(n) / (1 << 20) }

	// Baseline: the block intervals under the workload alone. The 2 s
	// bound is for a machine on which the cluster's blocks come at their
	// nominal pace (nominalInterval: timeout_commit 300 ms and a round).
	// On a loaded machine (2 cores shared by a dozen builds) every
	// interval stretches with the CPU the nodes get, whatever the app
	// does, so the bound is scaled by how much slower the baseline's
	// median is, and the note says so. The attacks this catches stall
	// blocks for tens of seconds to minutes.
	baseBlocks := int64(20)
	if long {
		baseBlocks = 100
	}
	h0 := c.MaxHeight(ctx)
	if err := h.waitHeight(ctx, h0+baseBlocks); err != nil {
		t.Fatal(err)
	}
	base, err := h.blockIntervals(ctx, h0, h0+baseBlocks)
	if err != nil {
		t.Fatal(err)
	}
	limit := maxBlockInterval
	s.Note("baseline, workload only: heights %d..%d, block interval median %s, longest %s", h0, h0+baseBlocks, base.Median().Round(time.Millisecond), base.Max().Round(time.Millisecond))
	if base.Median() > nominalInterval {
		limit = time.Duration(float64(maxBlockInterval) * float64(base.Median()) / float64(nominalInterval))
		s.Note("this machine runs blocks %.1f× slower than nominal (median %s against %s) without any attack; attacks are held to %s instead of %s",
			float64(base.Median())/float64(nominalInterval), base.Median().Round(time.Millisecond), nominalInterval, limit.Round(time.Millisecond), maxBlockInterval)
	}
	hStart := c.MaxHeight(ctx)
	root := ""
	for _, attack := range attacks {
		from := c.MaxHeight(ctx)
		switch attack {
		case "split":
			// The most a transaction may carry (13 splits of 100 parts),
			// then one split of 100 parts that fits any sensible limit:
			// either is refused with a code, or its children are small.
			for _, splits := range []int{13, 1} {
				const parts = 100
				s.Fault("split: %d items with the most metadata an item may carry, each split into %d parts in one transaction", splits, parts)
				r, err := h.splitBloat(ctx, splits, parts)
				if err != nil {
					t.Fatalf("split: %v", err)
				}
				s.Note("split %d×%d (%d-byte tx): %s; %d children, %d bytes of child records (%d per child); application.db +%.2f MB",
					splits, parts, r.Tx.Bytes, r.Tx, r.Children, r.ChildBytes, r.ChildBytes/int64(max(r.Children, 1)), mb(r.Grew))
				switch {
				case r.Tx.Code != 0:
					// Refused or failed with a code: the safe outcome, if nothing was created.
					if r.Children != 0 {
						breach(attack, "the split failed with %s yet %d children exist", r.Tx.Coded(), r.Children)
					}
				case r.Children != splits*parts:
					breach(attack, "the split succeeded but %d of %d children exist", r.Children, splits*parts)
				case r.ChildBytes > int64(r.Children)*maxChildRecordBytes:
					breach(attack, "each child is stored in %d bytes on average, above the bound of %d: children copy their parent's metadata", r.ChildBytes/int64(r.Children), maxChildRecordBytes)
				case root == "":
					root = splitParent(h.tag, splits, 0)
				}
			}
		case "nonce":
			// Spread over many blocks: on a layout that rewrites one value
			// per signer and timeout each block, the cost per transaction
			// grows with the blocks the attack spans (12,000 over ~400
			// blocks cost ~2 KiB each there).
			n, perBlock := 500, 25
			if long {
				n, perBlock = 12000, 30
			}
			s.Fault("nonces: %d failing transactions from one auditor (rotate-key to the key it has), all with one timeout height, about %d a block", n, perBlock)
			r, err := h.nonceFlood(ctx, n, true, 16, perBlock)
			if err != nil {
				t.Fatalf("nonce: %v", err)
			}
			s.Note("nonces, %d sharing one timeout (heights %d..%d): %d in blocks, refused %v; application.db +%.2f MB (+%.2f MB for as many blocks before) → %d B per tx in a block",
				n, r.From, r.To, r.Committed, r.Refused, mb(r.Grew), mb(r.Idle), r.PerTx())
			if r.Lost > 0 {
				s.Note("nonces: %d of the attacker's transactions accepted by CheckTx were in no block 10 blocks after the last was sent", r.Lost)
			}
			switch {
			case !long:
				// goleveldb's data directory grows in steps of its 4 MiB
				// log, more than 500 transactions cost: only the long
				// variant's 12,000 (about 7 MB) can be judged.
				s.Note("nonces: the %d B/tx bound is judged by the long variant only (the short one's growth is within the database's step size)", maxNonceBytesPerTx)
			case r.PerTx() > maxNonceBytesPerTx:
				breach(attack, "%d bytes of disk per committed transaction, above the bound of %d", r.PerTx(), maxNonceBytesPerTx)
			}
		case "programme":
			// Far in the past (refused today: a programme may start at most
			// an hour back), then just within what is allowed: the backlog
			// must be spread over blocks.
			after := 5
			if long {
				after = 15
			}
			for _, periods := range []int64{20000, 3500} {
				s.Fault("programme: created with %d one-second periods already past", periods)
				r, err := h.programmeCatchUp(ctx, periods, after)
				if err != nil {
					t.Fatalf("programme: %v", err)
				}
				s.Note("programme, %d periods past: %s; the longest block interval from the block before it to %d after: %s",
					periods, r.Tx, after, r.Window.Max().Round(time.Millisecond))
				if r.Window.Max() > limit {
					breach(attack, "a block took %s after the programme with %d past periods was created, above the bound of %s", r.Window.Max().Round(time.Millisecond), periods, limit.Round(time.Millisecond))
				}
			}
		case "flood":
			amendments := 200
			phase, rounds := int64(8), 3
			if long {
				amendments, phase, rounds = 600, 10, 10
			}
			qs, setup, err := h.prepareQueries(ctx, amendments, root)
			if err != nil {
				t.Fatalf("flood: preparing: %v", err)
			}
			from = c.MaxHeight(ctx)
			s.Fault("query flood: %d kinds of expensive query (%d receipts with %d amendments in all, the lineage page at position %d of 11,100 items) from 4 workers per public node, %d rounds of %d blocks without and %d with",
				len(qs), (amendments+api.MaxAmendments-1)/api.MaxAmendments, amendments, api.MaxLineageOffset, rounds, phase, phase)
			// The machine's other work (in CI, the other packages' networks)
			// can slow one phase by more than the bound with or without
			// the flood. A slowdown the flood causes shows in every
			// measurement; one the machine's drift causes, rarely twice in
			// a row. So a measurement above the bound is taken again, up
			// to floodAttempts in all, and the bound is breached only when
			// every one is above it.
			for attempt := 1; ; attempt++ {
				r, err := h.queryFlood(ctx, qs, 4, phase, rounds)
				if err != nil {
					t.Fatalf("flood: %v", err)
				}
				var codes []string
				for k, v := range r.Codes {
					codes = append(codes, fmt.Sprintf("%s ×%d", k, v))
				}
				slices.Sort(codes)
				s.Note("query flood (measurement %d): setup %d transactions, all committed; %d queries answered at %.0f/s (%d errors; slowest %s, %s); block interval median %s without, %s with (heights %d..%d, %d intervals each way); answers: %s",
					attempt, len(setup), r.Sent, r.Answered(), r.Errors, r.SlowestQuery.Round(time.Millisecond), r.SlowestQueryPath,
					r.Without.Median().Round(time.Millisecond), r.With.Median().Round(time.Millisecond), r.FromW, r.ToW, len(r.With), strings.Join(codes, ", "))
				s.Note("query flood (measurement %d): CPU without it %s; with it %s", attempt, r.CPUWithout, r.CPUWith)
				// Every answer is what the node owes the query or a busy
				// refusal, whatever the timing: no internal error, no
				// uncoded error, and each refusal the one expected.
				for k, v := range r.Unexpected {
					s.Errorf("query flood: %d answers %s, neither the query's own answer nor a busy refusal (tx/70)", v, k)
				}
				if len(r.Codes) == 0 {
					s.Errorf("query flood: no query was answered")
				}
				if float64(r.With.Median()) <= float64(r.Without.Median())*(1+maxQueryFloodSlowdown) {
					break
				}
				if attempt == floodAttempts {
					breach(attack, "the median block interval went from %s to %s under the flood, more than %.0f%%, in each of %d measurements",
						r.Without.Median().Round(time.Millisecond), r.With.Median().Round(time.Millisecond), 100*maxQueryFloodSlowdown, floodAttempts)
					break
				}
				s.Note("query flood: measurement %d is above the bound; measuring again", attempt)
			}
		}
		spans = append(spans, span{attack, from, c.MaxHeight(ctx)})
	}
	hEnd := c.MaxHeight(ctx)
	time.Sleep(2 * time.Second)
	w.Stop()

	// Every block within the bound, attack by attack.
	for _, sp := range spans {
		iv, err := h.blockIntervals(context.Background(), sp.from, sp.to)
		if err != nil {
			t.Fatal(err)
		}
		s.Note("%s: heights %d..%d, block interval median %s, longest %s", sp.attack, sp.from, sp.to, iv.Median().Round(time.Millisecond), iv.Max().Round(time.Millisecond))
		if iv.Max() > limit {
			breach(sp.attack, "a block took %s during the attack (heights %d..%d), above the bound of %s", iv.Max().Round(time.Millisecond), sp.from, sp.to, limit.Round(time.Millisecond))
		}
	}
	// Honest transactions kept committing while the attacks ran.
	honest := 0
	for _, r := range w.Reported() {
		if r.Height > hStart && r.Height <= hEnd && r.Code == 0 {
			honest++
		}
	}
	s.Note("honest workload: %d transactions committed during the attacks (heights %d..%d)", honest, hStart, hEnd)
	if honest == 0 {
		s.Errorf("no honest transaction committed while the attacks ran (heights %d..%d)", hStart, hEnd)
	}
	s.Verify(context.Background(), c, w, nil)
}

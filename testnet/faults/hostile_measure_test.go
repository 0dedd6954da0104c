//go:build hostilemeasure

package faults

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestHostileMeasure measures each attack of the hostile client at the
// sizes of issue 13, without asserting anything: it logs the numbers the
// README and the table quote. It is a measurement, not a test, so
// it is built only with the hostilemeasure tag (it takes several minutes
// and, on unfixed code, stalls the chain on purpose); make test neither
// runs nor skips it:
//
//	make build && TALLYD_BIN=$PWD/build/tallyd go test -tags hostilemeasure \
//	  ./testnet/faults/ -run TestHostileMeasure -v -count=1 -timeout 60m
//
// HOSTILE_ATTACKS (comma-separated: split, nonce, flood, programme)
// selects attacks; HOSTILE_PERIODS the programme sizes (default
// 5000,10000,20000); HOSTILE_NONCES the number of transactions of the
// nonce attack (default 12000) and HOSTILE_NONCES_PER_BLOCK its pace (0,
// the default: as fast as the nodes take them). HOSTILE_PPROF=dir writes
// 20 s CPU profiles of the operator's node, a flooded node and this
// process, taken during the flood, into dir (go tool pprof -top dir/x.pprof).
func TestHostileMeasure(t *testing.T) {
	want := func(a string) bool {
		sel := os.Getenv("HOSTILE_ATTACKS")
		return sel == "" || strings.Contains(","+sel+",", ","+a+",")
	}
	c := NewCluster(t, ClusterOptions{PublicRPC: 3}) // the flood reaches the public nodes only
	h, err := newHostile(c)
	if err != nil {
		t.Fatal(err)
	}
	h.profileDir = os.Getenv("HOSTILE_PPROF")
	ctx, cancel := context.WithTimeout(context.Background(), 55*time.Minute)
	defer cancel()
	mb := func(n int64) float64 { return float64(n) / (1 << 20) }

	root := ""
	if want("split") {
		for _, splits := range []int{13, 1} {
			r, err := h.splitBloat(ctx, splits, 100)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("MEASURE split %d×%d: tx %d bytes, %s; %d children exist, their records %.2f MB (%d B each); application.db grew %.2f MB (mean of 4 nodes)",
				r.Splits, r.Parts, r.Tx.Bytes, r.Tx, r.Children, mb(r.ChildBytes), r.ChildBytes/int64(max(r.Children, 1)), mb(r.Grew))
			if r.Children > 0 && root == "" {
				root = splitParent(h.tag, splits, 0)
			}
		}
	}
	if want("nonce") {
		n := 12000
		if v, err := strconv.Atoi(os.Getenv("HOSTILE_NONCES")); err == nil {
			n = v
		}
		perBlock := 0
		if v, err := strconv.Atoi(os.Getenv("HOSTILE_NONCES_PER_BLOCK")); err == nil {
			perBlock = v
		}
		for _, shared := range []bool{true, false} {
			r, err := h.nonceFlood(ctx, n, shared, 16, perBlock)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("MEASURE nonces shared=%v (%d a block): %d sent, %d in blocks, %d lost, refused %v, heights %d..%d; application.db grew %.2f MB (idle for as many blocks: %.2f MB) → %d B/tx above idle",
				shared, perBlock, r.Sent, r.Committed, r.Lost, r.Refused, r.From, r.To, mb(r.Grew), mb(r.Idle), r.PerTx())
		}
	}
	if want("flood") {
		qs, setup, err := h.prepareQueries(ctx, 600, root)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range setup {
			t.Logf("query setup tx: %s", o)
		}
		r, err := h.queryFlood(ctx, qs, 4, 10, 6)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("MEASURE query flood (%d workers per public node, %d rounds, %d queries answered at %.0f/s, %d errors, slowest %s %s): block interval median %s max %s without, median %s max %s with (heights %d..%d, %d intervals each way)",
			r.Workers, r.Rounds, r.Sent, r.Answered(), r.Errors, r.SlowestQuery.Round(time.Millisecond), r.SlowestQueryPath,
			r.Without.Median().Round(time.Millisecond), r.Without.Max().Round(time.Millisecond),
			r.With.Median().Round(time.Millisecond), r.With.Max().Round(time.Millisecond), r.FromW, r.ToW, len(r.With))
		for k, v := range r.Codes {
			t.Logf("query flood answers: %s ×%d", k, v)
		}
		t.Logf("MEASURE query flood CPU without: %s", r.CPUWithout)
		t.Logf("MEASURE query flood CPU with: %s", r.CPUWith)
	}
	if want("programme") {
		sizes := []int64{5000, 10000, 20000}
		if v := os.Getenv("HOSTILE_PERIODS"); v != "" {
			sizes = nil
			for _, f := range strings.Split(v, ",") {
				n, _ := strconv.ParseInt(f, 10, 64)
				sizes = append(sizes, n)
			}
		}
		for _, p := range sizes {
			r, err := h.programmeCatchUp(ctx, p, 8)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("MEASURE programme %d periods: %s; block intervals around it %v (max %s)", p, r.Tx, r.Window, r.Window.Max().Round(time.Millisecond))
		}
	}
	v := c.Check(ctx, nil, nil)
	for _, f := range v.Findings {
		t.Errorf("finding: %s", f)
	}
}

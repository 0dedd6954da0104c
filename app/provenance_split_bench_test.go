package app_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/app"

	pv "github.com/tallyledger/tally/proto/tally/provenance/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/store"
)

// BenchmarkSplitFlood is the split amplification attack: 13 items each
// carrying the most metadata an item may (16 attributes, 8 documents),
// then one transaction splitting each into 100 parts. It reports the
// transaction's size, its code and units, and the state it wrote.
//
//	go test -run XXX -bench SplitFlood -benchtime 1x ./app/
func BenchmarkSplitFlood(b *testing.B) {
	for _, limit := range []uint64{0, 100_000_000} {
		b.Run(fmt.Sprintf("max_tx_units=%d", limit), func(b *testing.B) { splitFlood(b, limit) })
	}
}

// splitFlood runs the attack with max_tx_units at limit (0: the default).
func splitFlood(b *testing.B, limit uint64) {
	for range b.N {
		b.StopTimer()
		g := provGenesis()
		if limit != 0 {
			g.Params.MaxTxUnits = limit
		}
		c := openChain(b, store.NewMemory(), app.Options{})
		c.initChain(g)
		c.block()
		var regs, splits [][]byte
		var msgs []*txv1.Msg
		for i := range 13 {
			id := fmt.Sprintf("x:%02d", i)
			m := &pv.MsgRegisterItem{Id: id, Product: "milk", Quantity: 100, Unit: "l", Origin: pvLoc}
			for a := range 16 {
				m.Attributes = append(m.Attributes, &pv.Attribute{Key: fmt.Sprintf("k%02d", a) + strings.Repeat("k", 61), Value: strings.Repeat("v", 256)})
			}
			for range 8 {
				m.Documents = append(m.Documents, &pv.Document{Kind: "certificate", Sha256: pvEvidence[:], Uri: "https://lab.example/" + strings.Repeat("d", 200)})
			}
			regs = append(regs, c.tx(pvFarmer, pvMsg(m)))
			parts := make([]uint64, 100)
			for p := range parts {
				parts[p] = 1
			}
			msgs = append(msgs, split(id, parts...))
		}
		c.ok(regs...)
		splits = append(splits, c.tx(pvFarmer, msgs...))
		entries0, bytes0 := stateBytes(c)
		b.StartTimer()
		t0 := time.Now()
		res := c.block(splits...)
		elapsed := time.Since(t0)
		b.StopTimer()
		entries1, bytes1 := stateBytes(c)
		r := res.TxResults[0]
		require.NotNil(b, r)
		b.ReportMetric(float64(len(splits[0])), "tx_bytes")
		b.ReportMetric(float64(r.Code), "code")
		b.ReportMetric(float64(r.GasUsed), "units")
		b.ReportMetric(float64(entries1-entries0), "entries_written")
		b.ReportMetric(float64(bytes1-bytes0), "state_bytes")
		b.ReportMetric(float64(elapsed.Milliseconds()), "block_ms")
		b.Logf("code %s/%d: %s", r.Codespace, r.Code, r.Log)
		c.close()
	}
}

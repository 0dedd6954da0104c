package app_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/app"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	pv "github.com/tallyledger/tally/proto/tally/provenance/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/store"
)

// benchProvChain is the provenance world on goleveldb in a temp dir, with
// the node's default store options.
func benchProvChain(b *testing.B) *chain {
	st, err := store.Open(app.DefaultConfig().StoreOptions(b.TempDir()))
	require.NoError(b, err)
	c := openChain(b, st, app.Options{})
	c.initChain(provGenesis())
	c.block()
	return c
}

// BenchmarkProvenanceCustodyTransfers measures custody hand-overs through
// FinalizeBlock + Commit on goleveldb: each transfer is an offer block
// followed by an accept block (two signed transactions), 1,000 items per
// block, the items passing back and forth between a farm and a kitchen.
// Transactions go through CheckTx first, as from a node's mempool.
func BenchmarkProvenanceCustodyTransfers(b *testing.B) {
	const size = 1000
	c := benchProvChain(b)
	ids := make([]string, size)
	var txs [][]byte
	for i := range ids {
		ids[i] = fmt.Sprintf("sgtin:05012345678900.%d", i)
		txs = append(txs, c.tx(pvFarmer, register(ids[i], 1, "milk")))
	}
	for i := 0; i < size; i += 100 {
		c.ok(txs[i : i+100]...)
	}
	holder, other := pvFarmer, pvKitchen
	var elapsed time.Duration
	run := func(txs [][]byte) {
		for _, tx := range txs {
			require.Zero(b, c.checkTx(tx).Code)
		}
		t0 := time.Now()
		res := c.block(txs...)
		elapsed += time.Since(t0)
		for _, r := range res.TxResults {
			require.Zero(b, r.Code, r.Log)
		}
	}
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		offers, accepts := make([][]byte, size), make([][]byte, size)
		for i, id := range ids {
			offers[i] = c.tx(holder, offer(id, other, 0))
			accepts[i] = c.tx(other, accept(id))
		}
		run(offers)
		run(accepts)
		holder, other = other, holder
	}
	b.StopTimer()
	b.ReportMetric(float64(size*b.N)/elapsed.Seconds(), "transfers/s")
	b.ReportMetric(float64(2*size*b.N)/elapsed.Seconds(), "tx/s")
	b.ReportMetric(float64(elapsed.Milliseconds())/float64(2*b.N), "ms/block")
}

// BenchmarkProvenanceQueries measures history and lineage queries, with
// proofs, for an item with 1,000 history events (made by a split, offered
// and withdrawn 499 times, then split into 100 children) on goleveldb.
func BenchmarkProvenanceQueries(b *testing.B) {
	c := benchProvChain(b)
	const item = "lot:busy"
	c.ok(c.tx(pvFarmer, register("lot:root", 2000, "milk")))
	c.ok(c.tx(pvFarmer, pvMsg(&pv.MsgSplit{ItemId: "lot:root", Location: pvLoc,
		Parts: []*pv.SplitPart{{Id: item, Quantity: 1000}, {Id: "lot:other", Quantity: 1000}}})))
	var msgs []*txv1.Msg
	for i := 0; i < 499; i++ {
		msgs = append(msgs, offer(item, pvKitchen, 0), withdraw(item))
	}
	var txs [][]byte
	for i := 0; i < len(msgs); i += 32 {
		txs = append(txs, c.tx(pvFarmer, msgs[i:min(i+32, len(msgs))]...))
	}
	c.ok(txs...)
	parts := make([]uint64, 100)
	for i := range parts {
		parts[i] = 10
	}
	c.ok(c.tx(pvFarmer, split(item, parts...)))
	c.block()
	require.Equal(b, uint64(1000), c.item(item).Events)

	query := func(b *testing.B, path string, arg []byte, want int) {
		data := api.ListData(arg, nil, 0)
		b.ResetTimer()
		for n := 0; n < b.N; n++ {
			res, err := c.app.Query(context.Background(), &abci.RequestQuery{Path: path, Data: data, Prove: true})
			require.NoError(b, err)
			require.Zero(b, res.Code, res.Log)
			if n == 0 {
				list := &appv1.ProvedList{}
				require.NoError(b, proto.Unmarshal(res.Value, list))
				require.Len(b, list.Entries, want)
			}
		}
	}
	b.Run("history/1000-events/prove", func(b *testing.B) {
		query(b, api.PathProvenanceHistory, []byte(item), 1001)
	})
	b.Run("lineage-down/100-children/prove", func(b *testing.B) {
		query(b, api.PathProvenanceLineage, api.LineageArg(pv.LineageDirection_LINEAGE_DIRECTION_DOWN, item), 100)
	})
	b.Run("lineage-down-from-root/102-items/prove", func(b *testing.B) {
		query(b, api.PathProvenanceLineage, api.LineageArg(pv.LineageDirection_LINEAGE_DIRECTION_DOWN, "lot:root"), 102)
	})
	b.Run("lineage-up/prove", func(b *testing.B) {
		query(b, api.PathProvenanceLineage, api.LineageArg(pv.LineageDirection_LINEAGE_DIRECTION_UP, item+"-7"), 2)
	})
}

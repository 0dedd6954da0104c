package app_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/client"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/funds"
	"github.com/tallyledger/tally/x/gov"
	"github.com/tallyledger/tally/x/module"
	"github.com/tallyledger/tally/x/tax"
)

// Benchmark state sizes. TALLY_TAX_PREFILL overrides the number of
// receipts written before timing starts (default 200,000; the issue's
// target is 1,000,000).
const (
	taxPrefillDefault = 200_000
	taxPrefillBatch   = 20_000 // receipts per committed version while prefilling
	taxBenchPayers    = 100_000
	heavyReceipts     = 1_000 // receipts of the one taxpayer the clearance query reads
	heavyQuarters     = 40    // spread over 2016-Q1 .. 2025-Q4
)

// BenchmarkTaxReceipts measures, on goleveldb with the default node config
// and a state pre-filled with receipts:
//   - issue/txs=N/checked: blocks of N signed IssueReceipt transactions,
//     already through CheckTx as a mempool's are, through FinalizeBlock +
//     Commit; reports receipts/s;
//   - clearance/prove: the clearance query, with proofs, for a taxpayer
//     with 1,000 receipts over 40 quarters (41 proved keys);
//   - receipt/prove: one receipt with its state and proofs.
//
// The prefill is written through the tax keeper directly on the store (a
// receipt, its state, indexes, three running totals and the funds credit,
// exactly as a transaction writes them) and committed in batches, outside
// the timer.
func BenchmarkTaxReceipts(b *testing.B) {
	prefill := taxPrefillDefault
	if s := os.Getenv("TALLY_TAX_PREFILL"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(b, err)
		prefill = n
	}
	st, err := store.Open(app.DefaultConfig().StoreOptions(b.TempDir()))
	require.NoError(b, err)
	c := openChain(b, st, app.Options{})
	c.initChain(taxGenesis())
	c.block()

	start := time.Now()
	heavy := taxPayerRef("bench/heavy")
	k := tax.NewKeeper(funds.Keeper{Agency: agency.Keeper{}}, api.AgencyHolder).WithGovernance(gov.NewKeeper(agency.Keeper{}, nil))
	collector := &agencyv1.Account{Address: taxCollector.addr, AgencyId: agTax, Roles: []agencyv1.Role{roleTaxCollector}}
	for done := 0; done < prefill; {
		h := c.height + 1
		ctx := module.NewContext(st, h, blockTime(h), testChainID, nil)
		for end := min(done+taxPrefillBatch, prefill); done < end; done++ {
			payer, q := taxPayerRef(strconv.Itoa(done%taxBenchPayers)), done/taxBenchPayers
			if done < heavyReceipts {
				payer, q = heavy, done%heavyQuarters
			}
			period := fmt.Sprintf("%d-Q%d", 2016+q/4%10, q%4+1)
			m := &taxv1.MsgIssueReceipt{TaxType: "VAT", Payer: taxPayer(payer, "VAT", period), Period: period, Amount: uint64(100 + done%9_900), BankReference: taxBankRef("PRE-" + strconv.Itoa(done))}
			require.NoError(b, k.IssueReceipt(ctx, collector, m))
		}
		_, _, err := st.Commit()
		require.NoError(b, err)
		c.height = h
		c.hashes[h] = c.lastHash()
	}
	b.Logf("prefilled %d receipts in %s (%.0f receipts/s through the keeper)", prefill, time.Since(start).Round(time.Millisecond), float64(prefill)/time.Since(start).Seconds())

	for _, size := range []int{1000} {
		b.Run(fmt.Sprintf("issue/txs=%d/checked", size), func(b *testing.B) { taxBenchIssue(b, c, size) })
	}
	clearanceReq := taxClearanceRequest(b, heavy, "VAT", "2016-Q1", "2025-Q4")
	clearance, err := proto.Marshal(clearanceReq)
	require.NoError(b, err)
	b.Run("clearance/prove", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			res, err := c.app.Query(context.Background(), &abci.RequestQuery{Path: api.PathTaxClearance, Data: clearance, Prove: true})
			require.NoError(b, err)
			require.Zero(b, res.Code, res.Log)
		}
		s := c.taxClearance(clearanceReq)
		require.True(b, s.Covered)
		require.Equal(b, uint64(heavyReceipts), s.Receipts)
	})
	b.Run("receipt/prove", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			id := tax.ReceiptRef{Authority: agTax, Seq: uint64(1 + i%prefill)}.ID()
			res, err := c.app.Query(context.Background(), &abci.RequestQuery{Path: api.PathTaxReceipt, Data: listData(id), Prove: true})
			require.NoError(b, err)
			require.Zero(b, res.Code, res.Log)
		}
	})
}

func taxBenchIssue(b *testing.B, c *chain, size int) {
	b.StopTimer()
	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		h := c.height + 1
		txs := make([][]byte, size)
		for j := range txs {
			c.nonce++
			m := taxIssue("VAT", taxPayerRef(strconv.Itoa(j*7919%taxBenchPayers)), "2026-Q1", uint64(100+j), fmt.Sprintf("B-%d-%d", h, j))
			txs[j] = signTx(b, client.TxOptions{Signer: taxCollector.addr, Nonce: c.nonce, TimeoutHeight: uint64(h) + 50}, taxCollector, m)
			res, err := c.app.CheckTx(context.Background(), &abci.RequestCheckTx{Tx: txs[j]})
			require.NoError(b, err)
			require.Zero(b, res.Code, res.Log)
		}
		t0 := time.Now()
		b.StartTimer()
		res, err := c.app.FinalizeBlock(context.Background(), &abci.RequestFinalizeBlock{Txs: txs, Height: h, Time: blockTime(h)})
		if err == nil {
			_, err = c.app.Commit(context.Background(), &abci.RequestCommit{})
		}
		b.StopTimer()
		elapsed += time.Since(t0)
		require.NoError(b, err)
		for _, r := range res.TxResults {
			require.Zero(b, r.Code, r.Log)
		}
		c.height = h
		c.hashes[h] = res.AppHash
	}
	b.ReportMetric(float64(size*b.N)/elapsed.Seconds(), "receipts/s")
	b.ReportMetric(float64(elapsed.Milliseconds())/float64(b.N), "ms/block")
}

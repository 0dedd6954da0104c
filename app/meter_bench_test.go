package app_test

import (
	"fmt"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/app"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
)

// BenchmarkMessageUnits prints the units one transaction of each common
// message uses (README "Bounded work"). Units do not depend on the
// machine; the benchmark form only keeps it out of make test.
//
//	go test -run XXX -bench MessageUnits -benchtime 1x -v ./app/ | grep '|'
func BenchmarkMessageUnits(b *testing.B) {
	t := b
	show := func(name string, r *abci.ExecTxResult) {
		require.Zero(t, r.Code, r.Log)
		t.Logf("| %s | %d |", name, r.GasUsed)
	}
	c := newChain(t)
	show("agency add_member", c.block(c.tx(treasuryAdmin, addMembers("one", 1)...)).TxResults[0])

	m := newMoneyChain(t, 0)
	show("funds appropriate + allocate", m.block(m.tx(mOfficer, msgAppropriate("SA/1", 10_000_000), msgAllocate(mBenefits, 5_000_000))).TxResults[0])
	now := blockTime(m.height + 1).Unix()
	show("benefits create_programme (weekly, 1 year)", m.block(m.tx(mManager, msgCreateProgramme("p", 100, 7*24*3600, now, now+52*7*24*3600, 0))).TxResults[0])
	show("funds fund", m.block(m.tx(mFinance, msgFund("p", 1_000_000))).TxResults[0])
	show("benefits enrol", m.block(m.tx(mCaseworker, msgEnrol("p", "r1", now))).TxResults[0])
	show("benefits pay", m.block(m.tx(mPayer, msgPay("p", "r1", 50))).TxResults[0])

	p := newProvChain(t)
	show("provenance register_item", p.block(p.tx(pvFarmer, register("lot:a", 200, "milk"))).TxResults[0])
	show("provenance offer_custody", p.block(p.tx(pvFarmer, offer("lot:a", pvKitchen, 0))).TxResults[0])
	show("provenance withdraw_offer", p.block(p.tx(pvFarmer, withdraw("lot:a"))).TxResults[0])
	parts := make([]uint64, 100)
	for i := range parts {
		parts[i] = 2
	}
	show("provenance split (2 parts)", p.block(p.tx(pvFarmer, split("lot:a", 100, 100))).TxResults[0])
	p.block(p.tx(pvFarmer, register("lot:b", 200, "milk")))
	show("provenance split (100 parts)", p.block(p.tx(pvFarmer, split("lot:b", parts...))).TxResults[0])
	show("provenance merge (2 inputs)", p.block(p.tx(pvFarmer, merge("lot:m", "lot:b-0", "lot:b-1"))).TxResults[0])
	show("provenance recall", p.block(p.tx(pvRegulator, recall("R-1", "lot:b"))).TxResults[0])

	x := newTaxChain(t)
	show("tax issue_receipt", x.block(x.tx(taxCollector, taxIssue("VAT", taxPayerRef("p"), "2026-Q1", 1_000, "PERM-1"))).TxResults[0])

	g := newGovChain(t)
	show("gov submit_proposal (change_param)", g.block(g.tx(treasuryAdmin, msgPropose(changeParam("app.max_memo_bytes", "200")))).TxResults[0])
	show("gov vote", g.block(g.tx(taxAdmin, msgVote(1, govv1.VoteOption_VOTE_OPTION_YES))).TxResults[0])
}

// BenchmarkMixedBlockFill proposes one block of the load mix's messages at
// the default unit limits (max_block_units 30M) from a backlog of 2,250
// transactions, more than a block holds, once with every transaction
// counted at its route bounds and once with each declaring its limit as
// the load mix does (load.MessageUnits); it runs the block, checks every
// transaction committed, and reports transactions per block and units per
// transaction, used and counted. Those depend only on the code; the
// FinalizeBlock+Commit time it also reports depends on the machine.
//
//	go test ./app -run XXX -bench MixedBlockFill -benchtime 1x -v
func BenchmarkMixedBlockFill(b *testing.B) {
	for _, declare := range []bool{false, true} {
		b.Run(fmt.Sprintf("declared=%v", declare), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				c := newMixedChain(b, app.DefaultMaxTxUnits, app.DefaultMaxBlockUnits)
				backlog := c.mixedBacklog(0, 250, declare)
				proposal := c.prepareProposal(backlog...)
				require.Less(b, len(proposal), len(backlog), "the backlog is more than a block")
				require.Equal(b, abci.ResponseProcessProposal_ACCEPT, c.processProposal(proposal...))
				b.StartTimer()
				begin := time.Now()
				res := c.block(proposal...)
				elapsed := time.Since(begin)
				b.StopTimer()
				var used, counted int64
				for _, r := range res.TxResults {
					requireOK(b, r)
					used += r.GasUsed
					counted += r.GasWanted
				}
				n := float64(len(proposal))
				b.ReportMetric(n, "tx/block")
				b.ReportMetric(float64(used)/n, "units_used/tx")
				b.ReportMetric(float64(counted)/n, "units_counted/tx")
				b.ReportMetric(float64(used)/1e6, "Munits_used/block")
				b.ReportMetric(float64(elapsed.Milliseconds()), "finalize+commit_ms")
			}
		})
	}
}

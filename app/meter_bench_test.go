package app_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/app"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
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

// BenchmarkPrepareProposal times a proposer's PrepareProposal with signers'
// shares of the block (on) and as before them (off: the mempool's order
// alone decides), on the same mempool, alternating within each iteration
// so that both meet the same machine load: the load mix's backlog of 2,250
// transactions declaring their limits as tallyd load does (mix: 8 signers,
// none near a share), and the same after a hostile signer's 20
// transactions declaring max_tx_units (hostile). Caches are warm, as
// CheckTx leaves them. It reports each side's time per block and per
// proposed transaction, their ratio, and the block's transactions and the
// hostile signer's among them.
//
//	go test ./app -run XXX -bench PrepareProposal -benchtime 40x -count 3
func BenchmarkPrepareProposal(b *testing.B) {
	c := newMixedChain(b, app.DefaultMaxTxUnits, app.DefaultMaxBlockUnits)
	mix := c.mixedBacklog(0, 250, true)
	var hostile [][]byte
	for i := range 20 {
		hostile = append(hostile, c.txWith(txArgs{signer: mTreasuryAdmin, units: app.DefaultMaxTxUnits, timeout: uint64(c.height) + 100}, addMember(keyFor(fmt.Sprintf("bench/hostile/%d", i)), agencyv1.Role_ROLE_AUDITOR)))
	}
	h := c.height + 1
	for _, mempool := range []struct {
		name string
		txs  [][]byte
	}{{"mix", mix}, {"hostile", append(slices.Clone(hostile), mix...)}} {
		req := &abci.RequestPrepareProposal{MaxTxBytes: 1 << 30, Txs: mempool.txs, Height: h, Time: blockTime(h)}
		c.prepareProposal(mempool.txs...) // decodes and verifies each, as CheckTx would have
		b.Run(mempool.name, func(b *testing.B) {
			var on, off *abci.ResponsePrepareProposal
			var onTime, offTime time.Duration
			for i := range b.N {
				for k := range 2 {
					begin := time.Now()
					if (i+k)%2 == 0 {
						var err error
						on, err = c.app.PrepareProposal(context.Background(), req)
						require.NoError(b, err)
						onTime += time.Since(begin)
					} else {
						off = c.app.PrepareProposalWithoutShares(req)
						offTime += time.Since(begin)
					}
				}
			}
			hostileIn := func(txs [][]byte) float64 {
				n := 0
				for _, tx := range txs {
					if slices.ContainsFunc(hostile, func(h []byte) bool { return bytes.Equal(h, tx) }) {
						n++
					}
				}
				return float64(n)
			}
			perBlock := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(b.N) }
			b.ReportMetric(perBlock(offTime), "off_us/block")
			b.ReportMetric(perBlock(onTime), "on_us/block")
			b.ReportMetric(float64(onTime)/float64(offTime), "on/off")
			b.ReportMetric(perBlock(offTime)*1000/float64(len(off.Txs)), "off_ns/tx")
			b.ReportMetric(perBlock(onTime)*1000/float64(len(on.Txs)), "on_ns/tx")
			b.ReportMetric(float64(len(off.Txs)), "off_tx/block")
			b.ReportMetric(float64(len(on.Txs)), "on_tx/block")
			b.ReportMetric(hostileIn(off.Txs), "off_hostile/block")
			b.ReportMetric(hostileIn(on.Txs), "on_hostile/block")
		})
	}
}

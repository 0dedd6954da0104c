package app_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/api"
	benefitsv1 "github.com/tallyledger/tally/proto/tally/benefits/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/x/benefits"
)

// BenchmarkScheduledRun100k enrols 100,000 recipients on one programme,
// then times the blocks (FinalizeBlock + Commit, empty of transactions)
// that run one period's scheduled payments, payments_per_block at a time.
// It reports payments per second of block time spent and the slowest block.
//
//	go test -run XXX -bench ScheduledRun -benchtime 1x ./app/
func BenchmarkScheduledRun100k(b *testing.B) {
	for _, perBlock := range []uint32{benefits.DefaultParams().PaymentsPerBlock, 10_000} {
		b.Run(fmt.Sprintf("per_block=%d", perBlock), func(b *testing.B) {
			const recipients = 100_000
			for range b.N {
				b.StopTimer()
				c := newMoneyChain(b, perBlock)
				c.block()
				start := blockTime(1).Unix() + 1_000_000 // far enough for the enrolment
				c.block(c.tx(mOfficer, msgAppropriate("SA/B", 900_000_000_00), msgAllocate(mBenefits, 500_000_000_00)),
					c.tx(mManager, msgCreateProgramme("bench", 100, 7*24*3600, start, start+52*7*24*3600, 0)),
				)
				c.block(c.tx(mFinance, msgFund("bench", 100*recipients*2)))
				var txs [][]byte
				var msgs []*txv1.Msg
				for i := range recipients {
					msgs = append(msgs, msgEnrol("bench", fmt.Sprintf("r%06d", i), start))
					if len(msgs) == 32 {
						txs = append(txs, c.tx(mCaseworker, msgs...))
						msgs = nil
					}
					if len(txs) == 50 || i == recipients-1 { // 1,600 enrolments: within a block's units
						if len(msgs) > 0 {
							txs = append(txs, c.tx(mCaseworker, msgs...))
							msgs = nil
						}
						for _, r := range c.block(txs...).TxResults {
							requireOK(b, r)
						}
						txs = nil
					}
				}
				// Jump block time to the period's start and run until it is paid.
				b.StartTimer()
				var total, slowest time.Duration
				blocks := 0
				for h := c.height + 1; ; h++ {
					t0 := time.Now()
					res, err := c.app.FinalizeBlock(context.Background(), &abci.RequestFinalizeBlock{Height: h, Time: time.Unix(start+int64(blocks), 0)})
					require.NoError(b, err)
					_, err = c.app.Commit(context.Background(), &abci.RequestCommit{})
					require.NoError(b, err)
					d := time.Since(t0)
					total += d
					slowest = max(slowest, d)
					blocks++
					c.height = h
					if hasEvent(res.Events, benefits.EventPeriodCompleted) {
						break
					}
				}
				b.StopTimer()
				p := &benefitsv1.Programme{}
				require.True(b, c.mRecord(api.PathBenefitsProgramme, "bench", p))
				require.Equal(b, uint64(recipients), p.Payments)
				b.ReportMetric(float64(recipients)/total.Seconds(), "payments/s")
				b.ReportMetric(float64(slowest.Milliseconds()), "max_block_ms")
				b.ReportMetric(float64(blocks), "blocks")
				c.close()
			}
		})
	}
}

func hasEvent(events []abci.Event, typ string) bool {
	for _, e := range events {
		if e.Type == typ {
			return true
		}
	}
	return false
}

// BenchmarkTraceUp5Hops times the trace query of a payment five movements
// from its appropriation (appropriate → allocate → transfer → transfer →
// fund → pay), with and without proofs.
//
//	go test -run XXX -bench TraceUp -benchtime 2000x ./app/
func BenchmarkTraceUp5Hops(b *testing.B) {
	c := newMoneyChain(b, 0)
	c.block()
	start := blockTime(1).Unix()
	for _, r := range c.block(
		c.tx(mOfficer, msgAppropriate("SA/T", 10_000_000), msgAllocate(mBenefits, 1_000_000)),
		c.tx(mManager, msgCreateProgramme("trace", 100, 3600*24*30, start, start+3600*24*365, 0)),
	).TxResults {
		requireOK(b, r)
	}
	for _, r := range c.block(c.tx(mFinance, msgTransfer(api.AgencyHolder(mBenefits), api.AgencyHolder(mCouncil), 1_000_000))).TxResults {
		requireOK(b, r)
	}
	for _, r := range c.block(c.tx(mCouncilFin, msgTransfer(api.AgencyHolder(mCouncil), api.AgencyHolder(mBenefits), 400_000))).TxResults {
		requireOK(b, r)
	}
	for _, r := range c.block(c.tx(mFinance, msgFund("trace", 300_000)), c.tx(mCaseworker, msgEnrol("trace", "r1", 0))).TxResults {
		requireOK(b, r)
	}
	res := c.block(c.tx(mPayer, msgPay("trace", "r1", 700)))
	requireOK(b, res.TxResults[0])
	movement := mEventAttr(b, res.TxResults[0].Events, "benefits.paid", "movement")
	c.requireTracesToRoot(mID(b, movement)) // all of benefits' own allocation went to the council first, so this money came back from there
	l := c.mList(api.PathFundsTraceUp, []byte(movement))
	require.Len(b, l.Entries, 11, "a payment, five hops of tranche and movement each, and the root tranche's own record")

	for _, prove := range []bool{false, true} {
		b.Run("prove="+strconv.FormatBool(prove), func(b *testing.B) {
			for range b.N {
				r, err := c.app.Query(context.Background(), &abci.RequestQuery{Path: api.PathFundsTraceUp, Data: []byte(movement), Prove: prove})
				if err != nil || r.Code != 0 {
					b.Fatal(err, r.Log)
				}
			}
		})
	}
}

// BenchmarkProgrammeCatchUp creates a programme with n one-second periods
// and then jumps block time past all of them (a chain halted for n
// seconds, or before the fix a programme started n seconds in the past),
// and times the blocks (FinalizeBlock + Commit) until every period has
// run. It reports the slowest block and how many blocks the catch-up
// took: the end-of-block budget caps each block's share and carries the
// rest over.
//
//	go test -run XXX -bench ProgrammeCatchUp -benchtime 1x ./app/
func BenchmarkProgrammeCatchUp(b *testing.B) {
	for _, n := range []int64{5_000, 20_000} {
		b.Run(fmt.Sprintf("periods=%d", n), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				c := newMoneyChain(b, 0)
				c.block(c.tx(mOfficer, msgAppropriate("SA/C", 1_000_000), msgAllocate(mBenefits, 1_000_000)))
				start := blockTime(c.height+1).Unix() + 10
				requireOK(b, c.block(c.tx(mManager, msgCreateProgramme("catchup", 100, 1, start, start+n, 0))).TxResults[0])
				b.StartTimer()
				var slowest time.Duration
				blocks := 0
				for h := c.height + 1; ; h++ {
					t0 := time.Now()
					_, err := c.app.FinalizeBlock(context.Background(), &abci.RequestFinalizeBlock{Height: h, Time: time.Unix(start+n+int64(blocks), 0)})
					require.NoError(b, err)
					_, err = c.app.Commit(context.Background(), &abci.RequestCommit{})
					require.NoError(b, err)
					slowest = max(slowest, time.Since(t0))
					blocks++
					c.height = h
					p := &benefitsv1.Programme{}
					require.True(b, c.mRecord(api.PathBenefitsProgramme, "catchup", p))
					if p.Finished {
						break
					}
				}
				b.ReportMetric(float64(slowest.Milliseconds()), "max_block_ms")
				b.ReportMetric(float64(blocks), "blocks")
				c.close()
			}
		})
	}
}

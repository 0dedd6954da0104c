package app_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/app"
	benefitsv1 "github.com/tallyledger/tally/proto/tally/benefits/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/benefits"
	"github.com/tallyledger/tally/x/funds"
)

// scheduleScript sets up a programme paying every 5 s of block time for 12
// periods, and enrols n recipients, 30 messages to a transaction.
func scheduleScript(c *chain, n int) (prog string, periods int, lastHeight int64) {
	prog = "weekly"
	start := blockTime(3).Unix()
	const period = 5
	periods = 12
	c.block(c.tx(mOfficer, msgAppropriate("SA/1", 10_000_000), msgAllocate(mBenefits, 5_000_000)))
	c.block(
		c.tx(mManager, msgCreateProgramme(prog, 100, period, start, start+int64(periods*period), 0)),
		c.tx(mFinance, msgFund(prog, 1_000_000)),
	)
	var txs [][]byte
	var msgs []*txv1.Msg
	for i := range n {
		msgs = append(msgs, msgEnrol(prog, fmt.Sprintf("r%04d", i), start))
		if len(msgs) == 30 || i == n-1 {
			txs = append(txs, c.tx(mCaseworker, msgs...))
			msgs = nil
		}
	}
	res := c.block(txs...)
	for _, r := range res.TxResults {
		requireOK(c.tb, r)
	}
	// The last period starts at start + 55 s: block 3 + 55 = 58; give the
	// runs a few blocks to finish.
	return prog, periods, 70
}

// Scheduled payments run by themselves at the end of the blocks they fall
// due in, a bounded number per block; with the node stopped and its
// goleveldb store reopened in the middle of a run, every recipient is still
// paid exactly once for every period, and the chain reaches the same app
// hash as one that never stopped.
func TestScheduledPaymentsExactlyOncePerPeriodAcrossRestart(t *testing.T) {
	const recipients = 150
	const perBlock = 40 // a run of 150 enrolments spans 4 blocks

	ref := newMoneyChain(t, perBlock)
	prog, periods, last := scheduleScript(ref, recipients)
	for ref.height < last {
		ref.block()
		ref.requireConserved()
	}

	dir := t.TempDir()
	c := openChain(t, openLevel(t, dir), app.Options{})
	c.initChain(moneyGenesis(perBlock))
	scheduleScript(c, recipients)
	const stopAt = 24 // period 4 falls due at 23; its run is under way
	for c.height < stopAt {
		c.block()
	}
	pr := &benefitsv1.Programme{}
	require.True(t, c.mRecord(api.PathBenefitsProgramme, prog, pr))
	require.NotEmpty(t, pr.Cursor, "the restart should fall in the middle of a run")
	c.close()

	c = openChain(t, openLevel(t, dir), app.Options{})
	require.Equal(t, int64(stopAt), c.height)
	for c.height < last {
		c.block()
		c.requireConserved()
	}
	require.Equal(t, ref.lastHash(), c.lastHash(), "restarted chain diverged")

	require.True(t, c.mRecord(api.PathBenefitsProgramme, prog, pr))
	require.True(t, pr.Finished)
	require.Equal(t, uint64(recipients*periods), pr.Payments)
	require.Equal(t, uint64(recipients*periods*100), pr.PaidTotal)
	for i := range recipients {
		r := fmt.Sprintf("r%04d", i)
		h := c.mHistory(prog, r)
		require.Len(t, h, periods, r)
		for k, p := range h {
			require.Equal(t, benefitsv1.PaymentStatus_PAYMENT_STATUS_PAID, p.Status)
			require.Equal(t, uint64(k), p.Period, "%s: periods paid in order, each once", r)
		}
		require.Equal(t, uint64(periods*100), c.mBalance(payee("acct-"+r)))
	}
	c.requireTracesToRoot(c.lastPaymentMovement(prog, "r0149"))
}

// A period the programme cannot afford is recorded as failed, with its
// reason, and paid at the next run once the programme is funded again —
// never twice, never skipped.
func TestScheduledPaymentFailsForWantOfFundsAndIsRetriedNextPeriod(t *testing.T) {
	c := newMoneyChain(t, 0)
	start := blockTime(3).Unix()
	// The schedule runs recipients in the order of their pseudonyms.
	ra, rb := "a", "b"
	if pseud(ra) > pseud(rb) {
		ra, rb = rb, ra
	}
	c.block(c.tx(mOfficer, msgAppropriate("SA/1", 10_000), msgAllocate(mBenefits, 10_000)))
	c.block(
		c.tx(mManager, msgCreateProgramme("p", 100, 5, start, start+50, 0)),
		c.tx(mFinance, msgFund("p", 150)), // one payment, not two
	)
	c.block(c.tx(mCaseworker, msgEnrol("p", ra, start), msgEnrol("p", rb, start)))
	for c.height < 6 { // period 0 ran at height 3
		c.block()
	}
	a, b := c.mHistory("p", ra), c.mHistory("p", rb)
	require.Len(t, a, 1)
	require.Equal(t, benefitsv1.PaymentStatus_PAYMENT_STATUS_PAID, a[0].Status)
	require.Len(t, b, 1)
	require.Equal(t, benefitsv1.PaymentStatus_PAYMENT_STATUS_FAILED, b[0].Status)
	require.Equal(t, "funds/4", fmt.Sprintf("%s/%d", b[0].ReasonCodespace, b[0].ReasonCode), "state keeps the code")
	// ... and never the message: rewording it must not change the app hash.
	stored := c.query(api.PathKey, api.BenefitsPaymentKey(b[0].Id))
	require.Zero(t, stored.Code, stored.Log)
	require.NotContains(t, string(stored.Value), funds.ErrInsufficientFunds.Desc)
	require.NotContains(t, string(stored.Value), "overdraft")
	c.requireConserved()

	c.block(c.tx(mFinance, msgFund("p", 1_000)))
	for c.height < 9 { // period 1 falls due at 8
		c.block()
	}
	b = c.mHistory("p", rb)
	require.Len(t, b, 3)
	require.Equal(t, []uint64{0, 0, 1}, []uint64{b[0].Period, b[1].Period, b[2].Period})
	require.Equal(t, benefitsv1.PaymentStatus_PAYMENT_STATUS_PAID, b[1].Status, "the failed period is paid at the next run")
	require.Equal(t, benefitsv1.PaymentStatus_PAYMENT_STATUS_PAID, b[2].Status)
	require.Equal(t, uint64(200), c.mBalance(payee("acct-"+rb)))
	c.requireConserved()
}

// lastPaymentMovement is the funds movement of a recipient's latest paid payment.
func (c *chain) lastPaymentMovement(prog, recipient string) uint64 {
	h := c.mHistory(prog, recipient)
	require.NotEmpty(c.tb, h)
	return h[len(h)-1].Movement
}

// A programme may start at most benefits.MaxStartLagSeconds before the
// block time: a backdated programme would owe every past period at once.
func TestProgrammeCannotStartInThePast(t *testing.T) {
	c := newMoneyChain(t, 0)
	c.block(c.tx(mOfficer, msgAppropriate("SA/1", 10_000), msgAllocate(mBenefits, 10_000)))
	now := blockTime(c.height + 1).Unix()
	past := now - benefits.MaxStartLagSeconds - 1
	res := c.block(c.tx(mManager, msgCreateProgramme("backdated", 100, 1, past, now+3600, 0))).TxResults[0]
	requireCode(t, benefits.ErrStartsInPast, res.Codespace, res.Code, res.Log, "at most 3600 s in the past")
	require.False(t, c.mRecord(api.PathBenefitsProgramme, "backdated", &benefitsv1.Programme{}))

	now = blockTime(c.height + 1).Unix()
	requireOK(t, c.block(c.tx(mManager, msgCreateProgramme("today", 100, 3600, now-60, now+30*24*3600, 0))).TxResults[0])
}

// A backlog of periods (here: block time jumps past 100 one-second
// periods, as after a halt) is charged per period run and per payment,
// and runs within each block's end-of-block budget, carrying over: no
// block runs it all, and every period is still paid exactly once.
func TestProgrammeBacklogRunsWithinTheEndOfBlockBudget(t *testing.T) {
	g := moneyGenesis(0)
	g.Params.EndBlockUnits = 300_000 // 100,000 a module: a few periods a block
	c := openChain(t, store.NewMemory(), app.Options{})
	c.initChain(g)
	c.block(c.tx(mOfficer, msgAppropriate("SA/1", 100_000), msgAllocate(mBenefits, 100_000)))
	start := blockTime(c.height+1).Unix() + 10
	const periods = 100
	c.block(
		c.tx(mManager, msgCreateProgramme("backlog", 100, 1, start, start+periods, 0)),
		c.tx(mFinance, msgFund("backlog", 50_000)),
	)
	requireOK(t, c.block(c.tx(mCaseworker, msgEnrol("backlog", "r", start))).TxResults[0])

	// The chain halts and comes back after every period has fallen due.
	at := time.Unix(start+periods+1, 0)
	blocks := 0
	p := &benefitsv1.Programme{}
	for !p.Finished {
		runBlock(t, c.app, c.height+1, at.Add(time.Duration(blocks)*time.Second), nil)
		c.height++
		blocks++
		require.True(t, c.mRecord(api.PathBenefitsProgramme, "backlog", p))
		if blocks == 1 {
			require.Positive(t, p.NextPeriod, "the first block makes progress")
			require.False(t, p.Finished, "but does not run the whole backlog")
			q, err := c.app.Queues(at, 1_000)
			require.NoError(t, err)
			require.Positive(t, q.PaymentPeriodsDue, "operators see the backlog waiting")
			require.Equal(t, uint64(1), c.app.CarriedOver()["benefits"], "and the block that carried work over")
		}
		require.Less(t, blocks, periods, "every block runs more than one period")
	}
	require.Greater(t, blocks, 3)
	q, err := c.app.Queues(at, 1_000)
	require.NoError(t, err)
	require.Zero(t, q.PaymentPeriodsDue, "the backlog is gone")
	require.GreaterOrEqual(t, c.app.CarriedOver()["benefits"], uint64(blocks-1))
	h := c.mHistory("backlog", "r")
	require.Len(t, h, periods)
	for k, pay := range h {
		require.Equal(t, uint64(k), pay.Period, "each period paid once, in order")
		require.Equal(t, benefitsv1.PaymentStatus_PAYMENT_STATUS_PAID, pay.Status)
	}
	c.requireConserved()
}

// Creating a programme is charged for the periods it schedules, so one of
// very many short periods does not fit in a transaction.
func TestProgrammeIsChargedForThePeriodsItSchedules(t *testing.T) {
	c := newMoneyChain(t, 0)
	c.block(c.tx(mOfficer, msgAppropriate("SA/1", 10_000), msgAllocate(mBenefits, 10_000)))
	now := blockTime(c.height + 1).Unix()
	small := c.block(c.tx(mManager, msgCreateProgramme("weekly", 100, 7*24*3600, now, now+52*7*24*3600, 0))).TxResults[0]
	requireOK(t, small)
	now = blockTime(c.height + 1).Unix()
	big := c.block(c.tx(mManager, msgCreateProgramme("every-second", 100, 1, now, now+200_000, 0))).TxResults[0]
	requireCode(t, app.ErrOutOfUnits, big.Codespace, big.Code, big.Log, "period scheduled")
	require.Greater(t, big.GasUsed, small.GasUsed+int64(100_000*store.Cost(store.PeriodScheduled)))
}

// A transaction over its unit limit costs the block at most that limit:
// honest transactions after it in the same block still run. (A programme
// charged 20M units for its periods once counted them all against the
// block, and every later transaction failed with "block is full".)
func TestATransactionOverItsLimitCostsTheBlockAtMostTheLimit(t *testing.T) {
	c := newMoneyChain(t, 0)
	c.block(c.tx(mOfficer, msgAppropriate("SA/1", 10_000), msgAllocate(mBenefits, 9_999)))
	now := blockTime(c.height + 1).Unix()
	var txs [][]byte
	for i := range 2 { // each charged ~20M (40M together) against a 10M limit and a 30M block
		txs = append(txs, c.tx(mManager, msgCreateProgramme(fmt.Sprintf("every-second-%d", i), 100, 1, now, now+200_000, 0)))
	}
	txs = append(txs, c.tx(mOfficer, msgAllocate(mBenefits, 1)))
	res := c.block(txs...)
	for i := range 2 {
		requireCode(t, app.ErrOutOfUnits, res.TxResults[i].Codespace, res.TxResults[i].Code, res.TxResults[i].Log, "period scheduled")
	}
	requireOK(t, res.TxResults[len(txs)-1])
}

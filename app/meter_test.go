package app_test

import (
	"context"
	"fmt"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/client/load"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/gov"
)

// meterChain starts the test genesis with the resource-meter limits given
// (0 keeps a default).
func meterChain(tb testing.TB, txUnits, blockUnits uint64) *chain {
	tb.Helper()
	g := testGenesis()
	if txUnits != 0 {
		g.Params.MaxTxUnits = txUnits
	}
	if blockUnits != 0 {
		g.Params.MaxBlockUnits = blockUnits
	}
	c := openChain(tb, store.NewMemory(), app.Options{})
	c.initChain(g)
	return c
}

// addMembers is n AddMember messages for fresh keys named after tag.
func addMembers(tag string, n int) []*txv1.Msg {
	msgs := make([]*txv1.Msg, n)
	for i := range msgs {
		msgs[i] = addMember(keyFor(fmt.Sprintf("%s/%d", tag, i)), agencyv1.Role_ROLE_TREASURY)
	}
	return msgs
}

func TestEveryTransactionReportsItsUnits(t *testing.T) {
	c := newChain(t)
	tx := c.tx(treasuryAdmin, addMembers("one", 1)...)
	one := c.block(tx).TxResults[0]
	requireOK(t, one)
	// gas_wanted is its limit: with none declared, what its route bounds give.
	limit, declared := c.app.UnitLimit(tx)
	require.False(t, declared)
	require.Equal(t, int64(limit), one.GasWanted)
	require.Less(t, limit, uint64(app.DefaultMaxTxUnits))
	// The base, the bytes of the tx and at least one write of an account.
	require.Greater(t, one.GasUsed, int64(store.Cost(store.TxBase)+store.Cost(store.WriteEntry)))
	four := c.block(c.tx(treasuryAdmin, addMembers("four", 4)...)).TxResults[0]
	requireOK(t, four)
	require.Greater(t, four.GasUsed, 3*one.GasUsed, "four members cost about four times one")

	// A failed transaction reports the units it used before it failed.
	bad := c.block(c.tx(treasuryAdmin, removeMember(stranger.addr))).TxResults[0]
	require.NotZero(t, bad.Code)
	require.Greater(t, bad.GasUsed, int64(store.Cost(store.TxBase)))
}

func TestTransactionOverItsUnitLimitFailsAndChangesNothing(t *testing.T) {
	const limit = 100_000
	c := meterChain(t, limit, 0)
	msgs := addMembers("many", 32)
	before := c.lastHash()
	tx := c.tx(treasuryAdmin, msgs...)
	res := c.block(tx).TxResults[0]
	requireCode(t, app.ErrOutOfUnits, res.Codespace, res.Code, res.Log, "the limit is 100000")
	require.Greater(t, res.GasUsed, int64(limit))
	require.Equal(t, int64(limit), res.GasWanted)
	// Nothing of it landed: no new member, and the block changed only the
	// spent nonce (the same signed tx is now a replay).
	require.Len(t, c.members(agTreasury), 3)
	require.NotEqual(t, before, c.lastHash())
	r := c.checkTx(tx)
	requireCode(t, app.ErrReplay, r.Codespace, r.Code, r.Log)

	// The same work in smaller transactions fits.
	for i := 0; i < 32; i += 8 {
		requireOK(t, c.block(c.tx(treasuryAdmin, msgs[i:i+8]...)).TxResults[0])
	}
	require.Len(t, c.members(agTreasury), 35)
}

func TestBlockFullFailsLaterTransactionsWithoutSpendingTheirNonce(t *testing.T) {
	const limit = 100_000
	c := meterChain(t, limit, limit)
	var txs [][]byte
	for i := range 12 {
		txs = append(txs, c.tx(treasuryAdmin, addMembers(fmt.Sprintf("full%d", i), 2)...))
	}
	res := c.block(txs...)
	ok, full := 0, -1
	var used int64
	for i, r := range res.TxResults {
		if r.Code == 0 {
			require.Equal(t, -1, full, "no transaction runs after the block is full")
			ok++
			used += r.GasUsed
			continue
		}
		requireCode(t, app.ErrBlockFull, r.Codespace, r.Code, r.Log, "the block limit is 100000")
		require.Zero(t, r.GasUsed)
		if full < 0 {
			full = i
		}
	}
	require.Positive(t, ok)
	require.GreaterOrEqual(t, full, 1, "the block held some transactions")
	require.GreaterOrEqual(t, used, int64(limit), "a block is full only once its limit is used")
	require.Less(t, used, int64(2*limit), "a block overshoots by at most one transaction")
	// A transaction refused as "block is full" did not spend its nonce: it
	// is accepted again and runs in the next block.
	r := c.checkTx(txs[full])
	require.Zero(t, r.Code, r.Log)
	requireOK(t, c.block(txs[full]).TxResults[0])
}

// A proposer is handed its whole mempool (CometBFT reaps up to the block's
// max_bytes, several blocks' worth under load) but screens only as far as
// its block reaches: the transactions past the first that does not fit are
// never decoded nor their signatures checked, and the proposal is the
// same as from the first ones alone.
func TestAProposerScreensOnlyAsFarAsItsBlockReaches(t *testing.T) {
	const limit = 100_000 // a few add_member transactions
	c := meterChain(t, limit, limit)
	c.block()
	var txs [][]byte
	for i := range 700 {
		txs = append(txs, c.tx(treasuryAdmin, addMembers(fmt.Sprintf("screen%d", i), 1)...))
	}
	before, _ := c.app.DecodeCacheUse()
	proposal := c.prepareProposal(txs...)
	after, _ := c.app.DecodeCacheUse()
	require.Greater(t, len(proposal), 1)
	require.Less(t, len(proposal), 20)
	require.Equal(t, txs[:len(proposal)], proposal)
	require.Less(t, after-before, 300, "decoded %d of the %d transactions for a block of %d", after-before, len(txs), len(proposal))
	require.Equal(t, proposal, c.prepareProposal(txs[:len(proposal)+1]...), "the same proposal as from the first ones")
	for _, r := range c.block(proposal...).TxResults {
		requireOK(t, r)
	}
}

func TestProposalsStopAtTheBlockUnitEstimate(t *testing.T) {
	const limit = 100_000
	c := meterChain(t, limit, limit)
	var txs [][]byte
	for i := range 60 {
		txs = append(txs, c.tx(treasuryAdmin, addMembers(fmt.Sprintf("prop%d", i), 1)...))
	}
	each := uint64(store.Cost(store.TxBase) + store.Cost(store.TxByte)*uint64(len(txs[0])))
	res, err := c.app.PrepareProposal(context.Background(), &abci.RequestPrepareProposal{MaxTxBytes: 1 << 20, Txs: txs, Height: c.height + 1})
	require.NoError(t, err)
	require.Less(t, len(res.Txs), len(txs))
	require.LessOrEqual(t, uint64(len(res.Txs))*(each-100), uint64(limit))
	accept, err := c.app.ProcessProposal(context.Background(), &abci.RequestProcessProposal{Txs: res.Txs, Height: c.height + 1})
	require.NoError(t, err)
	require.Equal(t, abci.ResponseProcessProposal_ACCEPT, accept.Status)
	// A proposal whose transactions alone pass the block's limit is rejected.
	reject, err := c.app.ProcessProposal(context.Background(), &abci.RequestProcessProposal{Txs: txs, Height: c.height + 1})
	require.NoError(t, err)
	require.Equal(t, abci.ResponseProcessProposal_REJECT, reject.Status)
}

func TestGovernanceChangesTheUnitLimits(t *testing.T) {
	c := newGovChain(t)
	require.Equal(t, fmt.Sprint(app.DefaultMaxTxUnits), c.registry()["app.max_tx_units"])
	id, res := c.pass(changeParam("app.max_tx_units", "100000"))
	requireExecuted(t, c, id, res)
	require.Equal(t, "100000", c.registry()["app.max_tx_units"])
	r := c.block(c.tx(treasuryAdmin, addMembers("gov", 32)...)).TxResults[0]
	requireCode(t, app.ErrOutOfUnits, r.Codespace, r.Code, r.Log)

	// A limit that would let no block hold the largest transaction is refused.
	r = c.block(c.tx(treasuryAdmin, msgPropose(changeParam("app.max_block_units", "50000")))).TxResults[0]
	requireCode(t, gov.ErrInvalidParamValue, r.Codespace, r.Code, r.Log, "below max_tx_units")
	require.Equal(t, fmt.Sprint(app.DefaultMaxBlockUnits), c.registry()["app.max_block_units"], "the failed proposal changed nothing")
}

// The defaults a genesis written before the meter gets.
func TestGenesisWithoutUnitLimitsTakesDefaults(t *testing.T) {
	g := testGenesis()
	g.Params.MaxTxUnits, g.Params.MaxBlockUnits, g.Params.EndBlockUnits = 0, 0, 0
	bz, err := app.MarshalGenesis(g)
	require.NoError(t, err)
	parsed, err := app.ParseGenesis(bz)
	require.NoError(t, err)
	want := app.DefaultParams()
	require.Equal(t, want.MaxTxUnits, parsed.Params.MaxTxUnits)
	require.Equal(t, want.MaxBlockUnits, parsed.Params.MaxBlockUnits)
	require.Equal(t, want.EndBlockUnits, parsed.Params.EndBlockUnits)
	require.Error(t, app.ValidateParams(&appv1.Params{MaxTxBytes: 1024, MaxMessages: 1, TimeoutWindow: 1, MaxTxUnits: 10}))
}

// A backlog of every module's common transactions, proposed block after
// block as CometBFT would (the mempool's order, what a block took removed),
// fills blocks only as far as max_block_units holds: no transaction fails
// as "block is full", each commits, in its turn, and no block uses more
// than the limit. Before each message's bound came from its route, the
// proposer counted every message as 5,000 units while the mix uses two to
// five times that, and the last third of each block failed with tx/31.
func TestABacklogOfMixedTransactionsCommitsWithoutOverfillingBlocks(t *testing.T) {
	perBlock := drainMixedBacklog(t, false)
	require.Greater(t, len(perBlock), 2, "the backlog needed several blocks")
}

// The same backlog with each transaction declaring its unit limit as the
// load mix does (load.MessageUnits): every transaction still commits, and
// blocks hold more of them, because the funds movements are counted at
// what they use rather than at the many-tranche walk their route bounds
// allow for.
func TestABacklogThatDeclaresItsUnitsCommitsInFewerBlocks(t *testing.T) {
	undeclared := drainMixedBacklog(t, false)
	declared := drainMixedBacklog(t, true)
	t.Logf("transactions per block: route bounds %v, declared %v", undeclared, declared)
	require.Less(t, len(declared), len(undeclared))
	require.Greater(t, declared[0], undeclared[0]*5/4, "a full block holds at least a quarter more")
}

// drainMixedBacklog proposes a backlog of the load mix's messages (6
// rounds of mixedBacklog) block after block under max_tx_units 200,000 and
// max_block_units 300,000, checking each block, and returns how many
// transactions each block held. With declare, each transaction declares
// its limit from load.MessageUnits.
func drainMixedBacklog(t *testing.T, declare bool) []int {
	t.Helper()
	const blockUnits = 300_000
	c := newMixedChain(t, 200_000, blockUnits)
	const rounds = 6
	backlog := c.mixedBacklog(0, rounds, declare)
	// The whole backlog in one block is more than a block may hold: a
	// proposer that sends it anyway is refused.
	require.Equal(t, abci.ResponseProcessProposal_REJECT, c.processProposal(backlog...))

	mempool := backlog
	var perBlock []int
	for len(mempool) > 0 {
		require.Less(t, len(perBlock), 3*len(backlog), "the backlog stopped draining")
		proposal := c.prepareProposal(mempool...)
		require.NotEmpty(t, proposal, "a proposal from a non-empty mempool holds at least one transaction")
		require.Equal(t, abci.ResponseProcessProposal_ACCEPT, c.processProposal(proposal...))
		res := c.block(proposal...)
		perBlock = append(perBlock, len(proposal))
		var used int64
		for i, r := range res.TxResults {
			require.False(t, isCode(r.Codespace, r.Code, app.ErrBlockFull), "block %d, transaction %d: %s", len(perBlock), i, r.Log)
			requireOK(t, r)
			used += r.GasUsed
		}
		require.LessOrEqual(t, used, int64(blockUnits), "block %d used more than max_block_units", len(perBlock))
		// CometBFT drops what a block committed from the mempool, and
		// proposals take the mempool in order.
		require.Equal(t, mempool[:len(proposal)], proposal)
		mempool = mempool[len(proposal):]
	}
	require.Len(t, c.members(mTreasury), 2+rounds)
	require.Equal(t, mAuditor.addr, c.item(fmt.Sprintf("lot:%d", rounds-1)).Custodian)
	return perBlock
}

// newMixedChain starts the money genesis with a tax type and the unit
// limits given, and prepares what mixedBacklog draws on: money allocated
// to the benefits agency and a programme "p" that starts in a week, so
// enrolments pay nothing yet.
func newMixedChain(tb testing.TB, txUnits, blockUnits uint64) *chain {
	tb.Helper()
	g := moneyGenesis(0)
	g.Params.MaxTxUnits, g.Params.MaxBlockUnits = txUnits, blockUnits
	g.Tax = &taxv1.Genesis{
		TaxTypes:       []*taxv1.TaxType{{Code: "VAT", Name: "Value added tax", Authority: mTax, RevenueAgency: mTreasury, PeriodKind: taxv1.PeriodKind_PERIOD_KIND_QUARTER}},
		Authorisations: []*taxv1.Authorisation{{Collector: mCollector.addr, TaxType: "VAT", Active: true}},
	}
	c := openChain(tb, store.NewMemory(), app.Options{})
	c.initChain(g)
	start := mixedProgrammeStart()
	for _, tx := range [][]byte{
		c.tx(mOfficer, msgAppropriate("SA/setup", 10_000_000_000), msgAllocate(mBenefits, 5_000_000_000)),
		c.tx(mManager, msgCreateProgramme("p", 100, 7*24*3600, start, start+52*7*24*3600, 0)),
	} {
		requireOK(tb, c.block(tx).TxResults[0])
	}
	return c
}

// mixedProgrammeStart is when newMixedChain's programme starts: a week
// after the chain's first block.
func mixedProgrammeStart() int64 { return blockTime(1).Unix() + 7*24*3600 }

// mixedBacklog is rounds rounds (numbered from first) of the load mix's
// messages, one transaction each: appropriate, allocate, fund, enrol,
// issue_receipt, register_item, offer_custody, accept_custody (of the item
// just offered), add_member. With declare, each declares its unit limit as
// the load mix does (load.MessageUnits).
func (c *chain) mixedBacklog(first, rounds int, declare bool) [][]byte {
	c.tb.Helper()
	start := mixedProgrammeStart()
	var backlog [][]byte
	send := func(k testKey, m *txv1.Msg) {
		args := txArgs{signer: k, timeout: uint64(c.height) + 100}
		if declare {
			args.msgUnits = load.MessageUnits(m)
			require.Positive(c.tb, args.msgUnits)
		}
		backlog = append(backlog, c.txWith(args, m))
	}
	for i := first; i < first+rounds; i++ {
		item := fmt.Sprintf("lot:%d", i)
		send(mOfficer, msgAppropriate(fmt.Sprintf("SA/%d", i), 1_000))
		send(mOfficer, msgAllocate(mBenefits, 1_000))
		send(mFinance, msgFund("p", 100))
		send(mCaseworker, msgEnrol("p", fmt.Sprintf("r%d", i), start))
		send(mCollector, taxIssue("VAT", taxPayerRef(fmt.Sprint(i)), "2026-Q1", 1_000, fmt.Sprintf("BANK-%d", i)))
		send(mProducer, register(item, 100, "milk"))
		send(mProducer, offer(item, mAuditor, 0))
		send(mAuditor, accept(item))
		send(mTreasuryAdmin, addMember(keyFor(fmt.Sprintf("backlog/%d", i)), agencyv1.Role_ROLE_TREASURY))
	}
	return backlog
}

package app_test

import (
	"strconv"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/app"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	benefitsv1 "github.com/tallyledger/tally/proto/tally/benefits/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
	"github.com/tallyledger/tally/store"
)

// The record world's names, besides the fuzz world's (fzProgramme, fzItem).
const (
	wdProgramme = "fz-prog-2"     // a second programme, paying r2 twice
	wdPart0     = fzItem + "-0"   // fzItem split in two, each part offered to the collector
	wdPart1     = fzItem + "-1"   //
	wdRecalled  = fzItem + "-B"   // an item split in two, then recalled
	wdHanded    = fzItem + "-C"   // an item offered to the collector and accepted
	wdRecall    = "FZ-RECALL-1"   // the recall order of wdRecalled
	wdAmended   = "TAX-000002"    // a receipt corrected twice
	wdLocation  = pvSchool        // a named location, where wdHanded was accepted
	wdUpgrade   = "v2"            // the upgrade plan proposal 3 scheduled
	wdUpgradeAt = 1_000_000       // its height, far past any test's last block
	wdAuditor   = "world/auditor" // a member the benefits admin added
	wdPayment   = 1               // wdProgramme's first payment: settled, then recovered in part
	wdRecovery  = 1               // the recovery of wdPayment, repaid in part
	wdPeriod    = "2030-Q1"       // VAT receipts TAX-000001 and TAX-000002 are of this period
	wdUpgradeID = 4               // the executed proposal (1 and 2 stay open; 3 is the misbehaviour's removal proposal)
)

// newRecordWorld is the fuzz world grown by signed transactions through
// the app until it holds a record of every kind a query path answers, and
// at least two entries in every listing: programmes, enrolments, payments
// with a settlement, a recovery and a repayment; receipts in two periods,
// one amended twice, a second tax type; items split, offered, accepted
// into custody at a named location, inspected, recalled; proposals open
// and executed (an upgrade plan), votes; an added member; misbehaviour
// evidence against a validator. Every transaction must succeed. The list
// and contract tests read it (TestEveryListingPagesToItsEndWithASmallLimit,
// TestEveryRouteAnswersAtTheKeysTheClientBuilds).
func newRecordWorld(tb testing.TB) *chain {
	tb.Helper()
	c := openChain(tb, store.NewMemory(), fuzzOptions)
	bz, err := app.MarshalGenesis(withKeyProofs(withFoundingMandates(fuzzGenesis())))
	require.NoError(tb, err)
	var vals []abci.ValidatorUpdate
	for _, pk := range genesisVals { // validators, so that they can be listed too
		vals = append(vals, abci.Ed25519ValidatorUpdate(pk, 10))
	}
	_, err = c.app.InitChain(tb.Context(), &abci.RequestInitChain{Time: genesisTime, ChainId: testChainID, AppStateBytes: bz, InitialHeight: 1, Validators: vals})
	require.NoError(tb, err)
	for _, r := range fuzzWorldBlock(c).TxResults {
		requireOK(tb, r)
	}
	now := blockTime(c.height).Unix()
	// A second record of every kind the fuzz world has one of.
	fzStart := genesisTime.Unix() + 5*365*24*3600 // the fuzz world programme's start
	c.ok(
		c.tx(mManager, msgCreateProgramme(wdProgramme, 100, 30*24*3600, now+3, now+365*24*3600, 0)),
		c.tx(mCaseworker, msgEnrol(fzProgramme, "r2", fzStart)),
		c.tx(mCollector, taxIssue("VAT", fzPayer, wdPeriod, 2_000, "BANK-FZ-2"), taxIssue("VAT", fzPayer, "2030-Q2", 3_000, "BANK-FZ-3")),
		c.tx(mTaxAdmin, taxRegisterType("PAYE", mTreasury, taxv1.PeriodKind_PERIOD_KIND_QUARTER)),
		c.tx(mProducer, register(wdRecalled, 10, "milk.raw"), split(fzItem, 50, 50)),
		c.tx(mProducer, split(wdRecalled, 5, 5)),
		c.tx(mRegulator, accredit(mInspector)),
		c.tx(mTreasuryAdmin, msgPropose(changeParam("app.max_memo_bytes", "300"))),
	)
	c.ok(
		c.tx(mFinance, msgFund(wdProgramme, 1_000)),
		c.tx(mCaseworker, msgEnrol(wdProgramme, "r2", now+3)),
		c.tx(mCollector, taxCorrect(wdAmended, 2_100, ""), taxCorrect(wdAmended, 2_200, "")),
		c.tx(mProducer, offer(wdPart0, mCollector, 3600), offer(wdPart1, mCollector, 3600)),
		c.tx(mInspector, attest(wdPart0), attest(wdPart0)),
		c.tx(mTreasuryAdmin, msgVote(1, govv1.VoteOption_VOTE_OPTION_YES)),
		c.tx(mTaxAdmin, msgVote(1, govv1.VoteOption_VOTE_OPTION_NO)),
	)
	c.ok(
		c.tx(mRegulator, recall(wdRecall, wdRecalled)),
		c.tx(mPayer, msgPay(wdProgramme, "r2", 10), msgPay(wdProgramme, "r2", 20)),
	)
	c.blockWithEvidence(duplicateVote(genesisVals[1], c.height))
	c.blockWithEvidence(duplicateVote(genesisVals[1], c.height))

	// Records of the kinds the listings do not need two of.
	payment := &benefitsv1.Payment{}
	res := c.query(api.PathBenefitsPayment, []byte("1"))
	require.Zero(tb, res.Code, res.Log)
	require.NoError(tb, proto.Unmarshal(res.Value, payment))
	require.NotZero(tb, payment.Movement, "payment %d paid through a funds movement", wdPayment)
	c.ok(
		c.tx(mSettler, msgSettle(payment.Movement)),
		c.tx(mPayer, msgOpenRecovery(wdPayment, 5)),
		c.tx(mRegAdmin, nameLocation(wdLocation, "School kitchen")),
		c.tx(mProducer, register(wdHanded, 7, "milk.raw"), offer(wdHanded, mCollector, 3600)),
		c.tx(mTreasuryAdmin, msgPropose(scheduleUpgrade(wdUpgrade, wdUpgradeAt))),
		c.tx(mBenefitsAdmin, addMemberTo(mBenefits, keyFor(wdAuditor), agencyv1.Role_ROLE_AUDITOR)),
	)
	proposal := &govv1.Proposal{}
	res = c.query(api.PathGovProposal, []byte(strconv.Itoa(wdUpgradeID)))
	require.Zero(tb, res.Code, res.Log)
	require.NoError(tb, proto.Unmarshal(res.Value, proposal))
	require.NotNil(tb, proposal.GetContent().GetScheduleUpgrade(), "proposal %d schedules the upgrade", wdUpgradeID)
	var votes [][]byte
	for _, admin := range []testKey{mTreasuryAdmin, mBenefitsAdmin, mCouncilAdmin, mBankAdmin, mRegAdmin, mTaxAdmin} {
		votes = append(votes, c.tx(admin, msgVote(wdUpgradeID, govv1.VoteOption_VOTE_OPTION_YES)))
	}
	c.ok(append(votes,
		c.tx(mSettler, msgRepay(wdRecovery, 2)),
		c.tx(mCollector, accept(wdHanded)),
	)...)
	c.block()
	return c
}

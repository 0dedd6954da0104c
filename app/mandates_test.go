package app_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	ics23 "github.com/cosmos/ics23/go"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/client"
	benefitsv1 "github.com/tallyledger/tally/proto/tally/benefits/v1"
	fundsv1 "github.com/tallyledger/tally/proto/tally/funds/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/funds"
	"github.com/tallyledger/tally/x/gov"
	"github.com/tallyledger/tally/x/module"
	"github.com/tallyledger/tally/x/tax"
)

// mVoters are the admins of the money chain's six agencies.
var mVoters = []testKey{mTreasuryAdmin, mBenefitsAdmin, mCouncilAdmin, mBankAdmin, mRegAdmin, mTaxAdmin}

// newBareMoneyChain is the money chain on which no agency holds any
// mandate, with a ten-second voting period.
func newBareMoneyChain(t *testing.T) *chain {
	g := moneyGenesis(0)
	p := gov.DefaultParams()
	p.VotingPeriodSeconds = govVotingPeriod
	g.Gov = &govv1.Genesis{Params: p, Mandates: noMandates}
	c := openChain(t, store.NewMemory(), app.Options{})
	c.initChain(g)
	c.block()
	return c
}

// mPass proposes content (by the treasury's admin) and has every agency
// of the money chain vote yes; the proposal executes in that block.
func (c *chain) mPass(content *govv1.Content) {
	c.tb.Helper()
	res := c.block(c.tx(mTreasuryAdmin, msgPropose(content)))
	requireOK(c.tb, res.TxResults[0])
	id, err := strconv.ParseUint(attrs(event(c.tb, res.TxResults[0].Events, gov.EventSubmitted))["proposal_id"].Value, 10, 64)
	require.NoError(c.tb, err)
	var txs [][]byte
	for _, k := range mVoters {
		txs = append(txs, c.tx(k, msgVote(id, govv1.VoteOption_VOTE_OPTION_YES)))
	}
	for _, r := range c.block(txs...).TxResults {
		requireOK(c.tb, r)
	}
	p := c.proposal(id)
	require.Equal(c.tb, govv1.ProposalStatus_PROPOSAL_STATUS_EXECUTED, p.Status, api.Describe(p.FailureCodespace, p.FailureCode))
}

func supplyMandate(agencyID string, ceiling uint64) *govv1.Content {
	return &govv1.Content{Sum: &govv1.Content_GrantMandate{GrantMandate: &govv1.GrantMandate{
		AgencyId: agencyID, Mandate: govv1.Mandate_MANDATE_TREASURY, LegalBasis: "Supply and Appropriation Act 2030",
		Scope: "main estimates 2030-31", Ceiling: ceiling}}}
}

// proved queries path with a proof and checks the proof against the app
// hash committed at the answer's height; it decodes the value into into.
func (c *chain) proved(path, arg string, into proto.Message) {
	c.tb.Helper()
	res, err := c.app.Query(context.Background(), &abci.RequestQuery{Path: path, Data: []byte(arg), Prove: true})
	require.NoError(c.tb, err)
	require.Zero(c.tb, res.Code, res.Log)
	require.NotNil(c.tb, res.ProofOps)
	require.Len(c.tb, res.ProofOps.Ops, 1)
	p := &ics23.CommitmentProof{}
	require.NoError(c.tb, p.Unmarshal(res.ProofOps.Ops[0].Data))
	require.NoError(c.tb, client.VerifyProof(c.hashes[res.Height], res.Key, res.Value, p), "%s %s: proof against the app hash", path, arg)
	require.NoError(c.tb, proto.Unmarshal(res.Value, into))
}

// The end-to-end life of a mandate: without one the Treasury cannot create
// money; governance grants a supply mandate with a ceiling and a
// benefits-payer mandate by vote; appropriations stop at the ceiling; a
// payment records the grant it was made under, which a proved query shows;
// withdrawing the mandate stops payments at once, with a coded error naming
// the mandate.
func TestMandateGrantActWithdrawRefuseAndProve(t *testing.T) {
	c := newBareMoneyChain(t)
	start := blockTime(c.height + 1).Unix()

	r := c.block(c.tx(mOfficer, msgAppropriate("SA2030/1", 600_000))).TxResults[0]
	requireCode(t, gov.ErrNoMandate, r.Codespace, r.Code, r.Log, `"treasury" holds no treasury mandate`)
	require.False(t, c.mRecord(api.PathFundsAppropriation, "SA2030/1", &fundsv1.Appropriation{}))

	c.mPass(supplyMandate(mTreasury, 1_000_000))
	c.mPass(grantMandate(mBenefits, govv1.Mandate_MANDATE_BENEFITS_PAYER, 0))
	grants := govList(c, api.PathGovMandates, nil, func() *govv1.MandateGrant { return &govv1.MandateGrant{} })
	require.Len(t, grants, 2)

	requireOK(t, c.block(c.tx(mOfficer, msgAppropriate("SA2030/1", 600_000))).TxResults[0])
	r = c.block(c.tx(mOfficer, msgAppropriate("SA2030/2", 400_001))).TxResults[0]
	requireCode(t, gov.ErrMandateCeiling, r.Codespace, r.Code, r.Log, "used 600000 of its ceiling 1000000", "at most 400000 more")
	requireOK(t, c.block(c.tx(mOfficer, msgAppropriate("SA2030/2", 400_000))).TxResults[0])
	a := &fundsv1.Appropriation{}
	c.proved(api.PathFundsAppropriation, "SA2030/2", a)
	supply := &govv1.MandateGrant{}
	c.proved(api.PathGovMandate, strconv.FormatUint(a.Mandate, 10), supply)
	require.Equal(t, govv1.Mandate_MANDATE_TREASURY, supply.Mandate)
	require.Equal(t, uint64(1_000_000), supply.Used)
	require.Equal(t, "Supply and Appropriation Act 2030", supply.LegalBasis)

	for _, s := range []struct {
		k   testKey
		msg *txv1.Msg
	}{
		{mOfficer, msgAllocate(mBenefits, 500_000)},
		{mManager, msgCreateProgramme("pip", 1_000, 30*24*3600, start, start+365*24*3600, 0)},
		{mFinance, msgFund("pip", 100_000)},
		{mCaseworker, msgEnrol("pip", "r1", 0)},
	} {
		requireOK(t, c.block(c.tx(s.k, s.msg)).TxResults[0])
	}
	res := c.block(c.tx(mPayer, msgPay("pip", "r1", 700)))
	requireOK(t, res.TxResults[0])
	paymentID := attrs(event(t, res.TxResults[0].Events, "benefits.paid"))["payment"].Value

	// The payment proves its mandate: the proved payment names a grant,
	// and the proved grant is the benefits agency's benefits-payer mandate.
	pay := &benefitsv1.Payment{}
	c.proved(api.PathBenefitsPayment, paymentID, pay)
	require.NotZero(t, pay.Mandate)
	grant := &govv1.MandateGrant{}
	c.proved(api.PathGovMandate, strconv.FormatUint(pay.Mandate, 10), grant)
	require.Equal(t, mBenefits, grant.AgencyId)
	require.Equal(t, govv1.Mandate_MANDATE_BENEFITS_PAYER, grant.Mandate)
	require.Equal(t, "Finance Act 2029 s.4", grant.LegalBasis)
	mv := &fundsv1.Movement{}
	c.proved(api.PathFundsMovement, strconv.FormatUint(pay.Movement, 10), mv)
	require.Equal(t, pay.Mandate, mv.Mandate, "the ledger's payment movement names the same grant")

	// Withdrawn: the next payment is refused at once, naming the mandate;
	// the grant's record stays, marked withdrawn.
	c.mPass(withdrawMandate(mBenefits, govv1.Mandate_MANDATE_BENEFITS_PAYER))
	r = c.block(c.tx(mPayer, msgPay("pip", "r1", 700))).TxResults[0]
	requireCode(t, gov.ErrNoMandate, r.Codespace, r.Code, r.Log, `"benefits" holds no benefits_payer mandate`)
	c.proved(api.PathGovMandate, strconv.FormatUint(pay.Mandate, 10), grant)
	require.NotZero(t, grant.WithdrawnHeight)
	c.requireConserved()
}

// A mandate lapses at its expiry (block time): the act that needed it is
// refused from that second on.
func TestMandateLapsesAtExpiry(t *testing.T) {
	c := newBareMoneyChain(t)
	until := blockTime(c.height + 6).Unix()
	c.mPass(&govv1.Content{Sum: &govv1.Content_GrantMandate{GrantMandate: &govv1.GrantMandate{
		AgencyId: mTreasury, Mandate: govv1.Mandate_MANDATE_TREASURY, LegalBasis: "Supply Act", Ceiling: 1_000_000, UntilUnix: until}}})
	requireOK(t, c.block(c.tx(mOfficer, msgAppropriate("SA/1", 1_000))).TxResults[0])
	for blockTime(c.height+1).Unix() < until {
		c.block()
	}
	r := c.block(c.tx(mOfficer, msgAppropriate("SA/2", 1_000))).TxResults[0]
	requireCode(t, gov.ErrMandateLapsed, r.Codespace, r.Code, r.Log, "treasury mandate", "lapsed")
}

// Hole: a tax authority named any agency as a tax type's revenue agency,
// so it could direct tax to a body of its choosing. Now the revenue agency
// must hold the treasury mandate or a revenue mandate.
func TestRevenueAgencyMustBeTreasuryOrMandated(t *testing.T) {
	c := newChain(t)
	c.block()
	register := func(code, revenue string) *abci.ExecTxResult {
		return c.block(c.tx(taxAdmin, &txv1.Msg{Sum: &txv1.Msg_RegisterTaxType{RegisterTaxType: &taxv1.MsgRegisterTaxType{
			Code: code, Name: code, RevenueAgency: revenue, PeriodKind: taxv1.PeriodKind_PERIOD_KIND_YEAR}}})).TxResults[0]
	}
	r := register("FOOD_LEVY", agRegulator)
	requireCode(t, gov.ErrNoMandate, r.Codespace, r.Code, r.Log, `revenue agency "regulator" must be the Treasury`, "revenue mandate")
	require.Equal(t, uint32(app.ErrNotFound.Code), c.query(api.PathTaxType, []byte("FOOD_LEVY")).Code)

	requireOK(t, register("STAMP_DUTY", agTreasury))
	tt := &taxv1.TaxType{}
	c.proved(api.PathTaxType, "STAMP_DUTY", tt)
	require.NotZero(t, tt.Mandate, "the authority's tax-authority grant")
	require.NotZero(t, tt.RevenueMandate, "the treasury's grant that let it receive revenue")
}

// Hole: receipt amounts were unbounded, so one collector could create any
// amount of revenue with one record. Now gov.max_receipt_amount caps each
// receipt and each correction.
func TestReceiptAmountIsCapped(t *testing.T) {
	c := newChain(t)
	c.block()
	requireOK(t, c.block(c.tx(taxAdmin,
		&txv1.Msg{Sum: &txv1.Msg_RegisterTaxType{RegisterTaxType: &taxv1.MsgRegisterTaxType{Code: "VAT", Name: "VAT", RevenueAgency: agTreasury, PeriodKind: taxv1.PeriodKind_PERIOD_KIND_QUARTER}}},
		&txv1.Msg{Sum: &txv1.Msg_AuthoriseCollector{AuthoriseCollector: &taxv1.MsgAuthoriseCollector{Collector: taxCollector.addr, TaxType: "VAT"}}},
	)).TxResults[0])
	issue := func(amount uint64, ref string) *abci.ExecTxResult {
		return c.block(c.tx(taxCollector, &txv1.Msg{Sum: &txv1.Msg_IssueReceipt{IssueReceipt: &taxv1.MsgIssueReceipt{
			TaxType: "VAT", Payer: taxPayer(taxPayerRef("payer-1"), "VAT", "2030-Q1"), Period: "2030-Q1", Amount: amount, BankReference: taxBankRef(ref)}}})).TxResults[0]
	}
	r := issue(1<<62, "HUGE-1")
	requireCode(t, tax.ErrOverReceiptCap, r.Codespace, r.Code, r.Log, "gov.max_receipt_amount")
	r = issue(gov.DefaultMaxReceiptAmount+1, "HUGE-2")
	requireCode(t, tax.ErrOverReceiptCap, r.Codespace, r.Code, r.Log)
	requireOK(t, issue(gov.DefaultMaxReceiptAmount, "OK-1"))
	r = c.block(c.tx(taxCollector, &txv1.Msg{Sum: &txv1.Msg_CorrectReceipt{CorrectReceipt: &taxv1.MsgCorrectReceipt{
		ReceiptId: "TAX-000001", Reason: taxv1.Reason_REASON_KEYING_ERROR, Amount: gov.DefaultMaxReceiptAmount + 1}}})).TxResults[0]
	requireCode(t, tax.ErrOverReceiptCap, r.Codespace, r.Code, r.Log)
}

// Hole: a finance officer could transfer public money to any bank account
// (payee:<token>) and have it settled out of the ledger. Now a bank account
// is reached only by a programme's payment to an enrolled recipient.
func TestNoTransferToArbitraryBankAccount(t *testing.T) {
	c := newMoneyChain(t, 0)
	c.block()
	requireOK(t, c.block(c.tx(mOfficer, msgAppropriate("SA/1", 100_000), msgAllocate(mBenefits, 50_000))).TxResults[0])
	r := c.block(c.tx(mFinance, msgTransfer(api.AgencyHolder(mBenefits), payee("my-own-account"), 50_000))).TxResults[0]
	requireCode(t, funds.ErrPayeeByPaymentOnly, r.Codespace, r.Code, r.Log, payee("my-own-account"))
	require.Equal(t, uint64(50_000), c.mBalance(api.AgencyHolder(mBenefits)))
	require.Zero(t, c.mBalance(payee("my-own-account")))
	c.requireConserved()
}

// taxSettler settles payments for a clearing bank that collects nothing,
// so it may confirm any receipt of the tax chain.
var taxSettler = keyFor("clearing/settler")

const agClearing = "clearing"

func taxConfirm(id, bankRef string, amount uint64) *txv1.Msg {
	return &txv1.Msg{Sum: &txv1.Msg_ConfirmReceipt{ConfirmReceipt: &taxv1.MsgConfirmReceipt{ReceiptId: id, BankReference: taxBankRef(bankRef), Amount: amount}}}
}

// taxConfirmAll has the clearing bank confirm every TAX receipt's pending
// revenue, each in its own block.
func (c *chain) taxConfirmAll() {
	c.tb.Helper()
	for n := 1; ; n++ {
		id := fmt.Sprintf("TAX-%06d", n)
		ans := c.taxReceipt(id)
		if !ans.Found {
			return
		}
		ref, err := tax.ParseReceiptID(id)
		require.NoError(c.tb, err)
		conf := &taxv1.Confirmed{}
		if res := c.query(api.PathKey, api.TaxConfirmedKey(ref)); res.Code == 0 {
			require.NoError(c.tb, proto.Unmarshal(res.Value, conf))
		}
		if ans.State.Net > conf.Amount {
			requireOK(c.tb, c.block(c.tx(taxSettler, &txv1.Msg{Sum: &txv1.Msg_ConfirmReceipt{ConfirmReceipt: &taxv1.MsgConfirmReceipt{
				ReceiptId: id, BankReference: ans.Receipt.BankReference, Amount: ans.State.Net - conf.Amount}}})).TxResults[0])
		}
	}
}

// Hole: tax revenue was spendable the moment a collector issued a receipt,
// on one agency's word. Now it is pending until a settling bank of another
// agency confirms a settlement matching the receipt's bank reference and
// amount; until then the Treasury cannot allocate it.
func TestRevenueIsSpendableOnlyAfterTheBankConfirmsSettlement(t *testing.T) {
	c := newTaxChain(t)
	requireOK(t, c.block(c.tx(taxCollector, taxIssue("VAT", taxPayerRef("p"), "2026-Q1", 10_000, "BACS-1"))).TxResults[0])
	require.Zero(t, c.taxFundsBalance(agTreasury), "a receipt alone credits nothing")
	r := c.block(c.tx(treasuryClerk, msgAllocate(agTax, 10_000))).TxResults[0]
	requireCode(t, funds.ErrInsufficientFunds, r.Codespace, r.Code, r.Log)

	for _, bad := range []struct {
		signer testKey
		msg    *txv1.Msg
		want   *module.Error
		frag   string
	}{
		{taxBankCollector, taxConfirm("TAX-000001", "BACS-1", 10_000), app.ErrUnauthorized, "settlement_bank"},
		{taxSettler, taxConfirm("TAX-000001", "BACS-2", 10_000), tax.ErrSettlementMismatch, "bank reference"},
		{taxSettler, taxConfirm("TAX-000001", "BACS-1", 9_999), tax.ErrSettlementMismatch, "has 10000 pending"},
	} {
		r := c.block(c.tx(bad.signer, bad.msg)).TxResults[0]
		requireCode(t, bad.want, r.Codespace, r.Code, r.Log, bad.frag)
	}
	require.Zero(t, c.taxFundsBalance(agTreasury))

	res := c.block(c.tx(taxSettler, taxConfirm("TAX-000001", "BACS-1", 10_000))).TxResults[0]
	requireOK(t, res)
	event(t, res.Events, funds.EventRevenueCredit)
	require.Equal(t, uint64(10_000), c.taxFundsBalance(agTreasury))
	r = c.block(c.tx(taxSettler, taxConfirm("TAX-000001", "BACS-1", 10_000))).TxResults[0]
	requireCode(t, tax.ErrNothingPending, r.Codespace, r.Code, r.Log)
	requireOK(t, c.block(c.tx(treasuryClerk, msgAllocate(agTax, 10_000))).TxResults[0])
	c.taxRequireFundsConserved()
}

package app_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/api"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/x/benefits"
	"github.com/tallyledger/tally/x/funds"
	"github.com/tallyledger/tally/x/module"
)

// Every wrong input to the funds and benefits messages is refused with its
// own code and a message that says what would be right, and leaves every
// module's state as it was.
func TestFundsAndBenefitsRefusals(t *testing.T) {
	c := newMoneyChain(t, 0)
	c.block()
	now := blockTime(2).Unix()
	setup := c.block(
		c.tx(mOfficer, msgAppropriate("SA/1", 100_000), msgAllocate(mBenefits, 50_000)),
		c.tx(mManager, msgCreateProgramme("p", 1_000, 3600, now, now+30*24*3600, 2_500)),
		c.tx(mManager, msgCreateProgramme("later", 1_000, 3600, now+10*24*3600, now+30*24*3600, 0)),
	)
	for _, r := range setup.TxResults {
		requireOK(t, r)
	}
	res := c.block(c.tx(mFinance, msgFund("p", 10_000)), c.tx(mCaseworker, msgEnrol("p", "r1", 0), msgEnrol("later", "r1", now+10*24*3600)),
		c.tx(mPayer, msgPay("p", "r1", 500)))
	for _, r := range res.TxResults {
		requireOK(t, r)
	}
	movement := mID(t, mEventAttr(t, res.TxResults[2].Events, "benefits.paid", "movement"))
	requireOK(t, c.block(c.tx(mSettler, msgSettle(movement))).TxResults[0])

	wrongCurrency := msgFund("p", 10)
	wrongCurrency.GetFund().Currency = "EUR"
	for _, tt := range []struct {
		name   string
		signer testKey
		msg    *txv1.Msg
		want   *module.Error
		log    string
	}{
		{"overdraft", mFinance, msgFund("p", 1_000_000), funds.ErrInsufficientFunds, "agency:benefits holds 40000"},
		{"allocation overdraft", mOfficer, msgAllocate(mBenefits, 1_000_000), funds.ErrInsufficientFunds, ""},
		{"zero amount", mFinance, msgFund("p", 0), funds.ErrZeroAmount, ""},
		{"wrong currency", mFinance, wrongCurrency, funds.ErrWrongCurrency, "GBP"},
		{"over the annual limit", mOfficer, msgAppropriate("SA/2", 1_000_000_000_00), funds.ErrOverAnnualLimit, "at most"},
		{"appropriation reference reused", mOfficer, msgAppropriate("SA/1", 1), funds.ErrDuplicateAppropriation, ""},
		{"unknown agency", mOfficer, msgAllocate("nobody", 1), funds.ErrUnknownHolder, ""},
		{"transfer from another agency's holder", mCouncilFin, msgTransfer(api.AgencyHolder(mBenefits), api.AgencyHolder(mCouncil), 1), funds.ErrNotController, ""},
		{"money out of a bank account", mFinance, msgTransfer(payee("acct-r1"), api.AgencyHolder(mBenefits), 1), funds.ErrNotController, "only by settlement"},
		{"return where it did not come from", mFinance, msgReturn(api.ProgrammeHolder("p"), api.AgencyHolder(mCouncil), 1), funds.ErrNotReturnable, ""},
		{"bad holder id", mFinance, msgTransfer("bogus", api.AgencyHolder(mBenefits), 1), funds.ErrInvalidHolder, "agency:<agency id>"},
		{"settle unknown payment", mSettler, msgSettle(9_999), funds.ErrUnknownPayment, ""},
		{"settle twice", mSettler, msgSettle(movement), funds.ErrAlreadySettled, ""},
		{"settle a movement that is no payment", mSettler, msgSettle(1), funds.ErrNotPayment, "appropriate"},
		{"unknown programme", mCaseworker, msgEnrol("nope", "r2", 0), benefits.ErrUnknownProgramme, ""},
		{"fund unknown programme", mFinance, msgFund("nope", 1), funds.ErrUnknownHolder, ""},
		{"duplicate enrolment", mCaseworker, msgEnrol("p", "r1", 0), benefits.ErrDuplicateEnrolment, ""},
		{"enrolment outside the dates", mCaseworker, msgEnrol("p", "r2", now+31*24*3600), benefits.ErrOutsideDates, ""},
		{"payment before the programme starts", mPayer, msgPay("later", "r1", 10), benefits.ErrOutsideDates, ""},
		{"payment over the cap", mPayer, msgPay("p", "r1", 2_001), benefits.ErrOverCap, "at most 2000 more"},
		{"payment to someone not enrolled", mPayer, msgPay("p", "ghost", 1), benefits.ErrUnknownEnrolment, ""},
		{"payment in another currency", mPayer, func() *txv1.Msg { m := msgPay("p", "r1", 1); m.GetPay().Currency = "USD"; return m }(), funds.ErrWrongCurrency, ""},
		{"zero payment", mPayer, msgPay("p", "r1", 0), benefits.ErrZeroAmount, ""},
		{"payer of another agency", mCouncilPayer, msgPay("p", "r1", 1), benefits.ErrAgencyNotAllowed, ""},
		{"caseworker of another agency", mCouncilCase, msgEnrol("p", "r9", 0), benefits.ErrAgencyNotAllowed, ""},
		{"resume an active enrolment", mCaseworker, msgResume("p", "r1"), benefits.ErrNotSuspended, ""},
		{"recover more than was paid", mPayer, msgOpenRecovery(1, 501), benefits.ErrOverRecovery, ""},
		{"recover an unknown payment", mPayer, msgOpenRecovery(77, 1), benefits.ErrUnknownPayment, ""},
		{"repay an unknown recovery", mSettler, msgRepay(5, 1), benefits.ErrUnknownRecovery, ""},
		{"programme ends before it starts", mManager, msgCreateProgramme("bad", 1, 10, now, now, 0), benefits.ErrInvalidProgramme, ""},
		{"programme id taken", mManager, msgCreateProgramme("p", 1, 10, now, now+100, 0), benefits.ErrProgrammeExists, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := c.moduleState()
			res := c.block(c.tx(tt.signer, tt.msg))
			r := res.TxResults[0]
			requireCode(t, tt.want, r.Codespace, r.Code, r.Log, tt.log)
			require.Equal(t, before, c.moduleState())
			c.requireConserved()
		})
	}
}

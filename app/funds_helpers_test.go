package app_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/app"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	benefitsv1 "github.com/tallyledger/tally/proto/tally/benefits/v1"
	fundsv1 "github.com/tallyledger/tally/proto/tally/funds/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/x/benefits"
	"github.com/tallyledger/tally/x/funds"
)

// The money chain: a treasury, two spending agencies (a benefits agency
// and a council), a bank, and one account per role.
const (
	mTreasury = "treasury"
	mBenefits = "benefits"
	mCouncil  = "council"
	mBank     = "bank"
	mRegulate = "regulator"
	mTax      = "tax"
)

var (
	mTreasuryAdmin = keyFor("m/treasury/admin")
	mOfficer       = keyFor("m/treasury/officer") // treasury
	mBenefitsAdmin = keyFor("m/benefits/admin")
	mFinance       = keyFor("m/benefits/finance")    // finance
	mManager       = keyFor("m/benefits/manager")    // programme_manager
	mCaseworker    = keyFor("m/benefits/caseworker") // caseworker
	mPayer         = keyFor("m/benefits/payer")      // payer
	mCouncilAdmin  = keyFor("m/council/admin")
	mCouncilFin    = keyFor("m/council/finance")    // finance
	mCouncilMgr    = keyFor("m/council/manager")    // programme_manager
	mCouncilCase   = keyFor("m/council/caseworker") // caseworker
	mCouncilPayer  = keyFor("m/council/payer")      // payer
	mBankAdmin     = keyFor("m/bank/admin")
	mSettler       = keyFor("m/bank/settler") // settlement_bank
	mRegAdmin      = keyFor("m/regulator/admin")
	mInspector     = keyFor("m/regulator/inspector")
	mRegulator     = keyFor("m/regulator/regulator")
	mTaxAdmin      = keyFor("m/tax/admin")
	mCollector     = keyFor("m/tax/collector")
	mProducer      = keyFor("m/benefits/producer")
	mAuditor       = keyFor("m/benefits/auditor")
)

// roleHolders has one account holding exactly each role.
var roleHolders = map[agencyv1.Role]testKey{
	agencyv1.Role_ROLE_ADMIN:             mBenefitsAdmin,
	agencyv1.Role_ROLE_TREASURY:          mOfficer,
	agencyv1.Role_ROLE_TAX_COLLECTOR:     mCollector,
	agencyv1.Role_ROLE_CASEWORKER:        mCaseworker,
	agencyv1.Role_ROLE_PAYER:             mPayer,
	agencyv1.Role_ROLE_SETTLEMENT_BANK:   mSettler,
	agencyv1.Role_ROLE_PRODUCER:          mProducer,
	agencyv1.Role_ROLE_INSPECTOR:         mInspector,
	agencyv1.Role_ROLE_REGULATOR:         mRegulator,
	agencyv1.Role_ROLE_AUDITOR:           mAuditor,
	agencyv1.Role_ROLE_FINANCE:           mFinance,
	agencyv1.Role_ROLE_PROGRAMME_MANAGER: mManager,
}

func moneyGenesis(paymentsPerBlock uint32) *appv1.GenesisState {
	acc := func(k testKey, ag string, roles ...agencyv1.Role) *agencyv1.Account {
		return &agencyv1.Account{PubKey: k.pub, AgencyId: ag, Roles: roles}
	}
	R := func(r agencyv1.Role) agencyv1.Role { return r }
	fp := funds.DefaultParams()
	fp.AnnualAppropriationLimit = 1_000_000_000_00 // £1bn
	bp := benefits.DefaultParams()
	if paymentsPerBlock > 0 {
		bp.PaymentsPerBlock = paymentsPerBlock
	}
	return &appv1.GenesisState{
		Params: app.DefaultParams(),
		Agency: &agencyv1.Genesis{
			Agencies: []*agencyv1.Agency{
				{Id: mTreasury, Name: "Treasury", Kind: agencyv1.Kind_KIND_TREASURY},
				{Id: mBenefits, Name: "Benefits Agency", Kind: agencyv1.Kind_KIND_BENEFITS},
				{Id: mCouncil, Name: "Council", Kind: agencyv1.Kind_KIND_COUNCIL},
				{Id: mBank, Name: "Bank", Kind: agencyv1.Kind_KIND_BANK},
				{Id: mRegulate, Name: "Regulator", Kind: agencyv1.Kind_KIND_REGULATOR},
				{Id: mTax, Name: "Tax", Kind: agencyv1.Kind_KIND_TAX_AUTHORITY},
			},
			Accounts: []*agencyv1.Account{
				acc(mTreasuryAdmin, mTreasury, R(agencyv1.Role_ROLE_ADMIN)),
				acc(mOfficer, mTreasury, agencyv1.Role_ROLE_TREASURY),
				acc(mBenefitsAdmin, mBenefits, agencyv1.Role_ROLE_ADMIN),
				acc(mFinance, mBenefits, agencyv1.Role_ROLE_FINANCE),
				acc(mManager, mBenefits, agencyv1.Role_ROLE_PROGRAMME_MANAGER),
				acc(mCaseworker, mBenefits, agencyv1.Role_ROLE_CASEWORKER),
				acc(mPayer, mBenefits, agencyv1.Role_ROLE_PAYER),
				acc(mProducer, mBenefits, agencyv1.Role_ROLE_PRODUCER),
				acc(mAuditor, mBenefits, agencyv1.Role_ROLE_AUDITOR),
				acc(mCouncilAdmin, mCouncil, agencyv1.Role_ROLE_ADMIN),
				acc(mCouncilFin, mCouncil, agencyv1.Role_ROLE_FINANCE),
				acc(mCouncilMgr, mCouncil, agencyv1.Role_ROLE_PROGRAMME_MANAGER),
				acc(mCouncilCase, mCouncil, agencyv1.Role_ROLE_CASEWORKER),
				acc(mCouncilPayer, mCouncil, agencyv1.Role_ROLE_PAYER),
				acc(mBankAdmin, mBank, agencyv1.Role_ROLE_ADMIN),
				acc(mSettler, mBank, agencyv1.Role_ROLE_SETTLEMENT_BANK),
				acc(mRegAdmin, mRegulate, agencyv1.Role_ROLE_ADMIN),
				acc(mInspector, mRegulate, agencyv1.Role_ROLE_INSPECTOR),
				acc(mRegulator, mRegulate, agencyv1.Role_ROLE_REGULATOR),
				acc(mTaxAdmin, mTax, agencyv1.Role_ROLE_ADMIN),
				acc(mCollector, mTax, agencyv1.Role_ROLE_TAX_COLLECTOR),
			},
		},
		Funds:    &fundsv1.Genesis{Params: fp},
		Benefits: &benefitsv1.Genesis{Params: bp},
	}
}

func newMoneyChain(tb testing.TB, paymentsPerBlock uint32) *chain {
	tb.Helper()
	c := openChain(tb, newTestStore(tb), app.Options{})
	c.initChain(moneyGenesis(paymentsPerBlock))
	return c
}

// Messages.

func msgAppropriate(ref string, amount uint64) *txv1.Msg {
	return &txv1.Msg{Sum: &txv1.Msg_Appropriate{Appropriate: &fundsv1.MsgAppropriate{Reference: ref, Amount: amount, Currency: "GBP"}}}
}

func msgAllocate(to string, amount uint64) *txv1.Msg {
	return &txv1.Msg{Sum: &txv1.Msg_Allocate{Allocate: &fundsv1.MsgAllocate{ToAgency: to, Amount: amount, Currency: "GBP", Reference: "alloc"}}}
}

func msgFund(programme string, amount uint64) *txv1.Msg {
	return &txv1.Msg{Sum: &txv1.Msg_Fund{Fund: &fundsv1.MsgFund{Programme: programme, Amount: amount, Currency: "GBP", Reference: "fund"}}}
}

func msgTransfer(from, to string, amount uint64) *txv1.Msg {
	ref := "t"
	if strings.HasPrefix(from, "payee:") || strings.HasPrefix(to, "payee:") {
		ref = pseud("t") // a reference about a person goes on chain as a commitment
	}
	return &txv1.Msg{Sum: &txv1.Msg_Transfer{Transfer: &fundsv1.MsgTransfer{From: from, To: to, Amount: amount, Currency: "GBP", Purpose: "GRANT", Reference: ref}}}
}

// pseud is the test pseudonym (or commitment) standing for name: 64
// lower-case hex characters, the only form the chain accepts for a person,
// a bank account or a reference about one. A name that already is one is
// kept as it is.
func pseud(name string) string {
	if funds.ValidatePseudonym("", name) == nil {
		return name
	}
	h := sha256.Sum256([]byte("pseudonym/" + name))
	return hex.EncodeToString(h[:])
}

// payee is the funds holder of the bank account named name.
func payee(name string) string { return api.PayeeHolder(pseud(name)) }

func msgReturn(from, to string, amount uint64) *txv1.Msg {
	return &txv1.Msg{Sum: &txv1.Msg_ReturnFunds{ReturnFunds: &fundsv1.MsgReturn{From: from, To: to, Amount: amount, Currency: "GBP", Reference: "r"}}}
}

func msgSettle(payment uint64) *txv1.Msg {
	return &txv1.Msg{Sum: &txv1.Msg_Settle{Settle: &fundsv1.MsgSettle{Payment: payment, BankReference: pseud("BANK-" + strconv.FormatUint(payment, 10))}}}
}

func msgCreateProgramme(id string, amount uint64, period, start, end int64, cap uint64) *txv1.Msg {
	return &txv1.Msg{Sum: &txv1.Msg_CreateProgramme{CreateProgramme: &benefitsv1.MsgCreateProgramme{
		Id: id, Name: "Programme " + id, Amount: amount, Currency: "GBP", PeriodSeconds: period, StartUnix: start, EndUnix: end, RecipientCap: cap}}}
}

func msgEnrol(programme, recipient string, start int64) *txv1.Msg {
	return &txv1.Msg{Sum: &txv1.Msg_Enrol{Enrol: &benefitsv1.MsgEnrol{Programme: programme, Recipient: pseud(recipient),
		ReceivingAccount: pseud("acct-" + recipient), EvidenceHash: make([]byte, 32), StartUnix: start}}}
}

func msgSuspend(programme, recipient string) *txv1.Msg {
	return &txv1.Msg{Sum: &txv1.Msg_SuspendEnrolment{SuspendEnrolment: &benefitsv1.MsgSuspendEnrolment{Programme: programme, Recipient: pseud(recipient), ReasonCode: benefitsv1.EnrolmentReason_ENROLMENT_REASON_UNDER_REVIEW}}}
}

func msgResume(programme, recipient string) *txv1.Msg {
	return &txv1.Msg{Sum: &txv1.Msg_ResumeEnrolment{ResumeEnrolment: &benefitsv1.MsgResumeEnrolment{Programme: programme, Recipient: pseud(recipient)}}}
}

func msgEnd(programme, recipient string) *txv1.Msg {
	return &txv1.Msg{Sum: &txv1.Msg_EndEnrolment{EndEnrolment: &benefitsv1.MsgEndEnrolment{Programme: programme, Recipient: pseud(recipient), ReasonCode: benefitsv1.EnrolmentReason_ENROLMENT_REASON_TRANSFERRED}}}
}

func msgPay(programme, recipient string, amount uint64) *txv1.Msg {
	return &txv1.Msg{Sum: &txv1.Msg_Pay{Pay: &benefitsv1.MsgPay{Programme: programme, Recipient: pseud(recipient), Amount: amount, Currency: "GBP", Reference: pseud("one-off")}}}
}

func msgOpenRecovery(payment, amount uint64) *txv1.Msg {
	return &txv1.Msg{Sum: &txv1.Msg_OpenRecovery{OpenRecovery: &benefitsv1.MsgOpenRecovery{Payment: payment, Amount: amount, Currency: "GBP", ReasonCode: benefitsv1.RecoveryReason_RECOVERY_REASON_ADMINISTRATIVE_ERROR}}}
}

func msgRepay(recovery, amount uint64) *txv1.Msg {
	return &txv1.Msg{Sum: &txv1.Msg_RecordRepayment{RecordRepayment: &benefitsv1.MsgRecordRepayment{Recovery: recovery, Amount: amount, Currency: "GBP", BankReference: pseud("REPAY")}}}
}

// Queries.

func (c *chain) mRecord(path, arg string, into proto.Message) bool {
	c.tb.Helper()
	res := c.query(path, []byte(arg))
	if res.Code == app.ErrNotFound.Code && res.Codespace == app.ErrNotFound.Codespace {
		return false
	}
	require.Zero(c.tb, res.Code, res.Log)
	require.NoError(c.tb, proto.Unmarshal(res.Value, into))
	return true
}

func (c *chain) mBalance(holder string) uint64 {
	b := &fundsv1.Balance{}
	c.mRecord(api.PathFundsBalance, holder, b)
	return b.Amount
}

func (c *chain) mInvariants() *fundsv1.InvariantReport {
	c.tb.Helper()
	res := c.query(api.PathFundsInvariants, nil)
	require.Zero(c.tb, res.Code, res.Log)
	r := &fundsv1.InvariantReport{}
	require.NoError(c.tb, proto.Unmarshal(res.Value, r))
	return r
}

func (c *chain) requireConserved() {
	c.tb.Helper()
	r := c.mInvariants()
	require.True(c.tb, r.Ok, "conservation broken at height %d: %v", c.height, r.Problems)
}

func (c *chain) mList(path string, data []byte) *appv1.ProvedList {
	c.tb.Helper()
	c.requireListingProven(path, data)
	res := c.query(path, data)
	require.Zero(c.tb, res.Code, res.Log)
	l := &appv1.ProvedList{}
	require.NoError(c.tb, proto.Unmarshal(res.Value, l))
	return l
}

// history lists a recipient's payments in order, following pages.
func (c *chain) mHistory(programme, recipient string) []*benefitsv1.Payment {
	var out []*benefitsv1.Payment
	var after []byte
	for {
		l := c.mList(api.PathBenefitsHistory, api.ListData([]byte(programme+"/"+pseud(recipient)), after, 0))
		for _, e := range l.Entries {
			p := &benefitsv1.Payment{}
			require.NoError(c.tb, proto.Unmarshal(e.Value, p))
			out = append(out, p)
		}
		if len(l.NextKey) == 0 {
			return out
		}
		after = l.NextKey
	}
}

// requireTracesToRoot checks a funds trace-up answer for movement id: the
// path links up, tranche by tranche, to inflows, and the legs' amounts add
// up to the movement's amount.
func (c *chain) requireTracesToRoot(id uint64) {
	c.tb.Helper()
	l := c.mList(api.PathFundsTraceUp, []byte(strconv.FormatUint(id, 10)))
	require.Empty(c.tb, l.NextKey, "trace of %d incomplete", id)
	movements := map[uint64]*fundsv1.Movement{}
	tranches := map[uint64]*fundsv1.Tranche{}
	for _, e := range l.Entries {
		switch {
		case api.IsFundsMovementKey(e.Key):
			m := &fundsv1.Movement{}
			require.NoError(c.tb, proto.Unmarshal(e.Value, m))
			movements[m.Id] = m
		case api.IsFundsTrancheKey(e.Key):
			t := &fundsv1.Tranche{}
			require.NoError(c.tb, proto.Unmarshal(e.Value, t))
			tranches[t.Id] = t
		}
	}
	m := movements[id]
	require.NotNil(c.tb, m)
	var sum uint64
	for _, leg := range m.Legs {
		sum += leg.Amount
		tid := leg.FromTranche
		if tid == 0 {
			tid = leg.ToTranche
		}
		for hops := 0; ; hops++ {
			require.Less(c.tb, hops, 1000)
			t := tranches[tid]
			require.NotNil(c.tb, t, "movement %d: tranche %d missing from the trace", id, tid)
			require.Equal(c.tb, leg.Root, t.Root)
			creator := movements[t.Movement]
			require.NotNil(c.tb, creator, "tranche %d's movement %d missing", tid, t.Movement)
			if t.Parent == 0 {
				require.Equal(c.tb, t.Root, creator.Id)
				require.Contains(c.tb, []fundsv1.MovementKind{fundsv1.MovementKind_MOVEMENT_KIND_APPROPRIATE, fundsv1.MovementKind_MOVEMENT_KIND_CREDIT_REVENUE}, creator.Kind)
				break
			}
			tid = t.Parent
		}
	}
	require.Equal(c.tb, m.Amount, sum, "movement %d legs", id)
}

// eventAttr returns attribute key of the first event of type typ in res.
func mEventAttr(tb testing.TB, events []abci.Event, typ, key string) string {
	tb.Helper()
	for _, e := range events {
		if e.Type == typ {
			for _, a := range e.Attributes {
				if a.Key == key {
					return a.Value
				}
			}
		}
	}
	tb.Fatalf("no %s event with %s in %v", typ, key, events)
	return ""
}

func mID(tb testing.TB, s string) uint64 {
	id, err := strconv.ParseUint(s, 10, 64)
	require.NoError(tb, err, fmt.Sprintf("id %q", s))
	return id
}

// moduleState is every agency, funds and benefits record, as text: the
// state a refused message must not touch.
func (c *chain) moduleState() map[string]string {
	out := map[string]string{}
	for k, v := range c.dump() {
		if strings.HasPrefix(k, "ag/") || strings.HasPrefix(k, "fu/") || strings.HasPrefix(k, "bf/") {
			out[k] = v
		}
	}
	return out
}

package benefits_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/api"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	benefitsv1 "github.com/tallyledger/tally/proto/tally/benefits/v1"
	fundsv1 "github.com/tallyledger/tally/proto/tally/funds/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/benefits"
	"github.com/tallyledger/tally/x/funds"
	"github.com/tallyledger/tally/x/gov"
	"github.com/tallyledger/tally/x/module"
)

const prog = "bursary"

// t0 is the world's first block time; the programme starts 100 s later and
// pays 1,000 every 60 s, at most 3,500 to one recipient.
var t0 = time.Unix(1_900_000_000, 0)

// world is a treasury and a benefits department on real state, with the
// real funds ledger under the benefits keeper.
type world struct {
	t        *testing.T
	kv       *store.Store
	k        benefits.Keeper
	h        int64
	treasury *agencyv1.Account
	dept     *agencyv1.Account
}

func pubFor(name string) []byte {
	h := sha256.Sum256([]byte("benefits-inv/" + name))
	return []byte(ed25519.NewKeyFromSeed(h[:]).Public().(ed25519.PublicKey))
}

func newWorld(t *testing.T) *world {
	ak := agency.Keeper{}
	gk := gov.NewKeeper(ak, nil)
	w := &world{t: t, kv: store.NewMemory(), k: benefits.Keeper{Agency: ak, Funds: funds.Keeper{Agency: ak, Mandates: gk}, Mandates: gk}}
	require.NoError(t, ak.InitGenesis(w.kv, &agencyv1.Genesis{
		Agencies: []*agencyv1.Agency{
			{Id: "treasury", Name: "Treasury", Kind: agencyv1.Kind_KIND_TREASURY},
			{Id: "dept", Name: "Benefits", Kind: agencyv1.Kind_KIND_DEPARTMENT},
		},
		Accounts: []*agencyv1.Account{
			{PubKey: pubFor("treasury"), AgencyId: "treasury", Roles: []agencyv1.Role{agencyv1.Role_ROLE_ADMIN, agencyv1.Role_ROLE_TREASURY}},
			{PubKey: pubFor("dept"), AgencyId: "dept", Roles: []agencyv1.Role{agencyv1.Role_ROLE_ADMIN, agencyv1.Role_ROLE_FINANCE, agencyv1.Role_ROLE_PAYER}},
		},
	}, 0))
	require.NoError(t, gk.InitGenesis(w.kv, &govv1.Genesis{Mandates: []*govv1.MandateGrant{
		{AgencyId: "treasury", Mandate: govv1.Mandate_MANDATE_TREASURY, LegalBasis: "Supply Act", Ceiling: 1 << 40},
		{AgencyId: "dept", Mandate: govv1.Mandate_MANDATE_BENEFITS_PAYER, LegalBasis: "Social Security Act"},
		// The world has no bank: the department records repayments itself.
		{AgencyId: "dept", Mandate: govv1.Mandate_MANDATE_SETTLEMENT_BANK, LegalBasis: "test world"},
	}}, nil))
	require.NoError(t, w.k.Funds.InitGenesis(w.kv, nil))
	require.NoError(t, w.k.InitGenesis(w.kv, nil))
	var err error
	w.treasury, err = ak.Account(w.kv, agency.AddressOf(pubFor("treasury")))
	require.NoError(t, err)
	w.dept, err = ak.Account(w.kv, agency.AddressOf(pubFor("dept")))
	require.NoError(t, err)
	return w
}

func (w *world) ctx(at int64) module.Context {
	w.h++
	return module.NewContext(w.kv, w.h, t0.Add(time.Duration(at)*time.Second), "benefits-unit", nil)
}

// do runs a handler at t0+at on its own cache, written only on success, as
// the app runs a transaction.
func (w *world) do(at int64, signer *agencyv1.Account, f func(ctx module.Context, s *agencyv1.Account) error) {
	w.t.Helper()
	cache := store.NewCache(w.kv)
	ctx := w.ctx(at)
	ctx.Store = cache
	require.NoError(w.t, f(ctx, signer))
	cache.Write()
}

func (w *world) endBlock(at int64) {
	w.t.Helper()
	require.NoError(w.t, w.k.EndBlock(w.ctx(at)))
}

// build funds a programme too little for its second period, so that
// period's payments fail and are retried; pays one-off and scheduled
// payments up to a recipient's cap; and recovers overpayments both by
// deduction and by repayment.
func (w *world) build() {
	start := t0.Unix() + 100
	w.do(0, w.treasury, func(ctx module.Context, s *agencyv1.Account) error {
		return w.k.Funds.Appropriate(ctx, s, &fundsv1.MsgAppropriate{Reference: "ACT/1", Amount: 100_000, Currency: "GBP"})
	})
	w.do(0, w.treasury, func(ctx module.Context, s *agencyv1.Account) error {
		return w.k.Funds.Allocate(ctx, s, &fundsv1.MsgAllocate{ToAgency: "dept", Amount: 50_000, Currency: "GBP", Reference: "A-1"})
	})
	w.do(0, w.dept, func(ctx module.Context, s *agencyv1.Account) error {
		return w.k.CreateProgramme(ctx, s, &benefitsv1.MsgCreateProgramme{Id: prog, Name: "Bursary", Amount: 1_000, Currency: "GBP",
			PeriodSeconds: 60, StartUnix: start, EndUnix: start + 600, RecipientCap: 3_500})
	})
	w.do(0, w.dept, func(ctx module.Context, s *agencyv1.Account) error {
		return w.k.Funds.Fund(ctx, s, &fundsv1.MsgFund{Programme: prog, Amount: 2_500, Currency: "GBP", Reference: "F-1"})
	})
	for _, r := range []string{rec1, rec2} {
		w.do(0, w.dept, func(ctx module.Context, s *agencyv1.Account) error {
			return w.k.Enrol(ctx, s, &benefitsv1.MsgEnrol{Programme: prog, Recipient: r, ReceivingAccount: pseudo("acc-" + r), EvidenceHash: pubFor(r), StartUnix: start})
		})
	}
	w.endBlock(100) // period 0: 1,000 each, 500 left
	w.do(130, w.dept, func(ctx module.Context, s *agencyv1.Account) error {
		return w.k.Pay(ctx, s, &benefitsv1.MsgPay{Programme: prog, Recipient: rec1, Amount: 200, Currency: "GBP", Reference: pseudo("ONE-OFF")})
	})
	w.endBlock(160) // period 1: both fail for want of funds
	w.do(170, w.dept, func(ctx module.Context, s *agencyv1.Account) error {
		return w.k.Funds.Fund(ctx, s, &fundsv1.MsgFund{Programme: prog, Amount: 5_000, Currency: "GBP", Reference: "F-2"})
	})
	w.do(170, w.dept, func(ctx module.Context, s *agencyv1.Account) error {
		return w.k.OpenRecovery(ctx, s, &benefitsv1.MsgOpenRecovery{Payment: 1, Amount: 400, Currency: "GBP", ReasonCode: benefitsv1.RecoveryReason_RECOVERY_REASON_ADMINISTRATIVE_ERROR})
	})
	w.endBlock(220) // periods 1 and 2: r1's deductions recover 400 in full
	w.do(230, w.dept, func(ctx module.Context, s *agencyv1.Account) error {
		return w.k.OpenRecovery(ctx, s, &benefitsv1.MsgOpenRecovery{Payment: 2, Amount: 500, Currency: "GBP", ReasonCode: benefitsv1.RecoveryReason_RECOVERY_REASON_ADMINISTRATIVE_ERROR})
	})
	w.do(230, w.dept, func(ctx module.Context, s *agencyv1.Account) error {
		return w.k.RecordRepayment(ctx, s, &benefitsv1.MsgRecordRepayment{Recovery: 2, Amount: 100, Currency: "GBP", BankReference: pseudo("REPAY-1")})
	})
	w.endBlock(280) // period 3: both reach the cap; r2 has 125 withheld

	p, err := w.k.Programme(w.kv, prog)
	require.NoError(w.t, err)
	require.Equal(w.t, uint64(4), p.NextPeriod)
	require.Equal(w.t, uint64(2), p.FailedPayments)
	r1, err := w.k.Enrolment(w.kv, prog, rec1)
	require.NoError(w.t, err)
	require.Equal(w.t, uint64(3_500), r1.PaidTotal, "r1 is paid up to the cap")
	rec, err := w.k.Recovery(w.kv, 2)
	require.NoError(w.t, err)
	require.Equal(w.t, benefitsv1.RecoveryStatus_RECOVERY_STATUS_OPEN, rec.Status)
	require.Equal(w.t, uint64(225), rec.Recovered, "a repayment of 100 and a deduction of 125, a quarter of r2's last 500 below the cap")
	fr, err := w.k.Funds.Invariants(w.kv)
	require.NoError(w.t, err)
	require.True(w.t, fr.Ok, "funds: %v", fr.Problems)
}

func (w *world) invariants() *appv1.ModuleInvariants {
	w.t.Helper()
	r, err := w.k.Invariants(w.kv)
	require.NoError(w.t, err)
	return r
}

// requireFails asserts that check name fails with a detail containing
// fragment, that the checks in knockOn fail too, and that every other
// check holds.
func requireFails(t *testing.T, r *appv1.ModuleInvariants, name, fragment string, knockOn ...string) {
	t.Helper()
	require.False(t, r.Ok, "the report must fail")
	seen := false
	for _, c := range r.Checks {
		switch {
		case c.Name == name:
			seen = true
			require.False(t, c.Ok, "check %s must fail", name)
			require.NotZero(t, c.Problems)
			require.Contains(t, c.Detail, fragment)
		case slices.Contains(knockOn, c.Name):
			require.False(t, c.Ok, "check %s must fail too", c.Name)
		default:
			require.True(t, c.Ok, "check %s: %s", c.Name, c.Detail)
		}
	}
	require.True(t, seen, "no check named %s", name)
}

func TestBenefitsInvariantsHoldThroughPaymentsFailuresCapsAndRecoveries(t *testing.T) {
	w := newWorld(t)
	w.build()
	r := w.invariants()
	require.Equal(t, "benefits", r.Module)
	for _, c := range r.Checks {
		require.True(t, c.Ok, "check %s: %s", c.Name, c.Detail)
		require.NotEmpty(t, c.Rule)
	}
	require.True(t, r.Ok)
	require.Len(t, r.Checks, 6)
}

// Each check catches state the handlers never write, written directly
// under the module's keys (and, for the funding bound, the funds ledger's),
// and names the record at fault.
func TestBenefitsInvariantsCatchCorruptState(t *testing.T) {
	type edit func(t *testing.T, w *world)
	payment := func(id uint64, f func(p *benefitsv1.Payment, w *world)) edit {
		return func(t *testing.T, w *world) {
			p, err := w.k.Payment(w.kv, id)
			require.NoError(t, err)
			f(p, w)
			require.NoError(t, store.SetProto(w.kv, api.BenefitsPaymentKey(id), p))
		}
	}
	for _, tt := range []struct {
		name, check, fragment string
		knockOn               []string
		corrupt               edit
	}{
		{"a payment names another recipient's funds movement", benefits.CheckPaymentsFunded, `want payment of 1000 from "programme:bursary" to "payee:` + pseudo("acc-"+rec2) + `"`, nil,
			payment(2, func(p *benefitsv1.Payment, w *world) {
				one, err := w.k.Payment(w.kv, 1)
				require.NoError(t, err)
				p.Movement = one.Movement
			})},
		{"payments drew more from a tranche than it received", benefits.CheckPaymentsFunded, `tranche 3 of "programme:bursary" received 2000 and holds 1000, but payments drew 2500 from it`, nil,
			func(t *testing.T, w *world) {
				pay, err := w.k.Payment(w.kv, 1)
				require.NoError(t, err)
				m, err := w.k.Funds.Movement(w.kv, pay.Movement)
				require.NoError(t, err)
				tr, err := w.k.Funds.Tranche(w.kv, m.Legs[0].FromTranche)
				require.NoError(t, err)
				// The fund's first tranche went wholly, 2,500, to payments;
				// make it say it received less and still holds some.
				tr.Amount, tr.Remaining = 2_000, 1_000
				require.NoError(t, store.SetProto(w.kv, api.FundsTrancheKey(tr.Id), tr))
			}},
		{"a programme's paid total drifts", benefits.CheckProgrammeTotals, `programme "bursary": paid_total is`, nil,
			func(t *testing.T, w *world) {
				p, err := w.k.Programme(w.kv, prog)
				require.NoError(t, err)
				p.PaidTotal++
				require.NoError(t, store.SetProto(w.kv, api.BenefitsProgrammeKey(prog), p))
			}},
		{"a recipient paid above the cap", benefits.CheckEnrolmentTotals, `recipient "` + rec1 + `" of "bursary" has been paid 3600, above the programme's cap of 3500`, nil,
			func(t *testing.T, w *world) {
				e, err := w.k.Enrolment(w.kv, prog, rec1)
				require.NoError(t, err)
				e.PaidTotal = 3_600
				require.NoError(t, store.SetProto(w.kv, api.BenefitsEnrolmentKey(prog, rec1), e))
			}},
		{"an enrolment rewound to a period already paid", benefits.CheckSchedule, `for period 3, but the enrolment's next period to pay is 1`, nil,
			func(t *testing.T, w *world) {
				e, err := w.k.Enrolment(w.kv, prog, rec2)
				require.NoError(t, err)
				e.NextPeriod = 1
				require.NoError(t, store.SetProto(w.kv, api.BenefitsEnrolmentKey(prog, rec2), e))
			}},
		{"a programme dropped from the schedule", benefits.CheckSchedule, `programme "bursary" has not run every period but is queued 0 times`, nil,
			func(t *testing.T, w *world) {
				p, err := w.k.Programme(w.kv, prog)
				require.NoError(t, err)
				due := api.BenefitsDueKey(benefits.NextRun(p), prog)
				require.True(t, w.kv.Has(due))
				w.kv.Delete(due)
			}},
		{"a recovery recovers more than its steps", benefits.CheckRecoveries, "recovery 2 has recovered 600 but its steps sum to 225", []string{benefits.CheckEnrolmentTotals},
			func(t *testing.T, w *world) {
				r, err := w.k.Recovery(w.kv, 2)
				require.NoError(t, err)
				r.Recovered = 600
				require.NoError(t, store.SetProto(w.kv, api.BenefitsRecoveryKey(2), r))
			}},
		{"a payment missing from its recipient's history", benefits.CheckPaymentHistories, `payment 1 is missing from the history of recipient "` + rec1 + `" of "bursary"`, nil,
			func(t *testing.T, w *world) {
				w.kv.Delete(api.Key(api.BenefitsHistoryPrefix(prog, rec1), api.Uint64(1)))
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.build()
			tt.corrupt(t, w)
			requireFails(t, w.invariants(), tt.check, tt.fragment, tt.knockOn...)
		})
	}
}

// pseudo is a test pseudonym or commitment: 64 lower-case hex characters,
// the only form the chain accepts for a person or a reference about one.
func pseudo(name string) string {
	h := sha256.Sum256([]byte("pseudonym/" + name))
	return hex.EncodeToString(h[:])
}

// Test recipients, as pseudonyms.
var rec1, rec2 = pseudo("r1"), pseudo("r2")

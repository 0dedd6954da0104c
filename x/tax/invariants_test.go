package tax_test

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/api"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/module"
	"github.com/tallyledger/tally/x/tax"
)

// requireFails asserts that check name fails with a detail containing
// fragment, that the checks named in knockOn fail too (they read the same
// corrupted record), and that every other check holds.
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

func (e *env) invariants() *appv1.ModuleInvariants {
	e.t.Helper()
	r, err := k.Invariants(e.kv, fundsK)
	require.NoError(e.t, err)
	return r
}

// taxWorld issues receipts through three collectors of two tax types and
// amends them every way the handlers allow: a correction of amount, period
// and taxpayer, partial and full refunds, a cancellation, and the cancelled
// payment receipted again.
func taxWorld(t *testing.T) *env {
	e := newEnv(t)
	alice, bob, carol := taxpayer("alice"), taxpayer("bob"), taxpayer("carol")
	require.NoError(t, e.issue(revCollector, vat(alice, "2026-Q1", 10_000, "BACS-1")))                                                                                                                  // 1
	require.NoError(t, e.issue(ncCollector, &taxv1.MsgIssueReceipt{TaxType: "COUNCIL_TAX", Payer: payerOf(bob, "COUNCIL_TAX", "2026"), Period: "2026", Amount: 1_300, BankReference: bankRef("DD-1")})) // 2
	require.NoError(t, e.issue(bankCollector, vat(carol, "2026-Q1", 700, "B-1")))                                                                                                                       // 3
	for _, step := range []func(ctx module.Context, s *agencyv1.Account) error{
		func(ctx module.Context, s *agencyv1.Account) error {
			return k.CorrectReceipt(ctx, s, &taxv1.MsgCorrectReceipt{ReceiptId: "REVENUE-000001", Reason: taxv1.Reason_REASON_KEYING_ERROR, Amount: 12_000, Period: "2026-Q2", Payer: payerOf(bob, "VAT", "2026-Q2")})
		},
		func(ctx module.Context, s *agencyv1.Account) error {
			return k.RefundReceipt(ctx, s, &taxv1.MsgRefundReceipt{ReceiptId: "REVENUE-000001", Reason: taxv1.Reason_REASON_OVERPAYMENT, Amount: 2_000})
		},
		func(ctx module.Context, s *agencyv1.Account) error {
			return k.RefundReceipt(ctx, s, &taxv1.MsgRefundReceipt{ReceiptId: "REVENUE-000003", Reason: taxv1.Reason_REASON_APPEAL_UPHELD, Amount: 700})
		},
		func(ctx module.Context, s *agencyv1.Account) error {
			return k.CancelReceipt(ctx, s, &taxv1.MsgCancelReceipt{ReceiptId: "REVENUE-000002", Reason: taxv1.Reason_REASON_PAYMENT_REVERSED})
		},
	} {
		require.NoError(t, e.run(revCollector, step))
	}
	require.NoError(t, e.issue(ncCollector, &taxv1.MsgIssueReceipt{TaxType: "COUNCIL_TAX", Payer: payerOf(bob, "COUNCIL_TAX", "2026"), Period: "2026", Amount: 1_300, BankReference: bankRef("DD-1")})) // 4
	e.requireConserved()
	return e
}

func ref(t *testing.T, id string) tax.ReceiptRef {
	r, err := tax.ParseReceiptID(id)
	require.NoError(t, err)
	return r
}

func TestTaxInvariantsHoldAfterIssuesAndEveryKindOfAmendment(t *testing.T) {
	e := taxWorld(t)
	r := e.invariants()
	require.Equal(t, "tax", r.Module)
	for _, c := range r.Checks {
		require.True(t, c.Ok, "check %s: %s", c.Name, c.Detail)
		require.NotEmpty(t, c.Rule)
	}
	require.True(t, r.Ok)
	require.Len(t, r.Checks, 5)
}

// Each check catches state the handlers never write, written directly
// under the module's keys, and names the record at fault.
func TestTaxInvariantsCatchCorruptState(t *testing.T) {
	for _, tt := range []struct {
		name, check, fragment string
		knockOn               []string
		corrupt               func(t *testing.T, e *env)
	}{
		{"the series claims a receipt that is not there", tax.CheckReceiptSequence, `authority "revenue" issued receipts up to number 5, but the last stored is 4`, nil,
			func(t *testing.T, e *env) { e.kv.Set(api.TaxSeqKey("revenue"), api.Uint64(5)) }},
		{"a gap in the numbering", tax.CheckReceiptSequence, `receipt number 7 is stored where 5 comes next`, []string{tax.CheckReceiptState},
			func(t *testing.T, e *env) {
				r, err := k.Receipt(e.kv, ref(t, "REVENUE-000004"))
				require.NoError(t, err)
				r.Id, r.Sequence = "REVENUE-000007", 7
				require.NoError(t, store.SetProto(e.kv, api.TaxReceiptKey(ref(t, "REVENUE-000007")), r))
				e.kv.Set(api.TaxSeqKey("revenue"), api.Uint64(7))
			}},
		{"an amendment of the chain is missing", tax.CheckReceiptState, "REVENUE-000001: its state counts 2 amendments: receipt REVENUE-000001: amendment 2 is missing", nil,
			func(t *testing.T, e *env) { e.kv.Delete(api.TaxAmendmentKey(ref(t, "REVENUE-000001"), 2)) }},
		{"the derived net is not amount less refunds", tax.CheckReceiptState, "REVENUE-000001 (partially_refunded): net is 10500; amount 12000 less refunded 2000 is 10000", []string{tax.CheckRunningTotals},
			func(t *testing.T, e *env) {
				s := e.state("REVENUE-000001")
				s.Net += 500
				require.NoError(t, store.SetProto(e.kv, api.TaxReceiptStateKey(ref(t, "REVENUE-000001")), s))
			}},
		{"refunds above the amount: a negative net", tax.CheckReceiptState, "REVENUE-000003: 900 refunded of 700 collected, a negative net", []string{tax.CheckRunningTotals},
			func(t *testing.T, e *env) {
				s := e.state("REVENUE-000003")
				s.Refunded = 900
				require.NoError(t, store.SetProto(e.kv, api.TaxReceiptStateKey(ref(t, "REVENUE-000003")), s))
			}},
		{"a running total drifts", tax.CheckRunningTotals, `holds 1 receipts, 12000 collected, 2000 refunded, 10001 net; its live receipts sum to 1, 12000, 2000, 10000`, nil,
			func(t *testing.T, e *env) {
				key := api.TaxTypeTotalKey("VAT", "2026-Q2")
				tot := e.total(key)
				tot.Net++
				require.NoError(t, store.SetProto(e.kv, key, tot))
			}},
		{"a receipt drops out of its period's index", tax.CheckReceiptIndexes, "receipt REVENUE-000001 is missing from the index of VAT 2026-Q2", nil,
			func(t *testing.T, e *env) {
				e.kv.Delete(api.TaxTypePeriodIndexKey("VAT", "2026-Q2", ref(t, "REVENUE-000001")))
			}},
		{"a receipt credits revenue before any bank confirmed it", tax.CheckRevenue, `receipt REVENUE-000001 names funds movement 1; a receipt credits nothing until a settling bank confirms it`, nil,
			func(t *testing.T, e *env) {
				r1, err := k.Receipt(e.kv, ref(t, "REVENUE-000001"))
				require.NoError(t, err)
				r1.RevenueMovement = "1"
				require.NoError(t, store.SetProto(e.kv, api.TaxReceiptKey(ref(t, "REVENUE-000001")), r1))
			}},
		{"more recorded as confirmed than the bank confirmed", tax.CheckRevenue, `but 1 is recorded as confirmed`, nil,
			func(t *testing.T, e *env) {
				r := ref(t, "REVENUE-000003")
				c, err := k.Confirmed(e.kv, r)
				require.NoError(t, err)
				c.Amount++
				require.NoError(t, store.SetProto(e.kv, api.TaxConfirmedKey(r), c))
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := taxWorld(t)
			tt.corrupt(t, e)
			requireFails(t, e.invariants(), tt.check, tt.fragment, tt.knockOn...)
		})
	}
}

package tax_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/client"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/funds"
	"github.com/tallyledger/tally/x/gov"
	"github.com/tallyledger/tally/x/module"
	"github.com/tallyledger/tally/x/tax"
)

type key struct{ addr, pub []byte }

func keyFor(name string) key {
	seed := sha256.Sum256([]byte("tax-unit/" + name))
	pub := ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey)
	return key{addr: agency.AddressOf(pub), pub: pub}
}

var (
	revAdmin      = keyFor("revenue/admin")
	revCollector  = keyFor("revenue/collector")
	revCollector2 = keyFor("revenue/collector2") // holds the role, never authorised
	revClerk      = keyFor("revenue/clerk")      // no tax_collector role
	trAdmin       = keyFor("treasury/admin")
	bankAdmin     = keyFor("bank/admin")
	bankCollector = keyFor("bank/collector")
	ncAdmin       = keyFor("northshire/admin")
	ncCollector   = keyFor("northshire/collector")
	scotAdmin     = keyFor("scot/admin")
	settler       = keyFor("clearing/settler") // settlement_bank of a bank that collects nothing
)

var (
	fundsK funds.Keeper
	agK    agency.Keeper
	govK   = gov.NewKeeper(agK, nil)
	k      = tax.NewKeeper(fundsK, api.AgencyHolder).WithGovernance(govK)
	t0     = time.Date(2030, 4, 5, 6, 7, 8, 0, time.UTC)
)

func taxpayer(name string) []byte { h := sha256.Sum256([]byte("taxpayer/" + name)); return h[:] }

// secretOf is a test taxpayer's clearance secret.
func secretOf(taxpayer []byte) []byte {
	h := sha256.Sum256(append([]byte("secret/"), taxpayer...))
	return h[:]
}

// payerOf is the payer commitment a collector files taxpayer's receipt of
// taxType and period under.
func payerOf(taxpayer []byte, taxType, period string) []byte {
	return client.PayerCommitmentFromSecret(taxpayer, secretOf(taxpayer), taxType, period)
}

// bankRef is the commitment of a bank reference under a test agency key.
func bankRef(ref string) []byte {
	return client.BankReferenceCommitment([]byte("test reference key"), ref)
}

// clearanceRequest is what a relying party sends for a grant of taxpayer's
// taxType over from..to.
func clearanceRequest(t *testing.T, taxpayer []byte, taxType, from, to string) *taxv1.ClearanceRequest {
	g, err := client.NewClearanceGrant(taxpayer, secretOf(taxpayer), taxType, from, to)
	require.NoError(t, err)
	req, err := client.ClearanceRequestOf(g)
	require.NoError(t, err)
	return req
}

// env is a keeper over real state: agencies and accounts from genesis, the
// real funds ledger, and a tax registry with VAT (quarterly, Treasury) and
// COUNCIL_TAX (yearly, Northshire) owned by Revenue.
type env struct {
	t      *testing.T
	kv     *store.Store
	height int64
	events []module.Event
}

func newEnv(t *testing.T) *env {
	acc := func(k key, ag string, roles ...agencyv1.Role) *agencyv1.Account {
		return &agencyv1.Account{PubKey: k.pub, AgencyId: ag, Roles: roles}
	}
	admin, coll := agencyv1.Role_ROLE_ADMIN, agencyv1.Role_ROLE_TAX_COLLECTOR
	g := &agencyv1.Genesis{
		Agencies: []*agencyv1.Agency{
			{Id: "treasury", Name: "Treasury", Kind: agencyv1.Kind_KIND_TREASURY},
			{Id: "revenue", Name: "Revenue", Kind: agencyv1.Kind_KIND_TAX_AUTHORITY},
			{Id: "bank", Name: "Bank", Kind: agencyv1.Kind_KIND_BANK},
			{Id: "northshire", Name: "Northshire", Kind: agencyv1.Kind_KIND_COUNCIL},
			{Id: "scot", Name: "Scottish Revenue", Kind: agencyv1.Kind_KIND_TAX_AUTHORITY},
			{Id: "clearing", Name: "Clearing Bank", Kind: agencyv1.Kind_KIND_BANK},
		},
		Accounts: []*agencyv1.Account{
			acc(revAdmin, "revenue", admin), acc(revCollector, "revenue", coll), acc(revCollector2, "revenue", coll),
			acc(revClerk, "revenue", agencyv1.Role_ROLE_AUDITOR), acc(trAdmin, "treasury", admin),
			acc(bankAdmin, "bank", admin), acc(bankCollector, "bank", coll),
			acc(ncAdmin, "northshire", admin), acc(ncCollector, "northshire", coll), acc(scotAdmin, "scot", admin),
			acc(settler, "clearing", admin, agencyv1.Role_ROLE_SETTLEMENT_BANK),
		},
	}
	e := &env{t: t, kv: store.NewMemory(), height: 1}
	require.NoError(t, agK.InitGenesis(e.kv, g, 0))
	require.NoError(t, fundsK.InitGenesis(e.kv, nil))
	require.NoError(t, govK.InitGenesis(e.kv, &govv1.Genesis{Mandates: gov.FoundingMandates(g.Agencies)}, nil))
	require.NoError(t, k.InitGenesis(e.kv, &taxv1.Genesis{
		TaxTypes: []*taxv1.TaxType{
			{Code: "VAT", Name: "Value added tax", Authority: "revenue", RevenueAgency: "treasury", PeriodKind: taxv1.PeriodKind_PERIOD_KIND_QUARTER},
			{Code: "COUNCIL_TAX", Name: "Council tax", Authority: "revenue", RevenueAgency: "northshire", PeriodKind: taxv1.PeriodKind_PERIOD_KIND_YEAR},
		},
		Authorisations: []*taxv1.Authorisation{
			{Collector: revCollector.addr, TaxType: "VAT", Active: true},
			{Collector: revCollector.addr, TaxType: "COUNCIL_TAX", Active: true},
			{Collector: bankCollector.addr, TaxType: "VAT", Active: true},
			{Collector: ncCollector.addr, TaxType: "COUNCIL_TAX", Active: true},
		},
	}))
	return e
}

func (e *env) account(k key) *agencyv1.Account {
	acc, err := agK.Account(e.kv, k.addr)
	require.NoError(e.t, err)
	return acc
}

// run applies one handler the way the app does: on a cache written back
// only on success. It returns the handler's error.
func (e *env) run(signer key, f func(ctx module.Context, s *agencyv1.Account) error) error {
	e.height++
	cache := store.NewCache(e.kv)
	ctx := module.NewContext(cache, e.height, t0.Add(time.Duration(e.height)*time.Second), "tally-unit", &e.events)
	err := f(ctx, e.account(signer))
	if err == nil {
		cache.Write()
	}
	return err
}

// issue issues a receipt and, when it succeeds, has the clearing bank
// confirm its settlement, so its revenue is credited (see pending for a
// receipt left unconfirmed).
func (e *env) issue(signer key, m *taxv1.MsgIssueReceipt) error {
	if err := e.pending(signer, m); err != nil {
		return err
	}
	e.confirmAll()
	return nil
}

// pending issues a receipt and leaves its revenue pending.
func (e *env) pending(signer key, m *taxv1.MsgIssueReceipt) error {
	if err := tax.ValidateBasic(m); err != nil {
		return err
	}
	return e.run(signer, func(ctx module.Context, s *agencyv1.Account) error { return k.IssueReceipt(ctx, s, m) })
}

// confirmAll has the clearing bank confirm every receipt's pending revenue.
func (e *env) confirmAll() {
	e.t.Helper()
	for _, authority := range []string{"revenue", "scot"} {
		for seq := uint64(1); ; seq++ {
			ref := tax.ReceiptRef{Authority: authority, Seq: seq}
			r, err := k.Receipt(e.kv, ref)
			if err != nil {
				break
			}
			s, c := e.state(r.Id), e.confirmed(r.Id)
			if s.Net > c.Amount {
				require.NoError(e.t, e.run(settler, func(ctx module.Context, a *agencyv1.Account) error {
					return k.ConfirmReceipt(ctx, a, &taxv1.MsgConfirmReceipt{ReceiptId: r.Id, BankReference: r.BankReference, Amount: s.Net - c.Amount})
				}))
			}
		}
	}
}

func (e *env) confirmed(id string) *taxv1.Confirmed {
	ref, err := tax.ParseReceiptID(id)
	require.NoError(e.t, err)
	c, err := k.Confirmed(e.kv, ref)
	require.NoError(e.t, err)
	return c
}

func (e *env) state(id string) *taxv1.ReceiptState {
	ref, err := tax.ParseReceiptID(id)
	require.NoError(e.t, err)
	s, err := k.State(e.kv, ref)
	require.NoError(e.t, err)
	return s
}

func (e *env) balance(agencyID string) uint64 {
	b, err := fundsK.Balance(e.kv, api.AgencyHolder(agencyID))
	require.NoError(e.t, err)
	return b
}

func (e *env) total(key []byte) *taxv1.Total {
	t, err := k.Total(e.kv, key)
	require.NoError(e.t, err)
	return t
}

func (e *env) requireConserved() {
	r, err := fundsK.Invariants(e.kv)
	require.NoError(e.t, err)
	require.True(e.t, r.Ok, "funds invariants: %v", r.Problems)
}

func vat(payer []byte, period string, amount uint64, ref string) *taxv1.MsgIssueReceipt {
	return &taxv1.MsgIssueReceipt{TaxType: "VAT", Payer: payerOf(payer, "VAT", period), Period: period, Amount: amount, BankReference: bankRef(ref)}
}

func requireCoded(t *testing.T, want *module.Error, err error, fragment string) {
	t.Helper()
	require.Error(t, err)
	space, code, log := module.CodeOf(err)
	require.Equal(t, fmt.Sprintf("%s/%d", want.Codespace, want.Code), fmt.Sprintf("%s/%d", space, code), log)
	require.Contains(t, log, fragment)
}

func TestReceiptIDsAreSequentialPerAuthorityAndCanonical(t *testing.T) {
	require.Equal(t, "REVENUE-000123", tax.ReceiptRef{Authority: "revenue", Seq: 123}.ID())
	require.Equal(t, "NORTH-SHIRE-1234567", tax.ReceiptRef{Authority: "north-shire", Seq: 1234567}.ID())
	for _, id := range []string{"REVENUE-000123", "NORTH-SHIRE-1234567", "A.B_C-000001"} {
		ref, err := tax.ParseReceiptID(id)
		require.NoError(t, err, id)
		require.Equal(t, id, ref.ID())
	}
	for id, frag := range map[string]string{
		"REVENUE-123":                  `write it as "REVENUE-000123"`,
		"REVENUE-0000123":              "canonical",
		"revenue-000123":               "not an upper-case agency id",
		"REVENUE-000000":               "sequence number from 1",
		"REVENUE-":                     "ids look like",
		"-000001":                      "ids look like",
		"REVENUE-00012X":               "sequence number",
		"REV/ENUE-000001":              "not an upper-case agency id",
		"REVENUE 000001":               "ids look like",
		"REVENUE-+00001":               "sequence number",
		"REVENUE-99999999999999999999": "sequence number",
	} {
		_, err := tax.ParseReceiptID(id)
		requireCoded(t, tax.ErrInvalidReceiptID, err, frag)
	}
}

func TestPeriodsParseAndRange(t *testing.T) {
	for s, kind := range map[string]taxv1.PeriodKind{"2026": taxv1.PeriodKind_PERIOD_KIND_YEAR, "2026-Q3": taxv1.PeriodKind_PERIOD_KIND_QUARTER, "2026-09": taxv1.PeriodKind_PERIOD_KIND_MONTH} {
		p, err := tax.ParsePeriod(s)
		require.NoError(t, err)
		require.Equal(t, kind, p.Kind)
		require.Equal(t, s, p.String())
	}
	for _, s := range []string{"", "26", "2026-Q5", "2026-Q0", "2026-13", "2026-00", "2026-9", "2026Q3", "1899", "2026-q3", "２０２６", "2026-09-01"} {
		_, err := tax.ParsePeriod(s)
		requireCoded(t, tax.ErrInvalidPeriod, err, "is not a tax period")
	}
	got, err := tax.PeriodRange("2025-Q3", "2026-Q2", taxv1.PeriodKind_PERIOD_KIND_QUARTER, "VAT")
	require.NoError(t, err)
	require.Equal(t, []string{"2025-Q3", "2025-Q4", "2026-Q1", "2026-Q2"}, got)
	got, err = tax.PeriodRange("2025-11", "2026-02", taxv1.PeriodKind_PERIOD_KIND_MONTH, "PAYE")
	require.NoError(t, err)
	require.Equal(t, []string{"2025-11", "2025-12", "2026-01", "2026-02"}, got)
	_, err = tax.PeriodRange("2026-Q2", "2025-Q3", taxv1.PeriodKind_PERIOD_KIND_QUARTER, "VAT")
	requireCoded(t, tax.ErrInvalidRange, err, "give the earlier period first")
	_, err = tax.PeriodRange("2000-01", "2030-01", taxv1.PeriodKind_PERIOD_KIND_MONTH, "PAYE")
	requireCoded(t, tax.ErrInvalidRange, err, "at most 120")
	_, err = tax.PeriodRange("2026", "2026-Q2", taxv1.PeriodKind_PERIOD_KIND_QUARTER, "VAT")
	requireCoded(t, tax.ErrWrongPeriodKind, err, "2026 is a year; VAT is assessed by quarter")
}

// The amendment chain: issue, correct, partially refund, cancel. After each
// step the derived status and net amount, the Treasury's funds balance,
// the running totals and the funds conservation invariant are as expected,
// and the stored state equals the state folded from the records.
func TestAmendmentChain(t *testing.T) {
	e := newEnv(t)
	payer := taxpayer("alice")
	require.NoError(t, e.issue(revCollector, vat(payer, "2026-Q1", 10_000, "BACS-1")))
	const id = "REVENUE-000001"

	type want struct {
		status   taxv1.Status
		amount   uint64
		refunded uint64
		net      uint64
		period   string
	}
	check := func(step string, w want) {
		t.Helper()
		s := e.state(id)
		require.Equal(t, w.status, s.Status, step)
		require.Equal(t, w.net, s.Net, step)
		require.Equal(t, w.amount, s.Amount, step)
		require.Equal(t, w.refunded, s.Refunded, step)
		require.Equal(t, w.period, s.Period, step)
		require.Equal(t, w.net, e.balance("treasury"), step+": treasury balance")
		e.requireConserved()
		ref, _ := tax.ParseReceiptID(id)
		r, err := k.Receipt(e.kv, ref)
		require.NoError(t, err)
		require.Equal(t, uint64(10_000), r.Amount, "the receipt itself never changes")
		as, err := k.Amendments(e.kv, ref, s.Amendments)
		require.NoError(t, err)
		folded, err := api.FoldReceipt(r, as)
		require.NoError(t, err)
		require.True(t, proto.Equal(s, folded), "%s: stored %v, folded %v", step, s, folded)
		live := w.status != taxv1.Status_STATUS_CANCELLED
		pt := e.total(api.TaxPayerTotalKey("VAT", w.period, payerOf(payer, "VAT", w.period)))
		tt := e.total(api.TaxTypeTotalKey("VAT", w.period))
		ct := e.total(api.TaxCollectorTotalKey(revCollector.addr, "VAT", w.period))
		for _, tot := range []*taxv1.Total{pt, tt, ct} {
			if live {
				require.True(t, proto.Equal(&taxv1.Total{Receipts: 1, Collected: w.amount, Refunded: w.refunded, Net: w.net}, tot), "%s: %v", step, tot)
			} else {
				require.True(t, proto.Equal(&taxv1.Total{}, tot), "%s: %v", step, tot)
			}
		}
	}
	check("issued", want{taxv1.Status_STATUS_ISSUED, 10_000, 0, 10_000, "2026-Q1"})

	amend := func(signer key, f func(ctx module.Context, s *agencyv1.Account) error) error {
		err := e.run(signer, f)
		e.confirmAll()
		return err
	}
	require.NoError(t, amend(revCollector, func(ctx module.Context, s *agencyv1.Account) error {
		return k.CorrectReceipt(ctx, s, &taxv1.MsgCorrectReceipt{ReceiptId: id, Reason: taxv1.Reason_REASON_KEYING_ERROR, Amount: 12_000, Period: "2026-Q2", Payer: payerOf(payer, "VAT", "2026-Q2")})
	}))
	check("corrected", want{taxv1.Status_STATUS_CORRECTED, 12_000, 0, 12_000, "2026-Q2"})
	require.True(t, proto.Equal(&taxv1.Total{}, e.total(api.TaxTypeTotalKey("VAT", "2026-Q1"))), "the old period's total is emptied")

	require.NoError(t, amend(revCollector, func(ctx module.Context, s *agencyv1.Account) error {
		return k.RefundReceipt(ctx, s, &taxv1.MsgRefundReceipt{ReceiptId: id, Reason: taxv1.Reason_REASON_OVERPAYMENT, Amount: 2_000})
	}))
	check("partially refunded", want{taxv1.Status_STATUS_PARTIALLY_REFUNDED, 12_000, 2_000, 10_000, "2026-Q2"})

	err := amend(revCollector, func(ctx module.Context, s *agencyv1.Account) error {
		return k.RefundReceipt(ctx, s, &taxv1.MsgRefundReceipt{ReceiptId: id, Reason: taxv1.Reason_REASON_OVERPAYMENT, Amount: 10_001})
	})
	requireCoded(t, tax.ErrRefundTooLarge, err, "net amount of 10000; a refund of 10001")
	err = amend(revCollector, func(ctx module.Context, s *agencyv1.Account) error {
		return k.CorrectReceipt(ctx, s, &taxv1.MsgCorrectReceipt{ReceiptId: id, Reason: taxv1.Reason_REASON_KEYING_ERROR, Amount: 1_999})
	})
	requireCoded(t, tax.ErrCorrectionBelowRefunds, err, "has had 2000 refunded")
	err = amend(revCollector, func(ctx module.Context, s *agencyv1.Account) error {
		return k.CorrectReceipt(ctx, s, &taxv1.MsgCorrectReceipt{ReceiptId: id, Reason: taxv1.Reason_REASON_KEYING_ERROR, Amount: 12_000, Period: "2026-Q2", Payer: payerOf(payer, "VAT", "2026-Q2")})
	})
	requireCoded(t, tax.ErrNothingToCorrect, err, "give a value that differs")
	check("after refusals", want{taxv1.Status_STATUS_PARTIALLY_REFUNDED, 12_000, 2_000, 10_000, "2026-Q2"})

	require.NoError(t, amend(revCollector, func(ctx module.Context, s *agencyv1.Account) error {
		return k.CancelReceipt(ctx, s, &taxv1.MsgCancelReceipt{ReceiptId: id, Reason: taxv1.Reason_REASON_PAYMENT_REVERSED})
	}))
	check("cancelled", want{taxv1.Status_STATUS_CANCELLED, 12_000, 2_000, 0, "2026-Q2"})

	for name, f := range map[string]func(ctx module.Context, s *agencyv1.Account) error{
		"refund": func(ctx module.Context, s *agencyv1.Account) error {
			return k.RefundReceipt(ctx, s, &taxv1.MsgRefundReceipt{ReceiptId: id, Reason: taxv1.Reason_REASON_OVERPAYMENT, Amount: 1})
		},
		"cancel": func(ctx module.Context, s *agencyv1.Account) error {
			return k.CancelReceipt(ctx, s, &taxv1.MsgCancelReceipt{ReceiptId: id, Reason: taxv1.Reason_REASON_OTHER})
		},
		"correct": func(ctx module.Context, s *agencyv1.Account) error {
			return k.CorrectReceipt(ctx, s, &taxv1.MsgCorrectReceipt{ReceiptId: id, Reason: taxv1.Reason_REASON_OTHER, Amount: 5})
		},
	} {
		requireCoded(t, tax.ErrReceiptCancelled, amend(revCollector, f), "was cancelled")
		_ = name
	}

	// A full refund leaves a live receipt with net 0: status refunded.
	require.NoError(t, e.issue(revCollector, vat(payer, "2026-Q3", 500, "BACS-2")))
	require.NoError(t, amend(revCollector, func(ctx module.Context, s *agencyv1.Account) error {
		return k.RefundReceipt(ctx, s, &taxv1.MsgRefundReceipt{ReceiptId: "REVENUE-000002", Reason: taxv1.Reason_REASON_APPEAL_UPHELD, Amount: 500})
	}))
	s := e.state("REVENUE-000002")
	require.Equal(t, taxv1.Status_STATUS_REFUNDED, s.Status)
	require.Zero(t, s.Net)
	require.Zero(t, e.balance("treasury"))
	e.requireConserved()
}

// Collected tax is credited to the revenue account of the tax type: VAT to
// the Treasury, council tax to the council, whoever collected it.
func TestRevenueCreditedToTheTaxTypesAccount(t *testing.T) {
	e := newEnv(t)
	require.NoError(t, e.issue(bankCollector, vat(taxpayer("a"), "2026-Q1", 700, "B-1")))
	require.NoError(t, e.issue(ncCollector, &taxv1.MsgIssueReceipt{TaxType: "COUNCIL_TAX", Payer: payerOf(taxpayer("a"), "COUNCIL_TAX", "2026"), Period: "2026", Amount: 1_300, BankReference: bankRef("DD-1")}))
	require.NoError(t, e.issue(revCollector, &taxv1.MsgIssueReceipt{TaxType: "COUNCIL_TAX", Payer: payerOf(taxpayer("b"), "COUNCIL_TAX", "2026"), Period: "2026", Amount: 50, BankReference: bankRef("DD-1")}))
	require.Equal(t, uint64(700), e.balance("treasury"))
	require.Equal(t, uint64(1_350), e.balance("northshire"))
	require.Zero(t, e.balance("revenue"))
	e.requireConserved()

	// Both are in Revenue's series, because Revenue authorised the collectors.
	ref, _ := tax.ParseReceiptID("REVENUE-000002")
	r, err := k.Receipt(e.kv, ref)
	require.NoError(t, err)
	require.Equal(t, "northshire", r.CollectorAgency)
	require.Equal(t, api.AgencyHolder("northshire"), r.RevenueHolder)
	require.Empty(t, r.RevenueMovement, "a receipt credits nothing itself")
	require.Equal(t, uint64(1_300), e.confirmed(r.Id).Amount, "the clearing bank's confirmation did")
	require.True(t, proto.Equal(&taxv1.Total{Receipts: 2, Collected: 1_350, Net: 1_350}, e.total(api.TaxTypeTotalKey("COUNCIL_TAX", "2026"))))
	require.True(t, proto.Equal(&taxv1.Total{Receipts: 1, Collected: 1_300, Net: 1_300}, e.total(api.TaxCollectorTotalKey(ncCollector.addr, "COUNCIL_TAX", "2026"))))
}

// The same payment cannot be receipted twice by one collecting agency —
// even by two of its accounts — but another agency's reference space is its
// own, and a cancelled receipt's payment may be receipted again.
func TestDuplicatePaymentGuard(t *testing.T) {
	e := newEnv(t)
	require.NoError(t, e.issue(revCollector, vat(taxpayer("a"), "2026-Q1", 100, "PAY-42")))
	requireCoded(t, tax.ErrDuplicatePayment, e.issue(revCollector, vat(taxpayer("b"), "2026-Q2", 999, "PAY-42")), "already receipted the payment with bank reference commitment "+hex.EncodeToString(bankRef("PAY-42"))+" as REVENUE-000001")
	require.NoError(t, e.run(revAdmin, func(ctx module.Context, s *agencyv1.Account) error {
		return k.AuthoriseCollector(ctx, s, &taxv1.MsgAuthoriseCollector{Collector: revCollector2.addr, TaxType: "VAT"})
	}))
	requireCoded(t, tax.ErrDuplicatePayment, e.issue(revCollector2, vat(taxpayer("a"), "2026-Q1", 100, "PAY-42")), "REVENUE-000001")
	require.NoError(t, e.issue(bankCollector, vat(taxpayer("a"), "2026-Q1", 100, "PAY-42")))
	require.Equal(t, uint64(200), e.balance("treasury"))

	require.NoError(t, e.run(revCollector, func(ctx module.Context, s *agencyv1.Account) error {
		return k.CancelReceipt(ctx, s, &taxv1.MsgCancelReceipt{ReceiptId: "REVENUE-000001", Reason: taxv1.Reason_REASON_WRONG_TAXPAYER})
	}))
	require.NoError(t, e.issue(revCollector, vat(taxpayer("c"), "2026-Q1", 100, "PAY-42")))
	require.Equal(t, taxv1.Status_STATUS_ISSUED, e.state("REVENUE-000003").Status)
	requireCoded(t, tax.ErrDuplicatePayment, e.issue(revCollector, vat(taxpayer("c"), "2026-Q1", 100, "PAY-42")), "as REVENUE-000003")
	require.Equal(t, uint64(200), e.balance("treasury"))
	e.requireConserved()
}

// A withdrawn collector's new receipts are refused; re-authorising restores it.
func TestWithdrawnCollectorIsRefused(t *testing.T) {
	e := newEnv(t)
	withdraw := func(ctx module.Context, s *agencyv1.Account) error {
		return k.WithdrawCollector(ctx, s, &taxv1.MsgWithdrawCollector{Collector: bankCollector.addr, TaxType: "VAT"})
	}
	require.NoError(t, e.run(revAdmin, withdraw))
	requireCoded(t, tax.ErrUnauthorisedCollector, e.issue(bankCollector, vat(taxpayer("a"), "2026-Q1", 1, "X")), "holds no active collector authorisation")
	requireCoded(t, tax.ErrNotAuthorised, e.run(revAdmin, withdraw), "nothing to withdraw")

	require.NoError(t, e.run(revAdmin, func(ctx module.Context, s *agencyv1.Account) error {
		return k.WithdrawCollector(ctx, s, &taxv1.MsgWithdrawCollector{Collector: revCollector.addr, TaxType: "VAT"})
	}))
	requireCoded(t, tax.ErrCollectorNotForType, e.issue(revCollector, vat(taxpayer("a"), "2026-Q1", 1, "X")), "authorisation for VAT was withdrawn")
	require.NoError(t, e.issue(revCollector, &taxv1.MsgIssueReceipt{TaxType: "COUNCIL_TAX", Payer: payerOf(taxpayer("a"), "COUNCIL_TAX", "2026"), Period: "2026", Amount: 1, BankReference: bankRef("X")}))

	require.NoError(t, e.run(revAdmin, func(ctx module.Context, s *agencyv1.Account) error {
		return k.AuthoriseCollector(ctx, s, &taxv1.MsgAuthoriseCollector{Collector: bankCollector.addr, TaxType: "VAT"})
	}))
	require.NoError(t, e.issue(bankCollector, vat(taxpayer("a"), "2026-Q1", 1, "X")))
}

// Every refusal has its own code and leaves state as it was.
func TestRefusals(t *testing.T) {
	authorise := func(addr []byte, tt string) func(ctx module.Context, s *agencyv1.Account) error {
		return func(ctx module.Context, s *agencyv1.Account) error {
			return k.AuthoriseCollector(ctx, s, &taxv1.MsgAuthoriseCollector{Collector: addr, TaxType: tt})
		}
	}
	register := func(m *taxv1.MsgRegisterTaxType) func(ctx module.Context, s *agencyv1.Account) error {
		return func(ctx module.Context, s *agencyv1.Account) error { return k.RegisterTaxType(ctx, s, m) }
	}
	issue := func(m *taxv1.MsgIssueReceipt) func(ctx module.Context, s *agencyv1.Account) error {
		return func(ctx module.Context, s *agencyv1.Account) error { return k.IssueReceipt(ctx, s, m) }
	}
	refund := func(id string, amount uint64) func(ctx module.Context, s *agencyv1.Account) error {
		return func(ctx module.Context, s *agencyv1.Account) error {
			return k.RefundReceipt(ctx, s, &taxv1.MsgRefundReceipt{ReceiptId: id, Reason: taxv1.Reason_REASON_OVERPAYMENT, Amount: amount})
		}
	}
	paye := &taxv1.MsgRegisterTaxType{Code: "PAYE", Name: "Pay as you earn", RevenueAgency: "treasury", PeriodKind: taxv1.PeriodKind_PERIOD_KIND_MONTH}
	for _, tt := range []struct {
		name   string
		signer key
		f      func(ctx module.Context, s *agencyv1.Account) error
		want   *module.Error
		frag   string
	}{
		{"register by a non-tax-authority admin", trAdmin, register(paye), tax.ErrNotTaxAuthority, `"treasury" is a treasury`},
		{"register an existing type", revAdmin, register(&taxv1.MsgRegisterTaxType{Code: "VAT", Name: "x", RevenueAgency: "treasury", PeriodKind: 1}), tax.ErrTaxTypeExists, `registered by "revenue"`},
		{"register with an unknown revenue agency", revAdmin, register(&taxv1.MsgRegisterTaxType{Code: "X", Name: "x", RevenueAgency: "nowhere", PeriodKind: 1}), tax.ErrUnknownRevenueAgency, `"nowhere"`},
		{"authorise by a non-tax-authority admin", bankAdmin, authorise(bankCollector.addr, "VAT"), tax.ErrNotTaxAuthority, "bank"},
		{"authorise for another authority's type", scotAdmin, authorise(bankCollector.addr, "VAT"), tax.ErrOtherAuthorityType, `belongs to authority "revenue"`},
		{"authorise for an unknown type", revAdmin, authorise(bankCollector.addr, "NOPE"), tax.ErrUnknownTaxType, "NOPE"},
		{"authorise an unknown account", revAdmin, authorise(keyFor("ghost").addr, "VAT"), tax.ErrUnknownCollector, "add it first"},
		{"authorise an account without the role", revAdmin, authorise(revClerk.addr, "VAT"), tax.ErrNotCollectorRole, "tax_collector"},
		{"authorise twice", revAdmin, authorise(bankCollector.addr, "VAT"), tax.ErrAlreadyAuthorised, "since height"},
		{"issue by a never-authorised collector", revCollector2, issue(vat(taxpayer("a"), "2026-Q1", 1, "R")), tax.ErrUnauthorisedCollector, "holds no active"},
		{"issue of a type not authorised", bankCollector, issue(&taxv1.MsgIssueReceipt{TaxType: "COUNCIL_TAX", Payer: payerOf(taxpayer("a"), "COUNCIL_TAX", "2026"), Period: "2026", Amount: 1, BankReference: bankRef("R")}), tax.ErrCollectorNotForType, "not authorised for COUNCIL_TAX"},
		{"issue of an unknown type", bankCollector, issue(&taxv1.MsgIssueReceipt{TaxType: "NOPE", Payer: payerOf(taxpayer("a"), "NOPE", "2026"), Period: "2026", Amount: 1, BankReference: bankRef("R")}), tax.ErrUnknownTaxType, "NOPE"},
		{"issue for a period of the wrong kind", bankCollector, issue(vat(taxpayer("a"), "2026-03", 1, "R")), tax.ErrWrongPeriodKind, "2026-03 is a month; VAT is assessed by quarter"},
		{"amend an unknown receipt", revCollector, refund("REVENUE-000099", 1), tax.ErrUnknownReceipt, "REVENUE-000099"},
		{"amend by another agency", bankCollector, refund("REVENUE-000001", 1), tax.ErrAmendOtherAuthority, `series of "revenue"`},
		{"amend without authorisation for the type", revCollector2, refund("REVENUE-000001", 1), tax.ErrUnauthorisedCollector, "holds no active"},
		{"refund more than the net", revCollector, refund("REVENUE-000001", 101), tax.ErrRefundTooLarge, "net amount of 100"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			require.NoError(t, e.issue(revCollector, vat(taxpayer("a"), "2026-Q1", 100, "PAID-1")))
			before := e.kv.WorkingHash()
			requireCoded(t, tt.want, e.run(tt.signer, tt.f), tt.frag)
			require.Equal(t, before, e.kv.WorkingHash())
		})
	}
}

// Stateless checks: each malformed field has its own code.
func TestValidateBasic(t *testing.T) {
	good := func() *taxv1.MsgIssueReceipt { return vat(taxpayer("a"), "2026-Q1", 1, "R-1") }
	for _, tt := range []struct {
		name string
		msg  any
		want *module.Error
		frag string
	}{
		{"zero amount", func() any { m := good(); m.Amount = 0; return m }(), tax.ErrInvalidAmount, "amount is 0"},
		{"malformed period", func() any { m := good(); m.Period = "Q3-2026"; return m }(), tax.ErrInvalidPeriod, `"Q3-2026"`},
		{"short payer", func() any { m := good(); m.Payer = m.Payer[:31]; return m }(), tax.ErrInvalidTaxpayer, "31 bytes"},
		{"empty bank reference", func() any { m := good(); m.BankReference = nil; return m }(), tax.ErrInvalidBankReference, "0 bytes"},
		{"bank reference in the clear", func() any { m := good(); m.BankReference = []byte("J SMITH RENT MAY"); return m }(), tax.ErrInvalidBankReference, "never the reference itself"},
		{"correct the period without a payer commitment", &taxv1.MsgCorrectReceipt{ReceiptId: "REVENUE-000001", Reason: 1, Period: "2026-Q2"}, tax.ErrPayerNeeded, "payer commitment for that period"},
		{"lower-case tax type", func() any { m := good(); m.TaxType = "vat"; return m }(), tax.ErrInvalidTaxType, "starting with A-Z"},
		{"refund of zero", &taxv1.MsgRefundReceipt{ReceiptId: "REVENUE-000001", Reason: 1}, tax.ErrInvalidAmount, "refund amount is 0"},
		{"refund without reason", &taxv1.MsgRefundReceipt{ReceiptId: "REVENUE-000001", Amount: 1}, tax.ErrInvalidReason, "keying_error"},
		{"cancel with an undefined reason", &taxv1.MsgCancelReceipt{ReceiptId: "REVENUE-000001", Reason: 99}, tax.ErrInvalidReason, "reason 99"},
		{"cancel a malformed id", &taxv1.MsgCancelReceipt{ReceiptId: "nope", Reason: 1}, tax.ErrInvalidReceiptID, "ids look like"},
		{"correct nothing", &taxv1.MsgCorrectReceipt{ReceiptId: "REVENUE-000001", Reason: 1}, tax.ErrNothingToCorrect, "give a corrected"},
		{"correct to a malformed period", &taxv1.MsgCorrectReceipt{ReceiptId: "REVENUE-000001", Reason: 1, Period: "x"}, tax.ErrInvalidPeriod, `"x"`},
		{"register without name", &taxv1.MsgRegisterTaxType{Code: "VAT", RevenueAgency: "treasury", PeriodKind: 1}, tax.ErrInvalidName, "1 to 128"},
		{"register without period kind", &taxv1.MsgRegisterTaxType{Code: "VAT", Name: "v", RevenueAgency: "treasury"}, tax.ErrInvalidPeriodKind, "year, quarter or month"},
		{"register with a bad revenue agency", &taxv1.MsgRegisterTaxType{Code: "VAT", Name: "v", RevenueAgency: "Trea sury", PeriodKind: 1}, tax.ErrInvalidRevenueAgency, "revenue_agency"},
		{"authorise a short address", &taxv1.MsgAuthoriseCollector{Collector: []byte{1}, TaxType: "VAT"}, tax.ErrInvalidAddress, "1 bytes"},
		{"withdraw a bad type", &taxv1.MsgWithdrawCollector{Collector: make([]byte, 20), TaxType: "V-A-T"}, tax.ErrInvalidTaxType, "may use only"},
	} {
		t.Run(tt.name, func(t *testing.T) { requireCoded(t, tt.want, tax.ValidateBasic(tt.msg), tt.frag) })
	}
}

// Corrections of period and taxpayer move the receipt between running
// totals; the clearance statement follows.
func TestCorrectionMovesTotalsAndClearance(t *testing.T) {
	e := newEnv(t)
	alice, bob := taxpayer("alice"), taxpayer("bob")
	for i, p := range []string{"2026-Q1", "2026-Q2", "2026-Q4"} {
		require.NoError(t, e.issue(revCollector, vat(alice, p, uint64(100*(i+1)), fmt.Sprintf("P-%d", i))))
	}
	statement := func(payer []byte) *api.Statement {
		req := clearanceRequest(t, payer, "VAT", "2026-Q1", "2026-Q4")
		tt, err := k.TaxType(e.kv, "VAT")
		require.NoError(t, err)
		keys, _, err := tax.ClearanceKeys(req, tt)
		require.NoError(t, err)
		list := answer(e.kv, keys)
		s, err := api.DecodeClearance(req, e.height, list)
		require.NoError(t, err)
		return s
	}
	s := statement(alice)
	require.False(t, s.Covered)
	require.Equal(t, []string{"2026-Q3"}, s.Missing)
	require.Equal(t, uint64(600), s.Net)
	require.Contains(t, s.String(), "has no receipt for tax type VAT in periods 2026-Q3")

	// The Q4 receipt was really for Q3 and for bob.
	require.NoError(t, e.run(revCollector, func(ctx module.Context, s *agencyv1.Account) error {
		return k.CorrectReceipt(ctx, s, &taxv1.MsgCorrectReceipt{ReceiptId: "REVENUE-000003", Reason: taxv1.Reason_REASON_WRONG_TAXPAYER, Period: "2026-Q3", Payer: payerOf(bob, "VAT", "2026-Q3")})
	}))
	s = statement(alice)
	require.Equal(t, []string{"2026-Q3", "2026-Q4"}, s.Missing)
	require.Equal(t, uint64(300), s.Net)
	s = statement(bob)
	require.Equal(t, []string{"2026-Q1", "2026-Q2", "2026-Q4"}, s.Missing)
	require.Equal(t, []api.PeriodLine{{Period: "2026-Q1"}, {Period: "2026-Q2"}, {Period: "2026-Q3", Receipts: 1, Net: 300}, {Period: "2026-Q4"}}, s.Periods)
	require.False(t, e.kv.Has(api.TaxPayerTotalKey("VAT", "2026-Q4", payerOf(alice, "VAT", "2026-Q4"))), "an emptied total is deleted")
	require.Equal(t, uint64(600), e.balance("treasury"))
	e.requireConserved()
}

// answer builds an unproven ProvedList of the values at keys, as a node
// would without --prove.
func answer(kv store.KV, keys [][]byte) *appv1.ProvedList {
	l := &appv1.ProvedList{}
	for _, key := range keys {
		l.Entries = append(l.Entries, &appv1.ProvedEntry{Key: key, Value: kv.Get(key)})
	}
	return l
}

// A refund the revenue account can no longer cover (the money was spent)
// is refused with the funds ledger's overdraft code, and nothing changes.
func TestRefundOverdraftIsRefusedByTheLedger(t *testing.T) {
	e := newEnv(t)
	require.NoError(t, e.issue(revCollector, vat(taxpayer("a"), "2026-Q1", 100, "P-1")))
	require.NoError(t, e.run(trAdmin, func(ctx module.Context, _ *agencyv1.Account) error {
		_, err := fundsK.DebitRevenue(ctx, api.AgencyHolder("treasury"), 80, "test", "spent-elsewhere")
		return err
	}))
	before := e.kv.WorkingHash()
	err := e.run(revCollector, func(ctx module.Context, s *agencyv1.Account) error {
		return k.RefundReceipt(ctx, s, &taxv1.MsgRefundReceipt{ReceiptId: "REVENUE-000001", Reason: taxv1.Reason_REASON_OVERPAYMENT, Amount: 50})
	})
	requireCoded(t, funds.ErrInsufficientFunds, err, "")
	require.Equal(t, before, e.kv.WorkingHash())
	require.Equal(t, taxv1.Status_STATUS_ISSUED, e.state("REVENUE-000001").Status)
}

// The (tax type, period) index lists each receipt under its current period:
// written at issue, moved by a period correction, kept on cancellation.
func TestTypePeriodIndex(t *testing.T) {
	e := newEnv(t)
	alice, bob := taxpayer("alice"), taxpayer("bob")
	require.NoError(t, e.issue(revCollector, vat(alice, "2026-Q1", 100, "I-1")))
	require.NoError(t, e.issue(revCollector, vat(bob, "2026-Q1", 200, "I-2")))
	require.NoError(t, e.issue(revCollector, vat(alice, "2026-Q2", 300, "I-3")))
	listed := func(taxType, period string) []string {
		var ids []string
		store.IteratePrefix(e.kv, api.TaxTypePeriodPrefix(taxType, period), func(key, _ []byte) bool {
			r := &taxv1.Receipt{}
			_, err := store.GetProto(e.kv, api.TaxReceiptKeyOfIndex(key), r)
			require.NoError(t, err)
			ids = append(ids, r.Id)
			return false
		})
		return ids
	}
	require.Equal(t, []string{"REVENUE-000001", "REVENUE-000002"}, listed("VAT", "2026-Q1"))
	require.Equal(t, []string{"REVENUE-000003"}, listed("VAT", "2026-Q2"))
	require.Empty(t, listed("VAT", "2026-Q3"))
	require.Empty(t, listed("COUNCIL_TAX", "2026-Q1"))

	require.NoError(t, e.run(revCollector, func(ctx module.Context, s *agencyv1.Account) error {
		return k.CorrectReceipt(ctx, s, &taxv1.MsgCorrectReceipt{ReceiptId: "REVENUE-000002", Reason: taxv1.Reason_REASON_WRONG_PERIOD, Period: "2026-Q2"})
	}))
	require.Equal(t, []string{"REVENUE-000001"}, listed("VAT", "2026-Q1"))
	require.Equal(t, []string{"REVENUE-000002", "REVENUE-000003"}, listed("VAT", "2026-Q2"))

	require.NoError(t, e.run(revCollector, func(ctx module.Context, s *agencyv1.Account) error {
		return k.CancelReceipt(ctx, s, &taxv1.MsgCancelReceipt{ReceiptId: "REVENUE-000001", Reason: taxv1.Reason_REASON_ISSUED_IN_ERROR})
	}))
	require.Equal(t, []string{"REVENUE-000001"}, listed("VAT", "2026-Q1"), "a cancelled receipt stays listed; its state says cancelled")

	// A sequence whose bytes hold '/' maps back to its receipt.
	ref := tax.ReceiptRef{Authority: "revenue", Seq: 0x2f2f}
	require.Equal(t, api.TaxReceiptKey(ref), api.TaxReceiptKeyOfIndex(api.TaxTypePeriodIndexKey("VAT", "2026-Q1", ref)))
}

// A chain whose receipts predate the index gets the same index from the
// backfill as from issuing with it: the same keys, nothing more.
func TestBackfillTypePeriodIndex(t *testing.T) {
	e := newEnv(t)
	require.NoError(t, e.issue(revCollector, vat(taxpayer("alice"), "2026-Q1", 100, "B-1")))
	require.NoError(t, e.issue(revCollector, vat(taxpayer("bob"), "2026-Q2", 200, "B-2")))
	require.NoError(t, e.run(revCollector, func(ctx module.Context, s *agencyv1.Account) error {
		return k.CorrectReceipt(ctx, s, &taxv1.MsgCorrectReceipt{ReceiptId: "REVENUE-000002", Reason: taxv1.Reason_REASON_WRONG_PERIOD, Period: "2026-Q3"})
	}))
	index := func() [][]byte {
		var keys [][]byte
		store.IteratePrefix(e.kv, []byte("tax/y/"), func(key, _ []byte) bool {
			keys = append(keys, append([]byte(nil), key...))
			return false
		})
		return keys
	}
	want := index()
	require.Len(t, want, 2)
	for _, key := range want {
		e.kv.Delete(key)
	}
	require.Empty(t, index())
	n, err := tax.BackfillTypePeriodIndex(e.kv)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.Equal(t, want, index())
	n, err = tax.BackfillTypePeriodIndex(e.kv)
	require.NoError(t, err)
	require.Zero(t, n, "a second run writes nothing")
}

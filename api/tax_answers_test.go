package api_test

import (
	"bytes"
	"math"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
)

// These tests give the decoders answers built as the node stores them
// (records encoded deterministically, amendments derived with the same
// ApplyAmendment the tax module uses); proofs are the caller's part and
// are checked on real chains in app/tax_test.go and testnet.

const receiptID = "REVENUE-000007"

var receiptRef = api.ReceiptRef{Authority: "revenue", Seq: 7}

func payer(b byte) []byte { return bytes.Repeat([]byte{b}, api.CommitmentSize) }

func encode(t testing.TB, m proto.Message) []byte {
	bz, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	require.NoError(t, err)
	return bz
}

func entry(t testing.TB, key []byte, m proto.Message) *appv1.ProvedEntry {
	return &appv1.ProvedEntry{Key: key, Value: encode(t, m), Proof: []byte("checked by the caller")}
}

func testReceipt() *taxv1.Receipt {
	return &taxv1.Receipt{Id: receiptID, Authority: "revenue", Sequence: 7, TaxType: "VAT", Payer: payer(1),
		Period: "2026-Q1", Amount: 10_000, Collector: make([]byte, api.AddressSize), CollectorAgency: "revenue", Height: 5}
}

// amend applies the amendments to r as the tax module does (numbering
// them and recording the net around each) and returns them with the
// resulting state.
func amend(t testing.TB, r *taxv1.Receipt, as ...*taxv1.Amendment) ([]*taxv1.Amendment, *taxv1.ReceiptState) {
	s := api.InitialReceiptState(r)
	for i, a := range as {
		a.ReceiptId, a.Number, a.Height = r.Id, uint32(i+1), r.Height+int64(i+1)
		a.Id = api.AmendmentID(r.Id, a.Number)
		next, err := api.ApplyAmendment(s, a)
		require.NoError(t, err)
		a.NetBefore, a.NetAfter = s.Net, next.Net
		s = next
	}
	return as, s
}

// receiptAnswer is the /tax/receipt answer for r, its amendments and state.
func receiptAnswer(t testing.TB, r *taxv1.Receipt, s *taxv1.ReceiptState, as []*taxv1.Amendment) *appv1.ProvedList {
	l := &appv1.ProvedList{Complete: true, Entries: []*appv1.ProvedEntry{
		entry(t, api.TaxReceiptKey(receiptRef), r), entry(t, api.TaxReceiptStateKey(receiptRef), s)}}
	for _, a := range as {
		l.Entries = append(l.Entries, entry(t, api.TaxAmendmentKey(receiptRef, a.Number), a))
	}
	return l
}

func amendedAnswer(t testing.TB) *appv1.ProvedList {
	r := testReceipt()
	as, s := amend(t, r,
		&taxv1.Amendment{Kind: taxv1.AmendmentKind_AMENDMENT_KIND_REFUND, Reason: taxv1.Reason_REASON_OVERPAYMENT, Refund: 1_000},
		&taxv1.Amendment{Kind: taxv1.AmendmentKind_AMENDMENT_KIND_CORRECTION, Reason: taxv1.Reason_REASON_KEYING_ERROR, CorrectedAmount: 12_000, CorrectedPeriod: "2026-Q2"},
		&taxv1.Amendment{Kind: taxv1.AmendmentKind_AMENDMENT_KIND_REFUND, Reason: taxv1.Reason_REASON_OVERPAYMENT, Refund: 500})
	return receiptAnswer(t, r, s, as)
}

func TestDecodeReceiptReadsAPresentReceipt(t *testing.T) {
	r := testReceipt()
	_, s := amend(t, r)
	ans, err := api.DecodeReceipt(receiptID, receiptAnswer(t, r, s, nil))
	require.NoError(t, err)
	require.True(t, ans.Found)
	require.True(t, proto.Equal(r, ans.Receipt))
	require.Equal(t, taxv1.Status_STATUS_ISSUED, ans.State.Status)
	require.Equal(t, uint64(10_000), ans.State.Net)
	require.Empty(t, ans.Amendments)
}

func TestDecodeReceiptReadsEveryAmendment(t *testing.T) {
	ans, err := api.DecodeReceipt(receiptID, amendedAnswer(t))
	require.NoError(t, err)
	require.True(t, ans.Found)
	require.Len(t, ans.Amendments, 3)
	require.Equal(t, taxv1.Status_STATUS_PARTIALLY_REFUNDED, ans.State.Status)
	require.Equal(t, uint64(12_000), ans.State.Amount)
	require.Equal(t, uint64(1_500), ans.State.Refunded)
	require.Equal(t, uint64(10_500), ans.State.Net)
	require.Equal(t, "2026-Q2", ans.State.Period)
	require.Equal(t, uint32(3), ans.State.Amendments)
}

func TestDecodeReceiptReadsAProvenAbsence(t *testing.T) {
	absent := &appv1.ProvedList{Complete: true, Entries: []*appv1.ProvedEntry{{Key: api.TaxReceiptKey(receiptRef), Proof: []byte("absence")}}}
	ans, err := api.DecodeReceipt(receiptID, absent)
	require.NoError(t, err)
	require.False(t, ans.Found)

	absent.Entries = append(absent.Entries, entry(t, api.TaxReceiptStateKey(receiptRef), &taxv1.ReceiptState{ReceiptId: receiptID}))
	_, err = api.DecodeReceipt(receiptID, absent)
	require.ErrorIs(t, err, api.ErrAnswer, "an absent receipt's answer holds nothing else")
}

// Every way a node could alter a receipt answer without breaking an
// entry's proof (leave records out, add, reorder, or give records that do
// not belong together) is refused. Each case is caught by one of the two
// checks the decoder joins: the amendments' own record of the net, and the
// state re-derived from the records.
func TestDecodeReceiptRefusesAnAlteredAnswer(t *testing.T) {
	mutate := func(l *appv1.ProvedList, i int, m proto.Message, change func(proto.Message)) {
		require.NoError(t, proto.Unmarshal(l.Entries[i].Value, m))
		change(m)
		l.Entries[i].Value = encode(t, m)
	}
	for _, tc := range []struct {
		name   string
		alter  func(*appv1.ProvedList)
		kind   error
		saying string
	}{
		{"an amendment left out", func(l *appv1.ProvedList) { l.Entries = l.Entries[:4] }, api.ErrAnswer,
			"state counts 3 amendments but the answer carries 2: amendments were left out"},
		{"an amendment added", func(l *appv1.ProvedList) {
			l.Entries = append(l.Entries, entry(t, api.TaxAmendmentKey(receiptRef, 4), &taxv1.Amendment{}))
		}, api.ErrAnswer, "carries 4"},
		{"amendments swapped", func(l *appv1.ProvedList) { l.Entries[2], l.Entries[3] = l.Entries[3], l.Entries[2] }, api.ErrAnswer, "want amendment 1"},
		{"the state's status differs from its records", func(l *appv1.ProvedList) {
			mutate(l, 1, &taxv1.ReceiptState{}, func(m proto.Message) { m.(*taxv1.ReceiptState).Status = taxv1.Status_STATUS_CORRECTED })
		}, api.ErrAnswer, "is not the state its receipt and amendments give"},
		{"an amendment's record of the net after it", func(l *appv1.ProvedList) {
			mutate(l, 3, &taxv1.Amendment{}, func(m proto.Message) { m.(*taxv1.Amendment).NetAfter++ })
		}, api.ErrAnswer, "says it left net 11001 but it leaves 11000"},
		{"an amendment's record of the net before it", func(l *appv1.ProvedList) {
			mutate(l, 4, &taxv1.Amendment{}, func(m proto.Message) { m.(*taxv1.Amendment).NetBefore = 1 })
		}, api.ErrAnswer, "starts from net 1 but the chain left it at 11000"},
		{"an amendment of another receipt", func(l *appv1.ProvedList) {
			mutate(l, 2, &taxv1.Amendment{}, func(m proto.Message) { m.(*taxv1.Amendment).ReceiptId = "REVENUE-000008" })
		}, api.ErrAnswer, "amendment record 1"},
		{"an amendment the state could not take", func(l *appv1.ProvedList) {
			mutate(l, 4, &taxv1.Amendment{}, func(m proto.Message) { m.(*taxv1.Amendment).Refund = 1_000_000 })
		}, api.ErrRefundTooLarge, "does not apply"},
		{"the receipt of another id", func(l *appv1.ProvedList) {
			mutate(l, 0, &taxv1.Receipt{}, func(m proto.Message) { m.(*taxv1.Receipt).Id = "REVENUE-000008" })
		}, api.ErrAnswer, "the receipt record is \"REVENUE-000008\""},
		{"the receipt numbered otherwise", func(l *appv1.ProvedList) {
			mutate(l, 0, &taxv1.Receipt{}, func(m proto.Message) { m.(*taxv1.Receipt).Sequence = 8 })
		}, api.ErrAnswer, "revenue number 8"},
		{"the state proven absent", func(l *appv1.ProvedList) { l.Entries[1].Value = nil }, api.ErrAnswer, "is proven absent"},
		{"a record that is not a record", func(l *appv1.ProvedList) { l.Entries[2].Value = []byte{0xff, 0xff} }, api.ErrUndecodable, "does not decode"},
		{"another receipt's answer", func(l *appv1.ProvedList) {
			l.Entries[0].Key = api.TaxReceiptKey(api.ReceiptRef{Authority: "revenue", Seq: 8})
		},
			api.ErrAnswer, "does not start with receipt"},
		{"no state", func(l *appv1.ProvedList) { l.Entries = l.Entries[:1] }, api.ErrAnswer, "carries no state record"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := amendedAnswer(t)
			tc.alter(l)
			_, err := api.DecodeReceipt(receiptID, l)
			require.ErrorIs(t, err, tc.kind)
			require.ErrorContains(t, err, tc.saying)
		})
	}
}

// A state that claims more amendments than any receipt can have is
// refused from the count alone. The decoders used to build every key the
// count implied first, so an answer read without proofs (tallyd query tax
// receipt without --prove, or a state proof not yet checked) claiming
// 2^32-1 amendments looped without end, allocating as it went.
func TestDecodeReceiptRefusesAHugeAmendmentCountWithoutBuildingItsKeys(t *testing.T) {
	r := testReceipt()
	for _, n := range []uint32{1 << 20, math.MaxUint32} {
		s := api.InitialReceiptState(r)
		s.Amendments = n
		l := receiptAnswer(t, r, s, nil)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := api.DecodeReceipt(receiptID, l)
		runtime.ReadMemStats(&after)
		require.ErrorIs(t, err, api.ErrAnswer)
		require.ErrorContains(t, err, "but the answer carries 0")
		require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "bytes allocated to refuse a count of %d", n)
	}
}

func TestDecodeReceiptRefusesAnIDNotInCanonicalForm(t *testing.T) {
	_, err := api.DecodeReceipt("revenue-7", amendedAnswer(t))
	require.ErrorIs(t, err, api.ErrReceiptID)
}

func TestReceiptAnswerKeysAreTheReceiptItsStateAndEachAmendment(t *testing.T) {
	keys := api.ReceiptAnswerKeys(receiptRef, 2)
	require.Equal(t, [][]byte{api.TaxReceiptKey(receiptRef), api.TaxReceiptStateKey(receiptRef),
		api.TaxAmendmentKey(receiptRef, 1), api.TaxAmendmentKey(receiptRef, 2)}, keys)
	for i, e := range amendedAnswer(t).Entries {
		require.Equal(t, api.ReceiptAnswerKeys(receiptRef, 3)[i], e.Key)
	}
}

// ---- clearance ----

var quarterly = &taxv1.TaxType{Code: "VAT", Name: "Value added tax", Authority: "revenue", RevenueAgency: "treasury",
	PeriodKind: taxv1.PeriodKind_PERIOD_KIND_QUARTER}

func clearanceRequest() *taxv1.ClearanceRequest {
	return &taxv1.ClearanceRequest{TaxType: "VAT", FromPeriod: "2026-Q1", ToPeriod: "2026-Q3", Payers: [][]byte{payer(1), payer(2), payer(3)}}
}

// clearanceAnswer is the answer for clearanceRequest with a receipt in
// Q1 and Q3 and none in Q2 (its total proven absent).
func clearanceAnswer(t testing.TB) *appv1.ProvedList {
	req := clearanceRequest()
	return &appv1.ProvedList{Complete: true, Entries: []*appv1.ProvedEntry{
		entry(t, api.TaxTypeKey("VAT"), quarterly),
		entry(t, api.TaxPayerTotalKey("VAT", "2026-Q1", req.Payers[0]), &taxv1.Total{Receipts: 1, Collected: 500, Net: 500}),
		{Key: api.TaxPayerTotalKey("VAT", "2026-Q2", req.Payers[1]), Proof: []byte("absence")},
		entry(t, api.TaxPayerTotalKey("VAT", "2026-Q3", req.Payers[2]), &taxv1.Total{Receipts: 2, Collected: 900, Refunded: 100, Net: 800}),
	}}
}

func TestDecodeClearanceBuildsTheStatement(t *testing.T) {
	s, err := api.DecodeClearance(clearanceRequest(), 42, clearanceAnswer(t))
	require.NoError(t, err)
	s.Taxpayer = "ab"
	require.False(t, s.Covered)
	require.Equal(t, []string{"2026-Q2"}, s.Missing, "a total proven absent is a period with no receipt")
	require.Equal(t, uint64(1_300), s.Net)
	require.Equal(t, uint64(3), s.Receipts)
	require.Equal(t, []api.PeriodLine{{Period: "2026-Q1", Receipts: 1, Net: 500}, {Period: "2026-Q2"}, {Period: "2026-Q3", Receipts: 2, Net: 800}}, s.Periods)
	require.Equal(t, "taxpayer ab has no receipt for tax type VAT in periods 2026-Q2 (of 2026-Q1 to 2026-Q3); net total 1300, as of height 42", s.String())

	covered := clearanceAnswer(t)
	covered.Entries[2] = entry(t, covered.Entries[2].Key, &taxv1.Total{Receipts: 1, Collected: 1, Net: 1})
	s, err = api.DecodeClearance(clearanceRequest(), 42, covered)
	require.NoError(t, err)
	require.True(t, s.Covered)
	require.Empty(t, s.Missing)
}

func TestDecodeClearanceRefusesAnAlteredAnswer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		alter  func(*appv1.ProvedList)
		kind   error
		saying string
	}{
		{"a period left out", func(l *appv1.ProvedList) { l.Entries = append(l.Entries[:2], l.Entries[3:]...) }, api.ErrAnswer,
			"must hold 4 records (the tax type and 3 periods) but the answer carries 3"},
		{"another payer's total", func(l *appv1.ProvedList) { l.Entries[1].Key = api.TaxPayerTotalKey("VAT", "2026-Q1", payer(9)) }, api.ErrAnswer,
			"want the total of period 2026-Q1"},
		{"periods swapped", func(l *appv1.ProvedList) { l.Entries[1], l.Entries[3] = l.Entries[3], l.Entries[1] }, api.ErrAnswer, "want the total of period 2026-Q1"},
		{"another tax type's record", func(l *appv1.ProvedList) {
			other := proto.Clone(quarterly).(*taxv1.TaxType)
			other.Code = "PAYE"
			l.Entries[0].Value = encode(t, other)
		}, api.ErrAnswer, "the tax type record is \"PAYE\""},
		{"the tax type of another period kind", func(l *appv1.ProvedList) {
			monthly := proto.Clone(quarterly).(*taxv1.TaxType)
			monthly.PeriodKind = taxv1.PeriodKind_PERIOD_KIND_MONTH
			l.Entries[0].Value = encode(t, monthly)
		}, api.ErrPeriodKind, "VAT is assessed by month"},
		{"the tax type proven absent", func(l *appv1.ProvedList) { l.Entries[0].Value = nil }, api.ErrAnswer, "is proven absent"},
		{"totals that overflow", func(l *appv1.ProvedList) {
			l.Entries[2] = entry(t, l.Entries[2].Key, &taxv1.Total{Receipts: 1, Net: math.MaxUint64})
		}, api.ErrAnswer, "overflow"},
		{"a total that is not a total", func(l *appv1.ProvedList) { l.Entries[3].Value = []byte{0xff} }, api.ErrUndecodable, "does not decode"},
		{"no entries", func(l *appv1.ProvedList) { l.Entries = nil }, api.ErrAnswer, "does not start with tax type VAT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := clearanceAnswer(t)
			tc.alter(l)
			_, err := api.DecodeClearance(clearanceRequest(), 42, l)
			require.ErrorIs(t, err, tc.kind)
			require.ErrorContains(t, err, tc.saying)
		})
	}
}

func TestDecodeClearanceRefusesABadRequestBeforeReadingTheAnswer(t *testing.T) {
	for _, tc := range []struct {
		name  string
		alter func(*taxv1.ClearanceRequest)
		kind  error
	}{
		{"a payer that is not a commitment", func(r *taxv1.ClearanceRequest) { r.Payers[1] = []byte("alice") }, api.ErrPayer},
		{"a tax type code in lower case", func(r *taxv1.ClearanceRequest) { r.TaxType = "vat" }, api.ErrTaxType},
		{"a period that is not a period", func(r *taxv1.ClearanceRequest) { r.ToPeriod = "2026-Q5" }, api.ErrPeriod},
		{"a payer per period missing", func(r *taxv1.ClearanceRequest) { r.Payers = r.Payers[:2] }, api.ErrPeriodRange},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := clearanceRequest()
			tc.alter(req)
			_, err := api.DecodeClearance(req, 42, clearanceAnswer(t))
			require.ErrorIs(t, err, tc.kind)
		})
	}
}

func TestCheckTaxTypeCode(t *testing.T) {
	for _, ok := range []string{"VAT", "COUNCIL_TAX", "A1"} {
		require.NoError(t, api.CheckTaxTypeCode(ok), ok)
	}
	for _, bad := range []string{"", "vat", "1VAT", "V-A-T", string(bytes.Repeat([]byte("A"), api.MaxTaxTypeBytes+1))} {
		require.ErrorIs(t, api.CheckTaxTypeCode(bad), api.ErrTaxType, bad)
	}
}

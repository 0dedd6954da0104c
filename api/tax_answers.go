package api

import (
	"bytes"
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
)

// Answers to /tax/receipt and /tax/clearance are ProvedLists whose keys a
// reader computes for itself, so a node cannot leave a record out or slip
// another in: the receipt, its state and each of its amendments; or the
// tax type and the payer commitment's total for each period of the range.
// Each entry carries its own proof, of existence or of absence. The
// decoders here check what the entries say and how they link up; the
// caller checks every entry's proof first (client.LightClient does both;
// client.ProvenValue checks one entry against an app hash).

// ReceiptAnswerKeys are the keys of a receipt answer for a receipt with n
// amendments, in order: the receipt, its state, amendments 1..n.
func ReceiptAnswerKeys(ref ReceiptRef, n uint32) [][]byte {
	keys := make([][]byte, 0, 2+int(min(n, MaxAmendments)))
	keys = append(keys, TaxReceiptKey(ref), TaxReceiptStateKey(ref))
	for i := uint32(1); i <= n && i != 0; i++ { // i != 0: no wrap past 2^32-1
		keys = append(keys, TaxAmendmentKey(ref, i))
	}
	return keys
}

// ReceiptAnswer is a receipt and its whole history, as a reader checked
// them. Found is false when the receipt was proven absent.
type ReceiptAnswer struct {
	Found      bool
	Receipt    *taxv1.Receipt
	State      *taxv1.ReceiptState
	Amendments []*taxv1.Amendment
}

// DecodeReceipt checks a whole /tax/receipt answer for id (every page's
// entries, in order) and decodes it. It checks the keys against those the
// answer must hold, the records' ids against each other, each amendment
// numbered in turn and taking the net amount from where the one before
// left it, and the stored state against the one re-derived from the
// receipt and its amendments (FoldReceipt). An absent receipt is an answer
// with Found false, its one entry the receipt's key proven absent. Errors
// wrap ErrReceiptID, ErrAnswer, ErrUndecodable or an ApplyAmendment error.
func DecodeReceipt(id string, list *appv1.ProvedList) (*ReceiptAnswer, error) {
	ref, err := ParseReceiptID(id)
	if err != nil {
		return nil, err
	}
	rk := TaxReceiptKey(ref)
	if len(list.Entries) == 0 || !bytes.Equal(list.Entries[0].Key, rk) {
		return nil, refuse(ErrAnswer, "the answer does not start with receipt %s (key %x)", id, rk)
	}
	if len(list.Entries[0].Value) == 0 {
		if len(list.Entries) != 1 {
			return nil, refuse(ErrAnswer, "the answer for absent receipt %s carries %d more entries", id, len(list.Entries)-1)
		}
		return &ReceiptAnswer{}, nil
	}
	if len(list.Entries) < 2 || !bytes.Equal(list.Entries[1].Key, TaxReceiptStateKey(ref)) {
		return nil, refuse(ErrAnswer, "the answer for receipt %s carries no state record", id)
	}
	ans := &ReceiptAnswer{Found: true, Receipt: &taxv1.Receipt{}, State: &taxv1.ReceiptState{}}
	if err := decodeEntry(list.Entries[0], ans.Receipt, "receipt "+id); err != nil {
		return nil, err
	}
	if err := decodeEntry(list.Entries[1], ans.State, "the state of receipt "+id); err != nil {
		return nil, err
	}
	if ans.Receipt.Id != id || ans.Receipt.Authority != ref.Authority || ans.Receipt.Sequence != ref.Seq || ans.State.ReceiptId != id {
		return nil, refuse(ErrAnswer, "the receipt record is %q (%s number %d) with the state of %q, not %s",
			ans.Receipt.Id, ans.Receipt.Authority, ans.Receipt.Sequence, ans.State.ReceiptId, id)
	}
	// The count is compared before any key is built, so a state claiming
	// billions of amendments costs nothing.
	if n := ans.State.Amendments; uint64(len(list.Entries)-2) != uint64(n) {
		return nil, refuse(ErrAnswer, "receipt %s's state counts %d amendments but the answer carries %d: amendments were left out or added",
			id, n, len(list.Entries)-2)
	}
	for i, e := range list.Entries[2:] {
		n := uint32(i + 1)
		if want := TaxAmendmentKey(ref, n); !bytes.Equal(e.Key, want) {
			return nil, refuse(ErrAnswer, "entry %d of the answer for receipt %s is key %x; want amendment %d, key %x", i+2, id, e.Key, n, want)
		}
		a := &taxv1.Amendment{}
		if err := decodeEntry(e, a, fmt.Sprintf("amendment %d of %s", n, id)); err != nil {
			return nil, err
		}
		ans.Amendments = append(ans.Amendments, a)
	}
	derived, err := FoldReceipt(ans.Receipt, ans.Amendments)
	if err != nil {
		return nil, fmt.Errorf("receipt %s: %w", id, err)
	}
	if !proto.Equal(derived, ans.State) {
		return nil, refuse(ErrAnswer, "receipt %s: its stored state (%v) is not the state its receipt and amendments give (%v)", id, ans.State, derived)
	}
	return ans, nil
}

// ValidateClearanceRequest checks a clearance request without state: one
// 32-byte payer commitment each, a tax type code and two periods. That it
// carries one payer commitment per period of the range is checked by
// ClearanceKeys, which knows the tax type's period kind. Errors wrap
// ErrPayer, ErrTaxType or ErrPeriod.
func ValidateClearanceRequest(r *taxv1.ClearanceRequest) error {
	for _, p := range r.Payers {
		if err := CheckPayerCommitment(p); err != nil {
			return err
		}
	}
	if err := CheckTaxTypeCode(r.TaxType); err != nil {
		return err
	}
	for _, p := range []string{r.FromPeriod, r.ToPeriod} {
		if _, err := ParsePeriod(p); err != nil {
			return err
		}
	}
	return nil
}

// ClearanceKeys are the keys of a clearance answer: the tax type, then the
// total of each period's payer commitment from..to, with those periods.
// Only those keys are read, so an answer carries nothing of the taxpayer's
// other periods or tax types. Errors wrap ErrPeriod, ErrPeriodKind or
// ErrPeriodRange.
func ClearanceKeys(r *taxv1.ClearanceRequest, tt *taxv1.TaxType) ([][]byte, []string, error) {
	periods, err := PeriodRange(r.FromPeriod, r.ToPeriod, tt.PeriodKind, tt.Code)
	if err != nil {
		return nil, nil, err
	}
	if len(r.Payers) != len(periods) {
		return nil, nil, refuse(ErrPeriodRange, "%s to %s is %d periods; give one payer commitment per period, in order (got %d)", r.FromPeriod, r.ToPeriod, len(periods), len(r.Payers))
	}
	keys := [][]byte{TaxTypeKey(tt.Code)}
	for i, p := range periods {
		keys = append(keys, TaxPayerTotalKey(tt.Code, p, r.Payers[i]))
	}
	return keys, periods, nil
}

// PeriodLine is one period of a clearance statement.
type PeriodLine struct {
	Period   string `json:"period"`
	Receipts uint64 `json:"receipts"`
	Net      uint64 `json:"net"`
}

// Statement is a clearance statement: what a taxpayer paid of one tax type
// over a range of periods, as of a height. It reveals those totals and
// nothing else of the taxpayer's records.
type Statement struct {
	Taxpayer string       `json:"taxpayer"`
	TaxType  string       `json:"tax_type"`
	From     string       `json:"from"`
	To       string       `json:"to"`
	Height   int64        `json:"height"`
	Covered  bool         `json:"covered"`
	Net      uint64       `json:"net_total"`
	Receipts uint64       `json:"receipts"`
	Missing  []string     `json:"missing_periods"`
	Periods  []PeriodLine `json:"periods"`
}

// String is the statement in words.
func (s *Statement) String() string {
	if s.Covered {
		return fmt.Sprintf("taxpayer %s has receipts for tax type %s covering periods %s to %s, net total %d, as of height %d",
			s.Taxpayer, s.TaxType, s.From, s.To, s.Net, s.Height)
	}
	return fmt.Sprintf("taxpayer %s has no receipt for tax type %s in periods %s (of %s to %s); net total %d, as of height %d",
		s.Taxpayer, s.TaxType, strings.Join(s.Missing, ", "), s.From, s.To, s.Net, s.Height)
}

// DecodeClearance checks a /tax/clearance answer for r read at height and
// builds the statement from it. It checks the request
// (ValidateClearanceRequest), then the keys against those the answer must
// hold, computed from the tax type it starts with, so no period can be
// left out; a period whose total is proven absent had no receipt. The
// request names no taxpayer: the caller, who computed the payer
// commitments from a ClearanceGrant, sets Statement.Taxpayer. Errors wrap
// ErrAnswer, ErrUndecodable or a request error.
func DecodeClearance(r *taxv1.ClearanceRequest, height int64, list *appv1.ProvedList) (*Statement, error) {
	if err := ValidateClearanceRequest(r); err != nil {
		return nil, err
	}
	if len(list.Entries) == 0 || !bytes.Equal(list.Entries[0].Key, TaxTypeKey(r.TaxType)) {
		return nil, refuse(ErrAnswer, "the answer does not start with tax type %s", r.TaxType)
	}
	tt := &taxv1.TaxType{}
	if err := decodeEntry(list.Entries[0], tt, "tax type "+r.TaxType); err != nil {
		return nil, err
	}
	if tt.Code != r.TaxType {
		return nil, refuse(ErrAnswer, "the tax type record is %q, not %s", tt.Code, r.TaxType)
	}
	keys, periods, err := ClearanceKeys(r, tt)
	if err != nil {
		return nil, err
	}
	if len(keys) != len(list.Entries) {
		return nil, refuse(ErrAnswer, "the clearance answer for %s to %s must hold %d records (the tax type and %d periods) but the answer carries %d",
			r.FromPeriod, r.ToPeriod, len(keys), len(periods), len(list.Entries))
	}
	s := &Statement{TaxType: r.TaxType, From: r.FromPeriod, To: r.ToPeriod, Height: height, Missing: []string{}}
	for i, e := range list.Entries[1:] {
		if !bytes.Equal(e.Key, keys[i+1]) {
			return nil, refuse(ErrAnswer, "entry %d of the clearance answer is key %x; want the total of period %s, key %x", i+1, e.Key, periods[i], keys[i+1])
		}
		t := &taxv1.Total{}
		if len(e.Value) > 0 { // absent: proven no receipt in that period
			if err := decodeEntry(e, t, "the total of period "+periods[i]); err != nil {
				return nil, err
			}
		}
		if t.Receipts == 0 {
			s.Missing = append(s.Missing, periods[i])
		}
		if s.Net > ^uint64(0)-t.Net || s.Receipts > ^uint64(0)-t.Receipts {
			return nil, refuse(ErrAnswer, "the totals over %s to %s overflow", r.FromPeriod, r.ToPeriod)
		}
		s.Net += t.Net
		s.Receipts += t.Receipts
		s.Periods = append(s.Periods, PeriodLine{Period: periods[i], Receipts: t.Receipts, Net: t.Net})
	}
	s.Covered = len(s.Missing) == 0
	return s, nil
}

// decodeEntry decodes a present entry's value into m. A value of 0x01
// (IndexValue) is the record with every field zero, as DecodeRecord reads
// it.
func decodeEntry(e *appv1.ProvedEntry, m proto.Message, what string) error {
	switch {
	case len(e.Value) == 0:
		return refuse(ErrAnswer, "%s (key %x) is proven absent", what, e.Key)
	case bytes.Equal(e.Value, IndexValue):
		proto.Reset(m)
		return nil
	}
	if err := proto.Unmarshal(e.Value, m); err != nil {
		return refuse(ErrUndecodable, "%s (key %x) does not decode as %T: %v", what, e.Key, m, err)
	}
	return nil
}

package tax

import (
	"bytes"
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
)

// Answers to /tax/receipt and /tax/clearance are ProvedLists whose keys a
// verifier can compute for itself, so a node cannot leave a record out: the
// receipt, its state and each of its amendments; or the tax type and the
// taxpayer's total for each period of the range. Each entry carries its
// own proof, of existence or of absence.

// CheckEntry checks one entry's proof against a trusted app hash; the
// caller supplies it (client.ProvenValue), so this package needs no RPC.
type CheckEntry func(e *appv1.ProvedEntry) error

// ReceiptAnswerKeys are the keys of a receipt answer for a receipt with n amendments.
func ReceiptAnswerKeys(ref ReceiptRef, n uint32) [][]byte {
	keys := [][]byte{api.TaxReceiptKey(ref), api.TaxReceiptStateKey(ref)}
	for i := uint32(1); i <= n; i++ {
		keys = append(keys, api.TaxAmendmentKey(ref, i))
	}
	return keys
}

// ReceiptAnswer is a receipt and its whole history, as a verifier checked them.
type ReceiptAnswer struct {
	Found      bool
	Receipt    *taxv1.Receipt
	State      *taxv1.ReceiptState
	Amendments []*taxv1.Amendment
}

// DecodeReceipt checks a /tax/receipt answer for id: every entry with
// check, the keys against those the answer must hold, and the stored state
// against the one derived from the receipt and its amendments (Fold). An
// absent receipt is an answer with Found false, its absence proven.
func DecodeReceipt(id string, list *appv1.ProvedList, check CheckEntry) (*ReceiptAnswer, error) {
	ref, err := ParseReceiptID(id)
	if err != nil {
		return nil, err
	}
	if err := checkAll(list, check); err != nil {
		return nil, err
	}
	if len(list.Entries) == 0 || !bytes.Equal(list.Entries[0].Key, api.TaxReceiptKey(ref)) {
		return nil, fmt.Errorf("answer does not start with receipt %s", id)
	}
	if len(list.Entries[0].Value) == 0 {
		if len(list.Entries) != 1 {
			return nil, fmt.Errorf("answer for absent receipt %s carries %d more entries", id, len(list.Entries)-1)
		}
		return &ReceiptAnswer{}, nil
	}
	ans := &ReceiptAnswer{Found: true, Receipt: &taxv1.Receipt{}, State: &taxv1.ReceiptState{}}
	if len(list.Entries) < 2 {
		return nil, fmt.Errorf("answer for receipt %s has no state", id)
	}
	if err := unmarshal(list.Entries[0], ans.Receipt); err != nil {
		return nil, err
	}
	if err := unmarshal(list.Entries[1], ans.State); err != nil {
		return nil, err
	}
	want := ReceiptAnswerKeys(ref, ans.State.Amendments)
	if len(want) != len(list.Entries) {
		return nil, fmt.Errorf("receipt %s has %d amendments but the answer carries %d", id, ans.State.Amendments, len(list.Entries)-2)
	}
	for i, e := range list.Entries[2:] {
		if !bytes.Equal(e.Key, want[i+2]) {
			return nil, fmt.Errorf("entry %d is key %x; want amendment %d", i+2, e.Key, i+1)
		}
		a := &taxv1.Amendment{}
		if err := unmarshal(e, a); err != nil {
			return nil, err
		}
		ans.Amendments = append(ans.Amendments, a)
	}
	derived, err := Fold(ans.Receipt, ans.Amendments)
	if err != nil {
		return nil, fmt.Errorf("receipt %s: its amendments do not fold: %w", id, err)
	}
	if !proto.Equal(derived, ans.State) {
		return nil, fmt.Errorf("receipt %s: stored state %v differs from the state derived from its records %v", id, ans.State, derived)
	}
	return ans, nil
}

// ValidateClearanceRequest checks a clearance request without state. That
// it carries one payer commitment per period of the range is checked by
// ClearanceKeys, which knows the tax type's period kind.
func ValidateClearanceRequest(r *taxv1.ClearanceRequest) error {
	for _, p := range r.Payers {
		if err := validatePayer(p); err != nil {
			return err
		}
	}
	if err := ValidateTaxTypeCode(r.TaxType); err != nil {
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
// other periods or tax types.
func ClearanceKeys(r *taxv1.ClearanceRequest, tt *taxv1.TaxType) ([][]byte, []string, error) {
	periods, err := PeriodRange(r.FromPeriod, r.ToPeriod, tt.PeriodKind, tt.Code)
	if err != nil {
		return nil, nil, err
	}
	if len(r.Payers) != len(periods) {
		return nil, nil, ErrInvalidRange.Wrapf("%s to %s is %d periods; give one payer commitment per period, in order (got %d)", r.FromPeriod, r.ToPeriod, len(periods), len(r.Payers))
	}
	keys := [][]byte{api.TaxTypeKey(tt.Code)}
	for i, p := range periods {
		keys = append(keys, api.TaxPayerTotalKey(tt.Code, p, r.Payers[i]))
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
// builds the statement from it: every entry with check, and the keys
// against those the answer must hold, so no period can be left out. The
// request names no taxpayer; the caller, who computed the payer
// commitments from a ClearanceGrant, sets Statement.Taxpayer.
func DecodeClearance(r *taxv1.ClearanceRequest, height int64, list *appv1.ProvedList, check CheckEntry) (*Statement, error) {
	if err := ValidateClearanceRequest(r); err != nil {
		return nil, err
	}
	if err := checkAll(list, check); err != nil {
		return nil, err
	}
	if len(list.Entries) == 0 || !bytes.Equal(list.Entries[0].Key, api.TaxTypeKey(r.TaxType)) || len(list.Entries[0].Value) == 0 {
		return nil, fmt.Errorf("answer does not start with tax type %s", r.TaxType)
	}
	tt := &taxv1.TaxType{}
	if err := unmarshal(list.Entries[0], tt); err != nil {
		return nil, err
	}
	keys, periods, err := ClearanceKeys(r, tt)
	if err != nil {
		return nil, err
	}
	if len(keys) != len(list.Entries) {
		return nil, fmt.Errorf("range has %d periods but the answer carries %d", len(periods), len(list.Entries)-1)
	}
	s := &Statement{TaxType: r.TaxType, From: r.FromPeriod, To: r.ToPeriod, Height: height, Missing: []string{}}
	for i, e := range list.Entries[1:] {
		if !bytes.Equal(e.Key, keys[i+1]) {
			return nil, fmt.Errorf("entry %d is key %x; want the total of period %s", i+1, e.Key, periods[i])
		}
		t := &taxv1.Total{}
		if err := unmarshal(e, t); err != nil {
			return nil, err
		}
		line := PeriodLine{Period: periods[i], Receipts: t.Receipts, Net: t.Net}
		if t.Receipts == 0 {
			s.Missing = append(s.Missing, periods[i])
		}
		if s.Net > ^uint64(0)-t.Net {
			return nil, ErrOverflow.Wrapf("net total over %s to %s overflows", r.FromPeriod, r.ToPeriod)
		}
		s.Net += t.Net
		s.Receipts += t.Receipts
		s.Periods = append(s.Periods, line)
	}
	s.Covered = len(s.Missing) == 0
	return s, nil
}

func checkAll(list *appv1.ProvedList, check CheckEntry) error {
	if check == nil {
		return nil
	}
	for _, e := range list.Entries {
		if err := check(e); err != nil {
			return fmt.Errorf("key %x: %w", e.Key, err)
		}
	}
	return nil
}

func unmarshal(e *appv1.ProvedEntry, m proto.Message) error {
	if err := proto.Unmarshal(e.Value, m); err != nil {
		return fmt.Errorf("key %x: not a %T: %w", e.Key, m, err)
	}
	return nil
}

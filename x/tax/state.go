package tax

import (
	"bytes"
	"encoding/hex"
	"strings"

	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
	"github.com/tallyledger/tally/x/module"
)

// MaxAmendments bounds the amendments of one receipt, so that a receipt
// and its whole history fit in one proved answer.
const MaxAmendments = 100

// initialState is what a receipt stands for before any amendment.
func initialState(r *taxv1.Receipt) *taxv1.ReceiptState {
	return &taxv1.ReceiptState{
		ReceiptId:     r.Id,
		Status:        taxv1.Status_STATUS_ISSUED,
		Payer:         r.Payer,
		Period:        r.Period,
		Amount:        r.Amount,
		Net:           r.Amount,
		UpdatedHeight: r.Height,
	}
}

// Apply returns the state of a receipt after amendment a. It is the one
// definition of what an amendment means: handlers use it to move money and
// totals, verifiers use it (through Fold) to re-derive a receipt's state
// from its records. Period kinds are checked by the caller, which knows the
// tax type.
func Apply(s *taxv1.ReceiptState, a *taxv1.Amendment) (*taxv1.ReceiptState, error) {
	if s.Status == taxv1.Status_STATUS_CANCELLED {
		return nil, ErrReceiptCancelled.Wrapf("receipt %s was cancelled; issue a new receipt instead", s.ReceiptId)
	}
	if s.Amendments >= MaxAmendments {
		return nil, ErrTooManyAmendments.Wrapf("receipt %s already has %d amendments; cancel it and issue a new receipt", s.ReceiptId, s.Amendments)
	}
	out := &taxv1.ReceiptState{
		ReceiptId: s.ReceiptId, Status: s.Status, Payer: s.Payer, Period: s.Period,
		Amount: s.Amount, Refunded: s.Refunded, Amendments: s.Amendments + 1, UpdatedHeight: a.Height,
	}
	corrected := s.Status == taxv1.Status_STATUS_CORRECTED
	switch a.Kind {
	case taxv1.AmendmentKind_AMENDMENT_KIND_CORRECTION:
		changed := false
		if a.CorrectedAmount != 0 && a.CorrectedAmount != s.Amount {
			if a.CorrectedAmount < s.Refunded {
				return nil, ErrCorrectionBelowRefunds.Wrapf("receipt %s has had %d refunded; the corrected amount must be at least that", s.ReceiptId, s.Refunded)
			}
			out.Amount, changed = a.CorrectedAmount, true
		}
		if a.CorrectedPeriod != "" && a.CorrectedPeriod != s.Period {
			out.Period, changed = a.CorrectedPeriod, true
		}
		if len(a.CorrectedPayer) > 0 && !bytes.Equal(a.CorrectedPayer, s.Payer) {
			out.Payer, changed = a.CorrectedPayer, true
		}
		if !changed {
			return nil, ErrNothingToCorrect.Wrapf("receipt %s already has this amount, period and taxpayer; give a value that differs", s.ReceiptId)
		}
		corrected = true
	case taxv1.AmendmentKind_AMENDMENT_KIND_REFUND:
		if a.Refund == 0 {
			return nil, ErrInvalidAmount.Wrapf("a refund of 0 changes nothing")
		}
		if a.Refund > s.Net {
			return nil, ErrRefundTooLarge.Wrapf("receipt %s has a net amount of %d; a refund of %d is larger", s.ReceiptId, s.Net, a.Refund)
		}
		out.Refunded = s.Refunded + a.Refund // ≤ Amount, since Refund ≤ Net = Amount - Refunded
	case taxv1.AmendmentKind_AMENDMENT_KIND_CANCELLATION:
		out.Status, out.Net = taxv1.Status_STATUS_CANCELLED, 0
		return out, nil
	default:
		return nil, ErrInvalidReason.Wrapf("amendment kind %d is not defined", a.Kind)
	}
	out.Net = out.Amount - out.Refunded
	switch {
	case out.Refunded > 0 && out.Net == 0:
		out.Status = taxv1.Status_STATUS_REFUNDED
	case out.Refunded > 0:
		out.Status = taxv1.Status_STATUS_PARTIALLY_REFUNDED
	case corrected:
		out.Status = taxv1.Status_STATUS_CORRECTED
	default:
		out.Status = taxv1.Status_STATUS_ISSUED
	}
	return out, nil
}

// Fold derives a receipt's state from the receipt and its amendments, in
// order. A verifier that was given the records with proofs can check the
// stored ReceiptState against it.
func Fold(r *taxv1.Receipt, amendments []*taxv1.Amendment) (*taxv1.ReceiptState, error) {
	s := initialState(r)
	for i, a := range amendments {
		if a.ReceiptId != r.Id || a.Number != uint32(i+1) {
			return nil, ErrInvalidReceiptID.Wrapf("amendment %d is %s of receipt %s; want number %d of %s", i, a.Id, a.ReceiptId, i+1, r.Id)
		}
		var err error
		if s, err = Apply(s, a); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// contribution is what a receipt in state s adds to each running total.
func contribution(s *taxv1.ReceiptState) *taxv1.Total {
	if s.Status == taxv1.Status_STATUS_CANCELLED {
		return &taxv1.Total{}
	}
	return &taxv1.Total{Receipts: 1, Collected: s.Amount, Refunded: s.Refunded, Net: s.Net}
}

// StatusName is the short name of a receipt status ("partially_refunded").
func StatusName(s taxv1.Status) string { return module.EnumName(s, "STATUS_") }

// KindOfAmendment is the short name of an amendment kind ("refund").
func KindOfAmendment(k taxv1.AmendmentKind) string { return module.EnumName(k, "AMENDMENT_KIND_") }

// ReasonName is the short name of a reason code ("keying_error").
func ReasonName(r taxv1.Reason) string { return module.EnumName(r, "REASON_") }

// ParseReason reads a reason code as ReasonName writes it.
func ParseReason(s string) (taxv1.Reason, error) {
	v, ok := taxv1.Reason_value["REASON_"+strings.ToUpper(strings.ReplaceAll(s, "-", "_"))]
	if !ok || v == 0 {
		return 0, ErrInvalidReason.Wrapf("%q is not a reason code; codes are %s", s, reasonList())
	}
	return taxv1.Reason(v), nil
}

func validReason(r taxv1.Reason) error {
	if _, ok := taxv1.Reason_name[int32(r)]; !ok || r == taxv1.Reason_REASON_UNSPECIFIED {
		return ErrInvalidReason.Wrapf("reason %d is not defined; codes are %s", r, reasonList())
	}
	return nil
}

func reasonList() string {
	var names []string
	for i := int32(1); ; i++ {
		if _, ok := taxv1.Reason_name[i]; !ok {
			return strings.Join(names, ", ")
		}
		names = append(names, ReasonName(taxv1.Reason(i)))
	}
}

// TaxpayerHex formats a taxpayer reference or commitment for events and output.
func TaxpayerHex(t []byte) string { return hex.EncodeToString(t) }

package api

import (
	"bytes"
	"fmt"

	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
)

// A receipt's state (tax/s/) is derived: the receipt folded with its
// amendments in order. The derivation is part of the contract because a
// reader re-derives the state from the proven records and refuses an answer
// whose stored state differs (DecodeReceipt); the tax module applies each
// new amendment with the same function, so the two cannot disagree.

// MaxAmendments bounds the amendments of one receipt, so that a receipt
// and its whole history fit in one page of a /tax/receipt answer.
const MaxAmendments = 100

// InitialReceiptState is what a receipt stands for before any amendment.
func InitialReceiptState(r *taxv1.Receipt) *taxv1.ReceiptState {
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

// ApplyAmendment returns the state of a receipt after amendment a. It is
// the one definition of what an amendment means. Period kinds are checked
// by the caller, which knows the tax type. Its errors wrap
// ErrReceiptCancelled, ErrTooManyAmendments, ErrCorrectionBelowRefunds,
// ErrNothingToCorrect, ErrZeroRefund, ErrRefundTooLarge or
// ErrAmendmentKind (x/tax gives each its code).
func ApplyAmendment(s *taxv1.ReceiptState, a *taxv1.Amendment) (*taxv1.ReceiptState, error) {
	if s.Status == taxv1.Status_STATUS_CANCELLED {
		return nil, refuse(ErrReceiptCancelled, "receipt %s was cancelled; issue a new receipt instead", s.ReceiptId)
	}
	if s.Amendments >= MaxAmendments {
		return nil, refuse(ErrTooManyAmendments, "receipt %s already has %d amendments; cancel it and issue a new receipt", s.ReceiptId, s.Amendments)
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
				return nil, refuse(ErrCorrectionBelowRefunds, "receipt %s has had %d refunded; the corrected amount must be at least that", s.ReceiptId, s.Refunded)
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
			return nil, refuse(ErrNothingToCorrect, "receipt %s already has this amount, period and taxpayer; give a value that differs", s.ReceiptId)
		}
		corrected = true
	case taxv1.AmendmentKind_AMENDMENT_KIND_REFUND:
		if a.Refund == 0 {
			return nil, refuse(ErrZeroRefund, "a refund of 0 changes nothing")
		}
		if a.Refund > s.Net {
			return nil, refuse(ErrRefundTooLarge, "receipt %s has a net amount of %d; a refund of %d is larger", s.ReceiptId, s.Net, a.Refund)
		}
		out.Refunded = s.Refunded + a.Refund // ≤ Amount, since Refund ≤ Net = Amount - Refunded
	case taxv1.AmendmentKind_AMENDMENT_KIND_CANCELLATION:
		out.Status, out.Net = taxv1.Status_STATUS_CANCELLED, 0
		return out, nil
	default:
		return nil, refuse(ErrAmendmentKind, "amendment kind %d is not defined", a.Kind)
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

// FoldReceipt derives a receipt's state from the receipt and its
// amendments 1..n, in order, checking each amendment's record of itself on
// the way: its id, the receipt and number it names, and the net amount it
// says it found and left. A reader compares the result with the stored
// state (DecodeReceipt); the tax module's invariant does the same over the
// whole state. Its errors wrap ErrAnswer, or an ApplyAmendment error for
// an amendment the state could not have taken.
func FoldReceipt(r *taxv1.Receipt, amendments []*taxv1.Amendment) (*taxv1.ReceiptState, error) {
	s := InitialReceiptState(r)
	for i, a := range amendments {
		n := uint32(i + 1)
		if a.ReceiptId != r.Id || a.Number != n || a.Id != AmendmentID(r.Id, n) {
			return nil, refuse(ErrAnswer, "amendment record %d is %q, number %d of %q; want %s", n, a.Id, a.Number, a.ReceiptId, AmendmentID(r.Id, n))
		}
		if a.NetBefore != s.Net {
			return nil, refuse(ErrAnswer, "amendment %s starts from net %d but the chain left it at %d", a.Id, a.NetBefore, s.Net)
		}
		next, err := ApplyAmendment(s, a)
		if err != nil {
			return nil, fmt.Errorf("amendment %s does not apply: %w", a.Id, err)
		}
		if a.NetAfter != next.Net {
			return nil, refuse(ErrAnswer, "amendment %s says it left net %d but it leaves %d", a.Id, a.NetAfter, next.Net)
		}
		s = next
	}
	return s, nil
}

package tax

import (
	"errors"

	"github.com/tallyledger/tally/api"
)

// The tax state layout, receipt ids and tax periods are the client
// contract's (api/tax.go, api/period.go): a client builds the same keys and
// reads the same ids. This file gives api's refusals the module's codes.

// TaxpayerSize is the size of a pseudonymous taxpayer reference, of a payer
// commitment and of a bank-reference commitment.
const TaxpayerSize = api.CommitmentSize

// ReceiptRef names a receipt: the authority whose series it is in and its
// sequence number there.
type ReceiptRef = api.ReceiptRef

// ParseReceiptID reads a receipt id as ReceiptRef.ID writes it
// (api.ParseReceiptID), refusing anything else with ErrInvalidReceiptID.
func ParseReceiptID(id string) (ReceiptRef, error) {
	ref, err := api.ParseReceiptID(id)
	return ref, coded(err)
}

// coded gives an api refusal this module's code, with api's message.
func coded(err error) error {
	for _, c := range []struct {
		kind error
		code interface{ Wrapf(string, ...any) error }
	}{
		{api.ErrReceiptID, ErrInvalidReceiptID},
		{api.ErrPeriod, ErrInvalidPeriod},
		{api.ErrPeriodKind, ErrWrongPeriodKind},
		{api.ErrPeriodRange, ErrInvalidRange},
		{api.ErrTaxType, ErrInvalidTaxType},
		{api.ErrPayer, ErrInvalidTaxpayer},
		{api.ErrReceiptCancelled, ErrReceiptCancelled},
		{api.ErrTooManyAmendments, ErrTooManyAmendments},
		{api.ErrCorrectionBelowRefunds, ErrCorrectionBelowRefunds},
		{api.ErrNothingToCorrect, ErrNothingToCorrect},
		{api.ErrZeroRefund, ErrInvalidAmount},
		{api.ErrRefundTooLarge, ErrRefundTooLarge},
		{api.ErrAmendmentKind, ErrInvalidReason},
	} {
		if errors.Is(err, c.kind) {
			return c.code.Wrapf("%s", err.Error())
		}
	}
	return err
}

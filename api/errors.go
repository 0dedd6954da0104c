package api

import (
	"errors"
	"fmt"
)

// The kinds of argument this package refuses. The node maps each to its
// module's coded error (x/tax: tax/… codes); a client shows the message.
var (
	ErrReceiptID   = errors.New("not a receipt id")
	ErrPeriod      = errors.New("not a tax period")
	ErrPeriodKind  = errors.New("a period of another kind")
	ErrPeriodRange = errors.New("not a range of periods")
	ErrTaxType     = errors.New("not a tax type code")
	ErrPayer       = errors.New("not a payer commitment")
	// ErrAnswer is an answer whose records are not the ones the request
	// implies, or do not link up; ErrUndecodable a record that does not
	// decode as its layout's type.
	ErrAnswer      = errors.New("the answer does not match the request")
	ErrUndecodable = errors.New("a record does not decode")
)

// The amendments a receipt's state cannot take (ApplyAmendment).
var (
	ErrReceiptCancelled       = errors.New("the receipt is cancelled")
	ErrTooManyAmendments      = errors.New("the receipt has the most amendments it may have")
	ErrCorrectionBelowRefunds = errors.New("a corrected amount below what was refunded")
	ErrNothingToCorrect       = errors.New("a correction that changes nothing")
	ErrZeroRefund             = errors.New("a refund of nothing")
	ErrRefundTooLarge         = errors.New("a refund above the net amount")
	ErrAmendmentKind          = errors.New("not an amendment kind")
)

// refusal is an argument or answer this package refuses: Error is the
// message for people, Unwrap the kind for code.
type refusal struct {
	kind error
	msg  string
}

func (e *refusal) Error() string { return e.msg }
func (e *refusal) Unwrap() error { return e.kind }

func refuse(kind error, format string, args ...any) error {
	return &refusal{kind: kind, msg: fmt.Sprintf(format, args...)}
}

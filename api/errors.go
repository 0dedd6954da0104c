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
	ErrAnswer      = errors.New("the answer does not match the request")
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

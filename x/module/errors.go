package module

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Error is a registered, coded failure. Codespace plus code identify it for
// machines; the message explains it to people.
type Error struct {
	Codespace string
	Code      uint32
	Desc      string
}

var registered = map[string]*Error{}

// Register declares a coded error. It is called from package-level var
// blocks, so a clash is a programming error found at start-up.
func Register(codespace string, code uint32, desc string) *Error {
	if code == 0 {
		panic(fmt.Sprintf("error code 0 is success; %s needs another", codespace))
	}
	id := fmt.Sprintf("%s/%d", codespace, code)
	if prev, ok := registered[id]; ok {
		panic(fmt.Sprintf("error %s registered twice: %q and %q", id, prev.Desc, desc))
	}
	e := &Error{Codespace: codespace, Code: code, Desc: desc}
	registered[id] = e
	return e
}

// Error returns "codespace/code: description".
func (e *Error) Error() string { return fmt.Sprintf("%s/%d: %s", e.Codespace, e.Code, e.Desc) }

// Wrapf adds the specifics of one failure to the registered error, keeping
// its code: errors.Is(err, e) still holds.
func (e *Error) Wrapf(format string, args ...any) error {
	return &wrapped{code: e, msg: fmt.Sprintf(format, args...)}
}

type wrapped struct {
	code *Error
	msg  string
}

func (w *wrapped) Error() string { return w.code.Error() + ": " + w.msg }
func (w *wrapped) Unwrap() error { return w.code }

// ErrInternal is the code for failures that are not the user's doing.
var ErrInternal = Register("tally", 1, "internal error")

// CodeOf returns the codespace, code and human-readable log of err. Errors
// that were never registered are internal (tally/1).
func CodeOf(err error) (codespace string, code uint32, log string) {
	var e *Error
	if errors.As(err, &e) {
		return e.Codespace, e.Code, err.Error()
	}
	return ErrInternal.Codespace, ErrInternal.Code, ErrInternal.Error() + ": " + err.Error()
}

// Registered lists every registered error, ordered by codespace and code.
func Registered() []*Error {
	out := make([]*Error, 0, len(registered))
	for _, e := range registered {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b *Error) int {
		if c := strings.Compare(a.Codespace, b.Codespace); c != 0 {
			return c
		}
		return int(a.Code) - int(b.Code)
	})
	return out
}

package module

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
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
// that were never registered are internal (tally/1). The log is at most
// MaxLogBytes long.
func CodeOf(err error) (codespace string, code uint32, log string) {
	var e *Error
	if errors.As(err, &e) {
		return e.Codespace, e.Code, clipLog(err.Error())
	}
	return ErrInternal.Codespace, ErrInternal.Code, clipLog(ErrInternal.Error() + ": " + err.Error())
}

// MaxLogBytes is the longest log CodeOf gives: the log of every CheckTx
// verdict, every transaction's result in a block and every refused query.
// A log names the input it refuses, and several do so before checking its
// size (ValidateToken and ValidateHolder in x/funds quote a token or holder
// id of any length; authenticate quotes the chain id it was given), so
// without a cap a transaction of max_tx_bytes (32 KiB by default) of
// non-printable bytes had a log of about 128 KiB (%q writes a byte as
// four), stored in its block's results and sent again by every block_results,
// block_outcomes and tx answer (node.BlockOutcomes counts on this bound).
// Refusals now quote their input with api.Quote (at most
// api.MaxQuotedBytes of it, and its length), so the message is bounded
// before it is built and this cut is the net for any that does not.
// Honest logs are a registered description and a sentence of specifics:
// a few hundred bytes.
const MaxLogBytes = 1024

// clipLog cuts s to MaxLogBytes, at a character's start, saying so and how
// long it was. Logs are not in a block's results hash (CometBFT hashes a
// result's code, data and units only), and the cut is the same on every
// node.
func clipLog(s string) string {
	if len(s) <= MaxLogBytes {
		return s
	}
	tail := fmt.Sprintf(" … (log cut: %d bytes)", len(s))
	n := MaxLogBytes - len(tail)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + tail
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

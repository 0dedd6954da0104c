package module

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxDisplayName is the longest display name (of an account or a
// location) in bytes: enough for "Northshire Primary School, kitchen
// store", short enough to fit a table cell.
const MaxDisplayName = 64

// nameMarks are the punctuation a display name may use besides letters,
// digits and single spaces.
const nameMarks = "-'&,.()/"

// ValidDisplayName checks a display name shown on explorers in place of an
// address or a code: 1 to MaxDisplayName bytes of UTF-8 letters, digits,
// single spaces and the marks - ' & , . ( ) /, with no space at either end.
// It is a desk, a role or a place, never a person's name; the chain cannot
// tell, so the rule keeps out what a person's details usually need (@, +,
// :, #) and any control or formatting character. field names what is
// checked; err is the caller's code.
func ValidDisplayName(field, s string, err *Error) error {
	if s == "" || len(s) > MaxDisplayName {
		return err.Wrapf("%s is %d bytes; a name is 1 to %d bytes (for example \"Bristol collections desk\")", field, len(s), MaxDisplayName)
	}
	if !utf8.ValidString(s) {
		return err.Wrapf("%s is not valid UTF-8", field)
	}
	if strings.TrimSpace(s) != s || strings.Contains(s, "  ") {
		return err.Wrapf("%s %q has a space at an end or two spaces together", field, s)
	}
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != ' ' && !strings.ContainsRune(nameMarks, r) {
			return err.Wrapf("%s %q contains %q; a name uses letters, digits, spaces and %s only", field, s, r, nameMarks)
		}
	}
	return nil
}

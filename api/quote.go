package api

import (
	"strconv"
	"unicode/utf8"
)

// MaxQuotedBytes is how much of one input an error message quotes: every
// id, token and name of a valid length (the longest are 128 bytes) is
// quoted whole.
const MaxQuotedBytes = 128

// Quote writes s (a string or bytes) for an error message as %q does, whole if it is at most
// MaxQuotedBytes long. Of a longer s it quotes the first MaxQuotedBytes
// bytes (cut at a character's start) and says how long s was:
//
//	"abcabc"… (70000 bytes)
//
// Messages quote what they refuse, often before or because of its size, so
// a refused transaction or query costs the node the quoting of at most
// MaxQuotedBytes of each input (at most about 4x that written, as %q writes
// a non-printable byte as four) however long the input is, and the same
// text on every node.
func Quote[T string | []byte](s T) string {
	if len(s) <= MaxQuotedBytes {
		return strconv.Quote(string(s))
	}
	n := MaxQuotedBytes
	for i := 1; i < utf8.UTFMax && !utf8.RuneStart(s[n]); i++ {
		n--
	}
	return strconv.Quote(string(s[:n])) + "… (" + strconv.Itoa(len(s)) + " bytes)"
}

package api_test

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/api"
)

// Quote is %q for an input of at most MaxQuotedBytes; of a longer one it
// quotes the first MaxQuotedBytes bytes, cut at a character's start, and
// says how long the input was, for strings and bytes alike.
func TestQuoteQuotesAtMostMaxQuotedBytes(t *testing.T) {
	for _, s := range []string{"", "abc", "a\"b\\c\n", "\xff\x00", "€uro", strings.Repeat("x", api.MaxQuotedBytes), strings.Repeat("\xff", api.MaxQuotedBytes)} {
		require.Equal(t, fmt.Sprintf("%q", s), api.Quote(s))
		require.Equal(t, fmt.Sprintf("%q", s), api.Quote([]byte(s)))
	}

	long := strings.Repeat("ab", 35_000)
	want := fmt.Sprintf("%q… (70000 bytes)", long[:api.MaxQuotedBytes])
	require.Equal(t, want, api.Quote(long))
	require.Equal(t, want, api.Quote([]byte(long)))

	// The longest quote: every byte non-printable, written as four.
	q := api.Quote(strings.Repeat("\xff", 1<<20))
	require.Equal(t, fmt.Sprintf("%q… (1048576 bytes)", strings.Repeat("\xff", api.MaxQuotedBytes)), q)
	require.Len(t, q, 4*api.MaxQuotedBytes+2+len("… (1048576 bytes)"))

	// Cut at a character's start, whichever byte of a character the
	// limit falls on.
	for pad := range 4 {
		s := strings.Repeat("a", pad) + strings.Repeat("€", 100)
		q := api.Quote(s)
		quoted, _, ok := strings.Cut(q, "… (")
		require.True(t, ok, q)
		require.True(t, utf8.ValidString(quoted), q)
		require.True(t, strings.HasPrefix(s, quoted[1:len(quoted)-1]), q)
		require.Greater(t, len(quoted)-2, api.MaxQuotedBytes-3, q)
		require.True(t, strings.HasSuffix(q, fmt.Sprintf("(%d bytes)", len(s))), q)
	}
}

package module_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/x/funds"
	"github.com/tallyledger/tally/x/module"
)

// A log that quotes user input of any size is cut to MaxLogBytes, at a
// character's start, keeping its code and its beginning and saying how long
// it was: ValidateToken quotes a programme id of any length, and a 32 KiB
// one of non-printable bytes made a log of 128 KiB. A short log is left
// whole.
func TestALogIsAtMostMaxLogBytes(t *testing.T) {
	err := funds.ValidateToken("programme id", strings.Repeat("\xff", 32<<10))
	require.ErrorIs(t, err, funds.ErrInvalidHolder)
	require.Greater(t, len(err.Error()), 128<<10, "the error itself quotes every byte")
	space, code, log := module.CodeOf(err)
	require.Equal(t, funds.ErrInvalidHolder.Codespace, space)
	require.Equal(t, funds.ErrInvalidHolder.Code, code)
	require.LessOrEqual(t, len(log), module.MaxLogBytes)
	require.True(t, strings.HasPrefix(log, `funds/5: invalid holder id: programme id "\xff\xff`), log[:80])
	require.True(t, strings.HasSuffix(log, fmt.Sprintf(" … (log cut: %d bytes)", len(err.Error()))), log[len(log)-40:])

	// Cut at a character's start: every cut point among multi-byte runes.
	for pad := range 4 {
		_, _, log = module.CodeOf(errors.New(strings.Repeat("a", pad) + strings.Repeat("€", 2000)))
		require.LessOrEqual(t, len(log), module.MaxLogBytes)
		require.Greater(t, len(log), module.MaxLogBytes-4)
		require.True(t, utf8.ValidString(log), "pad %d", pad)
		require.True(t, strings.HasPrefix(log, "tally/1: internal error: "+strings.Repeat("a", pad)+"€"))
	}

	short := funds.ErrInvalidHolder.Wrapf("%q is not a holder id", "x")
	_, _, log = module.CodeOf(short)
	require.Equal(t, short.Error(), log)
	exact := errors.New(strings.Repeat("b", module.MaxLogBytes-len("tally/1: internal error: ")))
	_, _, log = module.CodeOf(exact)
	require.Len(t, log, module.MaxLogBytes)
	require.True(t, strings.HasSuffix(log, "bbb"))
}

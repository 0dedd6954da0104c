package module_test

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/funds"
	"github.com/tallyledger/tally/x/gov"
	"github.com/tallyledger/tally/x/module"
	"github.com/tallyledger/tally/x/provenance"
	"github.com/tallyledger/tally/x/tax"
)

// A log of any size is cut to MaxLogBytes, at a character's start, keeping
// its code and its beginning and saying how long it was: ValidateToken
// quoted a programme id of any length with %q, and a 32 KiB one of
// non-printable bytes made a log of 128 KiB (refusals now quote with
// api.Quote; the cut stays for any message that does not). A short log is
// left whole.
func TestALogIsAtMostMaxLogBytes(t *testing.T) {
	err := funds.ErrInvalidHolder.Wrapf("programme id %q must be 1 to 128 characters", strings.Repeat("\xff", 32<<10))
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

// The errors that refuse user input quote at most api.MaxQuotedBytes of it,
// so refusing an input costs the same however long it is: a 1 MiB token
// of non-printable bytes made ValidateToken write a 4 MiB message (%q
// writes such a byte as four) on every node for every failing transaction,
// only for CodeOf to keep its first 1,024 bytes. Each check below is
// given 1 MiB; its message must fit in a log whole (no cut by CodeOf) and
// say how long the input was, and the check must allocate far less than
// the input's size.
func TestRefusalsQuoteAtMostMaxQuotedBytesOfTheirInput(t *testing.T) {
	const size = 1 << 20
	bad := strings.Repeat("\xff", size)
	programme, agencyHolder := api.HolderProgrammePrefix+bad, api.HolderAgencyPrefix+bad
	receipt, receiptSeq, period := bad+"-1", "REVENUE-"+strings.Repeat("9", size), "2026"+bad
	for _, tc := range []struct {
		name  string
		check func() error
	}{
		{"funds.ValidateToken", func() error { return funds.ValidateToken("programme id", bad) }},
		{"funds.ValidateHolder (programme)", func() error { return funds.ValidateHolder(programme) }},
		{"funds.ValidateHolder (agency)", func() error { return funds.ValidateHolder(agencyHolder) }},
		{"funds.ValidateHolder (no prefix)", func() error { return funds.ValidateHolder(bad) }},
		{"agency.ValidateAgencyID", func() error { return agency.ValidateAgencyID(bad) }},
		{"tax.ValidateTaxTypeCode", func() error { return tax.ValidateTaxTypeCode(bad) }},
		{"api.ParseReceiptID (agency)", func() error { _, err := api.ParseReceiptID(receipt); return err }},
		{"api.ParseReceiptID (number)", func() error { _, err := api.ParseReceiptID(receiptSeq); return err }},
		{"api.ParsePeriod", func() error { _, err := api.ParsePeriod(period); return err }},
		{"api.ParseRole", func() error { _, err := api.ParseRole(bad); return err }},
		{"provenance.ValidateItemID", func() error { return provenance.ValidateItemID(bad) }},
		{"gov.ParseFraction", func() error { _, err := gov.ParseFraction(bad); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.check()
			require.Error(t, err)
			msg := err.Error()
			require.LessOrEqual(t, len(msg), module.MaxLogBytes, "the message is cut by CodeOf, not quoted within bounds")
			_, _, log := module.CodeOf(err) // some are coded by their callers: tally/1 here
			require.True(t, strings.HasSuffix(log, msg), "CodeOf cut the log")
			require.Contains(t, msg, " bytes)")

			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			const calls = 20
			for range calls {
				require.Error(t, tc.check())
			}
			runtime.ReadMemStats(&after)
			perCall := (after.TotalAlloc - before.TotalAlloc) / calls
			t.Logf("message %d bytes; %d bytes allocated a refusal", len(msg), perCall)
			require.Less(t, perCall, uint64(16<<10), "bytes allocated a refusal of a %d-byte input", size)
		})
	}
}

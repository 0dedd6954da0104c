package app_test

import (
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/app"
)

// A query whose id is not a decimal number is refused without strconv
// copying it (its NumError copies the whole input): a proposal id of
// 1 MiB cost 1 MiB to refuse, and a funds or benefits id 2 MiB (the
// router's own string of the argument, and strconv's copy).
func TestQueryIDsAreRefusedWithoutCopyingThem(t *testing.T) {
	c := newGovChain(t)
	long := []byte(strings.Repeat("1", 1<<20))
	for path, most := range map[string]uint64{
		api.PathGovProposal:     64 << 10,
		api.PathFundsMovement:   (1 << 20) + 64<<10, // the router's string of the argument
		api.PathBenefitsPayment: (1 << 20) + 64<<10,
	} {
		res := c.query(path, long)
		requireCode(t, app.ErrInvalidQuery, res.Codespace, res.Code, res.Log, "(1048576 bytes)")
		require.Less(t, len(res.Log), 1024)
		const calls = 5
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range calls {
			c.query(path, long)
		}
		runtime.ReadMemStats(&after)
		perCall := (after.TotalAlloc - before.TotalAlloc) / calls
		t.Logf("%s: %d bytes allocated to refuse an id of 1 MiB", path, perCall)
		require.Less(t, perCall, most, path)
	}
}

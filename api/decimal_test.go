package api_test

import (
	"bytes"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/api"
)

func TestParseDecimalReadsAtMostMaxDecimalDigits(t *testing.T) {
	for s, want := range map[string]uint64{"0": 0, "7": 7, "18446744073709551615": 1<<64 - 1, "00000000000000000042": 42} {
		n, ok := api.ParseDecimal(s)
		require.True(t, ok, s)
		require.Equal(t, want, n, s)
	}
	for _, s := range []string{"", "-1", "+1", "1_000", "0x10", "18446744073709551616", "000000000000000000042"} {
		_, ok := api.ParseDecimal([]byte(s))
		require.False(t, ok, "%q", s)
	}
}

// A query argument that is not a decimal id is refused without a copy of
// it: strconv's error (NumError) copies its whole input, so each query of
// a 1 MiB argument allocated 2 MiB (the string and the error's copy) only
// to refuse it.
func TestDecimalQueryArgumentsAreRefusedWithoutCopyingThem(t *testing.T) {
	long := bytes.Repeat([]byte("1"), 1<<20)
	routeKey := func(path string) func([]byte) []byte {
		r, ok := api.RouteOf(path)
		require.True(t, ok, path)
		return r.Key
	}
	listing := func(path string) func([]byte) (api.Listing, bool) {
		r, ok := api.RouteOf(path)
		require.True(t, ok, path)
		return r.Listing
	}
	for name, refuse := range map[string]func([]byte) bool{
		api.PathFundsMovement:  func(d []byte) bool { return routeKey(api.PathFundsMovement)(d) == nil },
		api.PathFundsTraceDown: func(d []byte) bool { _, ok := listing(api.PathFundsTraceDown)(d); return !ok },
		api.PathGovVotes:       func(d []byte) bool { _, ok := listing(api.PathGovVotes)(d); return !ok },
	} {
		require.False(t, refuse([]byte("12")), "%s takes a decimal id", name)
		require.True(t, refuse(long), name)
		const calls = 10
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range calls {
			refuse(long)
		}
		runtime.ReadMemStats(&after)
		perCall := (after.TotalAlloc - before.TotalAlloc) / calls
		t.Logf("%s: %d bytes allocated to refuse a 1 MiB argument", name, perCall)
		require.Less(t, perCall, uint64(4<<10), "%s copied its argument", name)
	}
}

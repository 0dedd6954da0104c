package benefits

import (
	"testing"

	"github.com/stretchr/testify/require"

	benefitsv1 "github.com/tallyledger/tally/proto/tally/benefits/v1"
)

// Period k starts, and falls due, at start + k·period; a recipient enrolled
// from time t is first paid for the first period starting at or after t.
func TestPeriodArithmetic(t *testing.T) {
	p := &benefitsv1.Programme{StartUnix: 1_000, PeriodSeconds: 60, EndUnix: 1_300}
	require.Equal(t, int64(1_000), PeriodStart(p, 0))
	require.Equal(t, int64(1_180), PeriodStart(p, 3))
	for _, tt := range []struct {
		from int64
		want uint64
	}{{0, 0}, {1_000, 0}, {1_001, 1}, {1_060, 1}, {1_061, 2}} {
		require.Equal(t, tt.want, firstPeriodFrom(p, tt.from), "from %d", tt.from)
	}
	p.NextPeriod = 2
	require.Equal(t, int64(1_120), NextRun(p))
	p.Finished = true
	require.Zero(t, NextRun(p))
}

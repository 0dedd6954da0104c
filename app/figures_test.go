package app_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The node's metrics read the open recalls and queues off the last
// committed state, and its periodic invariant check runs every module's
// checks there.
func TestFiguresReadTheCommittedState(t *testing.T) {
	c := newExportWorld(t) // a recall ordered in its last block
	order := c.order("RO-EX-1")
	require.Positive(t, order.AwaitingAck)

	q, err := c.app.Queues(blockTime(c.height), 1_000)
	require.NoError(t, err)
	require.Equal(t, c.height, q.Height)
	require.Equal(t, 1, q.RecallsOpen)
	require.Equal(t, 1, q.RecallsUnacknowledged)
	require.Equal(t, time.Unix(order.TimeUnix, 0), q.OldestUnacknowledged)
	require.Zero(t, q.PaymentPeriodsDue, "the programme's payments start years from now")
	require.False(t, q.Capped)

	later, err := c.app.Queues(time.Unix(order.TimeUnix, 0).Add(10*365*24*time.Hour), 1_000)
	require.NoError(t, err)
	require.Equal(t, 1, later.PaymentPeriodsDue, "due once its start has passed")

	r, h, err := c.app.CheckInvariants()
	require.NoError(t, err)
	require.Equal(t, c.height, h)
	require.True(t, r.Ok, "%v", r)
}

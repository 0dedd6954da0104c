package node

import (
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/x/gov"
)

// Evidence the app records (gov's misbehaviour event, one per piece of
// evidence in a block) is counted by tally_misbehaviour_total, which is
// exported at 0 from the start so that the alert's increase() sees the
// first one. The event type has no module prefix, so before this counter
// the events counter skipped it and no metric showed a double sign.
func TestMisbehaviourIsCounted(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := newMetrics(reg, t.TempDir())
	value := func() (float64, bool) {
		mfs, err := reg.Gather()
		require.NoError(t, err)
		for _, mf := range mfs {
			if mf.GetName() == "tally_misbehaviour_total" && len(mf.GetMetric()) == 1 {
				return mf.GetMetric()[0].GetCounter().GetValue(), true
			}
		}
		return 0, false
	}
	v, ok := value()
	require.True(t, ok, "exported before any misbehaviour")
	require.Zero(t, v)
	m.observeEvents([]abci.Event{
		{Type: gov.EventMisbehaviour, Attributes: []abci.EventAttribute{{Key: "type", Value: "duplicate_vote"}}},
		{Type: "tax.receipt_issued"},
		{Type: gov.EventMisbehaviour},
	})
	v, _ = value()
	require.Equal(t, 2.0, v)
}

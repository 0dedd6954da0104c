package node

import (
	"strings"
	"testing"
	"time"

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
	m := newMetrics(reg, t.TempDir(), t.TempDir())
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

// The broadcast gate's refusals are counted by reason and transport
// (every combination exported at 0 from the start), and the broadcasts
// waiting and the recent answer time are exported as gauges.
func TestTheBroadcastGatesFiguresAreExported(t *testing.T) {
	reg := prometheus.NewRegistry()
	size := 0
	g := newBroadcastGate(func() int { return size }, gateLimits{mempool: 10, maxWaiting: 2, slowWaiting: 1, slowAnswer: time.Second})
	watchGate(reg, g)
	value := func(name string, labels ...string) float64 {
		t.Helper()
		mfs, err := reg.Gather()
		require.NoError(t, err)
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
			for _, m := range mf.GetMetric() {
				got := []string{}
				for _, l := range m.GetLabel() {
					got = append(got, l.GetName()+"="+l.GetValue())
				}
				if strings.Join(got, ",") == strings.Join(labels, ",") {
					if m.GetCounter() != nil {
						return m.GetCounter().GetValue()
					}
					return m.GetGauge().GetValue()
				}
			}
		}
		t.Fatalf("%s{%s} is not exported", name, strings.Join(labels, ","))
		return 0
	}
	for _, reason := range []string{"waiting_limit", "mempool_full", "slow_answers"} {
		for _, via := range []string{"http", "websocket", "grpc"} {
			require.Zero(t, value("tally_broadcasts_refused_total", "reason="+reason, "transport="+via))
		}
	}

	require.Empty(t, g.enter(1, viaHTTP))
	require.Empty(t, g.enter(1, viaWebsocket))
	require.Equal(t, 2.0, value("tally_broadcasts_waiting"))
	require.Contains(t, g.enter(1, viaGRPC), "at most 2 wait")
	require.Equal(t, 1.0, value("tally_broadcasts_refused_total", "reason=waiting_limit", "transport=grpc"))
	require.Equal(t, 2.0, value("tally_broadcasts_waiting"), "a refused broadcast does not wait")
	g.leave(1, 2*time.Second, true)
	g.leave(1, 0, false)
	require.Zero(t, value("tally_broadcasts_waiting"))
	require.Equal(t, 0.25, value("tally_broadcast_answer_seconds"), "an eighth of a 2 s answer")

	size = 10
	require.Contains(t, g.enter(1, viaWebsocket), "mempool holds 10")
	require.Equal(t, 1.0, value("tally_broadcasts_refused_total", "reason=mempool_full", "transport=websocket"))

	size = 0
	g.answer.Store(int64(2 * time.Second))
	require.Empty(t, g.enter(1, viaHTTP))
	require.Contains(t, g.enter(1, viaHTTP), "answered in about 2000 ms")
	require.Equal(t, 1.0, value("tally_broadcasts_refused_total", "reason=slow_answers", "transport=http"))
	require.Equal(t, 2.0, value("tally_broadcast_answer_seconds"))
}

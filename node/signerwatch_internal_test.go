package node

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/cometbft/cometbft/libs/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

// The watch reports the signer unreachable from the second look in a row
// without a connection, dated from the first; one look without (a
// connection being replaced) reports nothing; the first look with a
// connection clears the report. (testnet's
// TestValidatorsSignThroughRemoteSigners kills real signers.)
func TestSignerWatchReportsFromTheSecondMissAndClears(t *testing.T) {
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	w := newSignerWatch("unix:///srv/privval.sock", nil, reg, log.NewTMLogger(&logs))
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	up := func() float64 {
		mfs, err := reg.Gather()
		require.NoError(t, err)
		for _, mf := range mfs {
			if mf.GetName() == "tally_remote_signer_up" && len(mf.GetMetric()) == 1 {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatal("tally_remote_signer_up is not exported")
		return 0
	}

	require.Equal(t, 1.0, up(), "exported as up from the start")
	w.look(t0, false)
	require.True(t, w.status().Connected, "one miss reports nothing")
	require.Equal(t, 1.0, up())
	w.look(t0.Add(time.Second), true)
	w.look(t0.Add(2*time.Second), false)
	w.look(t0.Add(3*time.Second), false)
	st := w.status()
	require.False(t, st.Connected)
	require.Equal(t, "2026-12-04T12:00:02Z", st.UnreachableSince, "dated from the first miss")
	require.Equal(t, 0.0, up())
	require.Equal(t, 1, strings.Count(logs.String(), RemoteSignerUnreachable+":"))
	require.Contains(t, logs.String(), "unix:///srv/privval.sock")
	w.look(t0.Add(4*time.Second), false)
	require.Equal(t, 1, strings.Count(logs.String(), RemoteSignerUnreachable+":"), "not logged again every look")
	w.look(t0.Add(3*time.Second+signerWatchRepeat), false)
	require.Equal(t, 2, strings.Count(logs.String(), RemoteSignerUnreachable+":"), "logged again after signerWatchRepeat")
	w.look(t0.Add(5*time.Minute), true)
	require.Equal(t, RemoteSignerStatus{Remote: true, Connected: true}, w.status())
	require.Equal(t, 1.0, up())
	require.Contains(t, logs.String(), "remote signer connected again")
}

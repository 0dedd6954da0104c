package node

import (
	"context"
	"crypto/ed25519"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/libs/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/node/genesis"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	"github.com/tallyledger/tally/store"
)

// The queue collector exports the end-of-block queues, the open recalls
// and the work carried over of the app it reads, at its committed height,
// and the app's snapshots (none yet).
func TestQueueCollectorExportsTheAppsQueues(t *testing.T) {
	a := committedApp(t, app.Options{})
	c := newQueueCollector()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	families, err := reg.Gather()
	require.NoError(t, err)
	require.Empty(t, families, "no app yet: nothing to report")

	c.a.Store(a)
	require.Equal(t, map[string]float64{
		"tally_queue_payment_periods_due": 0, "tally_queue_recall_steps": 0, "tally_recalls_open": 0, "tally_recalls_unacknowledged": 0,
		"tally_recall_unacknowledged_oldest_age_seconds": 0, "tally_queue_counts_capped": 0,
		"tally_end_block_carried_over_total/benefits": 0, "tally_end_block_carried_over_total/provenance": 0, "tally_end_block_carried_over_total/gov": 0,
		"tally_snapshot_last_height": 0, "tally_snapshot_last_duration_seconds": 0, "tally_snapshot_last_timestamp_seconds": 0,
		"tally_snapshots_failed_total": 0, "tally_snapshots_skipped_total": 0,
	}, gather(t, reg))
}

// Once the app has taken a snapshot, the collector reports its height,
// how long it took and when it finished.
func TestQueueCollectorReportsTheLastSnapshot(t *testing.T) {
	a := committedApp(t, app.Options{Snapshots: app.SnapshotOptions{Dir: t.TempDir(), Interval: 1, KeepRecent: 1}})
	require.Eventually(t, func() bool { return a.SnapshotStats().Height == 1 }, time.Minute, 10*time.Millisecond, "snapshot of height 1")
	c := newQueueCollector()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	c.a.Store(a)
	got := gather(t, reg)
	require.Equal(t, 1.0, got["tally_snapshot_last_height"])
	require.Positive(t, got["tally_snapshot_last_duration_seconds"])
	require.InDelta(t, float64(time.Now().Unix()), got["tally_snapshot_last_timestamp_seconds"], 600)
	require.Zero(t, got["tally_snapshots_failed_total"])
}

// Snapshots lists the snapshots an app wrote into a home's data/snapshots,
// newest first, and nothing for a home without any.
func TestSnapshotsListsAHomesSnapshots(t *testing.T) {
	home := t.TempDir()
	none, err := Snapshots(home)
	require.NoError(t, err)
	require.Empty(t, none)
	a := committedApp(t, app.Options{Snapshots: app.SnapshotOptions{Dir: SnapshotDir(home), Interval: 1, KeepRecent: 1}})
	require.Eventually(t, func() bool { return a.SnapshotStats().Height == 1 }, time.Minute, 10*time.Millisecond, "snapshot of height 1")
	got, err := Snapshots(home)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.EqualValues(t, 1, got[0].Height)
	require.Positive(t, got[0].Bytes)
	require.False(t, got[0].Written.IsZero())
}

// gather reads every metric of reg as name[/label values] → value.
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	got := map[string]float64{}
	for _, f := range families {
		for _, m := range f.Metric {
			name := f.GetName()
			for _, l := range m.Label {
				name += "/" + l.GetValue()
			}
			got[name] = m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	return got
}

// committedApp is a one-agency app (opts) that has committed block 1.
func committedApp(t *testing.T, opts app.Options) *app.App {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	state, err := genesis.SingleAgencyState("tally-test", "treasury", "Treasury", agencyv1.Kind_KIND_TREASURY, pub,
		func(m []byte) ([]byte, error) { return ed25519.Sign(priv, m), nil })
	require.NoError(t, err)
	bz, err := app.MarshalGenesis(state)
	require.NoError(t, err)
	a, err := app.New(store.NewMemory(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { a.Close() })
	ctx := context.Background()
	_, err = a.InitChain(ctx, &abci.RequestInitChain{ChainId: "tally-test", AppStateBytes: bz, InitialHeight: 1, Time: time.Unix(1_900_000_000, 0)})
	require.NoError(t, err)
	_, err = a.FinalizeBlock(ctx, &abci.RequestFinalizeBlock{Height: 1, Time: time.Unix(1_900_000_001, 0)})
	require.NoError(t, err)
	_, err = a.Commit(ctx, &abci.RequestCommit{})
	require.NoError(t, err)

	return a
}

// The periodic invariant check waits invariant_check_every after a walk,
// or twenty times the walk when that is longer, so a state too large to
// walk quickly is walked for at most a twentieth of the node's time. The
// walk's length is the test clock's: each reading moves it on by that much.
func TestInvariantChecksAreSpacedByHowLongTheWalkTook(t *testing.T) {
	a := committedApp(t, app.Options{})
	for _, c := range []struct {
		every, walk, want time.Duration
	}{
		{every: 10 * time.Minute, walk: 3 * time.Second, want: 10 * time.Minute},
		{every: 10 * time.Minute, walk: 30 * time.Second, want: 10 * time.Minute},
		{every: 10 * time.Minute, walk: 31 * time.Second, want: 620 * time.Second},
		{every: 10 * time.Minute, walk: 5 * time.Minute, want: 100 * time.Minute},
		{every: 2 * time.Second, walk: 200 * time.Millisecond, want: 4 * time.Second},
	} {
		reg := prometheus.NewRegistry()
		w := newInvariantWatch(reg, a, c.every, log.NewNopLogger())
		clock := time.Unix(1_900_000_000, 0)
		w.now = func() time.Time { clock = clock.Add(c.walk); return clock }
		require.Equal(t, c.want, w.check(), "every %s, a walk of %s", c.every, c.walk)
		got := gather(t, reg)
		require.Equal(t, float64(1), got["tally_invariants_checked_height"], "the check read height 1")
		require.Zero(t, got["tally_invariant_checks_failing"])
	}
}

package node

import (
	"context"
	"crypto/ed25519"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/node/genesis"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	"github.com/tallyledger/tally/store"
)

// The queue collector exports the end-of-block queues, the open recalls
// and the work carried over of the app it reads, at its committed height.
func TestQueueCollectorExportsTheAppsQueues(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	state, err := genesis.SingleAgencyState("tally-test", "treasury", "Treasury", agencyv1.Kind_KIND_TREASURY, pub,
		func(m []byte) ([]byte, error) { return ed25519.Sign(priv, m), nil })
	require.NoError(t, err)
	bz, err := app.MarshalGenesis(state)
	require.NoError(t, err)
	a, err := app.New(store.NewMemory(), app.Options{})
	require.NoError(t, err)
	defer a.Close()
	ctx := context.Background()
	_, err = a.InitChain(ctx, &abci.RequestInitChain{ChainId: "tally-test", AppStateBytes: bz, InitialHeight: 1, Time: time.Unix(1_900_000_000, 0)})
	require.NoError(t, err)
	_, err = a.FinalizeBlock(ctx, &abci.RequestFinalizeBlock{Height: 1, Time: time.Unix(1_900_000_001, 0)})
	require.NoError(t, err)
	_, err = a.Commit(ctx, &abci.RequestCommit{})
	require.NoError(t, err)

	c := newQueueCollector()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	families, err := reg.Gather()
	require.NoError(t, err)
	require.Empty(t, families, "no app yet: nothing to report")

	c.a.Store(a)
	families, err = reg.Gather()
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
	require.Equal(t, map[string]float64{
		"tally_queue_payment_periods_due": 0, "tally_queue_recall_steps": 0, "tally_recalls_open": 0, "tally_recalls_unacknowledged": 0,
		"tally_recall_unacknowledged_oldest_age_seconds": 0, "tally_queue_counts_capped": 0,
		"tally_end_block_carried_over_total/benefits": 0, "tally_end_block_carried_over_total/provenance": 0, "tally_end_block_carried_over_total/gov": 0,
	}, got)
}

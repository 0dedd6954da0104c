package testnet_test

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/monitoring"
	"github.com/tallyledger/tally/testnet"
)

// The demo runs on a network of a single validator too: the national
// agencies exist without validators of their own, and every step reaches
// a node that exists. (It once stopped at "no key named benefits-admin",
// then at an index out of range.) Its vote admits the council's node as a
// second validator, with a third of the lone validator's power at most
// (gov.max_power_change).
func TestDemoRunsWithOneValidator(t *testing.T) {
	net := startNetwork(t, 1, func(o *testnet.Options) { o.Council = true })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	require.NoError(t, net.WaitHeight(ctx, "treasury", 1))
	require.NoError(t, testnet.SeedDemo(ctx, t.TempDir(), net.Manifest, t.Logf))
	res, _, err := rpc(t, net, "treasury").Query(ctx, api.PathProvenanceRecall, []byte("FSA-DEMO-001"), 0, false)
	require.NoError(t, err)
	require.NotEmpty(t, res.Value, "the demo's recall is on chain")

	// The treasury's node counted the demo's business on its metrics
	// endpoint: the four receipts the revenue collector issued and their
	// money, the FSA's recall, and the recall open with items awaiting
	// acknowledgement (only the school kitchen acknowledged).
	treasury, err := net.Node("treasury")
	require.NoError(t, err)
	figures, err := monitoring.Scrape(ctx, treasury.Metrics)
	require.NoError(t, err)
	for series, want := range map[string]float64{
		`tally_events_total{type="tax.receipt_issued"}`:                                4,
		`tally_event_amount_pence_total{attribute="amount",type="tax.receipt_issued"}`: 1_250_000 + 980_000 + 42_317 + 5_600_000,
		`tally_events_total{type="provenance.recall_ordered"}`:                         1,
		`tally_recalls_open`:             1,
		`tally_recalls_unacknowledged`:   1,
		`tally_invariant_checks_failing`: 0,
	} {
		got, ok := figures[series]
		require.True(t, ok, "%s is not exported", series)
		require.Equal(t, want, got, series)
	}
	require.Greater(t, figures["tally_recall_unacknowledged_oldest_age_seconds"], 0.0)
	require.Greater(t, figures[`tally_event_amount_pence_total{attribute="amount",type="funds.appropriated"}`], 0.0, "money appropriated")

	// The council was voted in: two validators, the council's weaker.
	_, h, err := rpc(t, net, "treasury").Status(ctx)
	require.NoError(t, err)
	require.NoError(t, net.WaitHeight(ctx, "treasury", h+2))
	vals, err := rpc(t, net, "treasury").RPC.Validators(ctx, nil, nil, nil)
	require.NoError(t, err)
	require.Equal(t, 2, vals.Total)
	require.ElementsMatch(t, []int64{10, 3}, []int64{vals.Validators[0].VotingPower, vals.Validators[1].VotingPower})
	require.NoError(t, net.Stop("harbour", 10*time.Second)) // the lone validator again has no peers

	// tallyd status: one screen about the node, its validator signing.
	nd, err := net.Node("treasury")
	require.NoError(t, err)
	out, err := exec.Command(tallyd, "status", "--node", nd.RPC, "--home", nd.Home).CombinedOutput()
	// A one-validator network has no peers: status warns, and says so.
	require.Error(t, err, "%s", out)
	for _, want := range []string{"chain", net.Manifest.ChainID, "power 10", "last signed", "tally ", "of its file system free", "0 peer(s)"} {
		require.Contains(t, string(out), want)
	}
	require.NotContains(t, string(out), "not in the latest blocks", "a lone validator signs every block")
}

package testnet_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/monitoring"
)

// A real Prometheus, given the repository's configuration with this
// network's addresses, scrapes every node: CometBFT's metrics and Tally's
// own (messages by module and result, block height), with the alert rules
// loaded and none of the critical ones firing on a healthy network. Then
// one node is stopped and TallyNodeDown fires for it, and for no other.
// The server loads the repository's rules with every `for:` set to 5 s
// (monitoring.Options.For), so the test does not wait the minute an
// operator's rule waits; the expressions are the shipped ones.
func TestPrometheusScrapesEveryNode(t *testing.T) {
	net := startNetwork(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	require.NoError(t, net.WaitHeight(ctx, "revenue", 1))
	addMember(t, ctx, net, "revenue", "revenue") // one committed message to count

	var targets []string
	for _, n := range net.Manifest.Nodes {
		require.NotEmpty(t, n.Metrics, "testnet init gives every node a metrics address")
		targets = append(targets, n.Metrics)
	}
	prom, err := monitoring.Start(ctx, monitoring.Options{
		Dir: t.TempDir(), Targets: targets, Listen: fmt.Sprintf("127.0.0.1:%d", freeBase(t)), For: 5 * time.Second,
	})
	if errors.Is(err, monitoring.ErrNotInstalled) {
		t.Skip("SKIPPED (prometheus is not installed: apt-get install prometheus; .ci/run installs it): no scrape of a running network was tried")
	}
	require.NoError(t, err)
	t.Cleanup(func() {
		prom.Stop()
		if t.Failed() {
			t.Logf("prometheus log:\n%s", prom.LogTail(4000))
		}
	})

	want := map[string]string{ // query → what every node must report
		`up{job="tally"}`:                    "1",
		`cometbft_consensus_height > bool 0`: "1",
		`tally_block_height > bool 0`:        "1",
		`sum by (instance) (tally_messages_total{module="agency",message="add_member",result="ok"}) > bool 0`: "1",
		`tally_data_bytes > bool 0`: "1",
	}
	for q, v := range want {
		require.Eventually(t, func() bool {
			got, err := prom.Query(ctx, q)
			if err != nil || len(got) != len(net.Manifest.Nodes) {
				return false
			}
			for _, val := range got {
				if val != v {
					return false
				}
			}
			return true
		}, 2*time.Minute, time.Second, "query %s did not give %s for all %d nodes", q, v, len(net.Manifest.Nodes))
	}
	firing, err := prom.Query(ctx, `ALERTS{alertstate="firing",severity="critical"}`)
	require.NoError(t, err)
	require.Empty(t, firing, "critical alerts firing on a healthy network")

	// A stopped node: TallyNodeDown fires for it and no other node.
	down := net.Manifest.Nodes[len(net.Manifest.Nodes)-1]
	require.NoError(t, net.Stop(down.Name, 15*time.Second))
	var alerts []monitoring.Alert
	require.Eventually(t, func() bool {
		alerts, err = prom.Alerts(ctx)
		if err != nil {
			return false
		}
		for _, a := range alerts {
			if a.Name == "TallyNodeDown" && a.State == "firing" && a.Instance == down.Metrics {
				return true
			}
		}
		return false
	}, 2*time.Minute, time.Second, "TallyNodeDown did not fire for the stopped node %s (%s); alerts: %+v", down.Name, down.Metrics, alerts)
	for _, a := range alerts {
		if a.Name == "TallyNodeDown" {
			require.Equal(t, down.Metrics, a.Instance, "TallyNodeDown for a running node")
		}
	}
}

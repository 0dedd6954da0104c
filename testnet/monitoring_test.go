package testnet_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/monitoring"
	"github.com/tallyledger/tally/testnet"
)

// The Prometheus configuration `tallyd testnet start --prometheus` (MONITOR=1
// make localnet) runs with scrapes every node of the network it starts:
// with 7 validators and the council's node, all eight metrics addresses
// (the council's after the validators'), each once, and no other; and the
// configuration is one promtool accepts. (The repository's prometheus.yml
// once listed four fixed ports, missing the council's node and every
// validator past the fourth.)
func TestPrometheusConfigCoversEveryNodeOfTheNetwork(t *testing.T) {
	opts := testnet.DefaultOptions()
	opts.Validators, opts.Council, opts.BasePort = 7, true, 31000
	m, err := testnet.Init(t.TempDir(), opts)
	require.NoError(t, err)
	require.Len(t, m.Nodes, 8)
	targets := m.MetricsTargets()
	want := []string{"127.0.0.1:31003", "127.0.0.1:31013", "127.0.0.1:31023", "127.0.0.1:31033",
		"127.0.0.1:31043", "127.0.0.1:31053", "127.0.0.1:31063", "127.0.0.1:31073"}
	require.Equal(t, want, targets)
	require.True(t, m.Nodes[7].Candidate, "the council's node, a validator only once voted in")

	cfg, err := monitoring.ConfigFor(targets)
	require.NoError(t, err)
	require.Contains(t, cfg, `- targets: ["`+strings.Join(want, `", "`)+`"]`)
	require.Equal(t, 1, strings.Count(cfg, "- targets:"))
	require.NotContains(t, cfg, `"127.0.0.1:26660"`, "the repository's single target is replaced")
	_, err = monitoring.ConfigFor(nil)
	require.Error(t, err, "a network without metrics addresses")

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("SKIPPED (promtool is not installed: apt-get install prometheus): the written configuration was not checked")
	}
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "alerts.yml"), []byte(monitoring.Rules), 0o644))
	out, err := exec.Command(promtool, "check", "config", filepath.Join(dir, "prometheus.yml")).CombinedOutput()
	require.NoError(t, err, "%s", out)
}

// A real Prometheus, given the repository's configuration with this
// network's addresses, scrapes every node: CometBFT's metrics and Tally's
// own (messages by module and result, block height), with the alert rules
// loaded and none of the critical ones firing on a healthy network. Then
// one node is stopped and TallyNodeDown fires for it, and for no other.
// The network has the council's node beside the four validators (as
// `make localnet` does), and the targets are the manifest's
// (Manifest.MetricsTargets, as `tallyd testnet start --prometheus` uses).
// The server loads the repository's rules with every `for:` set to 5 s
// (monitoring.Options.For), so the test does not wait the minute an
// operator's rule waits; the expressions are the shipped ones.
func TestPrometheusScrapesEveryNode(t *testing.T) {
	net := startNetwork(t, 4, func(o *testnet.Options) {
		o.Council = true
		base, err := testnet.FreeBasePort(50) // five nodes
		require.NoError(t, err)
		o.BasePort = base
	})
	require.Len(t, net.Manifest.Nodes, 5)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	require.NoError(t, net.WaitHeight(ctx, "revenue", 1))
	addMember(t, ctx, net, "revenue", "revenue") // one committed message to count

	targets := net.Manifest.MetricsTargets()
	require.Len(t, targets, len(net.Manifest.Nodes), "testnet init gives every node a metrics address")
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
		`tally_data_bytes > bool 0`:                 "1",
		`tally_state_bytes > bool 0`:                "1",
		`tally_state_bytes < bool tally_data_bytes`: "1",
		`tally_mempool_limit_transactions`:          "4500", // 90% of [mempool] size 5,000
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

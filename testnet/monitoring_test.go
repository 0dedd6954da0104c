package testnet_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// promQuery asks a Prometheus server's HTTP API for an instant vector and
// returns its samples as labels → value.
func promQuery(ctx context.Context, base, query string) (map[string]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/query?query="+url.QueryEscape(query), nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var body struct {
		Status string
		Data   struct {
			Result []struct {
				Metric map[string]string
				Value  [2]any
			}
		}
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, r := range body.Data.Result {
		out[r.Metric["instance"]] = fmt.Sprint(r.Value[1])
	}
	return out, nil
}

// A real Prometheus, given the repository's configuration with this
// network's addresses, scrapes every node: CometBFT's metrics and Tally's
// own (messages by module and result, block height), with the alert rules
// loaded and none of the critical ones firing on a healthy network.
func TestPrometheusScrapesEveryNode(t *testing.T) {
	prom, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("SKIPPED (prometheus is not installed: apt-get install prometheus; .ci/run installs it): no scrape of a running network was tried")
	}
	net := startNetwork(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	require.NoError(t, net.WaitHeight(ctx, "revenue", 1))
	addMember(t, ctx, net, "revenue", "revenue") // one committed message to count

	var targets []string
	for _, n := range net.Manifest.Nodes {
		require.NotEmpty(t, n.Metrics, "testnet init gives every node a metrics address")
		targets = append(targets, fmt.Sprintf("%q", n.Metrics))
	}
	repoCfg, err := os.ReadFile("../monitoring/prometheus.yml")
	require.NoError(t, err)
	dir := t.TempDir()
	cfg := strings.Replace(string(repoCfg), `["127.0.0.1:27003", "127.0.0.1:27013", "127.0.0.1:27023", "127.0.0.1:27033"]`, "["+strings.Join(targets, ", ")+"]", 1)
	require.NotEqual(t, string(repoCfg), cfg, "the repository's scrape targets were not found to replace")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644))
	rules, err := os.ReadFile("../monitoring/alerts.yml")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "alerts.yml"), rules, 0o644))

	port := freeBase(t)
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(prom, "--config.file", filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path", filepath.Join(dir, "data"),
		"--web.listen-address", listen)
	logFile, err := os.Create(filepath.Join(dir, "prometheus.log"))
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logFile.Name())
			t.Logf("prometheus log:\n%s", b)
		}
	})
	base := "http://" + listen

	want := map[string]string{ // query → what every node must report
		`up{job="tally"}`:                    "1",
		`cometbft_consensus_height > bool 0`: "1",
		`tally_block_height > bool 0`:        "1",
		`sum by (instance) (tally_messages_total{module="agency",message="add_member",result="ok"}) > bool 0`: "1",
		`tally_data_bytes > bool 0`: "1",
	}
	for q, v := range want {
		require.Eventually(t, func() bool {
			got, err := promQuery(ctx, base, q)
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
	firing, err := promQuery(ctx, base, `ALERTS{alertstate="firing",severity="critical"}`)
	require.NoError(t, err)
	require.Empty(t, firing, "critical alerts firing on a healthy network")
}

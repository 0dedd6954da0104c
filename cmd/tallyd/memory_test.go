package main

import (
	"bufio"
	"math"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/node"
	"github.com/tallyledger/tally/testnet"
)

// tallyd start applies app.toml's memory_limit_mib to its Go runtime, and
// GOMEMLIMIT in its environment wins over it. The node's own metrics
// endpoint says what limit its runtime runs under (go_gc_gomemlimit_bytes,
// from runtime/metrics).
func TestStartAppliesTheConfiguredMemoryLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a node process")
	}
	bin := tallydBinary(t)
	base, err := testnet.FreeBasePort(10)
	require.NoError(t, err)
	dir := t.TempDir()
	out, err := exec.Command(bin, "testnet", "init", "--validators", "1", "--council=false",
		"--output", dir, "--base-port", strconv.Itoa(base)).CombinedOutput()
	require.NoError(t, err, "%s", out)
	m, err := testnet.Load(dir)
	require.NoError(t, err)
	home, metrics := m.Nodes[0].Home, m.Nodes[0].Metrics

	appToml := node.AppConfigFile(home)
	text, err := os.ReadFile(appToml)
	require.NoError(t, err)
	limitLine := regexp.MustCompile(`(?m)^memory_limit_mib = .*$`)
	require.True(t, limitLine.Match(text), "app.toml written by testnet init has memory_limit_mib:\n%s", text)
	require.NoError(t, os.WriteFile(appToml, limitLine.ReplaceAll(text, []byte("memory_limit_mib = 300")), 0o600))

	for _, tc := range []struct {
		name string
		env  []string
		want int64
	}{
		{"app.toml", nil, 300 << 20},
		{"GOMEMLIMIT overrides app.toml", []string{"GOMEMLIMIT=200MiB"}, 200 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, "start", "--home", home, "--log-level", "error")
			cmd.Env = append(withoutEnv(os.Environ(), "GOMEMLIMIT"), tc.env...)
			require.NoError(t, cmd.Start())
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			defer func() {
				_ = cmd.Process.Signal(syscall.SIGTERM)
				select {
				case <-exited:
				case <-time.After(60 * time.Second):
					_ = cmd.Process.Kill()
					<-exited
				}
			}()
			// Wait for the metrics endpoint, however slow the machine.
			deadline := time.Now().Add(3 * time.Minute)
			for {
				got, ok := memoryLimitMetric(t, metrics)
				if ok {
					require.Equal(t, tc.want, got, "go_gc_gomemlimit_bytes of the running node")
					return
				}
				select {
				case err := <-exited:
					t.Fatalf("tallyd start exited before serving metrics: %v", err)
				default:
				}
				require.True(t, time.Now().Before(deadline), "no go_gc_gomemlimit_bytes at http://%s/metrics within 3 minutes", metrics)
				time.Sleep(200 * time.Millisecond)
			}
		})
	}
}

// memoryLimitMetric reads go_gc_gomemlimit_bytes from a node's Prometheus
// endpoint; ok is false while the endpoint does not answer.
func memoryLimitMetric(t *testing.T, addr string) (limit int64, ok bool) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, found := strings.CutPrefix(sc.Text(), "go_gc_gomemlimit_bytes "); found {
			f, err := strconv.ParseFloat(v, 64)
			require.NoError(t, err, "go_gc_gomemlimit_bytes %q", v)
			if f >= math.MaxInt64 { // no limit
				return math.MaxInt64, true
			}
			return int64(f), true
		}
	}
	return 0, false
}

// withoutEnv is env without the variable name.
func withoutEnv(env []string, name string) []string {
	var kept []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			kept = append(kept, kv)
		}
	}
	return kept
}

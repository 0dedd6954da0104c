//go:build wanbench

package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tallyledger/tally/client/keys"
	"github.com/tallyledger/tally/client/load"
)

// TestWANBench is a measurement, not a test (built only with -tags
// wanbench, so make test neither runs nor skips it): the localnet bench's
// Tally side with every validator in its own network namespace and a round
// trip of WAN_RTTS (default 0ms, the baseline in the same namespaces and run,
// then 20ms and 100ms) between any two of them, as agencies in different cities
// would see. Each rate runs `tallyd load --mix`'s workload (client/load,
// in this process) against the nodes' unix-socket RPC, so the clients sit
// next to their nodes and only validator-to-validator traffic is delayed.
//
//	make build && TALLYD_BIN=$PWD/build/tallyd WAN_RTTS=0ms,20ms,100ms RATES="250 500 1000" DURATION=15s \
//	  go test -tags wanbench ./testnet/faults/ -run TestWANBench -v -count=1 -timeout 60m
//
// The delay is the fault suite's (netlab.go): tc netem where the kernel has
// it, otherwise an iptables NFQUEUE that this process releases after the
// delay, one way on the link into each node, so a round trip is twice it.
// Reports go to WAN_OUT (default a temp dir), one JSON per RTT and rate.
func TestWANBench(t *testing.T) {
	SkipIfUnavailable(t)
	rtts := splitEnv("WAN_RTTS", "0ms,20ms,100ms")
	rates := splitEnv("RATES", "250 500 1000")
	dur, err := time.ParseDuration(envOr("DURATION", "15s"))
	if err != nil {
		t.Fatal(err)
	}
	out := os.Getenv("WAN_OUT")
	if out == "" {
		out = t.TempDir()
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	lab, err := NewNetLab("tw", 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := lab.Close(); err != nil {
			t.Errorf("removing the network namespaces: %v", err)
		}
	})
	c := NewCluster(t, ClusterOptions{Hosts: lab.Hosts(), UnixRPC: true, Prefix: lab.Prefix, CometTimeouts: true})
	t.Logf("nodes at %v in namespaces; delay by %s", lab.Hosts(), lab.DelayMechanism())
	kr, err := keys.Open(c.M.KeyringDir, keys.BackendTest, nil)
	if err != nil {
		t.Fatal(err)
	}
	admins := map[string]load.Admin{}
	for party, name := range workloadAdmins {
		priv, err := kr.PrivKey(name)
		if err != nil {
			t.Fatal(err)
		}
		admins[party] = load.Admin{Key: priv}
	}
	var endpoints []string
	for _, n := range c.M.Nodes {
		endpoints = append(endpoints, n.RPC)
	}

	var table []string
	for _, rs := range rtts {
		rtt, err := time.ParseDuration(rs)
		if err != nil {
			t.Fatal(err)
		}
		if err := lab.Degrade(rtt/2, 0); err != nil {
			t.Fatalf("delay %s each way: %v", rtt/2, err)
		}
		for _, r := range rates {
			rate, err := strconv.ParseFloat(r, 64)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			c.waitMempoolsEmpty(ctx)
			rep, err := load.Run(ctx, load.Config{Endpoints: endpoints, Rate: rate, Duration: dur, Accounts: 50,
				Mix: load.FullMix, Admin: admins[load.PartyAgency].Key, Admins: admins, Drain: 30 * time.Second})
			cancel()
			if err != nil {
				t.Fatalf("rtt %s, rate %s: %v", rtt, r, err)
			}
			b, _ := json.MarshalIndent(rep, "", "  ")
			if err := os.WriteFile(filepath.Join(out, fmt.Sprintf("wan-%s-%s.json", rs, r)), b, 0o644); err != nil {
				t.Fatal(err)
			}
			row := fmt.Sprintf("| %s | %.0f | %.1f | %.0f | %.0f | %.0f | %d | %.1f | %d | %d | %d | %d | %d |", rtt, rep.OfferedRate, rep.CommittedRate,
				rep.Latency.P50, rep.Latency.P95, rep.Latency.P99, rep.Blocks, rep.AvgTxsPerBlock, rep.RejectedTotal, rep.BroadcastErrorsTotal,
				rep.CommittedFailedTotal, rep.Pending, rep.ClientDropped)
			t.Log(row)
			table = append(table, row)
		}
	}
	if err := lab.Restore(); err != nil {
		t.Errorf("removing the delay: %v", err)
	}
	fmt.Printf("\nTally, 4 validators in network namespaces, delay by %s, mix %s, %s per rate\n", lab.DelayMechanism(), load.MixString(load.FullMix), dur)
	fmt.Println("| round trip | offered tx/s | committed tx/s | p50 ms | p95 ms | p99 ms | blocks | tx/block | refused | errors | failed in block | pending | not sent |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	fmt.Println(strings.Join(table, "\n"))
	fmt.Printf("reports: %s\n", out)
}

// waitMempoolsEmpty waits, up to a minute, until no node holds transactions
// in its mempool, so one rate's backlog does not count towards the next.
func (c *Cluster) waitMempoolsEmpty(ctx context.Context) {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		total := 0
		for _, cl := range c.Clients {
			if r, err := cl.RPC.NumUnconfirmedTxs(ctx); err == nil {
				total += r.Total
			}
		}
		if total == 0 {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func splitEnv(name, def string) []string {
	return strings.FieldsFunc(envOr(name, def), func(r rune) bool { return r == ',' || r == ' ' })
}

package faults

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/client"
	"github.com/tallyledger/tally/node"
	"github.com/tallyledger/tally/testnet"
)

// Cluster is a running local network for one scenario.
type Cluster struct {
	t       testing.TB
	Dir     string
	M       *testnet.Manifest
	Net     *testnet.Network
	Clients []*client.Client // one per node, in manifest order
	// expectedExits are nodes whose last exit the scenario caused on
	// purpose (a crash point), so it is not reported as a failure.
	expectedExits map[string]bool
	// tolerated are byte ranges of a node's log in which the scenario
	// broke the node on purpose (a full disk): CometBFT's consensus
	// failure there is the expected reaction, not a finding.
	tolerated map[string][][2]int64
	// Public are the nodes whose RPC is public (ClusterOptions.PublicRPC):
	// they refuse the operator's whole-state queries.
	Public map[int]bool
}

// TolerateConsensusFailure accepts CometBFT's consensus failure in bytes
// [from, to) of node name's log.
func (c *Cluster) TolerateConsensusFailure(name string, from, to int64) {
	c.tolerated[name] = append(c.tolerated[name], [2]int64{from, to})
}

// ClusterOptions shape a scenario's network.
type ClusterOptions struct {
	Validators int // 4 when zero
	// Hosts and UnixRPC put nodes on other addresses (network namespaces).
	Hosts   []string
	UnixRPC bool
	// Prefix, when set, gives the command prefix for node i (ip netns exec).
	Prefix func(i int) []string
	// Before runs after the homes are written and before any node starts.
	Before func(m *testnet.Manifest) error
	// CometTimeouts keeps CometBFT's default consensus timeouts (a
	// benchmark's settings) instead of the suite's 300 ms timeout_commit.
	CometTimeouts bool
	// PublicRPC makes the last PublicRPC nodes serve their RPC as a node
	// anyone can reach should: operator_queries off in app.toml, so they
	// refuse /invariants (tx/41), and readers paced by the default
	// query_budget_percent (FAULTS_QUERY_BUDGET=n measures another; a
	// local network's nodes, the operator's, do not pace readers). The first node stays the operator's. The
	// end checks ask the operator's node for the invariants; the others
	// are held to the same state by the block-hash comparison (each
	// header carries the app hash of the state before it).
	PublicRPC int
	// Monitor, for nodes in network namespaces, gives the command prefix
	// and address a Prometheus (FAULTS_PROMETHEUS) runs under and listens
	// on to reach them (NetLab.Monitor).
	Monitor func() (prefix []string, host string, err error)
}

// NewCluster writes a network, starts every node, waits for blocks and
// seeds the demo data, so the workload has programmes, tax types and
// accredited parties to work with. Everything stops when the test ends;
// if the test failed, the tail of every node's log is printed first.
func NewCluster(t testing.TB, o ClusterOptions) *Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("the fault suite starts tallyd processes")
	}
	if o.Validators == 0 {
		o.Validators = 4
	}
	dir := t.TempDir()
	opts := testnet.DefaultOptions()
	opts.Validators = o.Validators
	opts.ChainID = "tally-faults"
	opts.BasePort = freeBase(t)
	if !o.CometTimeouts {
		opts.TimeoutCommit = 300 * time.Millisecond
	}
	opts.Hosts = o.Hosts
	opts.UnixRPC = o.UnixRPC
	m, err := testnet.Init(filepath.Join(dir, "net"), opts)
	if err != nil {
		t.Fatal(err)
	}
	public := map[int]bool{}
	for i := len(m.Nodes) - min(o.PublicRPC, len(m.Nodes)-1); i < len(m.Nodes); i++ {
		comet, appCfg, err := node.LoadConfigs(m.Nodes[i].Home)
		if err != nil {
			t.Fatal(err)
		}
		appCfg.OperatorQueries = false
		appCfg.QueryBudgetPercent = app.DefaultQueryBudgetPercent // readers paced as on any public node
		if v, err := strconv.Atoi(os.Getenv("FAULTS_QUERY_BUDGET")); err == nil {
			appCfg.QueryBudgetPercent = v // measuring another budget
		}
		if err := node.WriteConfigs(m.Nodes[i].Home, comet, appCfg); err != nil {
			t.Fatal(err)
		}
		public[i] = true
	}
	if o.Before != nil {
		if err := o.Before(m); err != nil {
			t.Fatal(err)
		}
	}
	c := &Cluster{t: t, Dir: filepath.Join(dir, "net"), M: m, Net: testnet.NewNetwork(m, tallyd), expectedExits: map[string]bool{}, tolerated: map[string][][2]int64{}, Public: public}
	for i, n := range m.Nodes {
		if o.Prefix != nil {
			c.Net.SetCommand(n.Name, o.Prefix(i), nil)
		}
		cl, err := client.Dial(n.RPC)
		if err != nil {
			t.Fatal(err)
		}
		c.Clients = append(c.Clients, cl)
	}
	t.Cleanup(func() {
		if t.Failed() {
			c.DumpEvidence()
		}
		c.Net.StopAll()
	})
	if err := c.Net.StartAll(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := c.WaitAll(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := testnet.SeedDemo(ctx, c.Dir, m, func(string, ...any) {}); err != nil {
		t.Fatalf("seeding the demo data: %v", err)
	}
	watchAlerts(t, c, o) // FAULTS_PROMETHEUS: from the seeded, healthy network on
	return c
}

// Names are the nodes' names in manifest order.
func (c *Cluster) Names() []string {
	var out []string
	for _, n := range c.M.Nodes {
		out = append(out, n.Name)
	}
	return out
}

// Height is node i's latest committed height (0 when it does not answer).
func (c *Cluster) Height(ctx context.Context, i int) int64 {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := c.Clients[i].RPC.Status(ctx)
	if err != nil {
		return 0
	}
	return st.SyncInfo.LatestBlockHeight
}

// MaxHeight is the highest height any node reports.
func (c *Cluster) MaxHeight(ctx context.Context) int64 {
	var h int64
	for i := range c.Clients {
		h = max(h, c.Height(ctx, i))
	}
	return h
}

// WaitAll waits until every node reports at least height.
func (c *Cluster) WaitAll(ctx context.Context, height int64) error {
	for _, n := range c.M.Nodes {
		if err := c.Net.WaitHeight(ctx, n.Name, height); err != nil {
			return err
		}
	}
	return nil
}

// WaitProgress waits until any node of those listed (all when nil)
// commits a block above from, and says how long that took.
func (c *Cluster) WaitProgress(ctx context.Context, from int64, nodes []int) (time.Duration, error) {
	if nodes == nil {
		for i := range c.Clients {
			nodes = append(nodes, i)
		}
	}
	t0 := time.Now()
	for {
		for _, i := range nodes {
			if c.Height(ctx, i) > from {
				return time.Since(t0), nil
			}
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("no block above %d on nodes %v after %s", from, nodes, time.Since(t0).Round(time.Millisecond))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// WaitCaughtUp waits until node i reaches the height the others had when
// the wait began, and says how long that took.
func (c *Cluster) WaitCaughtUp(ctx context.Context, i int) (time.Duration, error) {
	t0 := time.Now()
	target := c.MaxHeight(ctx)
	for c.Height(ctx, i) < target {
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("%s stayed at %d below %d for %s", c.M.Nodes[i].Name, c.Height(ctx, i), target, time.Since(t0).Round(time.Millisecond))
		case <-time.After(50 * time.Millisecond):
		}
	}
	return time.Since(t0), nil
}

// ExpectExit marks node name's current process as one the scenario makes
// exit (a crash point), so its exit status is not a finding.
func (c *Cluster) ExpectExit(name string) { c.expectedExits[name] = true }

// Restart starts node name again after it stopped (crash or kill), with
// no environment changes.
func (c *Cluster) Restart(name string, prefix []string) error {
	c.Net.SetCommand(name, prefix, nil)
	delete(c.expectedExits, name)
	return c.Net.Start(name)
}

// Panics scans every node's log for a Go panic, a fatal runtime error or
// CometBFT's consensus failure, and for nodes that exited on their own.
func (c *Cluster) Panics() []string {
	var out []string
	for _, n := range c.M.Nodes {
		f, err := os.Open(n.LogFile)
		if err != nil {
			out = append(out, fmt.Sprintf("%s: no log: %v", n.Name, err))
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		line, off := 0, int64(0)
		for sc.Scan() {
			line++
			s := sc.Text()
			at := off
			off += int64(len(s)) + 1
			if strings.Contains(s, "CONSENSUS FAILURE") && c.isTolerated(n.Name, at) {
				continue
			}
			if strings.HasPrefix(s, "panic:") || strings.HasPrefix(s, "fatal error:") || strings.Contains(s, "CONSENSUS FAILURE") {
				out = append(out, fmt.Sprintf("%s log line %d: %s", n.Name, line, s))
			}
		}
		f.Close()
		if err := c.Net.ExitError(n.Name); err != nil && !c.expectedExits[n.Name] {
			out = append(out, fmt.Sprintf("%s exited on its own: %v", n.Name, err))
		}
	}
	return out
}

func (c *Cluster) isTolerated(name string, at int64) bool {
	for _, w := range c.tolerated[name] {
		if at >= w[0] && at < w[1] {
			return true
		}
	}
	return false
}

// DumpEvidence prints every node's height and app hash and the last lines
// of its log, for a failed scenario.
func (c *Cluster) DumpEvidence() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range c.Net.Statuses(ctx) {
		c.t.Logf("evidence: %s online=%v height=%d app_hash=%s err=%v", s.Name, s.Online, s.Height, s.AppHash, s.Err)
	}
	for _, n := range c.M.Nodes {
		b, err := os.ReadFile(n.LogFile)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		if len(lines) > 40 {
			lines = lines[len(lines)-40:]
		}
		c.t.Logf("evidence: last %d lines of %s:\n%s", len(lines), n.LogFile, strings.Join(lines, "\n"))
	}
}

// freeBase finds a base port with the ports a local network needs free
// (up to 10 validators, and a twin 50 ports up).
func freeBase(t testing.TB) int {
	t.Helper()
	base, err := testnet.FreeBasePort(100)
	if err != nil {
		t.Fatal(err)
	}
	return base
}

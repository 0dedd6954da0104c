package faults

// NetLab: test hosts in network namespaces, for the partition and
// degraded-network scenarios.
//
// A lab is one hub namespace holding a bridge, and n node namespaces, each
// with lo up and one veth (eth0 inside the node, v<i> in the hub) plugged
// into the bridge, addressed in a private /24 chosen from the prefix and
// the process id. Interfaces are created directly inside the lab's
// namespaces (`ip -n HUB link add ... peer ... netns NODE`), so nothing is
// added to the root namespace, and no address outside the lab is used.
//
// Faults are netfilter rules inside the node namespaces, on what arrives
// at eth0: a partition drops every packet from the peers a node may not
// hear (so established TCP connections go silent too, and CometBFT
// really loses its peers); loss drops a random share of what arrives
// (iptables statistic); delay holds every arriving packet for the given
// time, with tc netem on each node's eth0 where the kernel has it, and
// otherwise with an iptables NFQUEUE rule whose queue this process
// drains after the delay (see netlab_linux.go). Either way each packet is
// delayed once, on the link into the receiving node: a round trip between
// two nodes takes at least twice the delay.
//
// Everything is created and removed by the lab itself: Close deletes its
// namespaces (with them the veths, bridge, rules and qdiscs), and
// NewNetLab first removes what a crashed earlier run with the same prefix
// left behind.

import (
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// NetLab is a set of network namespaces standing for separate hosts.
// Its methods are safe for concurrent use.
type NetLab struct {
	prefix string
	hub    string   // hub namespace: the bridge
	nodes  []string // node namespaces
	hosts  []string // node i's address, in nodes[i]
	subnet string   // a.b.c.0/24

	mu      sync.Mutex
	closed  bool
	blocked [][]bool // blocked[i][j]: i hears nothing from j

	monitored bool // the hub's bridge has its address (Monitor)

	delayKind string // "netem", "nfqueue" or "" (unavailable)
	delayWhy  string // why delayKind is what it is
	queues    []*nlDelayQueue
	netemOn   bool
}

// ErrDelayUnavailable is returned (wrapped, with the reason) by Degrade
// asked for a delay when no delay mechanism works on this machine; the
// loss part has then been applied. DelayMechanism says the same.
var ErrDelayUnavailable = errors.New("network delay emulation unavailable")

const (
	nlNodeIf       = "eth0"       // each node's link, inside its namespace
	nlChainPart    = "TALLY-PART" // partition drops, on input from eth0
	nlChainDegrade = "TALLY-DEG"  // loss and delay, on input from eth0
	nlNfQueueNum   = 0
	nlMaxLabNodes  = 64
)

var nlPrefixRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,23}$`)

// Skipper is the part of testing.TB SkipIfUnavailable uses.
type Skipper interface {
	Helper()
	Skipf(format string, args ...any)
}

// SkipIfUnavailable skips the test, loudly, when network namespaces
// cannot be used here, saying why.
func SkipIfUnavailable(t Skipper) {
	t.Helper()
	if err := Available(); err != nil {
		t.Skipf("SKIPPED (no network namespaces): %v", err)
	}
}

var (
	nlAvailOnce sync.Once
	nlAvailErr  error
)

// Available says why network namespaces cannot be used by this process
// (not Linux, not root, a missing binary, `ip netns add` or iptables
// failing inside a namespace, no veth or bridge support), or nil. The
// answer is computed once per process.
func Available() error {
	nlAvailOnce.Do(func() { nlAvailErr = nlProbeAvailable() })
	return nlAvailErr
}

func nlProbeAvailable() error {
	if runtime.GOOS != "linux" {
		return fmt.Errorf("network namespaces need Linux, this is %s", runtime.GOOS)
	}
	if euid := os.Geteuid(); euid != 0 {
		return fmt.Errorf("not root (euid %d): creating network namespaces needs root", euid)
	}
	for _, b := range []struct{ bin, pkg string }{
		{"ip", "iproute2"}, {"tc", "iproute2"}, {"iptables", "iptables"}, {"iptables-restore", "iptables"},
	} {
		if _, err := exec.LookPath(b.bin); err != nil {
			return fmt.Errorf("no %s binary in PATH (Debian package %s): %v", b.bin, b.pkg, err)
		}
	}
	ns := fmt.Sprintf("tallyprobe-%d", os.Getpid())
	_ = nlRun("", "ip", "netns", "del", ns) // a leftover of this very pid
	if err := nlRun("", "ip", "netns", "add", ns); err != nil {
		return fmt.Errorf("ip netns add fails: %v", err)
	}
	defer nlRun("", "ip", "netns", "del", ns)
	if err := nlRun("", "ip", "-n", ns, "link", "add", "probe0", "type", "veth", "peer", "name", "probe1"); err != nil {
		return fmt.Errorf("cannot create a veth pair in a namespace: %v", err)
	}
	if err := nlRun("", "ip", "-n", ns, "link", "add", "probebr", "type", "bridge"); err != nil {
		return fmt.Errorf("cannot create a bridge in a namespace: %v", err)
	}
	if err := nlRun("", "ip", "netns", "exec", ns, "iptables", "-w", "-A", "INPUT", "-i", "probe0",
		"-m", "statistic", "--mode", "random", "--probability", "0.5", "-j", "DROP"); err != nil {
		return fmt.Errorf("iptables does not work inside a namespace: %v", err)
	}
	return nil
}

// nlActive holds the prefixes of this process's open labs.
var (
	nlActiveMu sync.Mutex
	nlActive   = map[string]bool{}
)

// NewNetLab creates a lab of n hosts whose namespaces are named after
// prefix (lower-case letters, digits and dashes, at most 24 characters)
// and this process id: "<prefix>-<pid>-hub" and "<prefix>-<pid>-<i>".
// It first deletes what an earlier, now dead, process left with the same
// prefix. Call Close when done, after stopping every process started in
// the lab.
func NewNetLab(prefix string, n int) (*NetLab, error) {
	if !nlPrefixRE.MatchString(prefix) {
		return nil, fmt.Errorf("netlab prefix %q: use 1 to 24 lower-case letters, digits and dashes, starting with a letter", prefix)
	}
	if n < 1 || n > nlMaxLabNodes {
		return nil, fmt.Errorf("netlab of %d nodes: choose 1 to %d", n, nlMaxLabNodes)
	}
	if err := Available(); err != nil {
		return nil, fmt.Errorf("no network namespaces: %w", err)
	}
	nlActiveMu.Lock()
	if nlActive[prefix] {
		nlActiveMu.Unlock()
		return nil, fmt.Errorf("a netlab with prefix %q is already open in this process", prefix)
	}
	nlActive[prefix] = true
	nlActiveMu.Unlock()

	if err := nlCleanLeftovers(prefix); err != nil {
		nlActiveMu.Lock()
		delete(nlActive, prefix)
		nlActiveMu.Unlock()
		return nil, err
	}

	pid := os.Getpid()
	h := fnv.New32a()
	fmt.Fprintf(h, "%s/%d", prefix, pid)
	sum := h.Sum32()
	a, b := 1+(sum>>8)%254, sum%256
	l := &NetLab{
		prefix: prefix,
		hub:    fmt.Sprintf("%s-%d-hub", prefix, pid),
		subnet: fmt.Sprintf("10.%d.%d.0/24", a, b),
	}
	for i := 0; i < n; i++ {
		l.nodes = append(l.nodes, fmt.Sprintf("%s-%d-%d", prefix, pid, i))
		l.hosts = append(l.hosts, fmt.Sprintf("10.%d.%d.%d", a, b, i+1))
	}
	l.blocked = make([][]bool, n)
	for i := range l.blocked {
		l.blocked[i] = make([]bool, n)
	}
	if err := l.setup(); err != nil {
		return nil, errors.Join(err, l.Close())
	}
	l.detectDelay()
	return l, nil
}

func (l *NetLab) setup() error {
	hub := l.hub
	steps := [][]string{
		{"netns", "add", hub},
		{"-n", hub, "link", "set", "lo", "up"},
		{"-n", hub, "link", "add", "br0", "type", "bridge"},
		{"-n", hub, "link", "set", "br0", "up"},
	}
	for i, ns := range l.nodes {
		v := fmt.Sprintf("v%d", i)
		steps = append(steps,
			[]string{"netns", "add", ns},
			[]string{"-n", ns, "link", "set", "lo", "up"},
			[]string{"-n", hub, "link", "add", v, "type", "veth", "peer", "name", nlNodeIf, "netns", ns},
			[]string{"-n", hub, "link", "set", v, "master", "br0"},
			[]string{"-n", hub, "link", "set", v, "up"},
			[]string{"-n", ns, "addr", "add", l.hosts[i] + "/24", "dev", nlNodeIf},
			[]string{"-n", ns, "link", "set", nlNodeIf, "up"},
		)
	}
	for _, s := range steps {
		if err := nlRun("", "ip", s...); err != nil {
			return fmt.Errorf("netlab %s: %w", l.prefix, err)
		}
	}
	rules := fmt.Sprintf("*filter\n:%[1]s - [0:0]\n:%[2]s - [0:0]\n-A INPUT -i %[3]s -j %[1]s\n-A INPUT -i %[3]s -j %[2]s\nCOMMIT\n",
		nlChainPart, nlChainDegrade, nlNodeIf)
	for i := range l.nodes {
		if err := l.restore(i, rules); err != nil {
			return err
		}
	}
	return nil
}

// detectDelay picks the delay mechanism: netem when the kernel has it,
// else an NFQUEUE drained by this process, checked end to end.
func (l *NetLab) detectDelay() {
	err := nlRun("", "ip", "netns", "exec", l.nodes[0], "tc", "qdisc", "add", "dev", nlNodeIf, "root", "netem", "delay", "1ms")
	if err == nil {
		_ = nlRun("", "ip", "netns", "exec", l.nodes[0], "tc", "qdisc", "del", "dev", nlNodeIf, "root")
		l.delayKind, l.delayWhy = "netem", "tc qdisc netem on each node's eth0"
		return
	}
	netemErr := strings.TrimSpace(nlLastLine(err.Error()))
	qs, qerr := l.startQueues()
	if qerr == nil {
		l.queues = qs
		qerr = l.probeQueue()
	}
	if qerr != nil {
		for _, q := range qs {
			q.close()
		}
		l.queues = nil
		l.delayWhy = fmt.Sprintf("unavailable: no netem (%s) and no NFQUEUE (%v)", netemErr, qerr)
		return
	}
	l.delayKind = "nfqueue"
	l.delayWhy = fmt.Sprintf("nfqueue: no netem in this kernel (%s); each node's arriving packets go to an iptables NFQUEUE that this process releases, in order, after the delay", netemErr)
}

// DelayMechanism says how Degrade delays packets: "netem: ...",
// "nfqueue: ..." or "unavailable: <reason>".
func (l *NetLab) DelayMechanism() string {
	if l.delayKind == "netem" {
		return "netem: " + l.delayWhy
	}
	return l.delayWhy
}

// Hosts returns each node's address, to give testnet.Options.Hosts.
func (l *NetLab) Hosts() []string { return append([]string(nil), l.hosts...) }

// Subnet returns the lab's private subnet, a.b.c.0/24.
func (l *NetLab) Subnet() string { return l.subnet }

// Namespace returns node i's namespace name.
func (l *NetLab) Namespace(i int) string { return l.nodes[i] }

// Prefix returns the command prefix that runs a program in node i's
// namespace: ip netns exec NS.
func (l *NetLab) Prefix(i int) []string { return []string{"ip", "netns", "exec", l.nodes[i]} }

// Monitor gives the hub's bridge the lab's address .254 (once) and returns
// it with the command prefix that runs a program in the hub: a monitoring
// server there reaches every node over its own link. Partitions drop only
// packets from the nodes' peers, so it keeps scraping a cut-off node, as
// an operator's monitoring on a separate network would; delay and loss
// apply to its packets too.
func (l *NetLab) Monitor() (prefix []string, host string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return nil, "", err
	}
	host = strings.TrimSuffix(l.subnet, "0/24") + "254"
	if !l.monitored {
		if err := nlRun("", "ip", "-n", l.hub, "addr", "add", host+"/24", "dev", "br0"); err != nil {
			return nil, "", fmt.Errorf("netlab %s: addressing the hub: %w", l.prefix, err)
		}
		l.monitored = true
	}
	return []string{"ip", "netns", "exec", l.hub}, host, nil
}

// Isolate cuts node i off: it hears no one and no one hears it; the other
// nodes still talk to each other. Partitions add up until Heal.
func (l *NetLab) Isolate(i int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return err
	}
	if i < 0 || i >= len(l.nodes) {
		return fmt.Errorf("netlab: no node %d (have %d)", i, len(l.nodes))
	}
	for j := range l.nodes {
		if j != i {
			l.blocked[i][j], l.blocked[j][i] = true, true
		}
	}
	return l.applyPartitions()
}

// Split partitions the lab: only nodes in the same group can talk. A node
// in no group is isolated. Partitions add up until Heal.
func (l *NetLab) Split(groups ...[]int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return err
	}
	group := make([]int, len(l.nodes))
	for i := range group {
		group[i] = -1 - i // alone
	}
	for g, members := range groups {
		for _, i := range members {
			if i < 0 || i >= len(l.nodes) {
				return fmt.Errorf("netlab: no node %d (have %d)", i, len(l.nodes))
			}
			if group[i] >= 0 {
				return fmt.Errorf("netlab: node %d is in two groups", i)
			}
			group[i] = g
		}
	}
	for i := range l.nodes {
		for j := range l.nodes {
			if i != j && group[i] != group[j] {
				l.blocked[i][j] = true
			}
		}
	}
	return l.applyPartitions()
}

// Heal removes every partition.
func (l *NetLab) Heal() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return err
	}
	for i := range l.blocked {
		clear(l.blocked[i])
	}
	return l.applyPartitions()
}

func (l *NetLab) applyPartitions() error {
	var errs []error
	for i := range l.nodes {
		var sb strings.Builder
		fmt.Fprintf(&sb, "*filter\n-F %s\n", nlChainPart)
		for j, b := range l.blocked[i] {
			if b {
				fmt.Fprintf(&sb, "-A %s -s %s/32 -j DROP\n", nlChainPart, l.hosts[j])
			}
		}
		sb.WriteString("COMMIT\n")
		if err := l.restore(i, sb.String()); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Degrade delays every packet on every link by delay and drops the share
// loss (0 to 1, exclusive) of them, replacing any earlier Degrade. Each
// packet is delayed once, on its way into the receiving node, so a round
// trip takes at least 2*delay. When no delay mechanism works here, the
// loss is applied and the error wraps ErrDelayUnavailable.
func (l *NetLab) Degrade(delay time.Duration, loss float64) error {
	if delay < 0 || loss < 0 || loss >= 1 {
		return fmt.Errorf("netlab: degrade by delay %v, loss %v: want delay >= 0 and 0 <= loss < 1", delay, loss)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return err
	}
	if err := l.restoreLocked(); err != nil {
		return err
	}
	var delayErr error
	useQueue := false
	if delay > 0 {
		switch l.delayKind {
		case "netem":
			for i, ns := range l.nodes {
				ms := strconv.FormatFloat(float64(delay)/float64(time.Millisecond), 'f', 3, 64) + "ms"
				if err := nlRun("", "ip", "netns", "exec", ns, "tc", "qdisc", "replace", "dev", nlNodeIf, "root", "netem", "delay", ms, "limit", "100000"); err != nil {
					return fmt.Errorf("netlab node %d: %w", i, err)
				}
				l.netemOn = true
			}
		case "nfqueue":
			for _, q := range l.queues {
				q.setDelay(delay)
			}
			useQueue = true
		default:
			delayErr = fmt.Errorf("%w: %s", ErrDelayUnavailable, l.delayWhy)
		}
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "*filter\n-F %s\n", nlChainDegrade)
	if loss > 0 {
		fmt.Fprintf(&sb, "-A %s -m statistic --mode random --probability %.6f -j DROP\n", nlChainDegrade, loss)
	}
	if useQueue {
		fmt.Fprintf(&sb, "-A %s -j NFQUEUE --queue-num %d\n", nlChainDegrade, nlNfQueueNum)
	}
	sb.WriteString("COMMIT\n")
	for i := range l.nodes {
		if err := l.restore(i, sb.String()); err != nil {
			return err
		}
	}
	return delayErr
}

// Restore undoes Degrade: no added delay or loss.
func (l *NetLab) Restore() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return err
	}
	return l.restoreLocked()
}

func (l *NetLab) restoreLocked() error {
	var errs []error
	for i := range l.nodes {
		if err := l.restore(i, fmt.Sprintf("*filter\n-F %s\nCOMMIT\n", nlChainDegrade)); err != nil {
			errs = append(errs, err)
		}
	}
	// The rule is gone: release what the queues still hold, at once.
	for _, q := range l.queues {
		q.setDelay(0)
	}
	if l.netemOn {
		for i, ns := range l.nodes {
			if err := nlRun("", "ip", "netns", "exec", ns, "tc", "qdisc", "del", "dev", nlNodeIf, "root"); err != nil {
				errs = append(errs, fmt.Errorf("netlab node %d: %w", i, err))
			}
		}
		l.netemOn = false
	}
	return errors.Join(errs...)
}

// Do runs fn on an OS thread that is inside node i's namespace; sockets
// fn opens (net.Listen, net.Dial) belong to that namespace for their whole
// life. fn must not start goroutines that expect to be in the namespace.
func (l *NetLab) Do(i int, fn func() error) error {
	if i < 0 || i >= len(l.nodes) {
		return fmt.Errorf("netlab: no node %d (have %d)", i, len(l.nodes))
	}
	return nlInNetns(l.nodes[i], fn)
}

// Close deletes every namespace of the lab, and with them its veths,
// bridge, rules and qdiscs, and stops the delay queues. Calling it again
// does nothing. It is an error if processes still run in the lab (they
// keep their network until they exit).
func (l *NetLab) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	queues := l.queues
	l.queues = nil
	l.mu.Unlock()

	for _, q := range queues {
		q.close()
	}
	var errs []error
	for _, ns := range append([]string{l.hub}, l.nodes...) {
		if out, err := exec.Command("ip", "netns", "pids", ns).Output(); err == nil {
			if pids := strings.Fields(string(out)); len(pids) > 0 {
				errs = append(errs, fmt.Errorf("netlab: processes %v still run in namespace %s: stop them before Close", pids, ns))
			}
		}
		if err := nlDelNetns(ns); err != nil {
			errs = append(errs, err)
		}
	}
	nlActiveMu.Lock()
	delete(nlActive, l.prefix)
	nlActiveMu.Unlock()
	return errors.Join(errs...)
}

func (l *NetLab) usable() error {
	if l.closed {
		return errors.New("netlab: closed")
	}
	return nil
}

// restore loads rules into node i's filter table, without flushing what
// it does not name (iptables-restore --noflush), atomically.
func (l *NetLab) restore(i int, rules string) error {
	if err := nlRun(rules, "ip", "netns", "exec", l.nodes[i], "iptables-restore", "-w", "--noflush"); err != nil {
		return fmt.Errorf("netlab node %d: %w", i, err)
	}
	return nil
}

// nlNamespaces lists the named network namespaces.
func nlNamespaces() ([]string, error) {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return nil, fmt.Errorf("ip netns list: %w", err)
	}
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names, nil
}

func nlDelNetns(ns string) error {
	if _, err := os.Stat("/run/netns/" + ns); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return nlRun("", "ip", "netns", "del", ns)
}

// nlCleanLeftovers deletes the namespaces "<prefix>-<pid>-..." of processes
// that are gone, and of this process when it has no open lab so named.
func nlCleanLeftovers(prefix string) error {
	names, err := nlNamespaces()
	if err != nil {
		return err
	}
	var errs []error
	for _, ns := range names {
		rest, ok := strings.CutPrefix(ns, prefix+"-")
		if !ok {
			continue
		}
		pidStr, suffix, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if !ok || err != nil || pid <= 0 {
			continue
		}
		if _, err := strconv.Atoi(suffix); err != nil && suffix != "hub" {
			continue
		}
		if pid != os.Getpid() && nlPidAlive(pid) {
			continue
		}
		if err := nlDelNetns(ns); err != nil {
			errs = append(errs, fmt.Errorf("removing leftover namespace: %w", err))
		}
	}
	return errors.Join(errs...)
}

func nlRun(stdin string, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func nlLastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

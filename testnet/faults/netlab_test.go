package faults

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestNetLab checks the network lab on its own, with TCP echo servers
// listening inside the node namespaces: connectivity, Isolate, Split,
// Heal, Degrade (delay measured as a lower bound), Restore, and that Close
// leaves no namespace behind.
func TestNetLab(t *testing.T) {
	SkipIfUnavailable(t)
	const prefix = "tally-nltest"

	// What a crashed earlier run left: a namespace named after a dead pid.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	leftover := fmt.Sprintf("%s-%d-hub", prefix, dead.Process.Pid)
	if nlPidAlive(dead.Process.Pid) {
		t.Fatalf("pid %d of an exited process is alive again", dead.Process.Pid)
	}
	if err := nlRun("", "ip", "netns", "add", leftover); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nlDelNetns(leftover) })

	lab, err := NewNetLab(prefix, 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := lab.Close(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	if names, _ := nlNamespaces(); nlContains(names, leftover) {
		t.Errorf("NewNetLab left the leftover namespace %s of a dead run", leftover)
	}
	hosts := lab.Hosts()
	t.Logf("hosts %v, delay mechanism %s", hosts, lab.DelayMechanism())

	// Prefix runs programs inside the node's namespace.
	for i, h := range hosts {
		args := append(lab.Prefix(i), "ip", "-4", "-o", "addr", "show", "dev", nlNodeIf)
		out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), " "+h+"/24 ") {
			t.Fatalf("%v: %v: %s (want %s)", args, err, out, h)
		}
	}

	echo := nlStartEchoServers(t, lab, 7070)
	all := func(i, j int) bool { return true }
	without0 := func(i, j int) bool { return i != 0 && j != 0 }

	nlCheckMatrix(t, "start", lab, echo, all)

	// An established connection 1→0 goes silent when 0 is isolated, and
	// recovers on heal.
	est, err := nlDialFrom(lab, 1, echo[0], 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer est.Close()
	if _, err := nlRoundTrip(est, 3*time.Second); err != nil {
		t.Fatalf("established 1→0 before isolation: %v", err)
	}

	nlMust(t, lab.Isolate(0))
	nlCheckMatrix(t, "Isolate(0)", lab, echo, without0)
	if _, err := nlRoundTrip(est, 500*time.Millisecond); err == nil {
		t.Errorf("established 1→0 still echoes after Isolate(0)")
	}
	nlMust(t, lab.Heal())
	nlCheckMatrix(t, "Heal after Isolate", lab, echo, all)
	var got []byte
	_ = est.SetReadDeadline(time.Now().Add(5 * time.Second))
	got = make([]byte, 1)
	if _, err := io.ReadFull(est, got); err != nil {
		t.Errorf("established 1→0 did not recover after Heal: %v", err)
	}

	nlMust(t, lab.Split([]int{0}, []int{1, 2}))
	nlCheckMatrix(t, "Split({0},{1,2})", lab, echo, without0)
	nlMust(t, lab.Heal())
	nlCheckMatrix(t, "Heal after Split", lab, echo, all)
	if err := lab.Split([]int{0, 1}, []int{1}); err == nil {
		t.Errorf("Split with node 1 in two groups: no error")
	}

	// Delay: a round trip crosses two links, each delayed once.
	base, err := nlMeasure(lab, 0, echo[1])
	if err != nil {
		t.Fatal(err)
	}
	const delay = 200 * time.Millisecond
	err = lab.Degrade(delay, 0)
	if strings.HasPrefix(lab.DelayMechanism(), "unavailable") {
		if !errors.Is(err, ErrDelayUnavailable) {
			t.Errorf("Degrade with no delay mechanism: err %v, want ErrDelayUnavailable", err)
		}
		t.Logf("DELAY NOT TESTED: %s", lab.DelayMechanism())
	} else {
		nlMust(t, err)
		rtt, err := nlMeasure(lab, 0, echo[1])
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("round trip 0→1→0: %v before Degrade(%v, 0), %v during", base, delay, rtt)
		if rtt < delay {
			t.Errorf("round trip under Degrade(%v): %v, want at least %v", delay, rtt, delay)
		}
		nlCheckMatrix(t, "Degrade(200ms, 0)", lab, echo, all)
	}

	// Delay and loss together: both rules are there, and TCP still works.
	err = lab.Degrade(delay, 0.05)
	if err != nil && !errors.Is(err, ErrDelayUnavailable) {
		t.Fatal(err)
	}
	for i := range hosts {
		rules := nlChainRules(t, lab, i)
		if m := regexp.MustCompile(`statistic --mode random --probability ([0-9.]+) -j DROP`).FindStringSubmatch(rules); m == nil || !nlNear(m[1], 0.05) {
			t.Errorf("node %d: no loss rule after Degrade(200ms, 0.05):\n%s", i, rules)
		}
		if lab.delayKind == "nfqueue" && !strings.Contains(rules, "NFQUEUE") {
			t.Errorf("node %d: no NFQUEUE rule after Degrade(200ms, 0.05):\n%s", i, rules)
		}
	}
	nlCheckMatrix(t, "Degrade(200ms, 0.05)", lab, echo, all)
	nlMust(t, lab.Restore())
	for i := range hosts {
		if rules := nlChainRules(t, lab, i); strings.Contains(rules, "-A ") {
			t.Errorf("node %d: rules left after Restore:\n%s", i, rules)
		}
	}
	after, err := nlMeasure(lab, 0, echo[1])
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("round trip 0→1→0 after Restore: %v", after)
	nlCheckMatrix(t, "Restore", lab, echo, all)
	if err := lab.Degrade(0, 1); err == nil {
		t.Errorf("Degrade with loss 1: no error")
	}

	// Close removes every namespace, and twice is fine.
	est.Close()
	echo.close()
	nlMust(t, lab.Close())
	nlMust(t, lab.Close())
	names, err := nlNamespaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range names {
		if strings.HasPrefix(ns, prefix+"-") {
			t.Errorf("namespace %s left after Close", ns)
		}
	}
	if err := lab.Isolate(1); err == nil {
		t.Errorf("Isolate after Close: no error")
	}
}

func TestNetLabPrefixes(t *testing.T) {
	if _, err := NewNetLab("Bad Prefix", 2); err == nil {
		t.Errorf("NewNetLab accepted a bad prefix")
	}
	if _, err := NewNetLab("tally-nlbad", 0); err == nil {
		t.Errorf("NewNetLab accepted 0 nodes")
	}
}

func nlMust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func nlNear(s string, want float64) bool {
	f, err := strconv.ParseFloat(s, 64)
	return err == nil && f > want-1e-6 && f < want+1e-6
}

func nlContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// nlChainRules lists node i's degrade chain.
func nlChainRules(t *testing.T, lab *NetLab, i int) string {
	t.Helper()
	args := append(lab.Prefix(i), "iptables", "-w", "-S", nlChainDegrade)
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %v: %s", args, err, out)
	}
	return string(out)
}

// nlEchoServers are TCP echo servers, one per node, each listening on its
// node's address inside the node's namespace.
type nlEchoServers []string

var (
	nlEchoMu    sync.Mutex
	nlEchoConns = map[io.Closer]bool{}
)

func (e nlEchoServers) close() {
	nlEchoMu.Lock()
	defer nlEchoMu.Unlock()
	for c := range nlEchoConns {
		c.Close()
	}
	clear(nlEchoConns)
}

func nlStartEchoServers(t *testing.T, lab *NetLab, port int) nlEchoServers {
	t.Helper()
	var addrs nlEchoServers
	for i, h := range lab.Hosts() {
		addr := net.JoinHostPort(h, fmt.Sprint(port))
		var ln net.Listener
		if err := lab.Do(i, func() (err error) {
			ln, err = net.Listen("tcp", addr)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		nlEchoMu.Lock()
		nlEchoConns[ln] = true
		nlEchoMu.Unlock()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				nlEchoMu.Lock()
				nlEchoConns[c] = true
				nlEchoMu.Unlock()
				go func() {
					_, _ = io.Copy(c, c)
					c.Close()
				}()
			}
		}()
		addrs = append(addrs, addr)
	}
	t.Cleanup(addrs.close)
	return addrs
}

func nlDialFrom(lab *NetLab, from int, addr string, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	err := lab.Do(from, func() (err error) {
		c, err = net.DialTimeout("tcp", addr, timeout)
		return err
	})
	return c, err
}

// nlRoundTrip sends one byte and waits for its echo.
func nlRoundTrip(c net.Conn, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	_ = c.SetDeadline(start.Add(timeout))
	if _, err := c.Write([]byte{'x'}); err != nil {
		return 0, err
	}
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// nlMeasure connects from node from to addr and times one echo round trip
// (the connection setup not included).
func nlMeasure(lab *NetLab, from int, addr string) (time.Duration, error) {
	c, err := nlDialFrom(lab, from, addr, 5*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return nlRoundTrip(c, 5*time.Second)
}

// nlCheckMatrix tries every ordered pair of nodes at once: pairs that can
// talk must connect and echo within a few seconds (loss may cost a
// retransmission); the others must not connect within 400 ms.
func nlCheckMatrix(t *testing.T, step string, lab *NetLab, echo nlEchoServers, canTalk func(i, j int) bool) {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var bad []string
	for i := range echo {
		for j := range echo {
			if i == j {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				want := canTalk(i, j)
				timeout := 400 * time.Millisecond
				if want {
					timeout = 8 * time.Second
				}
				var err error
				if c, derr := nlDialFrom(lab, i, echo[j], timeout); derr != nil {
					err = derr
				} else {
					_, err = nlRoundTrip(c, timeout)
					c.Close()
				}
				if got := err == nil; got != want {
					mu.Lock()
					bad = append(bad, fmt.Sprintf("%d→%d: reachable %v, want %v (%v)", i, j, got, want, err))
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	if len(bad) > 0 {
		t.Errorf("%s:\n  %s", step, strings.Join(bad, "\n  "))
	}
}

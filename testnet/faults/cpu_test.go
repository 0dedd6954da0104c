package faults

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"
)

// On one shared machine a block interval measures how much CPU the nodes
// got, so a measurement that compares intervals says where the CPU went:
// each node process, this test process (the workload and any attacker it
// runs) and the whole machine (other engineers' builds included), read
// from /proc over a window. Linux only; elsewhere the figures are zero.

// clockTick is the unit of /proc's CPU times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// cpuSample is the CPU time used so far by each node, this process and
// the machine (all cores), at one moment.
type cpuSample struct {
	at      time.Time
	nodes   []time.Duration
	self    time.Duration
	machine time.Duration
}

// CPUUse is the CPU time spent over a window: by each node (in the
// cluster's order), by this test process and by the whole machine.
type CPUUse struct {
	Wall    time.Duration
	Nodes   []time.Duration
	Self    time.Duration
	Machine time.Duration
}

func (c *Cluster) cpuSample() cpuSample {
	s := cpuSample{at: time.Now(), self: procCPU(os.Getpid()), machine: machineCPU()}
	for _, n := range c.M.Nodes {
		s.nodes = append(s.nodes, procCPU(c.Net.Pid(n.Name)))
	}
	return s
}

// since is the CPU spent from s0 to s.
func (s cpuSample) since(s0 cpuSample) CPUUse {
	u := CPUUse{Wall: s.at.Sub(s0.at), Self: s.self - s0.self, Machine: s.machine - s0.machine}
	for i := range s.nodes {
		u.Nodes = append(u.Nodes, s.nodes[i]-s0.nodes[i])
	}
	return u
}

// sumCPU adds up the CPU spent over several windows.
func sumCPU(us []CPUUse) CPUUse {
	var t CPUUse
	for _, u := range us {
		t.Wall += u.Wall
		t.Self += u.Self
		t.Machine += u.Machine
		for i, d := range u.Nodes {
			if i >= len(t.Nodes) {
				t.Nodes = append(t.Nodes, 0)
			}
			t.Nodes[i] += d
		}
	}
	return t
}

// String gives each figure as a share of one core over the window.
func (u CPUUse) String() string {
	if u.Wall <= 0 {
		return "no window"
	}
	pct := func(d time.Duration) string { return fmt.Sprintf("%.0f%%", 100*float64(d)/float64(u.Wall)) }
	var nodes []string
	for _, d := range u.Nodes {
		nodes = append(nodes, pct(d))
	}
	return fmt.Sprintf("over %s: nodes %s, test process %s, whole machine %s (of %d%%), in cores",
		u.Wall.Round(time.Second), strings.Join(nodes, " "), pct(u.Self), pct(u.Machine), 100*numCPU())
}

// procCPU is a process's user+system CPU time so far, from /proc/pid/stat.
func procCPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; fields count from
	// after its closing parenthesis: utime and stime are 14 and 15.
	rest := string(b)
	if i := strings.LastIndexByte(rest, ')'); i >= 0 {
		rest = rest[i+1:]
	}
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * clockTick
}

// machineCPU is the busy time of all cores so far, from /proc/stat.
func machineCPU() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	var busy int64
	for i, v := range f[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		if i >= 8 { // guest times are already in user
			break
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		busy += n
	}
	return time.Duration(busy) * clockTick
}

func numCPU() int {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 1
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "cpu") && !strings.HasPrefix(line, "cpu ") {
			n++
		}
	}
	return max(n, 1)
}

// profileWindow writes CPU profiles of the given nodes (their pprof
// listeners) and of this test process over d into dir, when dir is not
// empty (HOSTILE_PPROF). It returns when the profiles are written.
func (c *Cluster) profileWindow(ctx context.Context, dir string, d time.Duration, nodes ...int) error {
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	self, err := os.Create(filepath.Join(dir, "test.pprof"))
	if err != nil {
		return err
	}
	defer self.Close()
	if err := pprof.StartCPUProfile(self); err != nil {
		return err
	}
	end := time.After(d)
	errs := make(chan error, len(nodes))
	for _, i := range nodes {
		go func() {
			n := c.M.Nodes[i]
			url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", n.Pprof, int(d.Seconds()))
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				errs <- err
				return
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- fmt.Errorf("profile of %s: %w", n.Name, err)
				return
			}
			defer res.Body.Close()
			f, err := os.Create(filepath.Join(dir, n.Name+".pprof"))
			if err != nil {
				errs <- err
				return
			}
			_, err = io.Copy(f, res.Body)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			errs <- err
		}()
	}
	var first error
	for range nodes {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	select {
	case <-end:
	case <-ctx.Done():
	}
	pprof.StopCPUProfile()
	return first
}

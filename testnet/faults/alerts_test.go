package faults

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tallyledger/tally/monitoring"
)

// FAULTS_PROMETHEUS runs a real Prometheus beside each scenario's network,
// with the repository's configuration and alert rules, and reports which
// alerts went pending (their condition held) and which fired during the
// scenario. "1" loads the rules as shipped; a duration ("10s") sets every
// rule's `for:` to it in the server's copy (monitoring.Options.For), since
// a scenario's faults last seconds where an operator's rules wait
// minutes. The expressions (and their range windows) are always the
// shipped ones. Each scenario logs an "ALERTS" line; FAULTS_ALERTS names
// a file that gets one JSON line per scenario.
var promSetting = os.Getenv("FAULTS_PROMETHEUS")

// alertSeen is one alert's course during a scenario.
type alertSeen struct {
	Alert    string  `json:"alert"`
	Instance string  `json:"instance,omitempty"`
	Node     string  `json:"node,omitempty"`
	Pending  float64 `json:"pending_after_s"`         // first seen pending or firing, seconds after the watch began
	Fired    float64 `json:"fired_after_s,omitempty"` // first seen firing; 0 if it never fired
}

// alertWatch polls a Prometheus server's alerts while a scenario runs.
type alertWatch struct {
	prom   *monitoring.Server
	start  time.Time
	names  map[string]string // metrics address → node name
	mu     sync.Mutex
	seen   map[string]*alertSeen
	stop   chan struct{}
	done   chan struct{}
	err    error
	faults []string // "at N s: what", as the scenario injected them
}

// activeWatch is the running scenario's watch (scenarios run one at a
// time), so Scenario.Fault can mark when each fault began.
var (
	activeMu    sync.Mutex
	activeWatch *alertWatch
)

// noteFault records, on the running watch if any, when a fault began.
func noteFault(what string) {
	activeMu.Lock()
	w := activeWatch
	activeMu.Unlock()
	if w == nil {
		return
	}
	w.mu.Lock()
	w.faults = append(w.faults, fmt.Sprintf("at %.0f s: %s", time.Since(w.start).Seconds(), what))
	w.mu.Unlock()
}

// watchAlerts starts Prometheus for the cluster when FAULTS_PROMETHEUS is
// set (nil otherwise, or when it is not installed: the scenario says so).
func watchAlerts(t testing.TB, c *Cluster, o ClusterOptions) *alertWatch {
	t.Helper()
	if promSetting == "" {
		return nil
	}
	var forDur time.Duration
	if promSetting != "1" {
		d, err := time.ParseDuration(promSetting)
		if err != nil || d <= 0 {
			t.Fatalf("FAULTS_PROMETHEUS=%q: want 1 or a duration such as 10s", promSetting)
		}
		forDur = d
	}
	opts := monitoring.Options{Dir: filepath.Join(c.Dir, "prometheus"), For: forDur}
	names := map[string]string{}
	for _, n := range c.M.Nodes {
		opts.Targets = append(opts.Targets, n.Metrics)
		names[n.Metrics] = n.Name
	}
	host := "127.0.0.1"
	if o.Monitor != nil {
		prefix, h, err := o.Monitor()
		if err != nil {
			t.Fatalf("FAULTS_PROMETHEUS: %v", err)
		}
		opts.Prefix, host = prefix, h
	}
	opts.Listen = fmt.Sprintf("%s:%d", host, freeBase(t))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	prom, err := monitoring.Start(ctx, opts)
	if errors.Is(err, monitoring.ErrNotInstalled) {
		t.Logf("FAULTS_PROMETHEUS: %v; no alerts watched", err)
		return nil
	}
	if err != nil {
		t.Fatalf("FAULTS_PROMETHEUS: %v", err)
	}
	w := &alertWatch{prom: prom, start: time.Now(), names: names, seen: map[string]*alertSeen{}, stop: make(chan struct{}), done: make(chan struct{})}
	activeMu.Lock()
	activeWatch = w
	activeMu.Unlock()
	go w.run()
	t.Cleanup(func() { w.finish(t) }) // runs before the cluster's cleanup stops the nodes
	return w
}

func (w *alertWatch) run() {
	defer close(w.done)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		alerts, err := w.prom.Alerts(ctx)
		cancel()
		at := time.Since(w.start).Seconds()
		w.mu.Lock()
		if err != nil {
			w.err = err
		}
		for _, a := range alerts {
			k := a.Name + "|" + a.Instance
			s := w.seen[k]
			if s == nil {
				s = &alertSeen{Alert: a.Name, Instance: a.Instance, Node: w.names[a.Instance], Pending: at}
				w.seen[k] = s
			}
			if a.State == "firing" && s.Fired == 0 {
				s.Fired = at
			}
		}
		w.mu.Unlock()
		select {
		case <-w.stop:
			return
		case <-time.After(2 * time.Second):
		}
	}
}

// finish stops the watch and the server and reports what was seen.
func (w *alertWatch) finish(t testing.TB) {
	activeMu.Lock()
	if activeWatch == w {
		activeWatch = nil
	}
	activeMu.Unlock()
	close(w.stop)
	<-w.done
	w.prom.Stop()
	w.mu.Lock()
	defer w.mu.Unlock()
	var list []alertSeen
	for _, s := range w.seen {
		list = append(list, *s)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Pending < list[j].Pending })
	var parts []string
	for _, s := range list {
		state := "pending only"
		if s.Fired > 0 {
			state = fmt.Sprintf("fired at %.0f s", s.Fired)
		}
		parts = append(parts, fmt.Sprintf("%s on %s (pending at %.0f s, %s)", s.Alert, orDash(s.Node, s.Instance), s.Pending, state))
	}
	if len(parts) == 0 {
		parts = []string{"none"}
	}
	t.Logf("ALERTS %s (rules for: %s, watched %.0f s): %s", t.Name(), promSetting, time.Since(w.start).Seconds(), strings.Join(parts, "; "))
	t.Logf("ALERTS %s: faults %s", t.Name(), strings.Join(w.faults, "; "))
	if w.err != nil {
		t.Logf("ALERTS %s: reading alerts failed at least once: %v", t.Name(), w.err)
	}
	if path := os.Getenv("FAULTS_ALERTS"); path != "" {
		b, _ := json.Marshal(struct {
			Scenario string      `json:"scenario"`
			For      string      `json:"for"`
			Watched  float64     `json:"watched_s"`
			Faults   []string    `json:"faults"`
			Alerts   []alertSeen `json:"alerts"`
		}{t.Name(), promSetting, time.Since(w.start).Seconds(), w.faults, list})
		if f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err == nil {
			fmt.Fprintf(f, "%s\n", b)
			f.Close()
		}
	}
}

func orDash(s, alt string) string {
	if s != "" {
		return s
	}
	if alt != "" {
		return alt
	}
	return "-"
}

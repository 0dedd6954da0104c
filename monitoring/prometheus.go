// Package monitoring holds the Prometheus configuration, alert rules and
// dashboard for Tally validators (the YAML and JSON files beside this one),
// and runs a real Prometheus with them beside a test network, for the tests
// and the fault suite to see which alerts fire.
package monitoring

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Config is the repository's prometheus.yml.
//
//go:embed prometheus.yml
var Config string

// Rules is the repository's alerts.yml, the rules operators run.
//
//go:embed alerts.yml
var Rules string

// targetsLine is the scrape target list in Config, replaced by a
// network's own metrics addresses.
var targetsLine = regexp.MustCompile(`(?m)^(\s+- targets: )\[.*\]$`)

// ConfigFor is the repository's prometheus.yml scraping targets (host:port
// of each node's metrics) instead of the one node it lists.
func ConfigFor(targets []string) (string, error) {
	if len(targets) == 0 {
		return "", fmt.Errorf("prometheus: no targets to scrape")
	}
	if n := len(targetsLine.FindAllString(Config, -1)); n != 1 {
		return "", fmt.Errorf("prometheus.yml: %d lines of scrape targets to replace, want 1", n)
	}
	var quoted []string
	for _, t := range targets {
		quoted = append(quoted, fmt.Sprintf("%q", t))
	}
	list := "[" + strings.Join(quoted, ", ") + "]"
	return targetsLine.ReplaceAllLiteralString(Config, targetsLine.FindStringSubmatch(Config)[1]+list), nil
}

// ErrNotInstalled is returned by Start when no prometheus binary is found.
var ErrNotInstalled = errors.New("prometheus is not installed (apt-get install prometheus; .ci/run installs it)")

// Options say how to run Prometheus.
type Options struct {
	Dir     string   // configuration, data and log go here
	Targets []string // host:port of each node's metrics
	Listen  string   // the web address, host:port
	// For, when positive, replaces every rule's `for:` duration with this
	// one, in the copy of the rules the server loads: a test sees an alert
	// fire without waiting the minutes an operator's rule waits. The
	// repository's rules are not changed.
	For time.Duration
	// Prefix runs Prometheus under a command prefix (ip netns exec NS);
	// the server's API is then read with curl under the same prefix (its
	// address is not reachable from here).
	Prefix []string
}

// Server is a running Prometheus.
type Server struct {
	cmd    *exec.Cmd
	prefix []string
	base   string
	log    string
	done   chan struct{}
}

var forLine = regexp.MustCompile(`(?m)^(\s+)for: \S+$`)

// RulesWithFor is Rules with every `for:` duration set to d.
func RulesWithFor(d time.Duration) string {
	return forLine.ReplaceAllString(Rules, fmt.Sprintf("${1}for: %s", promDuration(d)))
}

// promDuration writes d as Prometheus reads durations (whole seconds or
// milliseconds).
func promDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dms", d/time.Millisecond)
}

// Start writes the configuration (the repository's, scraping o.Targets)
// and rules into o.Dir and starts Prometheus; it returns once the server
// answers. Stop ends it.
func Start(ctx context.Context, o Options) (*Server, error) {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		return nil, ErrNotInstalled
	}
	cfg, err := ConfigFor(o.Targets)
	if err != nil {
		return nil, err
	}
	rules := Rules
	if o.For > 0 {
		rules = RulesWithFor(o.For)
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(o.Dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(o.Dir, "alerts.yml"), []byte(rules), 0o644); err != nil {
		return nil, err
	}
	args := append(append([]string{}, o.Prefix...), bin, "--config.file", filepath.Join(o.Dir, "prometheus.yml"),
		"--storage.tsdb.path", filepath.Join(o.Dir, "data"), "--web.listen-address", o.Listen)
	logPath := filepath.Join(o.Dir, "prometheus.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting prometheus: %w", err)
	}
	s := &Server{cmd: cmd, prefix: o.Prefix, base: "http://" + o.Listen, log: logPath, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(s.done)
	}()
	for {
		if _, err := s.read(ctx, "/-/ready"); err == nil {
			return s, nil
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("prometheus exited: %s", s.LogTail(2000))
		case <-ctx.Done():
			s.Stop()
			return nil, fmt.Errorf("prometheus did not become ready: %w; log: %s", ctx.Err(), s.LogTail(2000))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Base is the server's URL.
func (s *Server) Base() string { return s.base }

// LogTail is the last n bytes of the server's log.
func (s *Server) LogTail(n int) string {
	b, _ := os.ReadFile(s.log)
	return string(b[max(0, len(b)-n):])
}

// Stop ends the server (the process it started, by its PID) and waits.
func (s *Server) Stop() {
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// Alert is one alert as the server reports it.
type Alert struct {
	Name     string // the rule's alert name
	Instance string // the scraped node, when the alert has one
	State    string // "pending" (condition true, waiting its for:) or "firing"
	Labels   map[string]string
}

// Alerts are the server's current pending and firing alerts
// (/api/v1/alerts), sorted by name and instance.
func (s *Server) Alerts(ctx context.Context) ([]Alert, error) {
	var body struct {
		Status string
		Data   struct {
			Alerts []struct {
				Labels map[string]string
				State  string
			}
		}
	}
	if err := s.get(ctx, "/api/v1/alerts", &body); err != nil {
		return nil, err
	}
	var out []Alert
	for _, a := range body.Data.Alerts {
		out = append(out, Alert{Name: a.Labels["alertname"], Instance: a.Labels["instance"], State: a.State, Labels: a.Labels})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Instance < out[j].Instance
	})
	return out, nil
}

// Query evaluates an instant PromQL query and returns each sample's value
// by its instance label.
func (s *Server) Query(ctx context.Context, q string) (map[string]string, error) {
	var body struct {
		Status string
		Data   struct {
			Result []struct {
				Metric map[string]string
				Value  [2]any
			}
		}
	}
	if err := s.get(ctx, "/api/v1/query?query="+url.QueryEscape(q), &body); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, r := range body.Data.Result {
		out[r.Metric["instance"]] = fmt.Sprint(r.Value[1])
	}
	return out, nil
}

// Scrape reads a node's metrics endpoint (host:port) once, as Prometheus
// would: each sample's value by its series as the endpoint writes it
// (name{label="value",...}, labels in name order).
func Scrape(ctx context.Context, addr string) (map[string]float64, error) {
	body, err := httpGet(ctx, "http://"+addr+"/metrics")
	if err != nil {
		return nil, fmt.Errorf("metrics of %s: %w", addr, err)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i <= 0 {
			return nil, fmt.Errorf("metrics of %s: line %q has no value", addr, line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics of %s: line %q: %w", addr, line, err)
		}
		out[line[:i]] = v
	}
	return out, sc.Err()
}

func (s *Server) get(ctx context.Context, path string, into any) error {
	b, err := s.read(ctx, path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, into)
}

// read GETs path from the server's API.
func (s *Server) read(ctx context.Context, path string) ([]byte, error) {
	if len(s.prefix) > 0 {
		args := append(append([]string{}, s.prefix[1:]...), "curl", "-sf", "--max-time", "10", s.base+path)
		out, err := exec.CommandContext(ctx, s.prefix[0], args...).Output()
		if err != nil {
			return nil, fmt.Errorf("prometheus %s (curl in %v): %w", path, s.prefix, err)
		}
		return out, nil
	}
	b, err := httpGet(ctx, s.base+path)
	if err != nil {
		return nil, fmt.Errorf("prometheus %s: %w", path, err)
	}
	return b, nil
}

// httpGet GETs target and returns the body of a 200 answer.
func httpGet(ctx context.Context, target string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s", res.Status)
	}
	return io.ReadAll(res.Body)
}

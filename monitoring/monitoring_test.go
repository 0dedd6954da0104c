package monitoring

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// promtool returns the path of Prometheus' promtool (Debian's prometheus
// package; .ci/run installs it).
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("SKIPPED (promtool is not installed: apt-get install prometheus; .ci/run installs it): the alert rules were not checked")
	}
	return p
}

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(promtool(t), args...).CombinedOutput()
	return string(out), err
}

// The configuration and rules load, and every alert fires when, and only
// when, its unit test says.
func TestPrometheusConfigAndAlertRules(t *testing.T) {
	for _, args := range [][]string{
		{"check", "config", "prometheus.yml"},
		{"check", "rules", "alerts.yml"},
		{"test", "rules", "alerts_test.yml"},
	} {
		if out, err := run(t, args...); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// A typo in a rule file fails the check, so CI cannot pass with one.
func TestARuleFileWithATypoFailsTheCheck(t *testing.T) {
	b, err := os.ReadFile("alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	for name, typo := range map[string]string{
		"misspelt function": strings.Replace(string(b), "increase(", "increse(", 1),
		"broken YAML":       strings.Replace(string(b), "    rules:", "    rules", 1),
		"unbalanced expr":   strings.Replace(string(b), "up{job=\"tally\"} == 0", "up{job=\"tally\" == 0", 1),
	} {
		if typo == string(b) {
			t.Fatalf("%s: the typo was not introduced", name)
		}
		path := filepath.Join(t.TempDir(), "alerts.yml")
		if err := os.WriteFile(path, []byte(typo), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := run(t, "check", "rules", path); err == nil {
			t.Errorf("%s: promtool accepted it:\n%s", name, out)
		}
	}
}

// The dashboard is valid JSON and every panel's query parses as PromQL
// (promtool checks each as a rule expression).
func TestDashboardQueriesParse(t *testing.T) {
	b, err := os.ReadFile("grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	n := 0
	for _, p := range d.Panels {
		for _, q := range p.Targets {
			n++
			fmt.Fprintf(&rules, "      - record: dashboard:panel_%d\n        expr: %q\n", n, q.Expr)
		}
	}
	if n < 10 {
		t.Fatalf("only %d queries in the dashboard", n)
	}
	path := filepath.Join(t.TempDir(), "dashboard-rules.yml")
	if err := os.WriteFile(path, []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, "check", "rules", path); err != nil {
		t.Errorf("a dashboard query does not parse: %v\n%s", err, out)
	}
}

// The rules a test server loads with shorter `for:` durations are still
// valid rules, with every `for:` replaced and nothing else changed.
func TestRulesWithForAreValidRules(t *testing.T) {
	short := RulesWithFor(5 * time.Second)
	if n := strings.Count(Rules, "for: "); n < 5 || strings.Count(short, "for: 5s") != n {
		t.Fatalf("%d for: lines, %d replaced", n, strings.Count(short, "for: 5s"))
	}
	if forLine.ReplaceAllString(short, "") != forLine.ReplaceAllString(Rules, "") {
		t.Fatal("RulesWithFor changed more than the for: lines")
	}
	path := filepath.Join(t.TempDir(), "alerts.yml")
	if err := os.WriteFile(path, []byte(short), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, "check", "rules", path); err != nil {
		t.Errorf("promtool check rules: %v\n%s", err, out)
	}
}

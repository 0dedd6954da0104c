package monitoring

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
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

// Every alert rule in alerts.yml has unit tests in alerts_test.yml: at
// least one evaluation where it fires and one where it does not. A rule
// added without both fails here.
func TestEveryAlertHasFiringAndQuietCases(t *testing.T) {
	missing := untestedAlerts(t, Rules, readFile(t, "alerts_test.yml"))
	if len(missing) > 0 {
		t.Errorf("alert rules without unit tests in alerts_test.yml:\n%s", strings.Join(missing, "\n"))
	}
	// The check can fail: drop a rule's cases and it is named.
	tests := readFile(t, "alerts_test.yml")
	cut := regexp.MustCompile(`(?m)^        alertname: TallyMempoolFull$`).ReplaceAllString(tests, "        alertname: TallyMempoolFul")
	if got := untestedAlerts(t, Rules, cut); strings.Join(got, ",") != "TallyMempoolFull: no case where it fires,TallyMempoolFull: no case where it does not fire" {
		t.Errorf("with TallyMempoolFull's cases renamed, the check reported %q", got)
	}
}

// untestedAlerts names each alert of rules that tests (a promtool test
// file) never expects to fire, or never expects not to fire.
func untestedAlerts(t *testing.T, rules, tests string) []string {
	t.Helper()
	var r struct {
		Groups []struct {
			Rules []struct{ Alert string }
		}
	}
	if err := yaml.Unmarshal([]byte(rules), &r); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	var tf struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string
				ExpAlerts []map[string]any `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		}
	}
	if err := yaml.Unmarshal([]byte(tests), &tf); err != nil {
		t.Fatalf("alerts_test.yml: %v", err)
	}
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range tf.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	var missing []string
	n := 0
	for _, g := range r.Groups {
		for _, rule := range g.Rules {
			if rule.Alert == "" {
				continue // a recording rule
			}
			n++
			if !fires[rule.Alert] {
				missing = append(missing, rule.Alert+": no case where it fires")
			}
			if !quiet[rule.Alert] {
				missing = append(missing, rule.Alert+": no case where it does not fire")
			}
		}
	}
	if n < 10 {
		t.Fatalf("only %d alert rules read from alerts.yml", n)
	}
	return missing
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
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

// Tests of the scripts' shell functions, run with bash.
package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// shellFunc is the definition of function name in a bash script.
func shellFunc(t *testing.T, script, name string) string {
	t.Helper()
	b, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	def := regexp.MustCompile(`(?ms)^` + name + `\(\) \{\n.*?^\}\n`).Find(b)
	if def == nil {
		t.Fatalf("%s defines no function %s", script, name)
	}
	return string(def)
}

// timesLine is the CPU seconds (user + system) on line of a `times`
// output: 1 the shell's own, 2 its reaped children's.
func timesLine(t *testing.T, file string, line int) float64 {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) < line {
		t.Fatalf("%s: %q is not times' output", file, b)
	}
	var sum float64
	for _, f := range strings.Fields(lines[line-1]) { // "0m1.234s"
		m, s, ok := strings.Cut(strings.TrimSuffix(f, "s"), "m")
		if !ok {
			t.Fatalf("%s: %q is not times' output", file, b)
		}
		mins, err1 := strconv.ParseFloat(m, 64)
		secs, err2 := strconv.ParseFloat(s, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: %q is not times' output", file, b)
		}
		sum += 60*mins + secs
	}
	return sum
}

// bench-localnet.sh's load_cpu_s is the CPU of tallyd load's process
// alone: run_bg's RUN_CPU. Here run_bg runs a command that burns CPU in
// its own process and says how much (bash's times, first line), while a
// sampler child of the same shell burns CPU too and is stopped after the
// command, as the script's memory sampler is: RUN_CPU is the command's
// figure, and the shell's children's CPU read after the sampler stopped
// (how load_cpu_s was read until 2026-12-05) is above it by the sampler's.
func TestBenchLoadCPUIsTheLoadProcessAlone(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	out := t.TempDir()
	harness := `set -euo pipefail
OUT=$1
LOAD_PID=""
` + shellFunc(t, "bench-localnet.sh", "run_bg") + `
(while :; do awk 'BEGIN { for (i = 0; i < 300000; i++) s += i }'; done) &
sampler=$!
run_bg "$OUT/log" bash -c 'i=0; while ((i < 400000)); do ((i++)); done; times >"$1/own"' _ "$OUT"
kill "$sampler"
wait "$sampler" || true
times >"$OUT/after"
echo "$RUN_CPU"
`
	cmd := exec.Command("bash", "-c", harness, "harness", out)
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("harness: %v\n%s", err, b)
	}
	runCPU, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
	if err != nil {
		t.Fatalf("RUN_CPU %q: %v", b, err)
	}
	own := timesLine(t, filepath.Join(out, "own"), 1)
	before := timesLine(t, filepath.Join(out, ".times0"), 2)
	after := timesLine(t, filepath.Join(out, "after"), 2)
	t.Logf("the command's own CPU %.3f s; run_bg's RUN_CPU %.2f s; the shell's children after the sampler stopped %.3f s", own, runCPU, after-before)
	if own < 0.05 {
		t.Fatalf("the command burned only %.3f s of CPU", own)
	}
	// times prints milliseconds and RUN_CPU hundredths; the command's
	// exit is after its own figure.
	if d := runCPU - own; d < -0.015 || d > 0.03 {
		t.Errorf("RUN_CPU %.2f s, but the command used %.3f s", runCPU, own)
	}
	if after-before < own+0.05 {
		t.Errorf("the sampler's CPU (%.3f s with it, %.3f s the command's) is too small to tell the two readings apart", after-before, own)
	}
}

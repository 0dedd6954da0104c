// Command testreport reads `go test -json` on standard input and prints
// what a person needs from a test run: one line per package (as `go test`
// prints without -json), the whole output of every failed test, and at the
// end every skipped test with the reason it gave, so that a run that skipped
// the real-browser test or the partition scenarios cannot pass for a full
// one. It exits non-zero when any test or package failed, or when the input
// holds no result at all.
//
//	go test -json ./... | go run ./scripts/testreport
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// event is one line of `go test -json` (see `go doc test2json`).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

type key struct{ pkg, test string }

// skip is one skipped test and the reason it printed.
type skip struct {
	pkg, test, reason string
}

func main() {
	failed, err := report(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}

// report copies the summary of the run on in to out and says whether
// anything failed.
func report(in io.Reader, out io.Writer) (failed bool, err error) {
	output := map[key][]string{}
	var skips []skip
	results := 0
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if json.Unmarshal(line, &e) != nil || e.Action == "" {
			fmt.Fprintln(out, string(line)) // build errors arrive as plain text
			continue
		}
		k := key{e.Package, e.Test}
		switch e.Action {
		case "output":
			output[k] = append(output[k], e.Output)
			if e.Test == "" && packageLine(e.Output) {
				fmt.Fprint(out, e.Output)
			}
		case "skip":
			results++
			if e.Test != "" {
				skips = append(skips, skip{e.Package, e.Test, reason(output[k])})
			}
			delete(output, k)
		case "pass":
			results++
			delete(output, k)
		case "fail":
			results++
			failed = true
			if e.Test != "" {
				fmt.Fprintf(out, "--- FAIL: %s (%s)\n", e.Test, e.Package)
			} else {
				fmt.Fprintf(out, "--- FAIL: package %s\n", e.Package)
			}
			for _, o := range output[k] {
				if e.Test != "" || !packageLine(o) {
					fmt.Fprint(out, "    ", o)
				}
			}
			delete(output, k)
		}
	}
	if err := sc.Err(); err != nil {
		return true, err
	}
	if results == 0 {
		return true, fmt.Errorf("no test results in the input")
	}
	fmt.Fprintf(out, "\n%d tests skipped", len(skips))
	if len(skips) == 0 {
		fmt.Fprintln(out, ".")
	} else {
		fmt.Fprintln(out, " (a skipped test did not pass; read each reason):")
	}
	for _, s := range skips {
		fmt.Fprintf(out, "  SKIP %s %s: %s\n", s.pkg, s.test, s.reason)
	}
	return failed, nil
}

// packageLine reports whether a package-level output line is one `go test`
// prints without -v: its result line.
func packageLine(s string) bool {
	return strings.HasPrefix(s, "ok ") || strings.HasPrefix(s, "FAIL") || strings.HasPrefix(s, "?")
}

// reason picks the message a skipped test gave from its output.
func reason(lines []string) string {
	var parts []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		parts = append(parts, t)
	}
	if len(parts) == 0 {
		return "(no reason given)"
	}
	return parts[len(parts)-1]
}

// Package faults is Tally's fault suite: each scenario runs a real network
// of tallyd processes under a mixed workload, breaks something on purpose
// (kills, crash points, partitions, a double-signing validator, floods,
// disk trouble) and then checks what no fault may change: every committed
// transaction is in the same block on every node, every node agrees on
// every block and app hash, every module invariant holds and no node
// panicked.
//
// `go test ./testnet/faults` runs a short version of every scenario (CI);
// `make faults` runs the long one (FAULTS=long: more rounds, longer loads).
// Each scenario appends one line to the results file named by
// FAULTS_REPORT, when set, which `make faults` prints as a table.
package faults

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// tallyd is the binary every scenario runs.
var tallyd string

// long is set by FAULTS=long: more rounds and longer loads per scenario.
var long = os.Getenv("FAULTS") == "long"

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	tallyd = os.Getenv("TALLYD_BIN")
	if tallyd == "" {
		dir, err := os.MkdirTemp("", "tallyd-bin")
		if err != nil {
			panic(err)
		}
		tallyd = filepath.Join(dir, "tallyd")
		out, err := exec.Command("go", "build", "-o", tallyd, "../../cmd/tallyd").CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "building tallyd: %v\n%s", err, out)
			os.Exit(1)
		}
		code := m.Run()
		printTable(os.Stdout)
		os.RemoveAll(dir)
		os.Exit(code)
	}
	code := m.Run()
	printTable(os.Stdout)
	os.Exit(code)
}

// rounds is n in the short suite and n*k in the long one.
func rounds(n, k int) int {
	if long {
		return n * k
	}
	return n
}

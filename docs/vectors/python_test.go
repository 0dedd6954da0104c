package vectors_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// pythonClient is the independent client written from docs/protocol.md
// alone (docs/examples/python).
const pythonClient = "../examples/python/check_vectors.py"

var (
	pythonOnce sync.Once
	pythonBin  string
)

// python finds a Python 3 that has the one library the client uses
// besides the standard library (cryptography, for ed25519). It fails
// rather than skips: the Python client is how CI shows the spec is enough
// to write a client from.
func python(t *testing.T) string {
	t.Helper()
	pythonOnce.Do(func() {
		// The system's Python first: that is where the Debian package
		// python3-cryptography installs, and it starts faster than a
		// version manager's shim.
		for _, name := range []string{"/usr/bin/python3", "python3"} {
			bin, err := exec.LookPath(name)
			if err != nil {
				continue
			}
			if exec.Command(bin, "-c", "import cryptography.hazmat.primitives.asymmetric.ed25519").Run() == nil {
				pythonBin = bin
				return
			}
		}
	})
	if pythonBin != "" {
		return pythonBin
	}
	t.Fatal("no python3 with the cryptography package: the Python client written from docs/protocol.md needs it " +
		"(apt-get install -y python3 python3-cryptography; .ci/run installs them)")
	return ""
}

// A client written in another language from docs/protocol.md alone signs
// every vector transaction to the same bytes, verifies every proven answer
// and the signed header, and refuses tampered copies of each.
func TestPythonClientFromTheSpecChecksTheVectors(t *testing.T) {
	bin := python(t)
	out, err := exec.Command(bin, pythonClient, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("the Python client refused the vectors (%v):\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{"ok    tx gov.vote: tx bytes", "ok    header: commit signed by more than two thirds",
		"ok    query absent record: an address with no account: verifies", "refuses query list page", "all checks passed"} {
		if !strings.Contains(text, want) {
			t.Errorf("the Python client's output lacks %q:\n%s", want, text)
		}
	}
}

// The Python client is not a rubber stamp: given vectors whose header
// commits to another app hash, it fails.
func TestPythonClientRefusesTamperedVectors(t *testing.T) {
	bin := python(t)
	dir := t.TempDir()
	for _, name := range []string{"transactions.json", "queries.json", "header.json"} {
		bz, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if name == "header.json" {
			s := string(bz)
			i := strings.Index(s, `"app_hash": "`) + len(`"app_hash": "`)
			bz = []byte(s[:i] + "00" + s[i+2:])
		}
		if err := os.WriteFile(filepath.Join(dir, name), bz, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command(bin, pythonClient, dir).CombinedOutput()
	if err == nil {
		t.Fatalf("the Python client accepted a header with a changed app hash:\n%s", out)
	}
	if !strings.Contains(string(out), "FAIL  header: commit signed by more than two thirds") {
		t.Errorf("want the commit check to fail:\n%s", out)
	}
}

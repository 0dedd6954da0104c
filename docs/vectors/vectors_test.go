package vectors_test

import (
	"bytes"
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the committed vectors in docs/vectors/ from a fresh run of the vector chain")

// TestVectors regenerates the test vectors from the vector chain (fixed
// keys and times, so the same bytes every run) and compares them with the
// committed files byte for byte: a change to the wire format, the state
// layout or the proofs shows up here, and the files must be regenerated
// (-update) and the change written into docs/protocol.md.
func TestVectors(t *testing.T) {
	files := generate(t)
	for name, want := range files {
		if *update {
			if err := os.WriteFile(name, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatalf("reading committed vectors: %v (generate them with: go test ./docs/vectors -run TestVectors -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("docs/vectors/%s is not what the vector chain makes now: the protocol changed. Regenerate with "+
				"go test ./docs/vectors -run TestVectors -update, review the diff, and update docs/protocol.md to match", name)
		}
	}
}

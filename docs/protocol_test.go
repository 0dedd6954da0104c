package docs

import (
	"os"
	"strings"
	"testing"

	"github.com/tallyledger/tally/api"
)

// protocol.md is written for client developers in other languages, who
// cannot read api/: every query path a node serves (api.Routes) must have
// its row there.
func TestProtocolSpecNamesEveryQueryPath(t *testing.T) {
	b, err := os.ReadFile("protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range api.Routes() {
		if !strings.Contains(string(b), "| `"+r.Path+"` |") {
			t.Errorf("docs/protocol.md has no row for query path %s: add it to the table of paths in §2 (answer, data, records and key layout)", r.Path)
		}
	}
}

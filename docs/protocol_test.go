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
		row := "| `" + r.Path + "` |"
		i := strings.Index(string(b), row)
		if i < 0 {
			t.Errorf("docs/protocol.md has no row for query path %s: add it to the table of paths in §2 (answer, data, records and key layout)", r.Path)
			continue
		}
		answer, _, _ := strings.Cut(string(b[i+len(row):]), "|")
		if paged := strings.HasPrefix(strings.TrimSpace(answer), "page"); paged != (r.Answer == api.Page) {
			t.Errorf("docs/protocol.md's row for %s says its answer is %q; a listing (api.Page, data a ListRequest) says page, and only a listing", r.Path, strings.TrimSpace(answer))
		}
	}
}

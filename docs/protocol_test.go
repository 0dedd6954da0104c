package docs

import (
	"os"
	"strconv"
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

// The table of where each listing's index keys lie (§5) has a row for
// exactly the key-range listings of the contract (the routes whose row
// describes a Listing), each with the number of head records the
// contract's listing gives: a client in another language checks pages
// with that table alone.
func TestProtocolSpecLaysOutEveryKeyRangeListing(t *testing.T) {
	b, err := os.ReadFile("protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "### Where each listing's index keys lie")
	if !ok {
		t.Fatal("docs/protocol.md has no section \"Where each listing's index keys lie\"")
	}
	section, _, _ = strings.Cut(section, "\n#")
	rows := map[string][]string{}
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| `/") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		rows[strings.Trim(cells[0], "`")] = cells
	}
	args := map[string][]byte{api.PathFundsTraceDown: []byte("1"), api.PathGovVotes: []byte("1"), api.PathTaxReceipts: []byte("VAT/2026-Q1"),
		api.PathBenefitsHistory: []byte("prog/rcpt"), api.PathProvenanceHistory: []byte("item"), api.PathProvenanceAttestations: []byte("item"),
		api.PathProvenanceUnacknowledged: []byte("order")}
	for _, r := range api.Routes() {
		cells, documented := rows[r.Path]
		delete(rows, r.Path)
		if r.Listing == nil {
			if documented {
				t.Errorf("docs/protocol.md lays out %s as a key-range listing, but its contract row describes none", r.Path)
			}
			continue
		}
		if !documented {
			t.Errorf("docs/protocol.md's table of listings (§5) has no row for %s", r.Path)
			continue
		}
		l, ok := r.Listing(args[r.Path])
		if !ok {
			t.Errorf("%s: the test's argument names no listing", r.Path)
			continue
		}
		if len(cells) < 4 || !strings.HasPrefix(cells[3], strconv.Itoa(len(l.Head))) {
			t.Errorf("docs/protocol.md says %s has head %q; its contract listing has %d head records", r.Path, cells[3], len(l.Head))
		}
	}
	for p := range rows {
		t.Errorf("docs/protocol.md lays out %s, which is no query path", p)
	}
}

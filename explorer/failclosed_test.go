package explorer_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tallyledger/tally/explorer"
)

// An explorer over the demo network whose light client cannot verify
// anything — a trust root no header matches, or none at all — still shows
// what the nodes say, but never as verified: every record page says "Not
// verified" with the reason, and the API says ok false with it.
func TestRecordsTheLightClientCannotVerifyAreNotVerified(t *testing.T) {
	need(t)
	var nodes []explorer.Node
	for _, n := range manifest.Nodes {
		nodes = append(nodes, explorer.Node{Name: n.Name, RPC: n.RPC})
	}
	for _, tt := range []struct {
		name   string
		cfg    explorer.Config
		reason string
	}{
		{"wrong trust root", explorer.Config{ChainID: manifest.ChainID, Nodes: nodes, TrustHeight: 2, TrustHash: bytes.Repeat([]byte{0xAB}, 32)}, "the light client could not verify header"},
		{"no trust root", explorer.Config{ChainID: manifest.ChainID, Nodes: nodes}, "no trust root given"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Rate = -1 // the tests read many pages at once
			s, err := explorer.New(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			bad := httptest.NewServer(s)
			defer bad.Close()
			for _, p := range []string{"/receipt/REVENUE-000001", "/money", "/block/2", "/tx/" + firstTxHash(t)} {
				res, err := http.Get(bad.URL + p)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				body := string(b)
				if res.StatusCode != 200 || strings.Contains(body, "✔ Verified") || !strings.Contains(body, "✘ Not verified:") || !strings.Contains(body, tt.reason) {
					t.Errorf("GET %s: status %d; want the page shown as not verified because %q:\n%.600s", p, res.StatusCode, tt.reason, badge(body))
				}
			}
			res, err := http.Get(bad.URL + "/api/v1/receipt/REVENUE-000001")
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var a struct {
				Verified struct {
					OK     bool   `json:"ok"`
					Reason string `json:"reason"`
				} `json:"verified"`
			}
			if err := json.NewDecoder(res.Body).Decode(&a); err != nil {
				t.Fatal(err)
			}
			if a.Verified.OK || !strings.Contains(a.Verified.Reason, tt.reason) {
				t.Errorf("API: verified %+v, want ok false with the reason", a.Verified)
			}
		})
	}
}

// badge is the verification badge of a page, for failure messages.
func badge(body string) string {
	if i := strings.Index(body, `id="verified"`); i >= 0 {
		return body[i:min(len(body), i+600)]
	}
	return "(no badge)"
}

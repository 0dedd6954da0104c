package explorer

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tallyledger/tally/client"
)

// A witness divergence reported by the light client raises an alarm shown
// as a banner on every page and in the API, and the explorer stops
// verifying: no light client is built again until it is restarted. The
// refusal is the client package's own type for that check, as
// client.LightClient returns it; divergence_test.go produces a real one
// from a forked chain.
func TestWitnessDivergenceRaisesAnAlarmAndStopsVerifying(t *testing.T) {
	s, err := New(Config{ChainID: "c", Nodes: []Node{{Name: "a", RPC: "tcp://127.0.0.1:1"}}, TrustHeight: 1, TrustHash: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	reason := "witnesses disagree with the primary tcp://127.0.0.1:1: at height 7 witness tcp://127.0.0.1:2 has block AB12, the primary has CD34"
	s.noteDivergence(errors.New("timeout")) // any other failure raises nothing
	if s.alarm() != "" {
		t.Fatal("an ordinary failure raised the alarm")
	}
	s.noteDivergence(&client.Refusal{Check: client.CheckDivergence, Reason: reason})
	srv := httptest.NewServer(s)
	defer srv.Close()
	for _, p := range []string{"/", "/receipt/X-1", "/api/v1/receipt/X-1"} {
		res, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if strings.HasPrefix(p, "/api/") {
			continue // errors answer JSON without the banner; pages that read carry "alarm"
		}
		if !strings.Contains(string(b), `id="alarm" role="alert"`) || !strings.Contains(string(b), "witness tcp://127.0.0.1:2 has block AB12") {
			t.Errorf("GET %s: no divergence banner:\n%.500s", p, b)
		}
	}
	if _, err := s.lightClient(context.Background()); err == nil || !strings.Contains(err.Error(), "witness divergence") {
		t.Errorf("light client after divergence: %v, want refused", err)
	}
}

package explorer_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cometbft/cometbft/types"

	"github.com/tallyledger/tally/explorer"
	"github.com/tallyledger/tally/node"
	"github.com/tallyledger/tally/testnet"
)

// A real fork: two copies of one single-validator chain (same genesis, same
// validator key) run apart, so from block 2 on each has blocks the other
// lacks, all validly signed. An explorer reading one with the other as
// witness finds the light client refusing with a witness divergence: every
// page carries the alarm banner and no record is shown as verified.
func TestForkedWitnessRaisesTheDivergenceAlarm(t *testing.T) {
	need(t)
	dir := t.TempDir()
	opts := testnet.DefaultOptions()
	opts.Validators, opts.ChainID, opts.BasePort = 1, "tally-fork", freeBase()
	opts.TimeoutCommit = 300 * time.Millisecond
	a, err := testnet.Init(filepath.Join(dir, "a"), opts)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", filepath.Join(dir, "a"), filepath.Join(dir, "b")).CombinedOutput(); err != nil {
		t.Fatalf("copying the node: %v %s", err, out)
	}
	b := *a
	nb := a.Nodes[0]
	nb.Home = filepath.Join(dir, "b", nb.Name)
	nb.LogFile = filepath.Join(nb.Home, "tallyd.log")
	base := freeBase()
	nb.P2P, nb.RPC, nb.Pprof = "127.0.0.1:"+strconv.Itoa(base), "tcp://127.0.0.1:"+strconv.Itoa(base+1), "127.0.0.1:"+strconv.Itoa(base+2)
	b.Nodes = []testnet.Node{nb}
	comet, appCfg, err := node.LoadConfigs(nb.Home)
	if err != nil {
		t.Fatal(err)
	}
	comet.RPC.ListenAddress, comet.RPC.PprofListenAddress = nb.RPC, nb.Pprof
	comet.P2P.ListenAddress, comet.P2P.ExternalAddress = "tcp://"+nb.P2P, nb.P2P
	if err := node.WriteConfigs(nb.Home, comet, appCfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for _, m := range []*testnet.Manifest{a, &b} {
		n := testnet.NewNetwork(m, net_.Bin)
		if err := n.StartAll(); err != nil {
			t.Fatal(err)
		}
		defer n.StopAll()
		if err := n.WaitHeight(ctx, m.Nodes[0].Name, 6); err != nil {
			t.Fatal(err)
		}
	}
	g, err := types.GenesisDocFromFile(filepath.Join(a.Nodes[0].Home, "config", "genesis.json"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := explorer.New(explorer.Config{ChainID: a.ChainID, Genesis: g, Rate: -1,
		Nodes: []explorer.Node{{Name: "original", RPC: a.Nodes[0].RPC}, {Name: "fork", RPC: nb.RPC}}})
	if err != nil {
		t.Fatal(err)
	}
	es := httptest.NewServer(s)
	defer es.Close()
	page := func(p string) string {
		res, err := http.Get(es.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return string(body)
	}
	// Reading records makes the light client verify, and find the fork. On
	// a busy machine its first attempt may time out before it reaches the
	// witness (a plain "not verified"); ask again until it has compared them,
	// never accepting a page that says verified.
	deadline := time.Now().Add(3 * time.Minute) // generous: at load 40 a minute was not always enough
	for {
		first := page("/governance")
		if strings.Contains(first, "✔ Verified") {
			t.Fatalf("a record was shown as verified on a forked chain:\n%.600s", badge(first))
		}
		if strings.Contains(first, `id="alarm" role="alert"`) || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	for _, p := range []string{"/", "/governance", "/block/3"} {
		body := page(p)
		if !strings.Contains(body, `id="alarm" role="alert"`) || !strings.Contains(body, "witnesses disagree with the primary") {
			t.Errorf("GET %s: no divergence alarm:\n%.800s", p, body)
		}
		if strings.Contains(body, "✔ Verified") {
			t.Errorf("GET %s: shown as verified after a divergence", p)
		}
	}
}

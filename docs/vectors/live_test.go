package vectors_test

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cometbft/cometbft/libs/log"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/client"
	"github.com/tallyledger/tally/node"
	"github.com/tallyledger/tally/node/genesis"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	"github.com/tallyledger/tally/testnet"
)

func freePort(t *testing.T) int {
	t.Helper()
	p, err := testnet.FreePort() // below the ephemeral range
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// startNode starts a real one-validator CometBFT node whose genesis founds
// a treasury with admin as its admin, and returns its RPC address and
// genesis file.
func startNode(t *testing.T, admin ed25519.PrivateKey) (rpcAddr, genesisFile string) {
	t.Helper()
	dir := t.TempDir()
	id, err := node.InitNode(dir, "vectors-node")
	if err != nil {
		t.Fatal(err)
	}
	comet, appCfg, err := node.LoadConfigs(dir)
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	comet.RPC.ListenAddress = fmt.Sprintf("tcp://127.0.0.1:%d", port)
	comet.P2P.ListenAddress = fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t))
	comet.Consensus.TimeoutCommit = 200 * time.Millisecond
	comet.P2P.PexReactor = false // its address book is saved by a goroutine Stop does not wait for
	if err := node.WriteConfigs(dir, comet, appCfg); err != nil {
		t.Fatal(err)
	}
	const chain = "tally-live-1"
	state, err := genesis.SingleAgencyState(chain, "treasury", "Treasury", agencyv1.Kind_KIND_TREASURY, admin.Public().(ed25519.PublicKey),
		func(msg []byte) ([]byte, error) { return ed25519.Sign(admin, msg), nil })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := genesis.WriteGenesis(comet.GenesisFile(), chain, time.Now().UTC(), []genesis.Validator{{Name: "v0", PubKey: id.ConsensusPK, Power: 10}}, state); err != nil {
		t.Fatal(err)
	}
	n, err := node.NewNode(dir, log.NewNopLogger(), app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Shutdown(); err != nil {
			t.Error(err)
		}
	})
	return fmt.Sprintf("http://127.0.0.1:%d", port), comet.GenesisFile()
}

// The Python client, written from docs/protocol.md alone, signs a
// transaction, submits it to a real node over JSON-RPC, and accepts the
// state it made only after verifying the proof against the app hash of a
// header whose commit it checked against the genesis validators.
func TestPythonClientSignsSubmitsAndVerifiesOnALiveNode(t *testing.T) {
	bin := python(t)
	admin := keyFor("live/admin")
	rpcAddr, genesisFile := startNode(t, admin.priv)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "../examples/python/live.py", rpcAddr, genesisFile, hex.EncodeToString(admin.seed), "treasury")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the Python client failed against a live node (%v):\n%s", err, out)
	}
	for _, want := range []string{"ok    submitted transaction", "ok    header", "ok    the new member's account is proven present",
		"ok    a changed account is refused", "ok    the agency's member list is proven complete", "ok    an address with no account is proven absent", "all checks passed"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the Python client's output lacks %q:\n%s", want, out)
		}
	}
	// The state the Python client made is there for the Go client too.
	c, err := client.Dial(strings.Replace(rpcAddr, "http://", "tcp://", 1))
	if err != nil {
		t.Fatal(err)
	}
	q, _, err := c.Query(ctx, api.PathAgency, []byte("treasury"), 0, true)
	if err != nil {
		t.Fatal(err)
	}
	ag := &agencyv1.Agency{}
	if err := proto.Unmarshal(q.Value, ag); err != nil {
		t.Fatal(err)
	}
	if ag.MemberCount != 2 {
		t.Errorf("the treasury has %d members after the Python client added one to its admin; want 2", ag.MemberCount)
	}
	t.Logf("the Python client:\n%s", out)
}

package testnet_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cometbft/cometbft/crypto"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/types"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/monitoring"
	"github.com/tallyledger/tally/node"
	"github.com/tallyledger/tally/testnet"
)

func startSignerNetwork(t *testing.T) *testnet.Network {
	t.Helper()
	if testing.Short() {
		t.Skip("starts tallyd processes")
	}
	opts := testnet.DefaultOptions()
	opts.BasePort = freeBase(t)
	opts.TimeoutCommit = 300 * time.Millisecond
	opts.RemoteSigner = true
	m, err := testnet.Init(t.TempDir(), opts)
	require.NoError(t, err)
	net := testnet.NewNetwork(m, tallyd)
	require.NoError(t, net.StartAll())
	t.Cleanup(func() {
		net.StopAll()
		if t.Failed() {
			for _, n := range m.Nodes {
				for _, f := range []string{n.LogFile, n.Signer.LogFile} {
					if b, err := os.ReadFile(f); err == nil && len(b) > 2000 {
						t.Logf("tail of %s:\n%s", f, b[len(b)-2000:])
					}
				}
			}
		}
	})
	return net
}

// signedAt reports whether addr's precommit is in the commit of height h.
func signedAt(t *testing.T, ctx context.Context, net *testnet.Network, h int64, addr crypto.Address) bool {
	t.Helper()
	c, err := rpc(t, net, "revenue").RPC.Commit(ctx, &h)
	require.NoError(t, err)
	for _, s := range c.Commit.Signatures {
		if s.BlockIDFlag == types.BlockIDFlagCommit && bytes.Equal(s.ValidatorAddress, addr) {
			return true
		}
	}
	return false
}

// signerCycles is how many times the test kills and restarts a signer
// under load.
const signerCycles = 3

// signerStatus is what the test reads of `tallyd status --json`.
type signerStatus struct {
	Signer           string   `json:"remote_signer"`
	UnreachableSince string   `json:"remote_signer_unreachable_since"`
	Warnings         []string `json:"warnings"`
}

// unreachable is status's "remote signer unreachable" warning, or "".
func (s signerStatus) unreachable() string {
	for _, w := range s.Warnings {
		if strings.HasPrefix(w, node.RemoteSignerUnreachable+" since ") {
			return w
		}
	}
	return ""
}

// readSignerStatus runs tallyd status for nd; exit is its exit error
// (non-nil when it warns, or fails).
func readSignerStatus(nd testnet.Node) (st signerStatus, exit error) {
	out, exit := exec.Command(tallyd, "status", "--node", nd.RPC, "--home", nd.Home, "--json").Output()
	if err := json.Unmarshal(out, &st); err != nil {
		return signerStatus{}, err
	}
	return st, exit
}

// metricLine is nd's unlabelled metric name and its value, "name value"
// (read with monitoring.Scrape), or "" when the node does not export it.
func metricLine(t *testing.T, nd testnet.Node, name string) string {
	t.Helper()
	m, err := monitoring.Scrape(context.Background(), nd.Metrics)
	if err != nil {
		return ""
	}
	v, ok := m[name]
	if !ok {
		return ""
	}
	return fmt.Sprintf("%s %g", name, v)
}

// Validators sign through remote signers (tallyd signer, the key outside
// the node's home): a signer killed and restarted under load resumes
// signing, and no block ever carries evidence of a double sign; a node
// whose signer is not there says so and stops.
func TestValidatorsSignThroughRemoteSigners(t *testing.T) {
	net := startSignerNetwork(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	nd, err := net.Node("treasury")
	require.NoError(t, err)
	_, err = os.Stat(nd.Home + "/config/priv_validator_key.json")
	require.ErrorIs(t, err, os.ErrNotExist, "the key is not in the node's home")
	addr := privval.LoadFilePV(nd.Signer.Key, nd.Signer.State).GetAddress()
	require.NoError(t, net.WaitHeight(ctx, "treasury", 3))
	require.Eventually(t, func() bool {
		_, h, err := rpc(t, net, "revenue").Status(ctx)
		return err == nil && signedAt(t, ctx, net, h-1, addr)
	}, time.Minute, 500*time.Millisecond, "treasury's validator signs through its signer")

	// Load, while treasury's signer is killed and started again, three
	// times: each time the node reports its signer unreachable (tallyd
	// status warns and exits non-zero, tally_remote_signer_up is 0, the
	// log says so), the three other validators carry on, and once the
	// signer is back the report clears and treasury signs again.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				addMember(t, ctx, net, "revenue", "revenue")
			}
		}
	}()
	for cycle := 1; cycle <= signerCycles; cycle++ {
		require.NoError(t, net.Kill(testnet.SignerName("treasury")))
		killed := time.Now()
		_, hKilled, err := rpc(t, net, "revenue").Status(ctx)
		require.NoError(t, err)
		// seen is the last status and metric read, for the messages.
		var seen struct {
			Status signerStatus
			Up     string
		}
		read := func() (exit error) {
			seen.Status, exit = readSignerStatus(nd)
			seen.Up = metricLine(t, nd, "tally_remote_signer_up")
			return exit
		}
		require.Eventually(t, func() bool {
			exit := read()
			return exit != nil && seen.Status.unreachable() != "" && seen.Up == "tally_remote_signer_up 0"
		}, time.Minute, 500*time.Millisecond, "cycle %d: the node reports its signer unreachable: %+v", cycle, &seen)
		reported := time.Since(killed)
		require.NotEmpty(t, seen.Status.UnreachableSince, "status names when the signer went")
		require.Contains(t, seen.Status.unreachable(), nd.Signer.Addr, "the warning names priv_validator_laddr")
		if cycle == 1 {
			screen, err := exec.Command(tallyd, "status", "--node", nd.RPC, "--home", nd.Home).CombinedOutput()
			require.Error(t, err, "status exits non-zero")
			require.Contains(t, string(screen), node.RemoteSignerUnreachable+" since ", "the screen warns too")
			t.Logf("tallyd status while the signer is gone:\n%s", screen)
		}
		require.NoError(t, net.WaitHeight(ctx, "revenue", hKilled+3), "three of four validators carry on")
		require.NoError(t, net.StartSigner("treasury"))
		restarted := time.Now()
		require.Eventually(t, func() bool {
			_, h, err := rpc(t, net, "revenue").Status(ctx)
			return err == nil && h > hKilled+3 && signedAt(t, ctx, net, h-1, addr)
		}, 2*time.Minute, 500*time.Millisecond, "cycle %d: treasury signs again after its signer restarts", cycle)
		signing := time.Since(restarted)
		require.Eventually(t, func() bool {
			_ = read()
			return seen.Status.Signer == nd.Signer.Addr && seen.Status.UnreachableSince == "" && seen.Status.unreachable() == "" &&
				seen.Up == "tally_remote_signer_up 1"
		}, time.Minute, 500*time.Millisecond, "cycle %d: the report clears once the signer is back: %+v", cycle, &seen)
		t.Logf("cycle %d: signer killed at height %d, reported unreachable after %s; restarted, treasury signing again after %s, report cleared after %s",
			cycle, hKilled, reported.Round(100*time.Millisecond), signing.Round(100*time.Millisecond), time.Since(restarted).Round(100*time.Millisecond))
	}
	close(stop)
	<-done
	b, err := os.ReadFile(nd.LogFile)
	require.NoError(t, err)
	require.GreaterOrEqual(t, strings.Count(string(b), "remote signer connected again"), signerCycles, "the log says each time the signer came back")
	require.GreaterOrEqual(t, strings.Count(string(b), node.RemoteSignerUnreachable+": "), signerCycles, "the log says each time the signer went")

	// Evidence of a double sign is committed within a few blocks of the
	// conflicting votes reaching a proposer: wait some, then read every
	// block.
	_, h, err := rpc(t, net, "revenue").Status(ctx)
	require.NoError(t, err)
	require.NoError(t, net.WaitHeight(ctx, "revenue", h+5))
	_, last, err := rpc(t, net, "revenue").Status(ctx)
	require.NoError(t, err)
	for h := int64(1); h <= last; h++ {
		b, err := rpc(t, net, "revenue").RPC.Block(ctx, &h)
		require.NoError(t, err)
		require.Empty(t, b.Block.Evidence.Evidence, "evidence of misbehaviour at height %d", h)
	}
	require.Equal(t, "tally_misbehaviour_total 0", metricLine(t, nd, "tally_misbehaviour_total"), "the app recorded no misbehaviour")
	// Evidence not yet in a block shows in the logs: every node logs (at
	// info) each pair of conflicting votes it turns into evidence
	// (CometBFT's evidence pool: "verified new evidence of byzantine
	// behavior"), and one that receives a vote of its own validator
	// conflicting with one it holds logs "found conflicting vote from
	// ourselves". No node's log has either.
	for _, n := range net.Manifest.Nodes {
		b, err := os.ReadFile(n.LogFile)
		require.NoError(t, err)
		require.NotContains(t, strings.ToLower(string(b)), "verified new evidence of byzantine behavior", "%s saw conflicting votes", n.Name)
		require.NotContains(t, string(b), "found conflicting vote from ourselves", "%s saw conflicting votes of its own validator", n.Name)
		require.Contains(t, string(b), "committed state", "%s logs at info, so the lines above would show", n.Name)
	}

	// Without its signer the node refuses to start, and says why.
	require.NoError(t, net.Stop("treasury", 15*time.Second))
	require.NoError(t, net.Stop(testnet.SignerName("treasury"), 5*time.Second))
	require.NoError(t, net.Start("treasury"))
	err = net.Wait(ctx, "treasury")
	require.Error(t, err, "the node exits with an error")
	require.NotErrorIs(t, err, context.DeadlineExceeded, "the node must stop, not wait for ever")
	b, err = os.ReadFile(nd.LogFile)
	require.NoError(t, err)
	require.True(t, strings.Contains(string(b), "no remote signer answered at priv_validator_laddr"), "the log says the signer is missing")

	// A signer with another key (a fresh one, in no validator set): the
	// node runs but cannot sign, and says so in its log and in tallyd
	// status, which names the signer's key.
	other := privval.GenFilePV(nd.Signer.Key, nd.Signer.State)
	other.Save()
	require.NoError(t, net.StartSigner("treasury"))
	require.NoError(t, net.Start("treasury"))
	_, top, err := rpc(t, net, "revenue").Status(ctx)
	require.NoError(t, err)
	require.NoError(t, net.WaitHeight(ctx, "treasury", top))
	var status struct {
		Validator  string   `json:"validator_address"`
		Power      int64    `json:"validator_power"`
		CatchingUp bool     `json:"catching_up"`
		Signer     string   `json:"remote_signer"`
		Warnings   []string `json:"warnings"`
	}
	require.Eventually(t, func() bool {
		out, _ := exec.Command(tallyd, "status", "--node", nd.RPC, "--home", nd.Home, "--json").Output() // warnings exit non-zero
		return json.Unmarshal(out, &status) == nil && status.Validator != "" && !status.CatchingUp
	}, 2*time.Minute, time.Second, "tallyd status answers, caught up")
	require.Equal(t, other.GetAddress().String(), status.Validator)
	require.Zero(t, status.Power)
	require.Equal(t, nd.Signer.Addr, status.Signer)
	require.Condition(t, func() bool {
		for _, w := range status.Warnings {
			if strings.Contains(w, node.RemoteSignerNotValidator) && strings.Contains(w, status.Validator) {
				return true
			}
		}
		return false
	}, "status warns that the signer's key is not a validator: %q", status.Warnings)
	b, err = os.ReadFile(nd.LogFile)
	require.NoError(t, err)
	require.Contains(t, string(b), node.RemoteSignerNotValidator, "the node's log says so")
}

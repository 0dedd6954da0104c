package testnet_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cometbft/cometbft/crypto"
	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/privval"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/api/keyproof"
	"github.com/tallyledger/tally/client"
	"github.com/tallyledger/tally/client/keys"
	"github.com/tallyledger/tally/node"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/testnet"
	"github.com/tallyledger/tally/x/gov"
)

// The localnet has eight active agencies (four running validators, four
// not), six of which vote (the two businesses do not); more than two
// thirds is five.
var govVoters = []string{"treasury", "revenue", "benefits", "fsa", "bank"}

// sendAs signs msg with the admin key of agencyID and waits for it to be
// committed through node; it returns the tx's events by type.
func sendAs(t *testing.T, ctx context.Context, net *testnet.Network, node, agencyID string, msg *txv1.Msg) (int64, map[string]map[string]string) {
	t.Helper()
	kr, err := keys.Open(net.Manifest.KeyringDir, keys.BackendTest, nil)
	require.NoError(t, err)
	priv, err := kr.PrivKey(agencyID + "-admin")
	require.NoError(t, err)
	c := rpc(t, net, node)
	_, height, err := c.Status(ctx)
	require.NoError(t, err)
	tx, err := client.BuildTx(client.TxOptions{ChainID: net.Manifest.ChainID, Signer: api.AddressOf(priv.Public().(ed25519.PublicKey)), TimeoutHeight: uint64(height) + 100},
		func(b []byte) ([]byte, error) { return ed25519.Sign(priv, b), nil }, msg)
	require.NoError(t, err)
	res, err := c.BroadcastAndWait(ctx, tx)
	require.NoError(t, err, "tx from %s-admin", agencyID)
	events := map[string]map[string]string{}
	for _, e := range res.TxResult.Events {
		m := map[string]string{}
		for _, a := range e.Attributes {
			m[a.Key] = a.Value
		}
		events[e.Type] = m
	}
	return res.Height, events
}

// passProposal submits content and has five agencies vote yes, one tx at a
// time through node; it returns the height of the block that executed it.
func passProposal(t *testing.T, ctx context.Context, net *testnet.Network, node string, content *govv1.Content) int64 {
	t.Helper()
	_, ev := sendAs(t, ctx, net, node, "treasury", &txv1.Msg{Sum: &txv1.Msg_SubmitProposal{SubmitProposal: &govv1.MsgSubmitProposal{Content: content}}})
	id, err := strconv.ParseUint(ev[gov.EventSubmitted]["proposal_id"], 10, 64)
	require.NoError(t, err)
	var last int64
	for _, ag := range govVoters {
		last, _ = sendAs(t, ctx, net, node, ag, &txv1.Msg{Sum: &txv1.Msg_Vote{Vote: &govv1.MsgVote{ProposalId: id, Option: govv1.VoteOption_VOTE_OPTION_YES}}})
	}
	// The last vote's block executed it.
	res, _, err := rpc(t, net, node).Query(ctx, "/gov/proposal", []byte(strconv.FormatUint(id, 10)), 0, false)
	require.NoError(t, err)
	p := &govv1.Proposal{}
	require.NoError(t, unmarshal(res.Value, p))
	require.Equal(t, govv1.ProposalStatus_PROPOSAL_STATUS_EXECUTED, p.Status, api.Describe(p.FailureCodespace, p.FailureCode))
	require.Equal(t, last, p.EndHeight)
	return last
}

// signers returns the validator addresses whose signatures commit block h.
func signers(t *testing.T, ctx context.Context, net *testnet.Network, node string, h int64) [][]byte {
	t.Helper()
	c, err := rpc(t, net, node).RPC.Commit(ctx, &h)
	require.NoError(t, err)
	var out [][]byte
	for _, s := range c.Commit.Signatures {
		if len(s.ValidatorAddress) > 0 && len(s.Signature) > 0 {
			out = append(out, s.ValidatorAddress)
		}
	}
	return out
}

func containsAddr(list [][]byte, a crypto.Address) bool {
	for _, x := range list {
		if bytes.Equal(x, a) {
			return true
		}
	}
	return false
}

func validatorCount(t *testing.T, ctx context.Context, net *testnet.Network, node string, h int64) int {
	t.Helper()
	v, err := rpc(t, net, node).RPC.Validators(ctx, &h, nil, nil)
	require.NoError(t, err)
	return v.Total
}

// Agencies vote a fifth validator in: its node joins from the network's
// genesis, catches up and signs blocks. Its consensus key is rotated by
// vote and it signs again with the new key, the chain never stopping.
// Then a vote removes a genesis validator and the chain goes on with the
// other four.
func TestGovAddRotateAndRemoveValidators(t *testing.T) {
	net := startNetwork(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	require.NoError(t, net.WaitHeight(ctx, "treasury", 2))

	// A fifth node operated by the bank joins as a full node.
	nd, pk, err := testnet.Join(net.Manifest, fileDir(net), "bank", "bank", basePortAfter(net))
	require.NoError(t, err)
	require.NoError(t, net.Start(nd.Name))
	require.NoError(t, net.WaitHeight(ctx, "bank", maxHeight(ctx, net, "treasury")), "the new node catches up")

	// The operator proves it holds the node's consensus key.
	pv := privval.LoadFilePVEmptyState(node.DefaultCometConfig(nd.Home).PrivValidatorKeyFile(), "")
	proof, err := pv.Key.PrivKey.Sign(keyproof.Statement(net.Manifest.ChainID, "bank", api.ConsensusAddress(pk), pk, keyproof.AddValidator))
	require.NoError(t, err)
	executed := passProposal(t, ctx, net, "treasury", &govv1.Content{Sum: &govv1.Content_AddValidator{AddValidator: &govv1.AddValidator{
		PubKey: pk, Power: 10, AgencyId: "bank", NodeAddress: nd.NodeID + "@" + nd.P2P, KeyProof: proof}}})
	// Updates returned at H take effect at H+2; the block at H+3 carries
	// the commit of H+2.
	bankAddr := cmted25519.PubKey(pk).Address()
	waitSignedBy(t, ctx, net, bankAddr, executed+2)
	require.Equal(t, 5, validatorCount(t, ctx, net, "treasury", executed+2))

	// Rotation: the operator prepares a new key, the agencies vote it in;
	// the node restarts with the new key file while the other four carry
	// the chain.
	newKey := cmted25519.GenPrivKey()
	newPK := newKey.PubKey().Bytes()
	require.NoError(t, net.Stop("bank", 10*time.Second))
	newProof, err := newKey.Sign(keyproof.Statement(net.Manifest.ChainID, "bank", api.ConsensusAddress(newPK), newPK, keyproof.RotateValidator))
	require.NoError(t, err)
	rotated := passProposal(t, ctx, net, "treasury", &govv1.Content{Sum: &govv1.Content_RotateValidatorKey{RotateValidatorKey: &govv1.RotateValidatorKey{OldPubKey: pk, NewPubKey: newPK, KeyProof: newProof}}})
	replaceValidatorKey(t, nd.Home, newKey)
	require.NoError(t, net.Start("bank"))
	newAddr := cmted25519.PubKey(newPK).Address()
	h := waitSignedBy(t, ctx, net, newAddr, rotated+2)
	require.False(t, containsAddr(signers(t, ctx, net, "treasury", h), bankAddr))
	requireSameBlocks(t, ctx, net, []string{"treasury", "bank"}, h)

	// The CLI lists the set with operating agencies, each record proven.
	var listed struct {
		Items []struct {
			PubKey   string `json:"pub_key"` // hex, like every byte field tallyd prints
			AgencyID string `json:"agency_id"`
		} `json:"items"`
		Verified map[string]any `json:"verified_against"`
	}
	cli(t, &listed, "query", "gov", "validators", "--prove", "--node", rpcAddr(t, net, "revenue"))
	require.Len(t, listed.Items, 5)
	require.NotEmpty(t, listed.Verified)
	operators := map[string]string{}
	for _, it := range listed.Items {
		operators[it.PubKey] = it.AgencyID
	}
	require.Equal(t, "bank", operators[hex.EncodeToString(newPK)])

	// Removal of the fsa validator, proposed and voted through the CLI; the
	// chain continues on the other four.
	fsaPK := consensusKey(t, net, "fsa")
	var submitted struct {
		Events []struct {
			Type       string            `json:"type"`
			Attributes map[string]string `json:"attributes"`
		} `json:"events"`
	}
	node := rpcAddr(t, net, "treasury")
	keyring := []string{"--keyring-backend", "test", "--keyring-dir", net.Manifest.KeyringDir, "--node", node}
	cli(t, &submitted, append([]string{"tx", "gov", "remove-validator", base64.StdEncoding.EncodeToString(fsaPK), "--from", "treasury-admin", "--title", "retire fsa node"}, keyring...)...)
	var id string
	for _, e := range submitted.Events {
		if e.Type == gov.EventSubmitted {
			id = e.Attributes["proposal_id"]
		}
	}
	require.NotEmpty(t, id)
	var removed int64
	for _, ag := range govVoters {
		var voted struct {
			Height int64 `json:"height"`
		}
		cli(t, &voted, append([]string{"tx", "gov", "vote", id, "yes", "--from", ag + "-admin"}, keyring...)...)
		removed = voted.Height
	}
	var shown struct {
		Record struct {
			Status string `json:"status"`
		} `json:"record"`
	}
	cli(t, &shown, "query", "gov", "proposal", id, "--node", node)
	require.Equal(t, "PROPOSAL_STATUS_EXECUTED", shown.Record.Status)
	require.NoError(t, net.WaitHeight(ctx, "treasury", removed+3))
	require.Equal(t, 4, validatorCount(t, ctx, net, "treasury", removed+2))
	require.NoError(t, net.Kill("fsa"))
	rest := []string{"treasury", "revenue", "benefits", "bank"}
	target := maxHeight(ctx, net, rest...) + 3
	for _, n := range rest {
		require.NoError(t, net.WaitHeight(ctx, n, target))
	}
	requireSameBlocks(t, ctx, net, rest, target)
	require.False(t, containsAddr(signers(t, ctx, net, "treasury", target-1), cmted25519.PubKey(fsaPK).Address()))
}

// fileDir is the folder the network lives in.
func fileDir(net *testnet.Network) string { return filepath.Dir(net.Manifest.KeyringDir) }

// basePortAfter is a port range above every node's ports.
func basePortAfter(net *testnet.Network) int {
	last := net.Manifest.Nodes[len(net.Manifest.Nodes)-1]
	_, port, _ := strings.Cut(last.P2P, ":")
	p, _ := strconv.Atoi(port)
	return p + 10
}

// consensusKey is the consensus public key of a node.
func consensusKey(t *testing.T, net *testnet.Network, name string) []byte {
	t.Helper()
	nd, err := net.Node(name)
	require.NoError(t, err)
	id, err := node.LoadIdentity(nd.Home)
	require.NoError(t, err)
	return id.ConsensusPK.Bytes()
}

// replaceValidatorKey writes key as a stopped node's validator key, keeping
// its last-signed state so it can never sign a height twice.
func replaceValidatorKey(t *testing.T, nodeHome string, key cmted25519.PrivKey) {
	t.Helper()
	comet, _, err := node.LoadConfigs(nodeHome)
	require.NoError(t, err)
	privval.NewFilePV(key, comet.PrivValidatorKeyFile(), comet.PrivValidatorStateFile()).Key.Save()
}

func unmarshal(b []byte, m proto.Message) error { return proto.Unmarshal(b, m) }

// waitSignedBy follows the chain from height from until a block's commit
// carries a signature of addr, and returns that height. It fails if none
// of the next 40 blocks does.
func waitSignedBy(t *testing.T, ctx context.Context, net *testnet.Network, addr crypto.Address, from int64) int64 {
	t.Helper()
	for h := from; h < from+40; h++ {
		require.NoError(t, net.WaitHeight(ctx, "treasury", h+1))
		if containsAddr(signers(t, ctx, net, "treasury", h), addr) {
			return h
		}
	}
	t.Fatalf("validator %X signed none of blocks %d to %d", addr, from, from+39)
	return 0
}

// An upgrade rehearsal: the agencies schedule an upgrade; at its height
// every node running the old binary halts saying which upgrade it needs;
// restarted with a binary that handles it, the nodes run its migration
// once, resume the same chain and agree on every block and app hash.
func TestGovUpgradeRehearsal(t *testing.T) {
	net := startNetwork(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	all := []string{"treasury", "revenue", "benefits", "fsa"}
	require.NoError(t, net.WaitHeight(ctx, "treasury", 2))

	newBin := filepath.Join(t.TempDir(), "tallyd-next")
	out, err := exec.Command("go", "build", "-ldflags", "-X main.rehearsalUpgrade=rehearsal", "-o", newBin, "../cmd/tallyd").CombinedOutput()
	require.NoError(t, err, "%s", out)

	at := maxHeight(ctx, net, all...) + 25
	executed := passProposal(t, ctx, net, "treasury", &govv1.Content{Sum: &govv1.Content_ScheduleUpgrade{ScheduleUpgrade: &govv1.ScheduleUpgrade{
		Name: "rehearsal", Height: at, Notes: "rehearsal build"}}})
	require.Less(t, executed, at)

	// Every node halts at the height, with the message in its log.
	want := `UPGRADE "rehearsal" NEEDED at height ` + strconv.FormatInt(at, 10)
	for _, n := range all {
		nd, err := net.Node(n)
		require.NoError(t, err)
		for {
			b, _ := os.ReadFile(nd.LogFile)
			if strings.Contains(string(b), want) {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatalf("node %s never logged %q", n, want)
			case <-time.After(300 * time.Millisecond):
			}
		}
	}
	// CometBFT has stored block `at`, but no node's app has applied it.
	for _, n := range all {
		info, err := rpc(t, net, n).RPC.ABCIInfo(ctx)
		require.NoError(t, err)
		require.Equal(t, at-1, info.Response.LastBlockHeight, "node %s applied the upgrade height with the old binary", n)
	}

	net.StopAll()
	net.Bin = newBin
	require.NoError(t, net.StartAll())
	for _, n := range all {
		require.NoError(t, net.WaitHeight(ctx, n, at+3))
	}
	requireSameBlocks(t, ctx, net, all, at+3)
	res, _, err := rpc(t, net, "fsa").Query(ctx, "/store/key", api.GovDoneKey("rehearsal"), 0, false)
	require.NoError(t, err)
	require.Equal(t, uint64(at), binary.BigEndian.Uint64(res.Value), "the migration ran once, at the upgrade height")
	_, _, err = rpc(t, net, "fsa").Query(ctx, "/gov/upgrade", nil, 0, false)
	require.ErrorIs(t, err, client.ErrNotFound, "the plan is cleared once applied")
}

// cli runs tallyd with args and decodes its JSON output into out.
func cli(t *testing.T, out any, args ...string) {
	t.Helper()
	b, err := exec.Command(tallyd, args...).Output()
	require.NoError(t, err, "tallyd %v: %s", args, b)
	require.NoError(t, json.Unmarshal(b, out), "tallyd %v: %s", args, b)
}

func rpcAddr(t *testing.T, net *testnet.Network, name string) string {
	t.Helper()
	nd, err := net.Node(name)
	require.NoError(t, err)
	return nd.RPC
}

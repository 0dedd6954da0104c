package testnet_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
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

	"github.com/tallyledger/tally/client"
	"github.com/tallyledger/tally/client/keys"
	"github.com/tallyledger/tally/cmd/tallyd/home"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/testnet"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/gov"
)

// The localnet has eight active agencies (four running validators, four
// not); more than two thirds is six.
var govVoters = []string{"treasury", "revenue", "benefits", "fsa", "bank", "dalefarm"}

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
	tx, err := client.BuildTx(client.TxOptions{ChainID: net.Manifest.ChainID, Signer: agency.AddressOf(priv.Public().(ed25519.PublicKey)), TimeoutHeight: uint64(height) + 100},
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

// passProposal submits content and has six agencies vote yes, one tx at a
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
	require.Equal(t, govv1.ProposalStatus_PROPOSAL_STATUS_EXECUTED, p.Status, p.FailureReason)
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

	executed := passProposal(t, ctx, net, "treasury", &govv1.Content{Sum: &govv1.Content_AddValidator{AddValidator: &govv1.AddValidator{
		PubKey: pk, Power: 10, AgencyId: "bank", NodeAddress: nd.NodeID + "@" + nd.P2P}}})
	// Updates returned at H take effect at H+2; the block at H+3 carries
	// the commit of H+2.
	require.NoError(t, net.WaitHeight(ctx, "bank", executed+4))
	bankAddr := cmted25519.PubKey(pk).Address()
	require.Equal(t, 5, validatorCount(t, ctx, net, "treasury", executed+2))
	require.True(t, containsAddr(signers(t, ctx, net, "bank", executed+3), bankAddr), "the fifth validator signs")

	// Rotation: the operator prepares a new key, the agencies vote it in;
	// the node restarts with the new key file while the other four carry
	// the chain.
	newKey := cmted25519.GenPrivKey()
	newPK := newKey.PubKey().Bytes()
	require.NoError(t, net.Stop("bank", 10*time.Second))
	rotated := passProposal(t, ctx, net, "treasury", &govv1.Content{Sum: &govv1.Content_RotateValidatorKey{RotateValidatorKey: &govv1.RotateValidatorKey{OldPubKey: pk, NewPubKey: newPK}}})
	replaceValidatorKey(t, nd.Home, newKey)
	require.NoError(t, net.Start("bank"))
	require.NoError(t, net.WaitHeight(ctx, "bank", rotated+4))
	newAddr := cmted25519.PubKey(newPK).Address()
	h := maxHeight(ctx, net, "bank") - 1
	require.True(t, containsAddr(signers(t, ctx, net, "treasury", h), newAddr), "the rotated validator signs with its new key")
	require.False(t, containsAddr(signers(t, ctx, net, "treasury", h), bankAddr))

	// Removal of the fsa validator; the chain continues on the other four.
	fsaPK := consensusKey(t, net, "fsa")
	removed := passProposal(t, ctx, net, "treasury", &govv1.Content{Sum: &govv1.Content_RemoveValidator{RemoveValidator: &govv1.RemoveValidator{PubKey: fsaPK}}})
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
	id, err := home.LoadIdentity(nd.Home)
	require.NoError(t, err)
	return id.ConsensusPK.Bytes()
}

// replaceValidatorKey writes key as a stopped node's validator key, keeping
// its last-signed state so it can never sign a height twice.
func replaceValidatorKey(t *testing.T, nodeHome string, key cmted25519.PrivKey) {
	t.Helper()
	comet, _, err := home.LoadConfigs(nodeHome)
	require.NoError(t, err)
	privval.NewFilePV(key, comet.PrivValidatorKeyFile(), comet.PrivValidatorStateFile()).Key.Save()
}

func unmarshal(b []byte, m proto.Message) error { return proto.Unmarshal(b, m) }

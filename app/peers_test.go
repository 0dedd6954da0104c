package app_test

import (
	"context"
	"strings"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/api/keyproof"
	"github.com/tallyledger/tally/app"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	"github.com/tallyledger/tally/store"
)

func nodeID(name string) string { return strings.Repeat(name[:1], 40) }

func filterID(t *testing.T, c *chain, id string) *abci.ResponseQuery {
	t.Helper()
	res, err := c.app.Query(context.Background(), &abci.RequestQuery{Path: "/p2p/filter/id/" + id})
	require.NoError(t, err)
	return res
}

// The app answers CometBFT's filter_peers queries: a node id registered
// for a validator in the current set (genesis operators, add-validator
// proposals) or listed in allowed_peers is admitted from genesis on; any
// other is refused with a coded error; a removed validator's node is
// refused from the block after its removal.
func TestPeerFilterFollowsTheValidatorSet(t *testing.T) {
	g := withHarbour(govGenesis())
	for i, op := range g.Gov.Operators {
		op.NodeAddress = nodeID("abc"[i:]) + "@127.0.0.1:2665" + string(rune('0'+i))
	}
	c := openChain(t, store.NewMemory(), app.Options{AllowedPeers: []string{nodeID("d") + "@10.0.0.1:26656", "not-an-id"}})
	bz, err := app.MarshalGenesis(withKeyProofs(g))
	require.NoError(t, err)
	var vals []abci.ValidatorUpdate
	for _, pk := range append(append([][]byte{}, genesisVals...), consKey("v4")) {
		vals = append(vals, abci.Ed25519ValidatorUpdate(pk, 10))
	}
	_, err = c.app.InitChain(context.Background(), &abci.RequestInitChain{Time: genesisTime, ChainId: testChainID, AppStateBytes: bz, InitialHeight: 1, Validators: vals})
	require.NoError(t, err)

	// Before the first block: genesis validators' nodes and the operator's list.
	for _, id := range []string{nodeID("a"), strings.ToUpper(nodeID("b")), nodeID("c"), nodeID("d")} {
		res := filterID(t, c, id)
		require.Zero(t, res.Code, "%s: %s", id, res.Log)
	}
	res := filterID(t, c, nodeID("e"))
	requireCode(t, app.ErrPeerNotAdmitted, res.Codespace, res.Code, res.Log, "allowed_peers")
	res = filterID(t, c, "garbage")
	requireCode(t, app.ErrPeerNotAdmitted, res.Codespace, res.Code, res.Log)
	addr, err := c.app.Query(context.Background(), &abci.RequestQuery{Path: "/p2p/filter/addr/192.0.2.1:26656"})
	require.NoError(t, err)
	require.Zero(t, addr.Code)
	c.block()

	// A validator voted in with its node address is admitted after the block.
	id, done := c.pass(&govv1.Content{Sum: &govv1.Content_AddValidator{AddValidator: &govv1.AddValidator{
		PubKey: consKey("v5"), Power: 10, AgencyId: agHarbour, NodeAddress: nodeID("e") + "@127.0.0.1:26700",
		KeyProof: validatorProof(consKey("v5"), agHarbour, keyproof.AddValidator)}}})
	requireExecuted(t, c, id, done)
	require.Zero(t, filterID(t, c, nodeID("e")).Code)

	// Removed, it is refused again.
	id, done = c.pass(removeValidator(genesisVals[0]))
	requireExecuted(t, c, id, done)
	res = filterID(t, c, nodeID("a"))
	requireCode(t, app.ErrPeerNotAdmitted, res.Codespace, res.Code, res.Log)
}

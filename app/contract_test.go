package app_test

import (
	"context"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/app"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
)

// TestEveryContractRouteIsServed walks api.Routes, the client contract's
// list of query paths: the app answers each one (never "no query path"),
// so a path a client builds is a path the node serves.
func TestEveryContractRouteIsServed(t *testing.T) {
	c := newChain(t)
	c.block()
	for _, r := range api.Routes() {
		res, err := c.app.Query(context.Background(), &abci.RequestQuery{Path: r.Path})
		require.NoError(t, err)
		require.False(t, isCode(res.Codespace, res.Code, app.ErrUnknownQuery), "%s: %s", r.Path, res.Log)
	}
}

// TestRecordAnswersAreProvenAtTheContractKeys: a record answer is proven at
// exactly the key the client builds from the request with api/, and its
// value decodes as the record type api.RecordOf names for that key.
func TestRecordAnswersAreProvenAtTheContractKeys(t *testing.T) {
	c := newChain(t)
	c.block()
	for _, tt := range []struct {
		path string
		data []byte
		key  []byte
		want proto.Message
	}{
		{api.PathParams, nil, api.ParamsKey(), &appv1.Params{}},
		{api.PathAgency, []byte(agTreasury), api.AgencyKey(agTreasury), &agencyv1.Agency{}},
		{api.PathAccount, treasuryAdmin.addr, api.AccountKey(treasuryAdmin.addr), &agencyv1.Account{}},
		{api.PathKey, api.AgencyKey(agTax), api.AgencyKey(agTax), &agencyv1.Agency{}},
	} {
		res, err := c.app.Query(context.Background(), &abci.RequestQuery{Path: tt.path, Data: tt.data, Prove: true})
		require.NoError(t, err)
		require.Zero(t, res.Code, "%s: %s", tt.path, res.Log)
		require.Equal(t, tt.key, res.Key, tt.path)
		require.Len(t, res.ProofOps.Ops, 1, tt.path)
		require.Equal(t, api.ProofOpType, res.ProofOps.Ops[0].Type, tt.path)
		require.Equal(t, tt.key, res.ProofOps.Ops[0].Key, tt.path)
		_, m, err := api.DecodeRecord(res.Key, res.Value)
		require.NoError(t, err, tt.path)
		require.IsType(t, tt.want, m, tt.path)
	}
}

// TestListEntriesDecodeByTheirKeys: every entry of a members answer is a
// record whose type api.RecordOf names by its key.
func TestListEntriesDecodeByTheirKeys(t *testing.T) {
	c := newChain(t)
	c.block()
	res := c.query(api.PathMembers, []byte(agTreasury))
	require.Zero(t, res.Code, res.Log)
	list := &appv1.ProvedList{}
	require.NoError(t, proto.Unmarshal(res.Value, list))
	require.NotEmpty(t, list.Entries)
	for _, e := range list.Entries {
		kind, m, err := api.DecodeRecord(e.Key, e.Value)
		require.NoError(t, err)
		require.Equal(t, "account", kind)
		require.Equal(t, agTreasury, m.(*agencyv1.Account).AgencyId)
	}
}

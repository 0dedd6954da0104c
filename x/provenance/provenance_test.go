package provenance_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	provenancev1 "github.com/tallyledger/tally/proto/tally/provenance/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/module"
	"github.com/tallyledger/tally/x/provenance"
)

func TestValidateItemID(t *testing.T) {
	for _, tt := range []struct {
		id string
		ok bool
	}{
		{"lgtin:05012345678900.L1", true},
		{"sgtin:05012345678917.SERIAL-9/x", true},
		{"lot:farm-42", true},
		{"lgtin:05012345678901.L1", false}, // check digit
		{"lgtin:0501234567890.L1", false},  // 13 digits
		{"lgtin:05012345678900", false},    // no lot
		{"lgtin:05012345678900.123456789012345678901", false},
		{"farm-42", false},       // no scheme
		{"Lot:x", false},         // scheme upper case
		{"lot:has space", false}, // space
		{"lot:", false},
		{"lot:" + string(make([]byte, 200)), false},
	} {
		err := provenance.ValidateItemID(tt.id)
		if tt.ok {
			require.NoError(t, err, tt.id)
		} else {
			require.ErrorIs(t, err, provenance.ErrInvalidItemID, tt.id)
		}
	}
}

// accounts is a fixed set of active accounts for the keeper.
type accounts map[string]*agencyv1.Account

func (a accounts) Account(_ store.KV, addr []byte) (*agencyv1.Account, error) {
	if acc, ok := a[string(addr)]; ok {
		return acc, nil
	}
	return nil, agency.ErrUnknownAccount
}

var producer = &agencyv1.Account{Address: []byte("producer-address-20b"), AgencyId: "farm", Roles: []agencyv1.Role{agencyv1.Role_ROLE_PRODUCER}, Status: agencyv1.Status_STATUS_ACTIVE}
var regulator = &agencyv1.Account{Address: []byte("regulator-address-20"), AgencyId: "fsa", Roles: []agencyv1.Role{agencyv1.Role_ROLE_REGULATOR}, Status: agencyv1.Status_STATUS_ACTIVE}

func ctxAt(kv store.KV, h int64, events *[]module.Event) module.Context {
	return module.NewContext(kv, h, time.Unix(1_900_000_000+h, 0), "test", events)
}

// A recall spreads through the queue at most budget items (plus one
// item's children) per block, in order, until every descendant is marked.
func TestRecallPropagationIsBoundedPerBlock(t *testing.T) {
	kv := store.NewMemory()
	k := provenance.NewKeeper(accounts{string(producer.Address): producer, string(regulator.Address): regulator}).WithMandates(regulated(t, kv, true))
	p := provenance.DefaultParams()
	p.RecallBudget = 7
	require.NoError(t, k.InitGenesis(kv, &provenancev1.Genesis{Params: p}))
	ctx := ctxAt(kv, 1, nil)
	require.NoError(t, k.RegisterItem(ctx, producer, &provenancev1.MsgRegisterItem{Id: "lot:r", Product: "milk", Quantity: 25, Unit: "l", Origin: "here"}))
	var parts []*provenancev1.SplitPart
	for i := 0; i < 5; i++ {
		parts = append(parts, &provenancev1.SplitPart{Id: fmt.Sprintf("lot:r-%d", i), Quantity: 5})
	}
	require.NoError(t, k.Split(ctx, producer, &provenancev1.MsgSplit{ItemId: "lot:r", Parts: parts, Location: "here"}))
	for i := 0; i < 5; i++ {
		var sub []*provenancev1.SplitPart
		for j := 0; j < 5; j++ {
			sub = append(sub, &provenancev1.SplitPart{Id: fmt.Sprintf("lot:r-%d-%d", i, j), Quantity: 1})
		}
		require.NoError(t, k.Split(ctx, producer, &provenancev1.MsgSplit{ItemId: fmt.Sprintf("lot:r-%d", i), Parts: sub, Location: "here"}))
	}
	require.NoError(t, k.Recall(ctx, regulator, &provenancev1.MsgRecall{OrderId: "R", ItemId: "lot:r", Reason: "x"}))
	total := 0
	for h := int64(2); ; h++ {
		n, err := k.EndBlock(ctxAt(kv, h, nil))
		require.NoError(t, err)
		require.LessOrEqual(t, n, int(p.RecallBudget)+provenance.MaxOutputs-1)
		require.LessOrEqual(t, n, 7+5-1, "at most the budget plus one item's children")
		total += n
		o, err := k.RecallOrder(kv, "R")
		require.NoError(t, err)
		if o.Complete {
			break
		}
		require.Less(t, h, int64(20))
	}
	require.Equal(t, 30, total)
	require.Zero(t, provenance.QueueLength(kv))
}

// Lineage walks breadth first, each item once, both ways.
func TestLineageWalksBothWays(t *testing.T) {
	kv := store.NewMemory()
	k := provenance.NewKeeper(accounts{string(producer.Address): producer})
	require.NoError(t, k.InitGenesis(kv, nil))
	ctx := ctxAt(kv, 1, nil)
	reg := func(id string) {
		require.NoError(t, k.RegisterItem(ctx, producer, &provenancev1.MsgRegisterItem{Id: id, Product: "milk", Quantity: 10, Unit: "l", Origin: "here"}))
	}
	reg("lot:a")
	reg("lot:b")
	require.NoError(t, k.Merge(ctx, producer, &provenancev1.MsgMerge{ItemIds: []string{"lot:a", "lot:b"}, NewId: "lot:ab", Location: "here"}))
	require.NoError(t, k.Split(ctx, producer, &provenancev1.MsgSplit{ItemId: "lot:ab", Location: "here",
		Parts: []*provenancev1.SplitPart{{Id: "lot:x", Quantity: 15}, {Id: "lot:y", Quantity: 5}}}))
	get := func(key []byte) ([]byte, error) { return kv.Get(key), nil }
	down, more, err := provenance.Lineage(get, "lot:a", provenancev1.LineageDirection_LINEAGE_DIRECTION_DOWN, 0, 100)
	require.NoError(t, err)
	require.False(t, more)
	require.Equal(t, []string{"lot:ab", "lot:x", "lot:y"}, down)
	up, _, err := provenance.Lineage(get, "lot:y", provenancev1.LineageDirection_LINEAGE_DIRECTION_UP, 0, 100)
	require.NoError(t, err)
	require.Equal(t, []string{"lot:ab", "lot:a", "lot:b"}, up)
	page, more, err := provenance.Lineage(get, "lot:y", provenancev1.LineageDirection_LINEAGE_DIRECTION_UP, 1, 1)
	require.NoError(t, err)
	require.True(t, more)
	require.Equal(t, []string{"lot:a"}, page)
	x, err := k.Item(kv, "lot:x")
	require.NoError(t, err)
	require.Equal(t, uint64(15), x.Quantity)
}

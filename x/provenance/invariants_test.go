package provenance_test

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	provenancev1 "github.com/tallyledger/tally/proto/tally/provenance/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/module"
	"github.com/tallyledger/tally/x/provenance"
)

var (
	receiver  = &agencyv1.Account{Address: []byte("receiver-address-20b"), AgencyId: "school", Status: agencyv1.Status_STATUS_ACTIVE}
	inspector = &agencyv1.Account{Address: []byte("inspector-address-20"), AgencyId: "fsa", Roles: []agencyv1.Role{agencyv1.Role_ROLE_INSPECTOR}, Status: agencyv1.Status_STATUS_ACTIVE}
)

// goods is a provenance keeper over real state, with the world's accounts.
type goods struct {
	t  *testing.T
	kv *store.Store
	k  provenance.Keeper
	h  int64
}

func newGoods(t *testing.T) *goods {
	kv := store.NewMemory()
	g := &goods{t: t, kv: kv, k: provenance.NewKeeper(accounts{
		string(producer.Address): producer, string(regulator.Address): regulator,
		string(receiver.Address): receiver, string(inspector.Address): inspector,
	}).WithMandates(regulated(t, kv, true))}
	p := provenance.DefaultParams()
	p.RecallBudget = 1 // a recall takes several blocks, so its middle is checked too
	require.NoError(t, g.k.InitGenesis(g.kv, &provenancev1.Genesis{Params: p}))
	return g
}

// do runs one message through ValidateBasic and its handler on a cache,
// written only on success, as the app does; every step here must succeed.
func (g *goods) do(signer *agencyv1.Account, m proto.Message, f func(ctx module.Context) error) {
	g.t.Helper()
	require.NoError(g.t, provenance.ValidateBasic(m))
	cache := store.NewCache(g.kv)
	ctx := ctxAt(cache, g.h, nil)
	require.NoError(g.t, f(ctx), "%T", m)
	cache.Write()
}

func (g *goods) endBlock() int {
	g.t.Helper()
	n, err := g.k.EndBlock(ctxAt(g.kv, g.h, nil))
	require.NoError(g.t, err)
	return n
}

func (g *goods) requireHolds(step string) {
	g.t.Helper()
	r, err := g.k.Invariants(g.kv)
	require.NoError(g.t, err)
	for _, c := range r.Checks {
		require.True(g.t, c.Ok, "%s: check %s: %s", step, c.Name, c.Detail)
	}
	require.True(g.t, r.Ok, step)
}

// build walks goods through every handler: registration, accreditation and
// attestation, a split, a merge, a transformation, both retirements, custody
// offered and accepted, rejected, withdrawn, expired and left open, and two
// recalls that spread a block at a time and are acknowledged. The
// invariants are checked after every block, recall propagation included.
func (g *goods) build() {
	reg := func(id, product string, q uint64, unit string) {
		m := &provenancev1.MsgRegisterItem{Id: id, Product: product, Quantity: q, Unit: unit, Origin: "farm"}
		g.do(producer, m, func(ctx module.Context) error { return g.k.RegisterItem(ctx, producer, m) })
	}
	offer := func(id string, ttl int64) {
		m := &provenancev1.MsgOfferCustody{ItemId: id, To: receiver.Address, Location: "gate", TtlSeconds: ttl}
		g.do(producer, m, func(ctx module.Context) error { return g.k.OfferCustody(ctx, producer, m) })
	}
	g.h = 1
	reg("lot:milk", "milk", 100, "l")
	reg("lot:a", "milk", 10, "l")
	reg("lot:b", "milk", 15, "l")
	reg("lot:c", "milk", 5, "l")
	reg("lot:d", "milk", 8, "l")
	reg("lot:e", "milk", 20, "l")
	reg("lot:f", "milk", 3, "l")
	acc := &provenancev1.MsgAccreditInspector{Inspector: inspector.Address}
	g.do(regulator, acc, func(ctx module.Context) error { return g.k.AccreditInspector(ctx, regulator, acc) })
	for range 2 {
		att := &provenancev1.MsgAttest{ItemId: "lot:milk", InspectionType: "somatic_cells", Result: provenance.ResultPass, EvidenceSha256: make([]byte, 32), Location: "farm"}
		g.do(inspector, att, func(ctx module.Context) error { return g.k.Attest(ctx, inspector, att) })
	}
	g.endBlock()
	g.requireHolds("registered")

	g.h = 2
	split := &provenancev1.MsgSplit{ItemId: "lot:milk", Location: "dairy", Parts: []*provenancev1.SplitPart{{Id: "lot:m1", Quantity: 60}, {Id: "lot:m2", Quantity: 40}}}
	g.do(producer, split, func(ctx module.Context) error { return g.k.Split(ctx, producer, split) })
	merge := &provenancev1.MsgMerge{ItemIds: []string{"lot:a", "lot:b"}, NewId: "lot:ab", Location: "dairy"}
	g.do(producer, merge, func(ctx module.Context) error { return g.k.Merge(ctx, producer, merge) })
	tr := &provenancev1.MsgTransform{ItemIds: []string{"lot:m1", "lot:ab"}, Location: "dairy", Process: "cheesemaking", Outputs: []*provenancev1.TransformOutput{
		{Id: "lot:cheese", Product: "cheese", Quantity: 6, Unit: "kg"}, {Id: "lot:whey", Product: "whey", Quantity: 70, Unit: "l"}}}
	g.do(producer, tr, func(ctx module.Context) error { return g.k.Transform(ctx, producer, tr) })
	for id, st := range map[string]provenancev1.ItemStatus{"lot:c": provenancev1.ItemStatus_ITEM_STATUS_CONSUMED, "lot:d": provenancev1.ItemStatus_ITEM_STATUS_DESTROYED} {
		m := &provenancev1.MsgRetire{ItemId: id, Status: st, Location: "dairy"}
		g.do(producer, m, func(ctx module.Context) error { return g.k.Retire(ctx, producer, m) })
	}
	g.endBlock()
	g.requireHolds("split, merged, transformed, retired")

	g.h = 3
	offer("lot:m2", 0)
	acc2 := &provenancev1.MsgAcceptCustody{ItemId: "lot:m2", Location: "school"}
	g.do(receiver, acc2, func(ctx module.Context) error { return g.k.AcceptCustody(ctx, receiver, acc2) })
	offer("lot:whey", 0)
	rej := &provenancev1.MsgRejectCustody{ItemId: "lot:whey", Reason: "not ordered"}
	g.do(receiver, rej, func(ctx module.Context) error { return g.k.RejectCustody(ctx, receiver, rej) })
	offer("lot:e", 0)
	wd := &provenancev1.MsgWithdrawOffer{ItemId: "lot:e"}
	g.do(producer, wd, func(ctx module.Context) error { return g.k.WithdrawOffer(ctx, producer, wd) })
	offer("lot:f", 2)      // expires at the end of block 5
	offer("lot:cheese", 0) // still open when the recall cancels it
	g.endBlock()
	g.requireHolds("offers")

	g.h = 4
	rc := &provenancev1.MsgRecall{OrderId: "R1", ItemId: "lot:milk", Reason: "listeria"}
	g.do(regulator, rc, func(ctx module.Context) error { return g.k.Recall(ctx, regulator, rc) })
	g.requireHolds("recall ordered")
	for ; ; g.h++ {
		g.endBlock()
		g.requireHolds("recall spreading")
		o, err := g.k.RecallOrder(g.kv, "R1")
		require.NoError(g.t, err)
		if o.Complete {
			break
		}
		require.Less(g.t, g.h, int64(20))
	}
	g.h++
	rc2 := &provenancev1.MsgRecall{OrderId: "R2", ItemId: "lot:ab", Reason: "listeria, second source"}
	g.do(regulator, rc2, func(ctx module.Context) error { return g.k.Recall(ctx, regulator, rc2) })
	g.endBlock()
	ack := &provenancev1.MsgAcknowledgeRecall{ItemId: "lot:m2", Note: "withdrawn from the kitchen"}
	g.do(receiver, ack, func(ctx module.Context) error { return g.k.AcknowledgeRecall(ctx, receiver, ack) })
	offer("lot:e", 0) // left open
	g.endBlock()
	g.requireHolds("recalled, acknowledged")

	for id, want := range map[string]provenancev1.ItemStatus{
		"lot:milk": provenancev1.ItemStatus_ITEM_STATUS_RECALLED, "lot:whey": provenancev1.ItemStatus_ITEM_STATUS_RECALLED,
		"lot:cheese": provenancev1.ItemStatus_ITEM_STATUS_RECALLED, "lot:ab": provenancev1.ItemStatus_ITEM_STATUS_RECALLED,
		"lot:f": provenancev1.ItemStatus_ITEM_STATUS_ACTIVE, "lot:e": provenancev1.ItemStatus_ITEM_STATUS_IN_TRANSIT,
		"lot:d": provenancev1.ItemStatus_ITEM_STATUS_DESTROYED,
	} {
		it, err := g.k.Item(g.kv, id)
		require.NoError(g.t, err)
		require.Equal(g.t, want, it.Status, id)
	}
}

func (g *goods) edit(id string, f func(it *provenancev1.Item)) {
	g.t.Helper()
	it, err := g.k.Item(g.kv, id)
	require.NoError(g.t, err)
	f(it)
	require.NoError(g.t, store.SetProto(g.kv, api.ProvenanceItemKey(id), it))
}

func TestProvenanceInvariantsHoldThroughEveryHandlerAndRecall(t *testing.T) {
	g := newGoods(t)
	g.build()
	r, err := g.k.Invariants(g.kv)
	require.NoError(t, err)
	require.Equal(t, "provenance", r.Module)
	require.Len(t, r.Checks, 10)
	for _, c := range r.Checks {
		require.NotEmpty(t, c.Rule)
	}
}

// requireFails asserts that check name fails with a detail containing
// fragment, that the checks in knockOn fail too, and that every other
// check holds.
func requireFails(t *testing.T, r *appv1.ModuleInvariants, name, fragment string, knockOn ...string) {
	t.Helper()
	require.False(t, r.Ok, "the report must fail")
	seen := false
	for _, c := range r.Checks {
		switch {
		case c.Name == name:
			seen = true
			require.False(t, c.Ok, "check %s must fail", name)
			require.NotZero(t, c.Problems)
			require.Contains(t, c.Detail, fragment)
		case slices.Contains(knockOn, c.Name):
			require.False(t, c.Ok, "check %s must fail too", c.Name)
		default:
			require.True(t, c.Ok, "check %s: %s", c.Name, c.Detail)
		}
	}
	require.True(t, seen, "no check named %s", name)
}

// Each check catches state the handlers never write, written directly
// under the module's keys, and names the record at fault.
func TestProvenanceInvariantsCatchCorruptState(t *testing.T) {
	for _, tt := range []struct {
		name, check, fragment string
		knockOn               []string
		corrupt               func(g *goods)
	}{
		{"an undefined status", provenance.CheckItemStatus, "item lot:c has status 9, which is not defined", nil,
			func(g *goods) { g.edit("lot:c", func(it *provenancev1.Item) { it.Status = 9 }) }},
		{"a gap in an item's history", provenance.CheckHistory, "item lot:milk counts 5 history entries but 4 are stored", nil,
			func(g *goods) { g.kv.Delete(api.ProvenanceHistoryKey("lot:milk", 2)) }},
		{"a child that does not know its parent", provenance.CheckLineage, "item lot:e lists child lot:f, which does not list it as a parent", nil,
			func(g *goods) { g.edit("lot:e", func(it *provenancev1.Item) { it.Children = []string{"lot:f"} }) }},
		{"split parts that do not add up", provenance.CheckSplits, "the parts of lot:milk ([lot:m1 lot:m2]) add up to 101 l; it held 100 l", nil,
			func(g *goods) { g.edit("lot:m2", func(it *provenancev1.Item) { it.Quantity = 41 }) }},
		{"a split part in another unit", provenance.CheckSplits, `part lot:m2 is milk in "kg" but split lot:milk is milk in "l"`, nil,
			func(g *goods) { g.edit("lot:m2", func(it *provenancev1.Item) { it.Unit = "kg" }) }},
		{"a merge that made milk from nothing", provenance.CheckMerges, "the inputs of lot:ab ([lot:a lot:b]) add up to 25 l; it holds 26 l", nil,
			func(g *goods) { g.edit("lot:ab", func(it *provenancev1.Item) { it.Quantity = 26 }) }},
		{"transformation outputs with different inputs", provenance.CheckTransforms, "outputs lot:cheese and lot:whey of one transformation list different inputs", []string{provenance.CheckLineage},
			func(g *goods) { g.edit("lot:whey", func(it *provenancev1.Item) { it.Parents = []string{"lot:m1"} }) }},
		{"an open offer of an item not in transit", provenance.CheckOffers, "item lot:e has an open offer to", nil,
			func(g *goods) {
				g.edit("lot:e", func(it *provenancev1.Item) { it.Status = provenancev1.ItemStatus_ITEM_STATUS_ACTIVE })
			}},
		{"a split part whose metadata reference leads nowhere", provenance.CheckMetadata, "item lot:m2 inherits its metadata from lot:gone, which does not exist", nil,
			func(g *goods) { g.edit("lot:m2", func(it *provenancev1.Item) { it.MetadataFrom = "lot:gone" }) }},
		{"a split part that copies metadata as well as referencing it", provenance.CheckMetadata, "item lot:m2 inherits its metadata from lot:milk but also carries its own", nil,
			func(g *goods) {
				g.edit("lot:m2", func(it *provenancev1.Item) { it.Attributes = []*provenancev1.Attribute{{Key: "k", Value: "v"}} })
			}},
		{"an item missing from its custodian's index", provenance.CheckCustodyIndex, "item lot:f is missing from the held-items index of its custodian", nil,
			func(g *goods) { g.kv.Delete(api.ProvenanceHeldKey(producer.Address, "lot:f")) }},
		{"a complete recall that missed a descendant", provenance.CheckRecalls, "recall R1 is complete but item lot:whey, made from lot:m1 which it reached, is not recalled", nil,
			func(g *goods) {
				g.edit("lot:whey", func(it *provenancev1.Item) {
					it.Status, it.Recall = it.Recall.StatusBefore, nil
				})
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := newGoods(t)
			g.build()
			tt.corrupt(g)
			r, err := g.k.Invariants(g.kv)
			require.NoError(t, err)
			requireFails(t, r, tt.check, tt.fragment, tt.knockOn...)
		})
	}
}

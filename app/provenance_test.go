package app_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	ics23 "github.com/cosmos/ics23/go"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/client"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	pv "github.com/tallyledger/tally/proto/tally/provenance/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/module"
	"github.com/tallyledger/tally/x/provenance"
)

// The provenance test world: the test genesis plus a farm, a dairy and a
// school kitchen (businesses and a department), a regulator officer and a
// second inspector in the regulator, and a second regulator agency.
var (
	pvFarmAdmin    = keyFor("farm/admin")
	pvFarmer       = keyFor("farm/producer")  // roles: producer
	pvDairy        = keyFor("dairy/producer") // roles: producer
	pvKitchen      = keyFor("school/kitchen") // roles: auditor (any account may hold goods)
	pvRegulator    = keyFor("regulator/officer")
	pvInspector2   = keyFor("regulator/inspector2")
	pvReg2Admin    = keyFor("regulator2/admin")
	pvReg2Inspect  = keyFor("regulator2/inspector")
	pvReg2Officer  = keyFor("regulator2/officer")
	pvEvidence     = sha256.Sum256([]byte("lab report"))
	pvAllAccounts  = []testKey{treasuryAdmin, treasuryClerk, taxCollector, regAdmin, regInspector, pvFarmAdmin, pvFarmer, pvDairy, pvKitchen, pvRegulator, pvInspector2, pvReg2Officer}
	pvNoRoleHolder = map[agencyv1.Role][]testKey{} // filled by init: accounts NOT holding each role
)

const (
	pvLoc     = "urn:gln:5012345000001"
	pvSchool  = "urn:gln:5012345000099"
	roleProd  = agencyv1.Role_ROLE_PRODUCER
	roleReg   = agencyv1.Role_ROLE_REGULATOR
	roleInsp  = agencyv1.Role_ROLE_INSPECTOR
	milkBatch = "lgtin:05012345678900.MILK-1"
)

var pvRoles = map[string][]agencyv1.Role{
	treasuryAdmin.name: {roleAdmin}, treasuryClerk.name: {roleTreasury}, taxCollector.name: {roleTaxCollector},
	regAdmin.name: {roleAdmin}, regInspector.name: {roleInsp}, pvFarmAdmin.name: {roleAdmin}, pvFarmer.name: {roleProd},
	pvDairy.name: {roleProd}, pvKitchen.name: {roleAuditor}, pvRegulator.name: {roleReg}, pvInspector2.name: {roleInsp},
	pvReg2Officer.name: {roleReg},
}

func init() {
	for _, r := range []agencyv1.Role{roleProd, roleReg, roleInsp} {
		for _, k := range pvAllAccounts {
			held := false
			for _, h := range pvRoles[k.name] {
				held = held || h == r
			}
			if !held {
				pvNoRoleHolder[r] = append(pvNoRoleHolder[r], k)
			}
		}
	}
}

func provGenesis() *appv1.GenesisState {
	g := testGenesis()
	g.Agency.Agencies = append(g.Agency.Agencies,
		&agencyv1.Agency{Id: "farm", Name: "Dale Farm", Kind: agencyv1.Kind_KIND_BUSINESS},
		&agencyv1.Agency{Id: "dairy", Name: "Vale Creamery", Kind: agencyv1.Kind_KIND_BUSINESS},
		&agencyv1.Agency{Id: "school", Name: "Northshire Primary", Kind: agencyv1.Kind_KIND_DEPARTMENT},
		&agencyv1.Agency{Id: "regulator2", Name: "Second Regulator", Kind: agencyv1.Kind_KIND_REGULATOR},
	)
	acc := func(k testKey, ag string, roles ...agencyv1.Role) *agencyv1.Account {
		return &agencyv1.Account{PubKey: k.pub, AgencyId: ag, Roles: roles}
	}
	g.Agency.Accounts = append(g.Agency.Accounts,
		acc(pvFarmAdmin, "farm", roleAdmin), acc(pvFarmer, "farm", roleProd), acc(pvDairy, "dairy", roleProd),
		acc(keyFor("dairy/admin"), "dairy", roleAdmin), acc(keyFor("school/admin"), "school", roleAdmin), acc(pvKitchen, "school", roleAuditor),
		acc(pvRegulator, agRegulator, roleReg), acc(pvInspector2, agRegulator, roleInsp),
		acc(pvReg2Admin, "regulator2", roleAdmin), acc(pvReg2Inspect, "regulator2", roleInsp), acc(pvReg2Officer, "regulator2", roleReg),
	)
	return g
}

// newProvChain starts the provenance world and commits block 1.
func newProvChain(tb testing.TB) *chain {
	tb.Helper()
	c := openChain(tb, newTestStore(tb), app.Options{})
	c.initChain(provGenesis())
	c.block()
	return c
}

// Messages.

func pvMsg(m any) *txv1.Msg {
	switch m := m.(type) {
	case *pv.MsgRegisterItem:
		return &txv1.Msg{Sum: &txv1.Msg_RegisterItem{RegisterItem: m}}
	case *pv.MsgOfferCustody:
		return &txv1.Msg{Sum: &txv1.Msg_OfferCustody{OfferCustody: m}}
	case *pv.MsgAcceptCustody:
		return &txv1.Msg{Sum: &txv1.Msg_AcceptCustody{AcceptCustody: m}}
	case *pv.MsgRejectCustody:
		return &txv1.Msg{Sum: &txv1.Msg_RejectCustody{RejectCustody: m}}
	case *pv.MsgWithdrawOffer:
		return &txv1.Msg{Sum: &txv1.Msg_WithdrawOffer{WithdrawOffer: m}}
	case *pv.MsgAccreditInspector:
		return &txv1.Msg{Sum: &txv1.Msg_AccreditInspector{AccreditInspector: m}}
	case *pv.MsgWithdrawAccreditation:
		return &txv1.Msg{Sum: &txv1.Msg_WithdrawAccreditation{WithdrawAccreditation: m}}
	case *pv.MsgAttest:
		return &txv1.Msg{Sum: &txv1.Msg_Attest{Attest: m}}
	case *pv.MsgSplit:
		return &txv1.Msg{Sum: &txv1.Msg_SplitItem{SplitItem: m}}
	case *pv.MsgMerge:
		return &txv1.Msg{Sum: &txv1.Msg_MergeItems{MergeItems: m}}
	case *pv.MsgTransform:
		return &txv1.Msg{Sum: &txv1.Msg_TransformItems{TransformItems: m}}
	case *pv.MsgRetire:
		return &txv1.Msg{Sum: &txv1.Msg_RetireItem{RetireItem: m}}
	case *pv.MsgRecall:
		return &txv1.Msg{Sum: &txv1.Msg_Recall{Recall: m}}
	case *pv.MsgAcknowledgeRecall:
		return &txv1.Msg{Sum: &txv1.Msg_AcknowledgeRecall{AcknowledgeRecall: m}}
	}
	panic(fmt.Sprintf("not a provenance message: %T", m))
}

func register(id string, qty uint64, product string) *txv1.Msg {
	return pvMsg(&pv.MsgRegisterItem{Id: id, Product: product, Quantity: qty, Unit: "l", Origin: pvLoc,
		Attributes: []*pv.Attribute{{Key: "fat_percent", Value: "3.5"}, {Key: "breed", Value: "jersey"}},
		Documents:  []*pv.Document{{Kind: "certificate", Sha256: pvEvidence[:]}}})
}

func offer(id string, to testKey, ttl int64) *txv1.Msg {
	return pvMsg(&pv.MsgOfferCustody{ItemId: id, To: to.addr, Location: pvLoc, TtlSeconds: ttl})
}
func accept(id string) *txv1.Msg { return pvMsg(&pv.MsgAcceptCustody{ItemId: id, Location: pvSchool}) }
func reject(id string) *txv1.Msg {
	return pvMsg(&pv.MsgRejectCustody{ItemId: id, Reason: "wrong order"})
}
func withdraw(id string) *txv1.Msg {
	return pvMsg(&pv.MsgWithdrawOffer{ItemId: id})
}
func accredit(k testKey) *txv1.Msg { return pvMsg(&pv.MsgAccreditInspector{Inspector: k.addr}) }
func unaccredit(k testKey) *txv1.Msg {
	return pvMsg(&pv.MsgWithdrawAccreditation{Inspector: k.addr, Reason: "moved post"})
}
func attest(id string) *txv1.Msg {
	return pvMsg(&pv.MsgAttest{ItemId: id, InspectionType: "microbiology", Result: provenance.ResultPass, EvidenceSha256: pvEvidence[:], Location: pvLoc})
}
func split(id string, parts ...uint64) *txv1.Msg {
	m := &pv.MsgSplit{ItemId: id, Location: pvLoc}
	for i, q := range parts {
		m.Parts = append(m.Parts, &pv.SplitPart{Id: fmt.Sprintf("%s-%d", id, i), Quantity: q})
	}
	return pvMsg(m)
}
func merge(newID string, ids ...string) *txv1.Msg {
	return pvMsg(&pv.MsgMerge{ItemIds: ids, NewId: newID, Location: pvLoc})
}
func transform(out string, qty uint64, ids ...string) *txv1.Msg {
	return pvMsg(&pv.MsgTransform{ItemIds: ids, Location: pvLoc, Process: "cheesemaking",
		Outputs: []*pv.TransformOutput{{Id: out, Product: "cheese.cheddar", Quantity: qty, Unit: "kg"}}})
}
func retire(id string, s pv.ItemStatus) *txv1.Msg {
	return pvMsg(&pv.MsgRetire{ItemId: id, Status: s, Location: pvLoc})
}
func recall(order, id string) *txv1.Msg {
	return pvMsg(&pv.MsgRecall{OrderId: order, ItemId: id, Reason: "listeria found in the raw milk"})
}
func acknowledge(id string) *txv1.Msg { return pvMsg(&pv.MsgAcknowledgeRecall{ItemId: id}) }

// ok runs txs in the next block and requires every one to succeed.
func (c *chain) ok(txs ...[]byte) *abci.ResponseFinalizeBlock {
	c.tb.Helper()
	res := c.block(txs...)
	for _, r := range res.TxResults {
		requireOK(c.tb, r)
	}
	return res
}

// Queries.

func (c *chain) item(id string) *pv.Item {
	c.tb.Helper()
	res := c.query(api.PathProvenanceItem, []byte(id))
	if isCode(res.Codespace, res.Code, app.ErrNotFound) {
		return nil
	}
	require.Zero(c.tb, res.Code, res.Log)
	it := &pv.Item{}
	require.NoError(c.tb, proto.Unmarshal(res.Value, it))
	return it
}

func (c *chain) pvOffer(id string) *pv.Offer {
	c.tb.Helper()
	res := c.query(api.PathProvenanceOffer, []byte(id))
	require.Zero(c.tb, res.Code, res.Log)
	o := &pv.Offer{}
	require.NoError(c.tb, proto.Unmarshal(res.Value, o))
	return o
}

func (c *chain) order(id string) *pv.RecallOrder {
	c.tb.Helper()
	res := c.query(api.PathProvenanceRecall, []byte(id))
	require.Zero(c.tb, res.Code, res.Log)
	o := &pv.RecallOrder{}
	require.NoError(c.tb, proto.Unmarshal(res.Value, o))
	return o
}

// pvList reads every page of a list query; prove checks each entry
// against the committed app hash.
func (c *chain) pvList(path string, arg []byte, prove bool) []*appv1.ProvedEntry {
	c.tb.Helper()
	var out []*appv1.ProvedEntry
	var after []byte
	for {
		data := api.ListData(arg, after, 0)
		c.requireListingProven(path, data)
		res, err := c.app.Query(context.Background(), &abci.RequestQuery{Path: path, Data: data, Prove: prove})
		require.NoError(c.tb, err)
		require.Zero(c.tb, res.Code, res.Log)
		list := &appv1.ProvedList{}
		require.NoError(c.tb, proto.Unmarshal(res.Value, list))
		if prove {
			verifyEntries(c.tb, c.hashes[res.Height], list.Entries)
		}
		out = append(out, list.Entries...)
		if len(list.NextKey) == 0 {
			return out
		}
		after = list.NextKey
	}
}

func verifyEntries(tb testing.TB, root []byte, entries []*appv1.ProvedEntry) {
	tb.Helper()
	for _, e := range entries {
		p := &ics23.CommitmentProof{}
		require.NoError(tb, p.Unmarshal(e.Proof))
		require.NoError(tb, client.VerifyProof(root, e.Key, e.Value, p), "entry %q", e.Key)
	}
}

func (c *chain) pvHistory(id string) []*pv.Event {
	c.tb.Helper()
	entries := c.pvList(api.PathProvenanceHistory, []byte(id), false)
	var out []*pv.Event
	for _, e := range entries[1:] {
		ev := &pv.Event{}
		require.NoError(c.tb, proto.Unmarshal(e.Value, ev))
		out = append(out, ev)
	}
	return out
}

func eventTypes(evs []*pv.Event) []pv.EventType {
	out := make([]pv.EventType, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

func itemsOf(tb testing.TB, entries []*appv1.ProvedEntry) []*pv.Item {
	out := make([]*pv.Item, len(entries))
	for i, e := range entries {
		out[i] = &pv.Item{}
		require.NoError(tb, proto.Unmarshal(e.Value, out[i]))
	}
	return out
}

func countEvents(events []abci.Event, typ string) int {
	n := 0
	for _, e := range events {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// Every provenance message names its role in the permission table; an
// account without it is refused with tx/14 in CheckTx and in the block,
// spending nothing (the app hash is unchanged); an account with it
// succeeds.
func TestProvenancePermissionEveryMessage(t *testing.T) {
	want := map[string]agencyv1.Role{
		"register": roleProd, "transform": roleProd,
		"accredit": roleReg, "unaccredit": roleReg, "recall": roleReg,
		"attest": roleInsp,
		"offer":  0, "accept": 0, "reject": 0, "withdraw": 0, "split": 0, "merge": 0, "retire": 0, "acknowledge": 0,
	}
	msgs := map[string]*txv1.Msg{
		"register": register("lot:p1", 10, "milk"), "transform": transform("lot:cheese", 1, "lot:p1"),
		"accredit": accredit(regInspector), "unaccredit": unaccredit(regInspector), "recall": recall("R-1", "lot:p1"),
		"attest": attest("lot:p1"), "offer": offer("lot:p1", pvKitchen, 0), "accept": accept("lot:p1"), "reject": reject("lot:p1"),
		"withdraw": withdraw("lot:p1"), "split": split("lot:p1", 5, 5), "merge": merge("lot:m", "lot:p1", "lot:p2"),
		"retire": retire("lot:p1", pv.ItemStatus_ITEM_STATUS_CONSUMED), "acknowledge": acknowledge("lot:p1"),
	}
	require.Len(t, msgs, 14, "one case per provenance message")
	for name, m := range msgs {
		role, ok := app.RequiredRole(m)
		require.True(t, ok, name)
		require.Equal(t, want[name], role, name)
	}

	// Role-bound messages: every account lacking the role is refused.
	c := newProvChain(t)
	for _, name := range []string{"register", "transform", "accredit", "unaccredit", "recall", "attest"} {
		role := want[name]
		for _, k := range pvNoRoleHolder[role] {
			tx := c.tx(k, msgs[name])
			check := c.checkTx(tx)
			requireCode(t, app.ErrUnauthorized, check.Codespace, check.Code, check.Log, agency.RoleName(role))
			hash := c.lastHash()
			res := c.block(tx).TxResults[0]
			requireCode(t, app.ErrUnauthorized, res.Codespace, res.Code, res.Log)
			require.Equal(t, hash, c.lastHash(), "%s by %s changed state", name, k.name)
		}
	}
	// And a holder succeeds, in an order that makes each valid.
	c.ok(c.tx(pvFarmer, msgs["register"]))
	c.ok(c.tx(pvRegulator, msgs["accredit"]))
	c.ok(c.tx(regInspector, msgs["attest"]))
	c.ok(c.tx(pvRegulator, msgs["unaccredit"]))
	c.ok(c.tx(pvFarmer, msgs["transform"]))
	c.ok(c.tx(pvRegulator, msgs["recall"]))
	require.Equal(t, pv.ItemStatus_ITEM_STATUS_RECALLED, c.item("lot:p1").Status)

	// Party-bound messages: any active account may send them, the handler
	// decides; an account unknown to the chain is refused before that.
	c.ok(c.tx(pvFarmer, register("lot:p2", 10, "milk")))
	c.ok(c.tx(pvFarmer, register("lot:p3", 10, "milk")))
	c.ok(c.tx(pvFarmer, offer("lot:p2", pvKitchen, 0)))
	c.ok(c.tx(pvKitchen, accept("lot:p2")))                                       // a kitchen with no producer role takes custody
	c.ok(c.tx(pvKitchen, split("lot:p2", 4, 6)))                                  // splits what it holds
	c.ok(c.tx(pvKitchen, merge("lot:p2-m", "lot:p2-0", "lot:p2-1")))              // merges it
	c.ok(c.tx(pvKitchen, retire("lot:p2-m", pv.ItemStatus_ITEM_STATUS_CONSUMED))) // and serves it
	c.ok(c.tx(pvFarmer, offer("lot:p3", pvDairy, 0)))
	c.ok(c.tx(pvDairy, reject("lot:p3")))
	c.ok(c.tx(pvFarmer, offer("lot:p3", pvDairy, 0)))
	c.ok(c.tx(pvFarmer, withdraw("lot:p3")))
	c.ok(c.tx(pvRegulator, recall("R-2", "lot:p3")))
	c.ok(c.tx(pvFarmer, acknowledge("lot:p3")))
	for _, name := range []string{"offer", "accept", "reject", "withdraw", "split", "merge", "retire", "acknowledge"} {
		res := c.checkTx(c.tx(stranger, msgs[name]))
		requireCode(t, app.ErrUnknownSigner, res.Codespace, res.Code, res.Log)
	}
}

// refusalCase is a message that must fail with its own code and change
// nothing but the signer's nonce.
type refusalCase struct {
	name   string
	setup  func(c *chain)
	signer testKey
	msg    *txv1.Msg
	want   *module.Error
	log    string
}

// Every user mistake has its own code and leaves state untouched: a twin
// chain whose transaction (same envelope) fails for an unrelated reason
// ends with the same app hash, and no provenance key changed.
func TestProvenanceRefusalsLeaveStateUntouched(t *testing.T) {
	const milk = "lot:milk"
	reg := func(c *chain) { c.ok(c.tx(pvFarmer, register(milk, 100, "milk"))) }
	offered := func(c *chain) { reg(c); c.ok(c.tx(pvFarmer, offer(milk, pvKitchen, 3))) }
	both := func(c *chain) { reg(c); c.ok(c.tx(pvFarmer, register("lot:cream", 5, "cream"))) }
	cases := []refusalCase{
		{"duplicate identifier", reg, pvDairy, register(milk, 1, "milk"), provenance.ErrDuplicateItem, milk},
		{"unknown item", nil, pvFarmer, offer("lot:none", pvKitchen, 0), provenance.ErrUnknownItem, "lot:none"},
		{"offer by a non-custodian", reg, pvDairy, offer(milk, pvKitchen, 0), provenance.ErrNotCustodian, "only its custodian"},
		{"offer to oneself", reg, pvFarmer, offer(milk, pvFarmer, 0), provenance.ErrSelfOffer, ""},
		{"offer to an unknown account", reg, pvFarmer, offer(milk, stranger, 0), provenance.ErrUnknownAccount, ""},
		{"offer longer than allowed", reg, pvFarmer, offer(milk, pvKitchen, 365*24*3600), provenance.ErrInvalidTTL, ""},
		{"second offer while one is open", offered, pvFarmer, offer(milk, pvDairy, 0), provenance.ErrOfferPending, "withdraw"},
		{"accept by anyone but the receiver", offered, pvDairy, accept(milk), provenance.ErrNotReceiver, "not to you"},
		{"accept with no offer", reg, pvKitchen, accept(milk), provenance.ErrNoOpenOffer, ""},
		{"accept of a withdrawn offer", func(c *chain) { offered(c); c.ok(c.tx(pvFarmer, withdraw(milk))) }, pvKitchen, accept(milk), provenance.ErrOfferWithdrawn, ""},
		{"accept of an expired offer", func(c *chain) { offered(c); c.block(); c.block(); c.block() }, pvKitchen, accept(milk), provenance.ErrOfferExpired, ""},
		{"accept of an offer expiring in this very block", func(c *chain) { offered(c); c.block(); c.block() }, pvKitchen, accept(milk), provenance.ErrOfferExpired, ""},
		{"accept twice", func(c *chain) { offered(c); c.ok(c.tx(pvKitchen, accept(milk))) }, pvKitchen, accept(milk), provenance.ErrNoOpenOffer, "accepted"},
		{"reject by anyone but the receiver", offered, pvFarmer, reject(milk), provenance.ErrNotReceiver, ""},
		{"withdraw by a non-custodian", offered, pvKitchen, withdraw(milk), provenance.ErrNotCustodian, ""},
		{"withdraw twice", func(c *chain) { offered(c); c.ok(c.tx(pvFarmer, withdraw(milk))) }, pvFarmer, withdraw(milk), provenance.ErrOfferWithdrawn, ""},
		{"split while offered", offered, pvFarmer, split(milk, 50, 50), provenance.ErrItemNotActive, "withdraw the offer"},
		{"split quantities that do not sum", reg, pvFarmer, split(milk, 50, 49), provenance.ErrQuantityMismatch, "add up to 99"},
		{"split of a consumed item", func(c *chain) { reg(c); c.ok(c.tx(pvFarmer, split(milk, 50, 50))) }, pvFarmer, split(milk, 50, 50), provenance.ErrItemNotActive, "consumed"},
		{"split of a destroyed item", func(c *chain) { reg(c); c.ok(c.tx(pvFarmer, retire(milk, pv.ItemStatus_ITEM_STATUS_DESTROYED))) }, pvFarmer, split(milk, 50, 50), provenance.ErrItemNotActive, "destroyed"},
		{"offer of a recalled item", func(c *chain) { reg(c); c.ok(c.tx(pvRegulator, recall("R-9", milk))) }, pvFarmer, offer(milk, pvKitchen, 0), provenance.ErrItemRecalled, "R-9"},
		{"retire a recalled item", func(c *chain) { reg(c); c.ok(c.tx(pvRegulator, recall("R-9", milk))) }, pvFarmer, retire(milk, pv.ItemStatus_ITEM_STATUS_CONSUMED), provenance.ErrItemRecalled, ""},
		{"accept of a recalled item", func(c *chain) { offered(c); c.ok(c.tx(pvRegulator, recall("R-9", milk))) }, pvKitchen, accept(milk), provenance.ErrItemRecalled, "offer was cancelled"},
		{"merge of different products", both, pvFarmer, merge("lot:mix", milk, "lot:cream"), provenance.ErrMismatchedInputs, "like with like"},
		{"merge into an existing id", func(c *chain) { both(c); c.ok(c.tx(pvFarmer, register("lot:milk2", 5, "milk"))) }, pvFarmer, merge("lot:cream", milk, "lot:milk2"), provenance.ErrDuplicateItem, "lot:cream"},
		{"transform into an existing id", both, pvFarmer, transform("lot:cream", 1, milk), provenance.ErrDuplicateItem, "lot:cream"},
		{"attestation by an unaccredited inspector", reg, regInspector, attest(milk), provenance.ErrNotAccredited, "must accredit"},
		{"attestation by a withdrawn inspector", func(c *chain) {
			reg(c)
			c.ok(c.tx(pvRegulator, accredit(regInspector)))
			c.ok(c.tx(pvRegulator, unaccredit(regInspector)))
		}, regInspector, attest(milk), provenance.ErrNotAccredited, ""},
		{"accrediting an inspector of another agency", nil, pvRegulator, accredit(pvReg2Inspect), provenance.ErrOtherAgency, "regulator2"},
		{"accrediting an account without the inspector role", nil, pvRegulator, accredit(regAdmin), provenance.ErrNotInspector, "grant it first"},
		{"accrediting twice", func(c *chain) { c.ok(c.tx(pvRegulator, accredit(regInspector))) }, pvRegulator, accredit(regInspector), provenance.ErrAlreadyAccredited, ""},
		{"withdrawing an accreditation never made", nil, pvRegulator, unaccredit(regInspector), provenance.ErrAccreditationMissing, ""},
		{"withdrawing another agency's accreditation", func(c *chain) { c.ok(c.tx(pvRegulator, accredit(regInspector))) }, pvReg2Officer, unaccredit(regInspector), provenance.ErrOtherAgency, ""},
		{"recall of an unknown item", nil, pvRegulator, recall("R-1", "lot:none"), provenance.ErrUnknownItem, ""},
		{"recall order id reused", func(c *chain) { both(c); c.ok(c.tx(pvRegulator, recall("R-1", milk))) }, pvRegulator, recall("R-1", "lot:cream"), provenance.ErrDuplicateOrder, ""},
		{"recall of a recalled item", func(c *chain) { reg(c); c.ok(c.tx(pvRegulator, recall("R-1", milk))) }, pvReg2Officer, recall("R-2", milk), provenance.ErrAlreadyRecalled, "R-1"},
		{"acknowledging an item not recalled", reg, pvFarmer, acknowledge(milk), provenance.ErrNotRecalled, ""},
		{"acknowledging by a non-custodian", func(c *chain) { reg(c); c.ok(c.tx(pvRegulator, recall("R-1", milk))) }, pvDairy, acknowledge(milk), provenance.ErrNotCustodian, ""},
		{"acknowledging twice", func(c *chain) {
			reg(c)
			c.ok(c.tx(pvRegulator, recall("R-1", milk)))
			c.ok(c.tx(pvFarmer, acknowledge(milk)))
		}, pvFarmer, acknowledge(milk), provenance.ErrAlreadyAcknowledged, ""},
		{"acknowledging a recall of consumed goods", func(c *chain) {
			reg(c)
			c.ok(c.tx(pvFarmer, retire(milk, pv.ItemStatus_ITEM_STATUS_CONSUMED)))
			c.ok(c.tx(pvRegulator, recall("R-1", milk)))
		}, pvFarmer, acknowledge(milk), provenance.ErrAckNotRequired, "consumed"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) { requireRefused(t, tt) })
	}

	// Stateless refusals never reach a block: CheckTx refuses them with
	// their own code.
	many := make([]*pv.Attribute, provenance.MaxAttributes+1)
	for i := range many {
		many[i] = &pv.Attribute{Key: fmt.Sprintf("k%02d", i), Value: "v"}
	}
	for _, tt := range []struct {
		name string
		msg  *txv1.Msg
		want *module.Error
	}{
		{"too many attributes", pvMsg(&pv.MsgRegisterItem{Id: "lot:a", Product: "milk", Quantity: 1, Unit: "l", Origin: pvLoc, Attributes: many}), provenance.ErrTooManyAttributes},
		{"attribute value too long", pvMsg(&pv.MsgRegisterItem{Id: "lot:a", Product: "milk", Quantity: 1, Unit: "l", Origin: pvLoc,
			Attributes: []*pv.Attribute{{Key: "k", Value: strings.Repeat("v", provenance.MaxAttributeValueBytes+1)}}}), provenance.ErrInvalidAttribute},
		{"duplicate attribute key", pvMsg(&pv.MsgRegisterItem{Id: "lot:a", Product: "milk", Quantity: 1, Unit: "l", Origin: pvLoc,
			Attributes: []*pv.Attribute{{Key: "k", Value: "1"}, {Key: "k", Value: "2"}}}), provenance.ErrInvalidAttribute},
		{"document hash not SHA-256", pvMsg(&pv.MsgRegisterItem{Id: "lot:a", Product: "milk", Quantity: 1, Unit: "l", Origin: pvLoc,
			Documents: []*pv.Document{{Kind: "photo", Sha256: []byte{1}}}}), provenance.ErrInvalidDocument},
		{"zero quantity", pvMsg(&pv.MsgRegisterItem{Id: "lot:a", Product: "milk", Unit: "l", Origin: pvLoc}), provenance.ErrInvalidQuantity},
		{"no origin", pvMsg(&pv.MsgRegisterItem{Id: "lot:a", Product: "milk", Quantity: 1, Unit: "l"}), provenance.ErrInvalidLocation},
		{"id without scheme", register("milk", 1, "milk"), provenance.ErrInvalidItemID},
		{"split parts overflow", split("lot:a", 1<<63, 1<<63), provenance.ErrInvalidQuantity},
		{"bad inspection result", pvMsg(&pv.MsgAttest{ItemId: "lot:a", InspectionType: "x", Result: "OK", EvidenceSha256: pvEvidence[:], Location: pvLoc}), provenance.ErrInvalidResult},
		{"attestation without evidence", pvMsg(&pv.MsgAttest{ItemId: "lot:a", InspectionType: "x", Result: "PASS", Location: pvLoc}), provenance.ErrInvalidEvidence},
		{"bad recall order id", recall("R 1", "lot:a"), provenance.ErrInvalidOrderID},
		{"negative offer duration", offer("lot:a", pvKitchen, -1), provenance.ErrInvalidTTL},
		{"invalid GTIN check digit", register("lgtin:05012345678901.L1", 1, "milk"), provenance.ErrInvalidItemID},
		{"split into one part", split("lot:a", 100), provenance.ErrInvalidParts},
		{"merge naming an item twice", merge("lot:mix", "lot:a", "lot:a"), provenance.ErrDuplicateInput},
		{"retire as active", retire("lot:a", pv.ItemStatus_ITEM_STATUS_ACTIVE), provenance.ErrInvalidStatus},
		{"short receiver address", pvMsg(&pv.MsgOfferCustody{ItemId: "lot:a", To: []byte{1}, Location: pvLoc}), provenance.ErrInvalidAddress},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newProvChain(t)
			res := c.checkTx(c.tx(pvFarmer, tt.msg))
			requireCode(t, tt.want, res.Codespace, res.Code, res.Log)
		})
	}
}

func requireRefused(t *testing.T, tt refusalCase) {
	t.Helper()
	c, ref := newProvChain(t), newProvChain(t)
	for _, x := range []*chain{c, ref} {
		if tt.setup != nil {
			tt.setup(x)
		}
	}
	const nonce = 99
	timeout := uint64(c.height) + 5
	tx := c.txWith(txArgs{signer: tt.signer, nonce: nonce, timeout: timeout}, tt.msg)
	refTx := ref.txWith(txArgs{signer: tt.signer, nonce: nonce, timeout: timeout}, rotateKey(tt.signer.addr, tt.signer))
	before := pvState(c)
	res := c.block(tx).TxResults[0]
	requireCode(t, tt.want, res.Codespace, res.Code, res.Log, tt.log)
	require.Len(t, res.Events, 1, "a failed transaction emits only its tx event")
	refRes := ref.block(refTx).TxResults[0]
	requireCode(t, agency.ErrKeyInUse, refRes.Codespace, refRes.Code, refRes.Log)
	require.Equal(t, ref.lastHash(), c.lastHash(), "the refused message changed state")
	// End-of-block work (expiring offers) runs in both chains alike; the
	// provenance keys differ from before only by that work.
	if !strings.Contains(tt.name, "expir") {
		require.Equal(t, before, pvState(c))
	}
}

// pvState is every provenance key and value.
func pvState(c *chain) map[string]string {
	out := map[string]string{}
	for k, v := range c.dump() {
		if strings.HasPrefix(k, "pv/") {
			out[k] = v
		}
	}
	return out
}

// Custody changes only by handshake: offered and accepted; offered and
// rejected, withdrawn or expired leaves the item with its custodian.
func TestProvenanceCustodyHandshake(t *testing.T) {
	t.Run("accept", func(t *testing.T) {
		c := newProvChain(t)
		c.ok(c.tx(pvFarmer, register(milkBatch, 100, "milk")))
		res := c.ok(c.tx(pvFarmer, offer(milkBatch, pvKitchen, 0)))
		ev := attrs(event(t, res.TxResults[0].Events, provenance.EventCustodyOffered))
		require.Equal(t, pvKitchen.hex(), ev["to"].Value)
		require.True(t, ev["to"].Index)
		it := c.item(milkBatch)
		require.Equal(t, pv.ItemStatus_ITEM_STATUS_IN_TRANSIT, it.Status)
		require.Equal(t, pvFarmer.addr, it.Custodian, "offering does not move custody")
		offers := c.pvList(api.PathProvenanceOffers, pvKitchen.addr, true)
		require.Len(t, offers, 1)

		res = c.ok(c.tx(pvKitchen, accept(milkBatch)))
		ev = attrs(event(t, res.TxResults[0].Events, provenance.EventCustodyAccepted))
		require.Equal(t, pvFarmer.hex(), ev["from"].Value)
		require.Equal(t, pvSchool, ev["location"].Value)
		it = c.item(milkBatch)
		require.Equal(t, pvKitchen.addr, it.Custodian)
		require.Equal(t, pv.ItemStatus_ITEM_STATUS_ACTIVE, it.Status)
		require.Equal(t, pv.OfferStatus_OFFER_STATUS_ACCEPTED, c.pvOffer(milkBatch).Status)
		require.Empty(t, c.pvList(api.PathProvenanceOffers, pvKitchen.addr, false))
		held := itemsOf(t, c.pvList(api.PathProvenanceHeld, pvKitchen.addr, true))
		require.Len(t, held, 1)
		require.Equal(t, milkBatch, held[0].Id)
		require.Empty(t, c.pvList(api.PathProvenanceHeld, pvFarmer.addr, false))

		h := c.pvHistory(milkBatch)
		require.Equal(t, []pv.EventType{pv.EventType_EVENT_TYPE_REGISTERED, pv.EventType_EVENT_TYPE_OFFERED, pv.EventType_EVENT_TYPE_CUSTODY_ACCEPTED}, eventTypes(h))
		last := h[2]
		require.Equal(t, pvKitchen.addr, last.Actor)
		require.Equal(t, pvFarmer.addr, last.Counterparty)
		require.Equal(t, pvSchool, last.Location)
		require.Equal(t, blockTime(c.height).Unix(), last.TimeUnix)
		require.Equal(t, c.height, last.Height)
	})
	for _, tt := range []struct {
		name  string
		end   func(c *chain) *abci.ResponseFinalizeBlock
		event string
		offer pv.OfferStatus
		step  pv.EventType
	}{
		{"reject", func(c *chain) *abci.ResponseFinalizeBlock { return c.ok(c.tx(pvKitchen, reject(milkBatch))) },
			provenance.EventOfferRejected, pv.OfferStatus_OFFER_STATUS_REJECTED, pv.EventType_EVENT_TYPE_OFFER_REJECTED},
		{"withdraw", func(c *chain) *abci.ResponseFinalizeBlock { return c.ok(c.tx(pvFarmer, withdraw(milkBatch))) },
			provenance.EventOfferWithdrawn, pv.OfferStatus_OFFER_STATUS_WITHDRAWN, pv.EventType_EVENT_TYPE_OFFER_WITHDRAWN},
		{"expire", func(c *chain) *abci.ResponseFinalizeBlock {
			// offered with a 3-second life in block h (time h): due at h+3.
			c.block()
			c.block()
			require.Equal(t, pv.ItemStatus_ITEM_STATUS_IN_TRANSIT, c.item(milkBatch).Status, "not yet due")
			return c.block()
		}, provenance.EventOfferExpired, pv.OfferStatus_OFFER_STATUS_EXPIRED, pv.EventType_EVENT_TYPE_OFFER_EXPIRED},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newProvChain(t)
			c.ok(c.tx(pvFarmer, register(milkBatch, 100, "milk")))
			c.ok(c.tx(pvFarmer, offer(milkBatch, pvKitchen, 3)))
			res := tt.end(c)
			all := append(append([]abci.Event{}, res.Events...), func() []abci.Event {
				var out []abci.Event
				for _, r := range res.TxResults {
					out = append(out, r.Events...)
				}
				return out
			}()...)
			require.Equal(t, 1, countEvents(all, tt.event))
			it := c.item(milkBatch)
			require.Equal(t, pvFarmer.addr, it.Custodian, "custody never moves without both sides")
			require.Equal(t, pv.ItemStatus_ITEM_STATUS_ACTIVE, it.Status)
			require.Equal(t, tt.offer, c.pvOffer(milkBatch).Status)
			require.Empty(t, c.pvList(api.PathProvenanceOffers, pvKitchen.addr, false))
			h := c.pvHistory(milkBatch)
			require.Equal(t, tt.step, h[len(h)-1].Type)
			// The custodian may offer again, and this time it is accepted.
			c.ok(c.tx(pvFarmer, offer(milkBatch, pvKitchen, 0)))
			c.ok(c.tx(pvKitchen, accept(milkBatch)))
			require.Equal(t, pvKitchen.addr, c.item(milkBatch).Custodian)
			require.Equal(t, uint64(2), c.item(milkBatch).OfferSeq)
		})
	}
	t.Run("an expired offer the sweep has not reached is settled by the custodian's next action", func(t *testing.T) {
		c := newProvChain(t)
		c.ok(c.tx(pvFarmer, register(milkBatch, 100, "milk")))
		c.ok(c.tx(pvFarmer, offer(milkBatch, pvKitchen, 1)))
		// Due at the next block's time: the sweep runs after its txs, so
		// the custodian's new offer in that block settles the old one.
		c.ok(c.tx(pvFarmer, offer(milkBatch, pvDairy, 0)))
		h := c.pvHistory(milkBatch)
		require.Equal(t, []pv.EventType{pv.EventType_EVENT_TYPE_REGISTERED, pv.EventType_EVENT_TYPE_OFFERED,
			pv.EventType_EVENT_TYPE_OFFER_EXPIRED, pv.EventType_EVENT_TYPE_OFFERED}, eventTypes(h))
		require.Equal(t, pvDairy.addr, c.pvOffer(milkBatch).To)
	})
}

// Quantities are conserved: children of a split sum to the parent, a merge
// holds the sum of its inputs; a transformation makes a new product.
func TestProvenanceQuantitiesConservedThroughSplitAndMerge(t *testing.T) {
	c := newProvChain(t)
	c.ok(c.tx(pvFarmer, register(milkBatch, 1000, "milk")))
	c.ok(c.tx(pvFarmer, split(milkBatch, 250, 250, 500)))
	parent := c.item(milkBatch)
	require.Equal(t, pv.ItemStatus_ITEM_STATUS_CONSUMED, parent.Status)
	require.Len(t, parent.Children, 3)
	var sum uint64
	for _, id := range parent.Children {
		ch := c.item(id)
		require.Equal(t, []string{milkBatch}, ch.Parents)
		require.Equal(t, "milk", ch.Product)
		require.Equal(t, milkBatch, ch.MetadataFrom, "children inherit the description by reference")
		require.Empty(t, ch.Attributes)
		require.Equal(t, parent.Attributes, c.item(ch.MetadataFrom).Attributes)
		require.Equal(t, pvFarmer.addr, ch.Custodian)
		sum += ch.Quantity
	}
	require.Equal(t, parent.Quantity, sum)

	c.ok(c.tx(pvFarmer, split(milkBatch+"-2", 100, 400)))
	res := c.ok(c.tx(pvFarmer, merge("lot:tank", milkBatch+"-0", milkBatch+"-1", milkBatch+"-2-1")))
	require.Equal(t, "900", attrs(event(t, res.TxResults[0].Events, provenance.EventMerged))["quantity"].Value)
	tank := c.item("lot:tank")
	require.Equal(t, uint64(250+250+400), tank.Quantity)
	require.Equal(t, "l", tank.Unit)
	require.Equal(t, pvLoc, tank.Origin)

	// Across the whole graph the live quantity is still the registered 1000 l.
	var live uint64
	for _, e := range itemsOf(t, c.pvList(api.PathProvenanceHeld, pvFarmer.addr, false)) {
		if e.Status == pv.ItemStatus_ITEM_STATUS_ACTIVE {
			live += e.Quantity
		}
	}
	require.Equal(t, uint64(1000), live)

	c.ok(c.tx(pvFarmer, transform("lot:cheese", 90, "lot:tank")))
	cheese := c.item("lot:cheese")
	require.Equal(t, "kg", cheese.Unit)
	require.Equal(t, []string{"lot:tank"}, cheese.Parents)
	require.Equal(t, []string{"lot:cheese"}, c.item("lot:tank").Children)
}

// Inspectors attest only while accredited; an attestation keeps who
// accredited the inspector at the time, even after withdrawal and a new
// accreditation by someone else.
func TestProvenanceAttestationsShowAccreditationAtTheTime(t *testing.T) {
	c := newProvChain(t)
	c.ok(c.tx(pvFarmer, register(milkBatch, 100, "milk")))
	res := c.ok(c.tx(pvRegulator, accredit(regInspector)))
	require.Equal(t, pvRegulator.hex(), attrs(event(t, res.TxResults[0].Events, provenance.EventInspectorAccredited))["regulator"].Value)
	res = c.ok(c.tx(regInspector, attest(milkBatch)))
	require.Equal(t, pvRegulator.hex(), attrs(event(t, res.TxResults[0].Events, provenance.EventAttested))["accredited_by"].Value)
	firstHeight := c.height
	c.ok(c.tx(pvRegulator, unaccredit(regInspector)))
	// A regulator re-accredits under a new serial (here the same officer:
	// the regulator agency's other regulator would do equally).
	c.ok(c.tx(pvRegulator, accredit(regInspector)))
	c.ok(c.tx(regInspector, attest(milkBatch)))

	entries := c.pvList(api.PathProvenanceAttestations, []byte(milkBatch), true)
	require.Len(t, entries, 3, "the item, then two attestations")
	var atts []*pv.Attestation
	for _, e := range entries[1:] {
		a := &pv.Attestation{}
		require.NoError(t, proto.Unmarshal(e.Value, a))
		atts = append(atts, a)
	}
	require.Equal(t, firstHeight, atts[0].Height)
	require.Equal(t, pvRegulator.addr, atts[0].Accreditation.AccreditedBy)
	require.Equal(t, uint64(1), atts[0].Accreditation.Serial)
	require.True(t, atts[0].Accreditation.Active, "as it stood when the inspection was attested")
	require.Equal(t, uint64(2), atts[1].Accreditation.Serial)
	require.Equal(t, agRegulator, atts[1].Accreditation.AgencyId)
	require.Equal(t, uint64(2), c.item(milkBatch).Attestations)
}

// A recall reaches every descendant of a 10,100-item graph (100 children,
// each split into 100) through the end-of-block queue: no block marks more
// than the budget plus one item's children, every descendant ends recalled
// by the order, and exactly the custodians of live goods owe an
// acknowledgement.
func TestProvenanceRecallReachesTenThousandDescendantsInBoundedBlocks(t *testing.T) {
	c := newProvChain(t)
	const root = "lot:root"
	c.ok(c.tx(pvFarmer, register(root, 10_000, "milk")))
	parts := make([]uint64, 100)
	for i := range parts {
		parts[i] = 100
	}
	c.ok(c.tx(pvFarmer, split(root, parts...)))
	var txs [][]byte
	ones := make([]uint64, 100)
	for i := range ones {
		ones[i] = 1
	}
	for i := 0; i < 100; i++ {
		txs = append(txs, c.tx(pvFarmer, split(fmt.Sprintf("%s-%d", root, i), ones...)))
	}
	for i := 0; i < len(txs); i += 25 { // 10,000 items made: more than one block's units
		c.ok(txs[i : i+25]...)
	}
	// A merge and a transformation downstream are reached too.
	c.ok(c.tx(pvFarmer, merge("lot:pool", root+"-0-0", root+"-1-0")))
	c.ok(c.tx(pvFarmer, transform("lot:cheese", 1, "lot:pool")))
	c.ok(c.tx(pvFarmer, offer(root+"-2-0", pvKitchen, 0))) // in transit when reached
	const descendants = 100 + 100*100 + 2

	res := c.ok(c.tx(pvRegulator, recall("FSA-2030-001", root)))
	require.Equal(t, 1, countEvents(res.TxResults[0].Events, provenance.EventRecalled), "the transaction marks only the named item")
	p := provenance.DefaultParams()
	bound := int(p.RecallBudget) + provenance.MaxOutputs - 1
	blocks, marked := 0, countEvents(res.Events, provenance.EventRecalled)
	require.LessOrEqual(t, marked, bound)
	for !c.order("FSA-2030-001").Complete {
		res := c.block()
		n := countEvents(res.Events, provenance.EventRecalled)
		require.LessOrEqual(t, n, bound, "block %d marked %d items", c.height, n)
		require.Positive(t, n)
		marked += n
		blocks++
		require.Less(t, blocks, 100, "recall did not finish")
	}
	require.Equal(t, descendants, marked)
	require.GreaterOrEqual(t, blocks, descendants/bound, "the work was spread over blocks")
	t.Logf("%d descendants recalled in %d blocks", descendants, blocks)

	order := c.order("FSA-2030-001")
	require.Equal(t, uint64(descendants+1), order.Reached)
	require.Zero(t, order.Queued)
	// Live goods: 10,000 units less the two merged, plus the cheese.
	const live = 100*100 - 2 + 1
	require.Equal(t, uint64(live), order.AwaitingAck)
	ids := []string{root, "lot:pool", "lot:cheese"}
	for i := 0; i < 100; i++ {
		ids = append(ids, fmt.Sprintf("%s-%d", root, i))
		for j := 0; j < 100; j++ {
			ids = append(ids, fmt.Sprintf("%s-%d-%d", root, i, j))
		}
	}
	for _, id := range ids {
		it := c.item(id)
		require.Equal(t, pv.ItemStatus_ITEM_STATUS_RECALLED, it.Status, id)
		require.Equal(t, "FSA-2030-001", it.Recall.OrderId, id)
	}
	inTransit := c.item(root + "-2-0")
	require.Equal(t, pv.ItemStatus_ITEM_STATUS_IN_TRANSIT, inTransit.Recall.StatusBefore)
	require.Equal(t, pv.OfferStatus_OFFER_STATUS_CANCELLED, c.pvOffer(root+"-2-0").Status)
	require.Equal(t, root+"-2", inTransit.Recall.Via)

	unacked := c.pvList(api.PathProvenanceUnacknowledged, []byte("FSA-2030-001"), false)
	require.Len(t, unacked, live)
	c.ok(c.tx(pvFarmer, acknowledge(root+"-5-5")), c.tx(pvFarmer, acknowledge("lot:cheese")))
	require.Equal(t, uint64(live-2), c.order("FSA-2030-001").AwaitingAck)
	require.Len(t, c.pvList(api.PathProvenanceUnacknowledged, []byte("FSA-2030-001"), false), live-2)
	require.True(t, c.item("lot:cheese").Recall.Acknowledged)
}

// History and lineage answers carry proofs that verify against the
// committed app hash, and are complete: the proven item record says how
// many events it has, and each proven record names its parents and
// children.
func TestProvenanceHistoryAndLineageVerifyAgainstAppHash(t *testing.T) {
	c := newProvChain(t)
	c.ok(c.tx(pvRegulator, accredit(regInspector)))
	c.ok(c.tx(pvFarmer, register(milkBatch, 100, "milk")))
	c.ok(c.tx(regInspector, attest(milkBatch)))
	c.ok(c.tx(pvFarmer, split(milkBatch, 60, 40)))
	c.ok(c.tx(pvFarmer, offer(milkBatch+"-0", pvDairy, 0)))
	c.ok(c.tx(pvDairy, accept(milkBatch+"-0")))
	c.ok(c.tx(pvDairy, transform("lgtin:05012345678900.CHEESE-1", 6, milkBatch+"-0")))
	c.ok(c.tx(pvDairy, offer("lgtin:05012345678900.CHEESE-1", pvKitchen, 0)))
	c.ok(c.tx(pvKitchen, accept("lgtin:05012345678900.CHEESE-1")))
	c.block()

	entries := c.pvList(api.PathProvenanceHistory, []byte(milkBatch+"-0"), true)
	it := &pv.Item{}
	require.NoError(t, proto.Unmarshal(entries[0].Value, it))
	require.Equal(t, int(it.Events), len(entries)-1, "the proven item says how many events there are")
	for i, e := range entries[1:] {
		ev := &pv.Event{}
		require.NoError(t, proto.Unmarshal(e.Value, ev))
		require.Equal(t, uint64(i+1), ev.Seq)
		require.Equal(t, api.ProvenanceHistoryKey(milkBatch+"-0", ev.Seq), e.Key)
	}
	// A forged event does not verify.
	p := &ics23.CommitmentProof{}
	require.NoError(t, p.Unmarshal(entries[1].Proof))
	forged := append([]byte(nil), entries[1].Value...)
	forged[len(forged)-1] ^= 1
	require.Error(t, client.VerifyProof(c.hashes[c.height], entries[1].Key, forged, p))

	lineage := func(id string, dir pv.LineageDirection) []*pv.Item {
		data := api.ListData(api.LineageArg(dir, id), nil, 0)
		res, err := c.app.Query(context.Background(), &abci.RequestQuery{Path: api.PathProvenanceLineage, Data: data, Prove: true})
		require.NoError(t, err)
		require.Zero(t, res.Code, res.Log)
		list := &appv1.ProvedList{}
		require.NoError(t, proto.Unmarshal(res.Value, list))
		verifyEntries(t, c.hashes[res.Height], list.Entries)
		return itemsOf(t, list.Entries)
	}
	ids := func(items []*pv.Item) []string {
		var out []string
		for _, it := range items {
			out = append(out, it.Id)
		}
		return out
	}
	require.Equal(t, []string{milkBatch + "-0", milkBatch}, ids(lineage("lgtin:05012345678900.CHEESE-1", pv.LineageDirection_LINEAGE_DIRECTION_UP)))
	down := lineage(milkBatch, pv.LineageDirection_LINEAGE_DIRECTION_DOWN)
	require.Equal(t, []string{milkBatch + "-0", milkBatch + "-1", "lgtin:05012345678900.CHEESE-1"}, ids(down))
	require.Equal(t, pvKitchen.addr, down[2].Custodian, "the cheese reached the school")

	res := c.query(api.PathProvenanceLineage, []byte("not a ListRequest"))
	requireCode(t, app.ErrInvalidQuery, res.Codespace, res.Code, res.Log)
	res = c.query(api.PathProvenanceLineage, listData("sideways/"+milkBatch))
	requireCode(t, app.ErrInvalidQuery, res.Codespace, res.Code, res.Log, "up/<item id> or down/<item id>")
	res = c.query(api.PathProvenanceLineage, api.ListData(api.LineageArg(pv.LineageDirection_LINEAGE_DIRECTION_UP, "lot:none"), nil, 0))
	requireCode(t, provenance.ErrUnknownItem, res.Codespace, res.Code, res.Log)
}

// lineageIDs is the ids of the items of a lineage page, which must be
// answered, and its next_key.
func lineageIDs(tb testing.TB, res *abci.ResponseQuery) ([]string, []byte) {
	tb.Helper()
	require.Zero(tb, res.Code, res.Log)
	list := &appv1.ProvedList{}
	require.NoError(tb, proto.Unmarshal(res.Value, list))
	var out []string
	for _, it := range itemsOf(tb, list.Entries) {
		out = append(out, it.Id)
	}
	return out, list.NextKey
}

// Lineage pages line up: walking a 150-item subtree 1000 at a time and
// from offsets gives the same breadth-first order.
func TestProvenanceLineagePagination(t *testing.T) {
	c := newProvChain(t)
	c.ok(c.tx(pvFarmer, register("lot:r", 1500, "milk")))
	parts := make([]uint64, 15)
	for i := range parts {
		parts[i] = 100
	}
	c.ok(c.tx(pvFarmer, split("lot:r", parts...)))
	var txs [][]byte
	for i := 0; i < 15; i++ {
		txs = append(txs, c.tx(pvFarmer, split(fmt.Sprintf("lot:r-%d", i), 10, 10, 10, 10, 10, 10, 10, 10, 10, 10)))
	}
	c.ok(txs...)
	get := func(offset uint64) ([]string, []byte) {
		var after []byte
		if offset > 0 {
			after = binary.BigEndian.AppendUint64(nil, offset)
		}
		return lineageIDs(t, c.query(api.PathProvenanceLineage, api.ListData(api.LineageArg(pv.LineageDirection_LINEAGE_DIRECTION_DOWN, "lot:r"), after, 0)))
	}
	all, next := get(0)
	require.Len(t, all, 165)
	require.Empty(t, next)
	require.Equal(t, "lot:r-0", all[0])
	require.Equal(t, "lot:r-0-0", all[15], "breadth first")
	tail, _ := get(100)
	require.Equal(t, all[100:], tail)
}

// The deepest lineage page a node serves starts at api.MaxLineageOffset:
// on a lineage with items at and past that position, the page there
// answers them, and the page one position further is refused with tx/17
// and a message that says how far pages go and what to do instead, though
// an item stands there too. The lineage is the smallest with items at
// both positions: 100 children of the root (positions 0-99), 100
// grandchildren under each of the first 99 (100-9,999), then two under
// the last child (10,000 and 10,001).
func TestLineagePageAtTheDeepestOffset(t *testing.T) {
	require.EqualValues(t, 10_000, api.MaxLineageOffset)
	c := newProvChain(t)
	const root = "lot:deep"
	hundred := make([]uint64, 100)
	for i := range hundred {
		hundred[i] = 1
	}
	// Quantities add up: 1 l each grandchild, so 100 l each child with a
	// hundred, 2 l the last.
	children := make([]uint64, 100)
	for i := range children {
		children[i] = 100
	}
	children[99] = 2
	c.ok(c.tx(pvFarmer, register(root, 99*100+2, "milk"), split(root, children...)))
	var msgs []*txv1.Msg
	for i := 0; i < 100; i++ {
		child := fmt.Sprintf("%s-%d", root, i)
		if i < 99 {
			msgs = append(msgs, split(child, hundred...))
		} else {
			msgs = append(msgs, split(child, 1, 1))
		}
		if len(msgs) == 5 || i == 99 { // five splits a block: ten of 100 parts pass the block's 30,000,000 units
			c.ok(c.tx(pvFarmer, msgs...))
			msgs = nil
		}
	}

	page := func(id string, offset uint64) *abci.ResponseQuery {
		arg := api.LineageArg(pv.LineageDirection_LINEAGE_DIRECTION_DOWN, id)
		return c.query(api.PathProvenanceLineage, api.ListData(arg, binary.BigEndian.AppendUint64(nil, offset), 0))
	}
	last := []string{root + "-99-0", root + "-99-1"}
	got, next := lineageIDs(t, page(root, api.MaxLineageOffset))
	require.Equal(t, last, got, "the items at positions 10,000 and 10,001")
	require.Empty(t, next, "the lineage ends there")
	before, next := lineageIDs(t, page(root, api.MaxLineageOffset-1))
	require.Equal(t, append([]string{root + "-98-99"}, last...), before)
	require.Empty(t, next)

	res := page(root, api.MaxLineageOffset+1)
	require.Equal(t, "tx/17", fmt.Sprintf("%s/%d", res.Codespace, res.Code), res.Log)
	requireCode(t, app.ErrInvalidQuery, res.Codespace, res.Code, res.Log,
		"position 10001 is past the deepest lineage page served (10000)", "walk deeper lineages from an item further along")
	require.Empty(t, res.Value)
	// What the message says to do works: the walk from the last child
	// reaches both.
	got, _ = lineageIDs(t, page(root+"-99", 0))
	require.Equal(t, last, got)
}

package node_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/cometbft/cometbft/libs/log"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/client"
	"github.com/tallyledger/tally/node"
	"github.com/tallyledger/tally/node/genesis"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	pv "github.com/tallyledger/tally/proto/tally/provenance/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/gov"
	"github.com/tallyledger/tally/x/provenance"
)

type pvKey struct {
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
	addr []byte
}

func newPVKey(name string) pvKey {
	seed := sha256.Sum256([]byte("provenance-node-test/" + name))
	priv := ed25519.NewKeyFromSeed(seed[:])
	pub := priv.Public().(ed25519.PublicKey)
	return pvKey{priv: priv, pub: pub, addr: agency.AddressOf(pub)}
}

// A real node carries a supply chain end to end over RPC: a farm's milk
// is attested by an inspector accredited at genesis, split, handed to a
// school kitchen by offer and acceptance, and recalled; the recall reaches
// the part the kitchen holds, the kitchen acknowledges, and the item, its
// history and lineage are read back with proofs checked against committed
// headers. A refused acceptance carries the provenance code.
func TestNodeRunsSupplyChainAndRecallOverRPC(t *testing.T) {
	regulator, inspector, farmer, kitchen := newPVKey("regulator"), newPVKey("inspector"), newPVKey("farmer"), newPVKey("kitchen")
	state := &appv1.GenesisState{
		Params: app.DefaultParams(),
		Agency: &agencyv1.Genesis{
			Agencies: []*agencyv1.Agency{
				{Id: "fsa", Name: "Food Standards", Kind: agencyv1.Kind_KIND_REGULATOR},
				{Id: "farm", Name: "Dale Farm", Kind: agencyv1.Kind_KIND_BUSINESS},
				{Id: "school", Name: "School", Kind: agencyv1.Kind_KIND_DEPARTMENT},
			},
			Accounts: []*agencyv1.Account{
				{PubKey: regulator.pub, AgencyId: "fsa", Roles: []agencyv1.Role{agencyv1.Role_ROLE_ADMIN, agencyv1.Role_ROLE_REGULATOR}},
				{PubKey: inspector.pub, AgencyId: "fsa", Roles: []agencyv1.Role{agencyv1.Role_ROLE_INSPECTOR}},
				{PubKey: farmer.pub, AgencyId: "farm", Roles: []agencyv1.Role{agencyv1.Role_ROLE_ADMIN, agencyv1.Role_ROLE_PRODUCER}},
				{PubKey: kitchen.pub, AgencyId: "school", Roles: []agencyv1.Role{agencyv1.Role_ROLE_ADMIN}},
			},
		},
		Provenance: &pv.Genesis{Accreditations: []*pv.Accreditation{{Inspector: inspector.addr, AccreditedBy: regulator.addr}}},
	}
	state.Gov = &govv1.Genesis{Mandates: gov.FoundingMandates(state.Agency.Agencies)}

	// Not t.TempDir: CometBFT may still write under config/ (the address
	// book) just after Shutdown returns, which fails TempDir's cleanup.
	dir, err := os.MkdirTemp("", "pv-node-")
	require.NoError(t, err)
	t.Cleanup(func() {
		for i := 0; i < 50 && os.RemoveAll(dir) != nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
	})
	id, err := node.InitNode(dir, "pv-node")
	require.NoError(t, err)
	comet, appCfg, err := node.LoadConfigs(dir)
	require.NoError(t, err)
	rpcAddr := fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t))
	comet.RPC.ListenAddress = rpcAddr
	comet.P2P.ListenAddress = fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t))
	comet.Consensus.TimeoutCommit = 200 * time.Millisecond
	require.NoError(t, node.WriteConfigs(dir, comet, appCfg))
	require.NoError(t, genesis.ProveAccounts("tally-pv", state.Agency, regulator.priv, inspector.priv, farmer.priv, kitchen.priv))
	_, err = genesis.WriteGenesis(comet.GenesisFile(), "tally-pv", time.Now().UTC(), []genesis.Validator{{Name: "v0", PubKey: id.ConsensusPK, Power: 10}}, state)
	require.NoError(t, err)
	n, err := node.NewNode(dir, log.NewNopLogger(), app.Options{})
	require.NoError(t, err)
	require.NoError(t, n.Start())
	defer func() { require.NoError(t, n.Shutdown()) }()

	c, err := client.Dial(rpcAddr)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	require.Eventually(t, func() bool { _, h, err := c.Status(ctx); return err == nil && h >= 1 }, 30*time.Second, 100*time.Millisecond)

	send := func(k pvKey, msg *txv1.Msg) (int64, error) {
		_, height, err := c.Status(ctx)
		require.NoError(t, err)
		tx, err := client.BuildTx(client.TxOptions{ChainID: "tally-pv", Signer: k.addr, TimeoutHeight: uint64(height) + 50},
			func(b []byte) ([]byte, error) { return ed25519.Sign(k.priv, b), nil }, msg)
		require.NoError(t, err)
		res, err := c.BroadcastAndWait(ctx, tx)
		if err != nil {
			return 0, err
		}
		return res.Height, nil
	}
	must := func(k pvKey, msg *txv1.Msg) int64 {
		h, err := send(k, msg)
		require.NoError(t, err)
		return h
	}
	const milk, part = "lgtin:05012345678900.E2E-1", "lgtin:05012345678900.E2E-1-A"
	evidence := sha256.Sum256([]byte("lab"))
	must(farmer, &txv1.Msg{Sum: &txv1.Msg_RegisterItem{RegisterItem: &pv.MsgRegisterItem{Id: milk, Product: "milk", Quantity: 100, Unit: "l", Origin: "urn:gln:1"}}})
	must(inspector, &txv1.Msg{Sum: &txv1.Msg_Attest{Attest: &pv.MsgAttest{ItemId: milk, InspectionType: "microbiology", Result: "PASS", EvidenceSha256: evidence[:], Location: "urn:gln:1"}}})
	must(farmer, &txv1.Msg{Sum: &txv1.Msg_SplitItem{SplitItem: &pv.MsgSplit{ItemId: milk, Location: "urn:gln:1",
		Parts: []*pv.SplitPart{{Id: part, Quantity: 70}, {Id: milk + "-B", Quantity: 30}}}}})
	must(farmer, &txv1.Msg{Sum: &txv1.Msg_OfferCustody{OfferCustody: &pv.MsgOfferCustody{ItemId: part, To: kitchen.addr, Location: "urn:gln:1"}}})

	// Only the receiver may accept: another account's attempt fails in its
	// block with the provenance code.
	_, err = send(regulator, &txv1.Msg{Sum: &txv1.Msg_AcceptCustody{AcceptCustody: &pv.MsgAcceptCustody{ItemId: part, Location: "urn:gln:2"}}})
	var txErr *client.TxError
	require.True(t, errors.As(err, &txErr), "%v", err)
	require.Equal(t, provenance.Codespace, txErr.Codespace)
	require.Equal(t, provenance.ErrNotReceiver.Code, txErr.Code)

	must(kitchen, &txv1.Msg{Sum: &txv1.Msg_AcceptCustody{AcceptCustody: &pv.MsgAcceptCustody{ItemId: part, Location: "urn:gln:2"}}})
	must(regulator, &txv1.Msg{Sum: &txv1.Msg_Recall{Recall: &pv.MsgRecall{OrderId: "R-E2E", ItemId: milk, Reason: "listeria"}}})

	order := &pv.RecallOrder{}
	require.Eventually(t, func() bool {
		res, proven, err := c.Query(ctx, api.PathProvenanceRecall, []byte("R-E2E"), 0, true)
		return err == nil && proven != nil && proto.Unmarshal(res.Value, order) == nil && order.Complete
	}, 30*time.Second, 200*time.Millisecond)
	require.Equal(t, uint64(3), order.Reached)
	require.Equal(t, uint64(2), order.AwaitingAck, "the kitchen's part and the farm's part")

	res, proven, err := c.Query(ctx, api.PathProvenanceItem, []byte(part), 0, true)
	require.NoError(t, err)
	require.True(t, proven.HeaderChecked)
	it := &pv.Item{}
	require.NoError(t, proto.Unmarshal(res.Value, it))
	require.Equal(t, pv.ItemStatus_ITEM_STATUS_RECALLED, it.Status)
	require.Equal(t, "R-E2E", it.Recall.OrderId)
	require.Equal(t, kitchen.addr, it.Custodian)

	must(kitchen, &txv1.Msg{Sum: &txv1.Msg_AcknowledgeRecall{AcknowledgeRecall: &pv.MsgAcknowledgeRecall{ItemId: part}}})

	// History and lineage, each record proven against a checked header.
	provedList := func(path string, data []byte) []*appv1.ProvedEntry {
		res, _, err := c.Query(ctx, path, data, 0, true)
		require.NoError(t, err)
		root, err := c.AppHashAfter(ctx, res.Height)
		require.NoError(t, err)
		list := &appv1.ProvedList{}
		require.NoError(t, proto.Unmarshal(res.Value, list))
		for _, e := range list.Entries {
			require.NoError(t, client.ProvenValue(root, e.Key, e.Value, e.Proof))
		}
		return list.Entries
	}
	hist := provedList(api.PathProvenanceHistory, api.ListData([]byte(part), nil, 0))
	head := &pv.Item{}
	require.NoError(t, proto.Unmarshal(hist[0].Value, head))
	require.Len(t, hist, int(head.Events)+1)
	var types []pv.EventType
	for _, e := range hist[1:] {
		ev := &pv.Event{}
		require.NoError(t, proto.Unmarshal(e.Value, ev))
		types = append(types, ev.Type)
	}
	require.Equal(t, []pv.EventType{pv.EventType_EVENT_TYPE_CREATED_FROM, pv.EventType_EVENT_TYPE_OFFERED, pv.EventType_EVENT_TYPE_CUSTODY_ACCEPTED,
		pv.EventType_EVENT_TYPE_RECALLED, pv.EventType_EVENT_TYPE_RECALL_ACKNOWLEDGED}, types)

	up := provedList(api.PathProvenanceLineage, api.ListData(api.LineageArg(pv.LineageDirection_LINEAGE_DIRECTION_UP, part), nil, 0))
	require.Len(t, up, 1)
	src := &pv.Item{}
	require.NoError(t, proto.Unmarshal(up[0].Value, src))
	require.Equal(t, milk, src.Id)
	require.Equal(t, uint64(1), src.Attestations)
}

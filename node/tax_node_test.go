package node_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
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
	fundsv1 "github.com/tallyledger/tally/proto/tally/funds/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/gov"
	"github.com/tallyledger/tally/x/tax"
)

// On a real single-validator node, over RPC like any client: a tax
// authority registers VAT and authorises its collector, the collector
// issues and refunds a receipt, and a third party reads the receipt, a
// clearance statement and the Treasury's balance, each checked against the
// committed header's app hash; a receipt that does not exist is proven absent.
func TestTaxReceiptsEndToEndOnARealNode(t *testing.T) {
	dir := t.TempDir()
	keyOf := func(name string) ed25519.PrivateKey {
		seed := sha256.Sum256([]byte("tax-node/" + name))
		return ed25519.NewKeyFromSeed(seed[:])
	}
	trAdmin, revAdmin, collector, settler := keyOf("treasury-admin"), keyOf("revenue-admin"), keyOf("revenue-collector"), keyOf("bank-settler")
	pub := func(k ed25519.PrivateKey) []byte { return k.Public().(ed25519.PublicKey) }
	state := &appv1.GenesisState{
		Params: app.DefaultParams(),
		Agency: &agencyv1.Genesis{
			Agencies: []*agencyv1.Agency{
				{Id: "treasury", Name: "Treasury", Kind: agencyv1.Kind_KIND_TREASURY},
				{Id: "revenue", Name: "Revenue", Kind: agencyv1.Kind_KIND_TAX_AUTHORITY},
				{Id: "bank", Name: "Clearing Bank", Kind: agencyv1.Kind_KIND_BANK},
			},
			Accounts: []*agencyv1.Account{
				{PubKey: pub(trAdmin), AgencyId: "treasury", Roles: []agencyv1.Role{agencyv1.Role_ROLE_ADMIN}},
				{PubKey: pub(revAdmin), AgencyId: "revenue", Roles: []agencyv1.Role{agencyv1.Role_ROLE_ADMIN}},
				{PubKey: pub(collector), AgencyId: "revenue", Roles: []agencyv1.Role{agencyv1.Role_ROLE_TAX_COLLECTOR}},
				{PubKey: pub(settler), AgencyId: "bank", Roles: []agencyv1.Role{agencyv1.Role_ROLE_ADMIN, agencyv1.Role_ROLE_SETTLEMENT_BANK}},
			},
		},
	}
	state.Gov = &govv1.Genesis{Mandates: gov.FoundingMandates(state.Agency.Agencies)}
	id, err := node.InitNode(dir, "tax-node")
	require.NoError(t, err)
	comet, appCfg, err := node.LoadConfigs(dir)
	require.NoError(t, err)
	rpcAddr := fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t))
	comet.RPC.ListenAddress = rpcAddr
	comet.P2P.ListenAddress = fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t))
	comet.Consensus.TimeoutCommit = 200 * time.Millisecond
	require.NoError(t, node.WriteConfigs(dir, comet, appCfg))
	require.NoError(t, genesis.ProveAccounts("tally-tax", state.Agency, trAdmin, revAdmin, collector, settler))
	_, err = genesis.WriteGenesis(comet.GenesisFile(), "tally-tax", time.Now().UTC(), []genesis.Validator{{Name: "v0", PubKey: id.ConsensusPK, Power: 10}}, state)
	require.NoError(t, err)
	n, err := node.NewNode(dir, log.NewNopLogger(), app.Options{})
	require.NoError(t, err)
	require.NoError(t, n.Start())
	defer func() { require.NoError(t, n.Shutdown()) }()

	c, err := client.Dial(rpcAddr)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	require.Eventually(t, func() bool { _, h, err := c.Status(ctx); return err == nil && h >= 1 }, 30*time.Second, 100*time.Millisecond)

	send := func(k ed25519.PrivateKey, msg *txv1.Msg) (*txv1.Msg, error) {
		_, height, err := c.Status(ctx)
		require.NoError(t, err)
		tx, err := client.BuildTx(client.TxOptions{ChainID: "tally-tax", Signer: agency.AddressOf(pub(k)), TimeoutHeight: uint64(height) + 50},
			func(b []byte) ([]byte, error) { return ed25519.Sign(k, b), nil }, msg)
		require.NoError(t, err)
		_, err = c.BroadcastAndWait(ctx, tx)
		return msg, err
	}
	payer := sha256.Sum256([]byte("taxpayer"))
	secret := sha256.Sum256([]byte("clearance secret"))
	refKey := []byte("node test reference key")
	issue := func(period string, amount uint64, ref string) *txv1.Msg {
		return &txv1.Msg{Sum: &txv1.Msg_IssueReceipt{IssueReceipt: &taxv1.MsgIssueReceipt{TaxType: "VAT",
			Payer: client.PayerCommitmentFromSecret(payer[:], secret[:], "VAT", period), Period: period, Amount: amount,
			BankReference: client.BankReferenceCommitment(refKey, ref)}}}
	}
	for _, step := range []struct {
		k   ed25519.PrivateKey
		msg *txv1.Msg
	}{
		{revAdmin, &txv1.Msg{Sum: &txv1.Msg_RegisterTaxType{RegisterTaxType: &taxv1.MsgRegisterTaxType{Code: "VAT", Name: "VAT", RevenueAgency: "treasury", PeriodKind: taxv1.PeriodKind_PERIOD_KIND_QUARTER}}}},
		{revAdmin, &txv1.Msg{Sum: &txv1.Msg_AuthoriseCollector{AuthoriseCollector: &taxv1.MsgAuthoriseCollector{Collector: agency.AddressOf(pub(collector)), TaxType: "VAT"}}}},
		{collector, issue("2026-Q1", 25_000, "FPS-1")},
		{collector, issue("2026-Q2", 5_000, "FPS-2")},
		{collector, &txv1.Msg{Sum: &txv1.Msg_RefundReceipt{RefundReceipt: &taxv1.MsgRefundReceipt{ReceiptId: "REVENUE-000001", Reason: taxv1.Reason_REASON_OVERPAYMENT, Amount: 1_000}}}},
		// The revenue is pending until the clearing bank confirms the payments settled.
		{settler, &txv1.Msg{Sum: &txv1.Msg_ConfirmReceipt{ConfirmReceipt: &taxv1.MsgConfirmReceipt{ReceiptId: "REVENUE-000001", BankReference: client.BankReferenceCommitment(refKey, "FPS-1"), Amount: 24_000}}}},
		{settler, &txv1.Msg{Sum: &txv1.Msg_ConfirmReceipt{ConfirmReceipt: &taxv1.MsgConfirmReceipt{ReceiptId: "REVENUE-000002", BankReference: client.BankReferenceCommitment(refKey, "FPS-2"), Amount: 5_000}}}},
	} {
		_, err := send(step.k, step.msg)
		require.NoError(t, err)
	}
	// The same payment again is refused in its block with its own code.
	_, err = send(collector, issue("2026-Q1", 25_000, "FPS-1"))
	var txErr *client.TxError
	require.ErrorAs(t, err, &txErr)
	require.Equal(t, tax.Codespace, txErr.Codespace)
	require.Equal(t, tax.ErrDuplicatePayment.Code, txErr.Code)

	// provedList reads a list answer and checks every entry's proof.
	provedList := func(path string, data []byte) (*appv1.ProvedList, int64) {
		res, _, err := c.Query(ctx, path, data, 0, true)
		require.NoError(t, err)
		list := &appv1.ProvedList{}
		require.NoError(t, proto.Unmarshal(res.Value, list))
		root, err := c.AppHashAfter(ctx, res.Height)
		require.NoError(t, err)
		for _, e := range list.Entries {
			require.NoError(t, client.ProvenValue(root, e.Key, e.Value, e.Proof))
		}
		return list, res.Height
	}
	list, _ := provedList(api.PathTaxReceipt, api.ListData([]byte("REVENUE-000001"), nil, 0))
	ans, err := api.DecodeReceipt("REVENUE-000001", list)
	require.NoError(t, err)
	require.True(t, ans.Found)
	require.Equal(t, taxv1.Status_STATUS_PARTIALLY_REFUNDED, ans.State.Status)
	require.Equal(t, uint64(24_000), ans.State.Net)

	list, _ = provedList(api.PathTaxReceipt, api.ListData([]byte("REVENUE-000042"), nil, 0))
	ans, err = api.DecodeReceipt("REVENUE-000042", list)
	require.NoError(t, err)
	require.False(t, ans.Found, "absence proven")

	grant, err := client.NewClearanceGrant(payer[:], secret[:], "VAT", "2026-Q1", "2026-Q2")
	require.NoError(t, err)
	req, err := client.ClearanceRequestOf(grant)
	require.NoError(t, err)
	data, err := proto.Marshal(req)
	require.NoError(t, err)
	list, h := provedList(api.PathTaxClearance, data)
	s, err := api.DecodeClearance(req, h, list)
	require.NoError(t, err)
	require.True(t, s.Covered)
	require.Equal(t, uint64(29_000), s.Net)

	res, proven, err := c.Query(ctx, api.PathFundsBalance, []byte(api.AgencyHolder("treasury")), 0, true)
	require.NoError(t, err)
	require.True(t, proven.HeaderChecked)
	b := &fundsv1.Balance{}
	require.NoError(t, proto.Unmarshal(res.Value, b))
	require.Equal(t, uint64(29_000), b.Amount)
}

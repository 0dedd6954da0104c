package app_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/api/keyproof"
	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/client"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/module"
)

// The test chain. Block h has time genesisTime + h seconds.
const testChainID = "tally-test-1"

var genesisTime = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func blockTime(h int64) time.Time { return genesisTime.Add(time.Duration(h) * time.Second) }

// testKey is an ed25519 identity derived from a fixed seed, so every run and
// every App instance sees the same keys, addresses and signatures.
type testKey struct {
	name string
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
	addr []byte
}

func keyFor(name string) testKey {
	k := derivedKey(name)
	knownKeys.Store(string(k.pub), k)
	return k
}

// derivedKey is keyFor's key without remembering it in knownKeys, for keys
// made by the thousand that withKeyProofs need not find: the benchmarks'
// (knownKeys would hold them, and the signing key each expands to, for the
// rest of the process, in the heap the node's collector scans).
func derivedKey(name string) testKey {
	seed := sha256.Sum256([]byte("tally-test-key/" + name))
	priv := ed25519.NewKeyFromSeed(seed[:])
	pub := priv.Public().(ed25519.PublicKey)
	return testKey{name: name, priv: priv, pub: pub, addr: agency.AddressOf(pub)}
}

// knownKeys holds every key keyFor made, by public key, so helpers can
// sign proofs of possession for keys a test names only by public key.
var knownKeys sync.Map

// keyOf returns the test key whose public key is pub.
func keyOf(pub []byte) (testKey, bool) {
	k, ok := knownKeys.Load(string(pub))
	if !ok {
		return testKey{}, false
	}
	return k.(testKey), true
}

// withKeyProofs returns g with a proof of possession for every account
// whose key a test made with keyFor, as the genesis ceremony writes them.
func withKeyProofs(g *appv1.GenesisState) *appv1.GenesisState {
	if g.GetAgency() == nil {
		return g
	}
	g = proto.Clone(g).(*appv1.GenesisState)
	g.Agency.KeyProofs = nil
	proved := map[string]bool{}
	for _, a := range g.Agency.Accounts {
		k, ok := keyOf(a.PubKey)
		if !ok {
			continue
		}
		addr := a.Address
		if len(addr) == 0 {
			addr = k.addr
		}
		if proved[string(addr)] {
			continue // one proof an account, even where a test lists it twice
		}
		proved[string(addr)] = true
		g.Agency.KeyProofs = append(g.Agency.KeyProofs, &agencyv1.KeyProof{Address: addr, Signature: keyProof(k, a.AgencyId, addr, keyproof.GenesisAccount)})
	}
	return g
}

func (k testKey) sign(b []byte) ([]byte, error) { return ed25519.Sign(k.priv, b), nil }
func (k testKey) hex() string                   { return hex.EncodeToString(k.addr) }

// Agencies of the test genesis.
const (
	agTreasury  = "treasury"  // KIND_TREASURY, two admins and a clerk
	agTax       = "tax"       // KIND_TAX_AUTHORITY, an admin, a collector, a suspended member
	agRegulator = "regulator" // KIND_REGULATOR, one admin (its last) and an inspector
	agDormant   = "dormant"   // KIND_DEPARTMENT, itself suspended, one member
)

// The accounts of the test genesis, and one outsider.
var (
	treasuryAdmin  = keyFor("treasury/admin")
	treasuryAdmin2 = keyFor("treasury/admin2")
	treasuryClerk  = keyFor("treasury/clerk") // roles: treasury
	taxAdmin       = keyFor("tax/admin")
	taxCollector   = keyFor("tax/collector") // roles: tax_collector
	taxSuspended   = keyFor("tax/suspended") // roles: tax_collector, suspended at genesis
	regAdmin       = keyFor("regulator/admin")
	regInspector   = keyFor("regulator/inspector") // roles: inspector
	dormantAdmin   = keyFor("dormant/admin")       // admin of a suspended agency
	stranger       = keyFor("stranger")            // in no agency
)

// genesisAccounts lists every account of testGenesis with its agency.
var genesisAccounts = []struct {
	key    testKey
	agency string
}{
	{treasuryAdmin, agTreasury}, {treasuryAdmin2, agTreasury}, {treasuryClerk, agTreasury},
	{taxAdmin, agTax}, {taxCollector, agTax}, {taxSuspended, agTax},
	{regAdmin, agRegulator}, {regInspector, agRegulator},
	{dormantAdmin, agDormant},
}

func testGenesis() *appv1.GenesisState {
	acc := func(k testKey, ag string, status agencyv1.Status, roles ...agencyv1.Role) *agencyv1.Account {
		return &agencyv1.Account{PubKey: k.pub, AgencyId: ag, Roles: roles, Status: status}
	}
	const active, suspended = agencyv1.Status_STATUS_ACTIVE, agencyv1.Status_STATUS_SUSPENDED
	return &appv1.GenesisState{
		Params: app.DefaultParams(),
		Agency: &agencyv1.Genesis{
			Agencies: []*agencyv1.Agency{
				{Id: agTreasury, Name: "National Treasury", Kind: agencyv1.Kind_KIND_TREASURY},
				{Id: agTax, Name: "Revenue Service", Kind: agencyv1.Kind_KIND_TAX_AUTHORITY},
				{Id: agRegulator, Name: "Food Standards Regulator", Kind: agencyv1.Kind_KIND_REGULATOR},
				{Id: agDormant, Name: "Dormant Department", Kind: agencyv1.Kind_KIND_DEPARTMENT, Status: suspended},
			},
			Accounts: []*agencyv1.Account{
				acc(treasuryAdmin, agTreasury, active, agencyv1.Role_ROLE_ADMIN),
				acc(treasuryAdmin2, agTreasury, active, agencyv1.Role_ROLE_ADMIN, agencyv1.Role_ROLE_TREASURY),
				acc(treasuryClerk, agTreasury, active, agencyv1.Role_ROLE_TREASURY),
				acc(taxAdmin, agTax, active, agencyv1.Role_ROLE_ADMIN),
				acc(taxCollector, agTax, active, agencyv1.Role_ROLE_TAX_COLLECTOR),
				acc(taxSuspended, agTax, suspended, agencyv1.Role_ROLE_TAX_COLLECTOR),
				acc(regAdmin, agRegulator, active, agencyv1.Role_ROLE_ADMIN),
				acc(regInspector, agRegulator, active, agencyv1.Role_ROLE_INSPECTOR),
				acc(dormantAdmin, agDormant, active, agencyv1.Role_ROLE_ADMIN),
			},
		},
	}
}

// Messages.

// addMember adds k to the treasury (the agency of most test admins), with
// k's proof of possession.
func addMember(k testKey, roles ...agencyv1.Role) *txv1.Msg {
	return addMemberTo(agTreasury, k, roles...)
}

// addMemberTo adds k to agencyID, with k's proof of possession.
func addMemberTo(agencyID string, k testKey, roles ...agencyv1.Role) *txv1.Msg {
	return addMemberWithProof(k.pub, keyProof(k, agencyID, k.addr, keyproof.AddMember), roles...)
}

func addMemberWithProof(pub, proof []byte, roles ...agencyv1.Role) *txv1.Msg {
	return &txv1.Msg{Sum: &txv1.Msg_AddMember{AddMember: &agencyv1.MsgAddMember{PubKey: pub, Roles: roles, KeyProof: proof}}}
}

// keyProof is k's proof of possession on the test chain.
func keyProof(k testKey, agencyID string, account []byte, purpose keyproof.Purpose) []byte {
	return ed25519.Sign(k.priv, keyproof.Statement(testChainID, agencyID, account, k.pub, purpose))
}

// agencyOf is the genesis agency of the account at addr (the treasury for
// accounts made later).
func agencyOf(addr []byte) string {
	for _, a := range genesisAccounts {
		if string(a.key.addr) == string(addr) {
			return a.agency
		}
	}
	return agTreasury
}

func removeMember(addr []byte) *txv1.Msg {
	return &txv1.Msg{Sum: &txv1.Msg_RemoveMember{RemoveMember: &agencyv1.MsgRemoveMember{Address: addr}}}
}

func grantRole(addr []byte, r agencyv1.Role) *txv1.Msg {
	return &txv1.Msg{Sum: &txv1.Msg_GrantRole{GrantRole: &agencyv1.MsgGrantRole{Address: addr, Role: r}}}
}

func revokeRole(addr []byte, r agencyv1.Role) *txv1.Msg {
	return &txv1.Msg{Sum: &txv1.Msg_RevokeRole{RevokeRole: &agencyv1.MsgRevokeRole{Address: addr, Role: r}}}
}

// rotateKey moves account addr to newKey, with newKey's proof of possession.
func rotateKey(addr []byte, newKey testKey) *txv1.Msg {
	return rotateKeyWithProof(newKey.pub, keyProof(newKey, "", addr, keyproof.RotateKey))
}

func rotateKeyWithProof(newPub, proof []byte) *txv1.Msg {
	return &txv1.Msg{Sum: &txv1.Msg_RotateKey{RotateKey: &agencyv1.MsgRotateKey{NewPubKey: newPub, NewKeySignature: proof}}}
}

// suspendAccount suspends addr; the reason is always a code (why is a
// matter for the agency's own records).
func suspendAccount(addr []byte, _ string) *txv1.Msg {
	return &txv1.Msg{Sum: &txv1.Msg_SuspendAccount{SuspendAccount: &agencyv1.MsgSuspendAccount{Address: addr, ReasonCode: agencyv1.SuspensionReason_SUSPENSION_REASON_UNDER_REVIEW}}}
}

func reinstateAccount(addr []byte) *txv1.Msg {
	return &txv1.Msg{Sum: &txv1.Msg_ReinstateAccount{ReinstateAccount: &agencyv1.MsgReinstateAccount{Address: addr}}}
}

// signTx builds a transaction with client.BuildTx, signed by k.
func signTx(tb testing.TB, opts client.TxOptions, k testKey, msgs ...*txv1.Msg) []byte {
	tb.Helper()
	if opts.ChainID == "" {
		opts.ChainID = testChainID
	}
	raw, err := client.BuildTx(opts, k.sign, msgs...)
	require.NoError(tb, err)
	return raw
}

// encodeTx wraps arbitrary body bytes and signature in a Tx, for
// transactions client.BuildTx would refuse to make.
func encodeTx(tb testing.TB, body *txv1.TxBody, k testKey) []byte {
	tb.Helper()
	bz, err := proto.MarshalOptions{Deterministic: true}.Marshal(body)
	require.NoError(tb, err)
	raw, err := proto.Marshal(&txv1.Tx{BodyBytes: bz, Signature: ed25519.Sign(k.priv, bz)})
	require.NoError(tb, err)
	return raw
}

// runBlock runs one block: FinalizeBlock at height h with block time tm,
// then Commit. It checks that the committed hash is the one FinalizeBlock
// announced.
func runBlock(tb testing.TB, a *app.App, h int64, tm time.Time, txs [][]byte) *abci.ResponseFinalizeBlock {
	tb.Helper()
	bounds := unitBounds(a, txs)
	res, err := a.FinalizeBlock(context.Background(), &abci.RequestFinalizeBlock{Txs: txs, Height: h, Time: tm})
	require.NoError(tb, err)
	require.Len(tb, res.TxResults, len(txs))
	requireWithinBounds(tb, txs, bounds, res.TxResults)
	requireBlockEventsUncut(tb, res.Events)
	_, err = a.Commit(context.Background(), &abci.RequestCommit{})
	require.NoError(tb, err)
	info, err := a.Info(context.Background(), &abci.RequestInfo{})
	require.NoError(tb, err)
	require.Equal(tb, h, info.LastBlockHeight)
	require.Equal(tb, res.AppHash, info.LastBlockAppHash, "Commit saved a different state than FinalizeBlock announced")
	return res
}

// txLimits are the unit limits of a block's transactions under the app's
// params before the block runs: what a proposer counts each as and the
// most each may use (app.UnitLimit).
type txLimits struct {
	limits   []uint64
	declared []bool
	maxTx    uint64
}

// unitBounds reads the unit limits of txs.
func unitBounds(a *app.App, txs [][]byte) txLimits {
	l := txLimits{limits: make([]uint64, len(txs)), declared: make([]bool, len(txs)), maxTx: a.MaxTxUnits()}
	for i, tx := range txs {
		l.limits[i], l.declared[i] = a.UnitLimit(tx)
	}
	return l
}

// requireWithinBounds checks, for every block any test runs, that no
// transaction used more units than the proposer counted it as, which keeps
// proposals within max_block_units whatever their signers do, and that the
// limits the route bounds give (module.Route.Units) were enough for the
// states the tests build: a transaction that declared no limit and ran out
// (tx/30) below max_tx_units failed because a row's bound is too low. One
// stopped at max_tx_units, or at a limit its signer declared, failed on
// its own account.
// requireBlockEventsUncut fails if the block's own events
// (finalize_block_events) were cut: each module's end-of-block events are
// within EventBytesPerUnit a unit its work used as emitted, so the bound
// holds without cutting.
func requireBlockEventsUncut(tb testing.TB, events []abci.Event) {
	tb.Helper()
	if n := countEvents(events, app.EventsCut); n != 0 {
		tb.Fatalf("the block's own events were cut (%d events_cut) at a weight of %d", n, app.EventsWeight(events))
	}
}

func requireWithinBounds(tb testing.TB, txs [][]byte, bounds txLimits, results []*abci.ExecTxResult) {
	tb.Helper()
	for i, r := range results {
		limit := bounds.limits[i]
		out := isCode(r.Codespace, r.Code, app.ErrOutOfUnits)
		switch {
		case !out && uint64(r.GasUsed) > limit:
			tb.Fatalf("transaction %d (%v, code %s/%d) used %d units, more than the %d a proposer counts it as",
				i, msgKinds(txs[i]), r.Codespace, r.Code, r.GasUsed, limit)
		case out && !bounds.declared[i] && limit < bounds.maxTx:
			tb.Fatalf("transaction %d (%v) ran out of units at %d, the limit its messages' route bounds give: raise the Units of its messages' rows (x/<module>/routes.go): %s",
				i, msgKinds(txs[i]), limit, r.Log)
		case r.GasWanted != 0 && uint64(r.GasWanted) != limit:
			tb.Fatalf("transaction %d reports gas_wanted %d; its unit limit is %d", i, r.GasWanted, limit)
		}
		// Every message's events are within their bound as emitted: none is
		// cut (EventsCut), so the bound holds without cutting.
		if w := app.EventsWeight(r.Events); countEvents(r.Events, app.EventsCut) != 0 || w > app.EventBytesPerUnit*uint64(r.GasUsed) {
			tb.Fatalf("transaction %d (%v) emitted events weighing %d for %d units, more than app.EventBytesPerUnit allows",
				i, msgKinds(txs[i]), w, r.GasUsed)
		}
	}
}

// msgKinds names the message types of tx, for failure messages.
func msgKinds(raw []byte) []string {
	var tx txv1.Tx
	var body txv1.TxBody
	_ = proto.Unmarshal(raw, &tx)
	_ = proto.Unmarshal(tx.BodyBytes, &body)
	var kinds []string
	for _, m := range body.Messages {
		kinds = append(kinds, fmt.Sprintf("%T", m.Sum))
	}
	return kinds
}

// chain is an App under test with the store it runs on, so tests can
// compare whole states and hashes.
type chain struct {
	tb     testing.TB
	app    *app.App
	st     *store.Store
	height int64            // last committed height
	hashes map[int64][]byte // app hash committed at each height
	nonce  uint64           // last nonce handed out; deterministic so twin chains build identical txs
	closed bool
}

// newChain starts the test genesis on an in-memory store.
func newChain(tb testing.TB) *chain {
	tb.Helper()
	c := openChain(tb, newTestStore(tb), app.Options{})
	c.initChain(testGenesis())
	return c
}

// testStateEngineEnv names the state engine the test chains run on
// (newTestStore): unset or "iavl", an in-memory IAVL tree; "memiavl", the
// memiavl engine in a temporary directory.
const testStateEngineEnv = "TALLY_TEST_STATE_ENGINE"

// newTestStore is the state a test chain starts from (see
// testStateEngineEnv).
func newTestStore(tb testing.TB) *store.Store {
	tb.Helper()
	switch engine := os.Getenv(testStateEngineEnv); engine {
	case "", store.EngineIAVL:
		return store.NewMemory()
	default:
		st, err := store.Open(store.Options{Engine: engine, Dir: tb.TempDir()})
		require.NoError(tb, err, "%s=%s", testStateEngineEnv, engine)
		return st
	}
}

// openChain starts an App over st, at whatever height st holds.
func openChain(tb testing.TB, st *store.Store, opts app.Options) *chain {
	tb.Helper()
	opts.OperatorQueries = true // the test is the node's operator: /invariants is served
	a, err := app.New(st, opts)
	require.NoError(tb, err)
	c := &chain{tb: tb, app: a, st: st, hashes: map[int64][]byte{}, nonce: 1000}
	tb.Cleanup(c.close)
	info := c.info()
	c.height = info.LastBlockHeight
	if c.height > 0 {
		c.hashes[c.height] = info.LastBlockAppHash
	}
	return c
}

func (c *chain) close() {
	if !c.closed {
		c.closed = true
		require.NoError(c.tb, c.app.Close())
	}
}

func (c *chain) initChain(g *appv1.GenesisState) *abci.ResponseInitChain {
	c.tb.Helper()
	bz, err := app.MarshalGenesis(withKeyProofs(withFoundingMandates(g)))
	require.NoError(c.tb, err)
	res, err := c.app.InitChain(context.Background(), &abci.RequestInitChain{
		Time: genesisTime, ChainId: testChainID, AppStateBytes: bz, InitialHeight: 1,
	})
	require.NoError(c.tb, err)
	require.NotEmpty(c.tb, res.AppHash)
	return res
}

func (c *chain) info() *abci.ResponseInfo {
	c.tb.Helper()
	res, err := c.app.Info(context.Background(), &abci.RequestInfo{})
	require.NoError(c.tb, err)
	return res
}

// block runs the next block and commits it.
func (c *chain) block(txs ...[]byte) *abci.ResponseFinalizeBlock {
	c.tb.Helper()
	res := runBlock(c.tb, c.app, c.height+1, blockTime(c.height+1), txs)
	c.height++
	c.hashes[c.height] = res.AppHash
	return res
}

// finalize runs the next block without committing it.
func (c *chain) finalize(txs ...[]byte) *abci.ResponseFinalizeBlock {
	c.tb.Helper()
	h := c.height + 1
	bounds := unitBounds(c.app, txs)
	res, err := c.app.FinalizeBlock(context.Background(), &abci.RequestFinalizeBlock{Txs: txs, Height: h, Time: blockTime(h)})
	require.NoError(c.tb, err)
	require.Len(c.tb, res.TxResults, len(txs))
	requireWithinBounds(c.tb, txs, bounds, res.TxResults)
	requireBlockEventsUncut(c.tb, res.Events)
	return res
}

// commit commits a block finalize ran.
func (c *chain) commit() {
	c.tb.Helper()
	_, err := c.app.Commit(context.Background(), &abci.RequestCommit{})
	require.NoError(c.tb, err)
	c.height++
	c.hashes[c.height] = c.info().LastBlockAppHash
}

func (c *chain) checkTx(tx []byte) *abci.ResponseCheckTx {
	c.tb.Helper()
	res, err := c.app.CheckTx(context.Background(), &abci.RequestCheckTx{Tx: tx, Type: abci.CheckTxType_New})
	require.NoError(c.tb, err)
	return res
}

// processProposal asks ProcessProposal about txs as the next block.
func (c *chain) processProposal(txs ...[]byte) abci.ResponseProcessProposal_ProposalStatus {
	c.tb.Helper()
	h := c.height + 1
	res, err := c.app.ProcessProposal(context.Background(), &abci.RequestProcessProposal{Txs: txs, Height: h, Time: blockTime(h)})
	require.NoError(c.tb, err)
	return res.Status
}

// prepareProposal returns what PrepareProposal proposes of txs as the next
// block, with no byte limit to speak of.
func (c *chain) prepareProposal(txs ...[]byte) [][]byte {
	c.tb.Helper()
	h := c.height + 1
	res, err := c.app.PrepareProposal(context.Background(), &abci.RequestPrepareProposal{MaxTxBytes: 1 << 30, Txs: txs, Height: h, Time: blockTime(h)})
	require.NoError(c.tb, err)
	return res.Txs
}

// lastHash is the app hash of the last committed block.
func (c *chain) lastHash() []byte { return c.info().LastBlockAppHash }

// txArgs are the envelope of a test transaction; zero fields take defaults.
type txArgs struct {
	signer   testKey
	signWith *testKey // signs instead of signer's own key
	nonce    uint64   // 0: the chain's next nonce
	timeout  uint64   // 0: ten blocks after the next block
	chainID  string   // "": testChainID
	memo     string
	units    uint64 // the declared unit limit (TxBody.max_units); 0: none
	msgUnits uint64 // declares the tx's own cost plus this (client.TxOptions.MessageUnits)
}

// tx builds a transaction from signer with default envelope.
func (c *chain) tx(signer testKey, msgs ...*txv1.Msg) []byte {
	return c.txWith(txArgs{signer: signer}, msgs...)
}

func (c *chain) txWith(o txArgs, msgs ...*txv1.Msg) []byte {
	c.tb.Helper()
	if o.nonce == 0 {
		c.nonce++
		o.nonce = c.nonce
	}
	if o.timeout == 0 {
		o.timeout = uint64(c.height) + 1 + 10
	}
	k := o.signer
	if o.signWith != nil {
		k = *o.signWith
	}
	return signTx(c.tb, client.TxOptions{ChainID: o.chainID, Signer: o.signer.addr, Nonce: o.nonce, TimeoutHeight: o.timeout, Memo: o.memo, Units: o.units, MessageUnits: o.msgUnits}, k, msgs...)
}

// Queries, always of the last committed state.

func (c *chain) query(path string, data []byte) *abci.ResponseQuery {
	c.tb.Helper()
	res, err := c.app.Query(context.Background(), &abci.RequestQuery{Path: path, Data: data})
	require.NoError(c.tb, err)
	return res
}

// account returns the account at addr, or nil when there is none.
func (c *chain) account(addr []byte) *agencyv1.Account {
	c.tb.Helper()
	res := c.query(api.PathAccount, addr)
	if isCode(res.Codespace, res.Code, app.ErrNotFound) {
		return nil
	}
	require.Zero(c.tb, res.Code, res.Log)
	acc := &agencyv1.Account{}
	require.NoError(c.tb, proto.Unmarshal(res.Value, acc))
	return acc
}

func (c *chain) agency(id string) *agencyv1.Agency {
	c.tb.Helper()
	res := c.query(api.PathAgency, []byte(id))
	require.Zero(c.tb, res.Code, res.Log)
	ag := &agencyv1.Agency{}
	require.NoError(c.tb, proto.Unmarshal(res.Value, ag))
	return ag
}

// requireListingProven reads a page of a listing with proofs and, when the
// client knows the listing's layout (client.ListingOf), checks that the
// page's range proofs show it leaves no record out (client.VerifyPage):
// the listing helpers call it, so every test that lists with them also
// checks the client's copy of the key layout against the app's.
func (c *chain) requireListingProven(path string, data []byte) *appv1.ProvedList {
	c.tb.Helper()
	l, after, ok := client.ListingOf(path, data)
	if !ok {
		require.False(c.tb, isKeyRangeListing(path), "%s is a listing but client.ListingOf does not know it: its pages' range proofs go unchecked", path)
		return nil
	}
	res, err := c.app.Query(context.Background(), &abci.RequestQuery{Path: path, Data: data, Prove: true})
	require.NoError(c.tb, err)
	require.Zero(c.tb, res.Code, res.Log)
	list := &appv1.ProvedList{}
	require.NoError(c.tb, proto.Unmarshal(res.Value, list))
	root := c.hashes[res.Height]
	if len(root) == 0 {
		return list // a test that made its blocks without recording their app hashes
	}
	_, err = client.VerifyPage(root, "the app hash", l, after, list)
	require.NoError(c.tb, err, "%s %q: the page's range proofs", path, data)
	return list
}

// listData is the query data of the first page of a listing with
// argument arg (api.ListData).
func listData(arg string) []byte { return api.ListData([]byte(arg), nil, 0) }

// members lists an agency's accounts as the members query returns them.
func (c *chain) members(id string) []*agencyv1.Account {
	c.tb.Helper()
	c.requireListingProven(api.PathMembers, listData(id))
	res := c.query(api.PathMembers, listData(id))
	require.Zero(c.tb, res.Code, res.Log)
	list := &appv1.ProvedList{}
	require.NoError(c.tb, proto.Unmarshal(res.Value, list))
	out := make([]*agencyv1.Account, len(list.Entries))
	for i, e := range list.Entries {
		out[i] = &agencyv1.Account{}
		require.NoError(c.tb, proto.Unmarshal(e.Value, out[i]))
	}
	return out
}

// view is what a client sees through Query of the test agencies, their
// members and the named accounts, as comparable text.
func (c *chain) view(extra ...testKey) string {
	c.tb.Helper()
	out := ""
	for _, id := range []string{agTreasury, agTax, agRegulator, agDormant} {
		out += fmt.Sprintf("agency %v\n", c.agency(id))
		for _, m := range c.members(id) {
			out += fmt.Sprintf("  member %v\n", m)
		}
	}
	for _, k := range append([]testKey{stranger}, extra...) {
		out += fmt.Sprintf("account %s: %v\n", k.name, c.account(k.addr))
	}
	return out
}

// dump returns every key and value of the working state.
func (c *chain) dump() map[string]string {
	out := map[string]string{}
	c.st.Iterate(nil, nil, true, func(k, v []byte) bool {
		out[string(k)] = string(v)
		return false
	})
	return out
}

// Results.

func isCode(space string, code uint32, want *module.Error) bool {
	return space == want.Codespace && code == want.Code
}

// requireCode checks a result's codespace and code against a registered
// error, and that its log contains each fragment.
func requireCode(tb testing.TB, want *module.Error, space string, code uint32, log string, fragments ...string) {
	tb.Helper()
	require.Equal(tb, fmt.Sprintf("%s/%d", want.Codespace, want.Code), fmt.Sprintf("%s/%d", space, code), "log: %s", log)
	require.Contains(tb, log, want.Desc)
	for _, f := range fragments {
		require.Contains(tb, log, f)
	}
}

func requireOK(tb testing.TB, res *abci.ExecTxResult) {
	tb.Helper()
	require.Equal(tb, abci.CodeTypeOK, res.Code, "%s/%d: %s", res.Codespace, res.Code, res.Log)
}

// event returns the one event of type typ.
func event(tb testing.TB, events []abci.Event, typ string) abci.Event {
	tb.Helper()
	var found []abci.Event
	for _, e := range events {
		if e.Type == typ {
			found = append(found, e)
		}
	}
	require.Len(tb, found, 1, "events of type %s in %v", typ, events)
	return found[0]
}

// attrs returns an event's attributes by key.
func attrs(e abci.Event) map[string]abci.EventAttribute {
	out := map[string]abci.EventAttribute{}
	for _, a := range e.Attributes {
		out[a.Key] = a
	}
	return out
}

// isKeyRangeListing says whether path is a listing of keys under a prefix,
// whose pages carry range proofs: a Page route whose row in the contract
// describes its listing (every one but the lineage walk and a receipt's
// amendments, which are checked by their links).
func isKeyRangeListing(path string) bool {
	r, ok := api.RouteOf(path)
	return ok && r.Answer == api.Page && r.Listing != nil
}

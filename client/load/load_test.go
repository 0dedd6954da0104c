package load_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	cfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/libs/log"
	"github.com/stretchr/testify/require"

	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/client"
	"github.com/tallyledger/tally/client/keys"
	"github.com/tallyledger/tally/client/load"
	"github.com/tallyledger/tally/node"
	"github.com/tallyledger/tally/node/genesis"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	benefitsv1 "github.com/tallyledger/tally/proto/tally/benefits/v1"
	provenancev1 "github.com/tallyledger/tally/proto/tally/provenance/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/testnet"
)

func freePort(t *testing.T) int {
	t.Helper()
	p, err := testnet.FreePort() // below the ephemeral range
	require.NoError(t, err)
	return p
}

// startNode runs a one-validator chain whose treasury admin holds admin.
func startNode(t *testing.T, adminKey ed25519.PrivateKey) string {
	t.Helper()
	rpcAddr, _ := startNodeWith(t, adminKey, app.Options{})
	return rpcAddr
}

// startNodeWith is startNode with the app's options, returning the node too.
func startNodeWith(t *testing.T, adminKey ed25519.PrivateKey, opts app.Options) (string, *node.Node) {
	t.Helper()
	return startNodeEdited(t, adminKey, opts, nil)
}

// startNodeEdited is startNodeWith with edit applied to the node's
// CometBFT configuration (nil: none).
func startNodeEdited(t *testing.T, adminKey ed25519.PrivateKey, opts app.Options, edit func(*cfg.Config)) (string, *node.Node) {
	t.Helper()
	// Not t.TempDir: CometBFT may still be writing its address book into
	// config/ just after Stop returns, which fails TempDir's strict cleanup.
	dir, err := os.MkdirTemp("", "tally-load-test-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	id, err := node.InitNode(dir, "load-test")
	require.NoError(t, err)
	comet, appCfg, err := node.LoadConfigs(dir)
	require.NoError(t, err)
	rpcAddr := fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t))
	comet.RPC.ListenAddress = rpcAddr
	comet.P2P.ListenAddress = fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t))
	comet.Consensus.TimeoutCommit = 200 * time.Millisecond
	if edit != nil {
		edit(comet)
	}
	require.NoError(t, node.WriteConfigs(dir, comet, appCfg))
	state, err := genesis.SingleAgencyState("tally-load-test", "treasury", "Treasury", agencyv1.Kind_KIND_TREASURY, adminKey.Public().(ed25519.PublicKey),
		func(msg []byte) ([]byte, error) { return ed25519.Sign(adminKey, msg), nil })
	require.NoError(t, err)
	_, err = genesis.WriteGenesis(comet.GenesisFile(), "tally-load-test", time.Now().UTC(),
		[]genesis.Validator{{Name: "v0", PubKey: id.ConsensusPK, Power: 10}}, state)
	require.NoError(t, err)
	n, err := node.NewNode(dir, log.NewNopLogger(), opts)
	require.NoError(t, err)
	require.NoError(t, n.Start())
	t.Cleanup(func() { require.NoError(t, n.Shutdown()) })
	return rpcAddr, n
}

// At a rate the node easily sustains, every transaction CheckTx accepted is
// found in a block, the report's counts agree with each other, and they
// agree with an independent count of the transactions in the blocks.
func TestRunCountsEveryAcceptedTxFromBlocks(t *testing.T) {
	_, adminPriv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	rpcAddr := startNode(t, adminPriv)
	c, err := client.Dial(rpcAddr)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	waitHeight(ctx, t, c, 1)

	rep, err := load.Run(ctx, load.Config{
		Endpoints: []string{rpcAddr},
		Rate:      60,
		Duration:  4 * time.Second,
		Accounts:  40,  // two setup txs (32 + 8 messages)
		Workers:   240, // never reached: the whole run may wait for answers at once
		Admin:     adminPriv,
		Drain:     15 * time.Second,
		Log:       testWriter{t},
	})
	require.NoError(t, err)

	require.EqualValues(t, 240, rep.Offered)
	// Open loop: every transaction is sent, however slowly the node answers.
	require.EqualValues(t, 240, rep.Submitted)
	require.Zero(t, rep.ClientDropped)
	requireAllAcceptedAndCommitted(t, rep)
	require.Zero(t, rep.CommittedFailedTotal)
	requireBlocksMatch(ctx, t, c, rep)
	t.Logf("committed %d txs in %d blocks; %.1f tx/s steady; latency p50 %.0f ms p99 %.0f ms",
		rep.Committed, rep.Blocks, rep.CommittedRate, rep.Latency.P50, rep.Latency.P99)
}

// requireBlocksMatch checks rep against the chain, read independently:
// the blocks after its start height hold exactly the load's transactions
// (setup committed before it), all distinct and all succeeded, and its
// rates and latencies are consistent (never judged by speed).
func requireBlocksMatch(ctx context.Context, t *testing.T, c *client.Client, rep *load.Report) {
	t.Helper()
	require.Positive(t, rep.Blocks)
	require.Equal(t, rep.EndHeight-rep.StartHeight, rep.Blocks)
	var inBlocks int64
	seen := map[[32]byte]bool{}
	for h := rep.StartHeight + 1; h <= rep.EndHeight; h++ {
		b, err := c.RPC.Block(ctx, &h)
		require.NoError(t, err)
		res, err := c.RPC.BlockResults(ctx, &h)
		require.NoError(t, err)
		for i, tx := range b.Block.Txs {
			require.Zero(t, res.TxsResults[i].Code, res.TxsResults[i].Log)
			hash := sha256.Sum256(tx)
			require.False(t, seen[hash])
			seen[hash] = true
			inBlocks++
		}
	}
	require.Equal(t, rep.Committed, inBlocks)
	require.Equal(t, rep.BlockTxs, inBlocks)
	require.InDelta(t, float64(inBlocks)/float64(rep.Blocks), rep.AvgTxsPerBlock, 1e-9)

	// Rates and latencies are consistent (never judged by speed).
	require.Equal(t, rep.Committed, rep.Latency.Count)
	require.Positive(t, rep.Latency.P50)
	require.LessOrEqual(t, rep.Latency.P50, rep.Latency.P95)
	require.LessOrEqual(t, rep.Latency.P95, rep.Latency.P99)
	require.LessOrEqual(t, rep.Latency.P99, rep.Latency.Max)
	require.Positive(t, rep.CommittedRate)
	require.False(t, rep.Steady.WholeRun)
	require.Greater(t, rep.Steady.LastHeight, rep.Steady.FirstHeight)
	require.GreaterOrEqual(t, rep.Steady.FirstHeight, rep.StartHeight+1)
	require.LessOrEqual(t, rep.Steady.LastHeight, rep.EndHeight)
}

// waitHeight waits until c reports height h or above.
func waitHeight(ctx context.Context, t *testing.T, c *client.Client, h int64) {
	t.Helper()
	require.Eventually(t, func() bool {
		_, got, err := c.Status(ctx)
		return err == nil && got >= h
	}, 30*time.Second, 50*time.Millisecond)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

func TestParseMix(t *testing.T) {
	mix, err := load.ParseMix("add_member")
	require.NoError(t, err)
	require.Equal(t, []load.MixEntry{{Name: "add_member", Weight: 1}}, mix)
	mix, err = load.ParseMix(" add_member=3 ")
	require.NoError(t, err)
	require.Equal(t, "add_member=3", load.MixString(mix))
	for _, bad := range []string{"", "nope", "add_member=0", "add_member=x", "add_member,add_member"} {
		_, err := load.ParseMix(bad)
		require.Error(t, err, bad)
	}
}

// Every mix entry builds messages the chain routes and that the party's
// load accounts may send: the role each message needs is one the setup
// gives its party.
func TestMixMessagesArePermitted(t *testing.T) {
	admins := map[string]load.Admin{}
	for _, p := range load.Parties(load.FullMix) {
		_, priv, err := ed25519.GenerateKey(nil)
		require.NoError(t, err)
		admins[p] = load.Admin{Key: priv}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, name := range load.MsgNames() {
		m, err := load.NewMix([]load.MixEntry{{Name: name, Weight: 1}}, admins, 2)
		require.NoError(t, err)
		job, err := m.Next(r)
		require.NoError(t, err, name)
		role, ok := app.RequiredRole(job.Msg)
		require.True(t, ok, "%s: no module owns %T", name, job.Msg.Sum)
		require.Contains(t, load.PartyRoles(name), role, name)
	}
}

// A short mixed run on a real network (one validator, every agency of a
// local network) commits every transaction it sends with code 0, sends
// every message type, and each module's records are there to query.
func TestMixedRunCommitsEveryModulesRecords(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node and runs load for several seconds")
	}
	rpcAddr, c, key := startLocalnet(t, "tally-load-mix")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	rep, err := load.Run(ctx, fullMixRun(t, rpcAddr, key))
	require.NoError(t, err)

	// Every transaction sent was accepted and committed with code 0.
	require.Zero(t, rep.RejectedTotal, "rejected: %+v", rep.Rejected)
	require.Zero(t, rep.BroadcastErrorsTotal, "broadcast errors: %+v", rep.BroadcastErrors)
	require.Zero(t, rep.CommittedFailedTotal, "failed in block: %+v", rep.CommittedFailed)
	require.Zero(t, rep.Pending)
	require.Positive(t, rep.Submitted)
	require.Equal(t, rep.Submitted, rep.Accepted)
	require.Equal(t, rep.Accepted, rep.CommittedOK)
	// Each transaction declared a unit limit near what it used (the route
	// bounds count the mix at about 1.8 times its use), and none ran out.
	require.Positive(t, rep.AvgUnits)
	require.Less(t, rep.AvgUnitLimit, 1.25*rep.AvgUnits, "units/tx limit %.0f, used %.0f", rep.AvgUnitLimit, rep.AvgUnits)
	t.Logf("units/tx: %.0f used of %.0f limit", rep.AvgUnits, rep.AvgUnitLimit)

	// Every message type was sent, and each one committed counts.
	got := map[string]load.KindCount{}
	for _, k := range rep.Kinds {
		got[k.Kind] = k
		require.Zero(t, k.NotOK, k.Kind)
		require.Equal(t, k.Sent, k.CommittedOK, k.Kind)
	}
	for _, name := range load.MsgNames() {
		require.Positive(t, got[name].CommittedOK, "%s: nothing committed (%+v)", name, rep.Kinds)
	}

	// Each module's records are in state, read as soon as the run ends:
	// the run counts a transaction committed once the node's app has
	// committed its block.
	query := func(path string, data []byte) []byte {
		res, _, err := c.Query(ctx, path, data, 0, false)
		require.NoError(t, err)
		require.Zero(t, res.Code, "%s %q: %s", path, data, res.Log)
		require.NotEmpty(t, res.Value, "%s %q: not found", path, data)
		return res.Value
	}
	member := mixMsg(t, rep, "add_member").GetAddMember()
	acc := &agencyv1.Account{}
	require.NoError(t, proto.Unmarshal(query(api.PathAccount, keys.AddressOf(member.PubKey)), acc))
	require.Equal(t, "benefits", acc.AgencyId)
	query(api.PathFundsAppropriation, []byte(mixMsg(t, rep, "appropriate").GetAppropriate().Reference))
	enrol := mixMsg(t, rep, "enrol").GetEnrol()
	prog := &benefitsv1.Programme{}
	require.NoError(t, proto.Unmarshal(query(api.PathBenefitsProgramme, []byte(enrol.Programme)), prog))
	require.EqualValues(t, got["enrol"].CommittedOK, prog.Recipients, "one recipient per enrolment committed")
	// Receipts are numbered in the authority's series: as many as committed.
	requireReceipts(ctx, t, c, got["issue_receipt"].CommittedOK)
	item := &provenancev1.Item{}
	require.NoError(t, proto.Unmarshal(query(api.PathProvenanceItem, []byte(mixMsg(t, rep, "accept_custody").GetAcceptCustody().ItemId)), item))
	require.Positive(t, item.OfferSeq, "an accepted item was offered")
	query(api.PathProvenanceItem, []byte(mixMsg(t, rep, "register_item").GetRegisterItem().Id))
}

// fullMixRun is a run of the full mix on startLocalnet's node, 50 tx/s
// for 6 s with its parties' admin keys.
func fullMixRun(t *testing.T, rpcAddr string, key func(name string) ed25519.PrivateKey) load.Config {
	mix, err := load.ParseMix(load.MixAll)
	require.NoError(t, err)
	return load.Config{
		Endpoints: []string{rpcAddr},
		Rate:      50,
		Duration:  6 * time.Second,
		Accounts:  3,
		Workers:   8,
		Mix:       mix,
		Admin:     key("benefits-admin"),
		Admins: map[string]load.Admin{
			load.PartyTreasury: {Key: key("treasury-admin")}, load.PartyBenefits: {Key: key("benefits-admin")},
			load.PartyTax: {Key: key("revenue-admin")}, load.PartyProvenance: {Key: key("dalefarm-admin")},
		},
		Drain: 20 * time.Second,
		Log:   testWriter{t},
	}
}

// mixMsg is the latest committed message of kind name in the run.
func mixMsg(t *testing.T, rep *load.Report, name string) *txv1.Msg {
	t.Helper()
	msg := rep.LastCommitted[name]
	require.NotNil(t, msg, "no %s committed", name)
	return msg
}

// startLocalnet runs a one-validator network with every agency of a local
// network, in process, and returns its node's RPC address, a client of it
// and its keyring's keys once the chain is at height 2.
func startLocalnet(t *testing.T, chainID string) (string, *client.Client, func(name string) ed25519.PrivateKey) {
	t.Helper()
	base, err := testnet.FreeBasePort(10)
	require.NoError(t, err)
	dir, err := os.MkdirTemp("", chainID+"-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	m, err := testnet.Init(dir, testnet.Options{Validators: 1, ChainID: chainID, BasePort: base, TimeoutCommit: 200 * time.Millisecond})
	require.NoError(t, err)
	// CometBFT registers its metrics in the process's one registry: a
	// second in-process node with them on would panic.
	comet, appCfg, err := node.LoadConfigs(m.Nodes[0].Home)
	require.NoError(t, err)
	comet.Instrumentation.Prometheus = false
	require.NoError(t, node.WriteConfigs(m.Nodes[0].Home, comet, appCfg))
	n, err := node.NewNode(m.Nodes[0].Home, log.NewNopLogger(), app.Options{})
	require.NoError(t, err)
	require.NoError(t, n.Start())
	t.Cleanup(func() { require.NoError(t, n.Shutdown()) })
	kr, err := keys.Open(m.KeyringDir, keys.BackendTest, nil)
	require.NoError(t, err)
	key := func(name string) ed25519.PrivateKey {
		k, err := kr.PrivKey(name)
		require.NoError(t, err)
		return k
	}
	c, err := client.Dial(m.Nodes[0].RPC)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	waitHeight(ctx, t, c, 2)
	return m.Nodes[0].RPC, c, key
}

// requireReceipts checks that the revenue authority's series holds n
// receipts: REVENUE-n exists and REVENUE-(n+1) does not.
func requireReceipts(ctx context.Context, t *testing.T, c *client.Client, n int64) {
	t.Helper()
	receipt := func(seq int64) bool {
		id := fmt.Sprintf("REVENUE-%06d", seq)
		res, _, err := c.Query(ctx, api.PathTaxReceipt, api.ListData([]byte(id), nil, 0), 0, false)
		require.NoError(t, err)
		require.Zero(t, res.Code, res.Log)
		list := &appv1.ProvedList{}
		require.NoError(t, proto.Unmarshal(res.Value, list))
		ans, err := api.DecodeReceipt(id, list) // proofs not asked for: this counts receipts
		require.NoError(t, err)
		return ans.Found
	}
	// The run ends once the node's app has committed the last block it
	// counts, so the receipts are there to read at once.
	require.True(t, receipt(n), "REVENUE-%06d", n)
	require.False(t, receipt(n+1), "no receipt beyond the %d committed", n)
}

// With several messages to a transaction, every transaction carries that
// many (counts are by message), and a mix of add_member and issue_receipt
// alone (no treasury party) sets up a tax type paying into an agency that
// holds a revenue or treasury mandate: the national tax authority holds
// neither, and its own agency as revenue agency was refused with gov/60.
func TestBatchedRunWithReceiptsAndMembers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node and runs load for several seconds")
	}
	rpcAddr, c, key := startLocalnet(t, "tally-load-batch")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const perTx = 8
	rep, err := load.Run(ctx, load.Config{
		Endpoints: []string{rpcAddr}, Rate: 10, Duration: 3 * time.Second, Accounts: 2, Workers: 4,
		Mix:       []load.MixEntry{{Name: "add_member", Weight: 1}, {Name: "issue_receipt", Weight: 1}},
		MsgsPerTx: perTx,
		Admin:     key("benefits-admin"),
		Admins:    map[string]load.Admin{load.PartyTax: {Key: key("revenue-admin")}},
		Drain:     20 * time.Second,
		Log:       testWriter{t},
	})
	require.NoError(t, err)
	require.Zero(t, rep.RejectedTotal, "rejected: %+v", rep.Rejected)
	require.Zero(t, rep.CommittedFailedTotal, "failed in block: %+v", rep.CommittedFailed)
	require.Zero(t, rep.Pending)
	require.Positive(t, rep.CommittedOK)
	require.Equal(t, perTx, rep.MsgsPerTx)
	var msgs int64
	got := map[string]int64{}
	for _, k := range rep.Kinds {
		require.Zero(t, k.NotOK, k.Kind)
		got[k.Kind] = k.CommittedOK
		msgs += k.CommittedOK
	}
	require.Equal(t, perTx*rep.CommittedOK, msgs, "every transaction carries %d messages: %+v", perTx, rep.Kinds)
	require.Positive(t, got["issue_receipt"], "%+v", rep.Kinds)
	requireReceipts(ctx, t, c, got["issue_receipt"])
	// Every committed block transaction carries perTx messages.
	for h := rep.StartHeight + 1; h <= rep.EndHeight; h++ {
		b, err := c.RPC.Block(ctx, &h)
		require.NoError(t, err)
		for _, raw := range b.Block.Txs {
			tx := &txv1.Tx{}
			require.NoError(t, proto.Unmarshal(raw, tx))
			body := &txv1.TxBody{}
			require.NoError(t, proto.Unmarshal(tx.BodyBytes, body))
			require.Len(t, body.Messages, perTx)
		}
	}
}

// requireAllAcceptedAndCommitted: every transaction sent was accepted, none
// refused or lost to a broadcast error, and no silent loss: everything
// accepted is in a block, succeeded, and was acknowledged first.
func requireAllAcceptedAndCommitted(t *testing.T, rep *load.Report) {
	t.Helper()
	require.Equal(t, rep.Submitted, rep.Accepted+rep.RejectedTotal+rep.BroadcastErrorsTotal)
	require.Zero(t, rep.RejectedTotal, "rejected: %+v", rep.Rejected)
	require.Zero(t, rep.BroadcastErrorsTotal, "broadcast errors: %+v", rep.BroadcastErrors)
	require.Zero(t, rep.Pending)
	require.Equal(t, rep.Accepted, rep.Committed)
	require.Equal(t, rep.Committed, rep.CommittedOK)
	require.Zero(t, rep.CommittedUnacknowledged)
}

package node_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/cometbft/cometbft/libs/log"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/client"
	"github.com/tallyledger/tally/monitoring"
	"github.com/tallyledger/tally/node"
	"github.com/tallyledger/tally/node/genesis"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	benefitsv1 "github.com/tallyledger/tally/proto/tally/benefits/v1"
	fundsv1 "github.com/tallyledger/tally/proto/tally/funds/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/gov"
)

type e2eKey struct {
	priv ed25519.PrivateKey
	addr []byte
}

func e2eKeyFor(name string) e2eKey {
	seed := sha256.Sum256([]byte("e2e/" + name))
	priv := ed25519.NewKeyFromSeed(seed[:])
	return e2eKey{priv: priv, addr: agency.AddressOf(priv.Public().(ed25519.PublicKey))}
}

// On a real node over RPC: the Treasury appropriates and allocates, the
// benefits agency funds a programme and enrols 1,000 recipients (32
// messages a transaction), three periods of scheduled payments run by
// themselves, the bank settles some, and balances, the recipients'
// histories, a payment's trace to its appropriation and settlement, and
// the conservation invariant are all read back through proven queries.
func TestFundsAndBenefitsEndToEndOnRealNode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real node")
	}
	const recipients, period, amount = 1000, 3, 100
	officer, manager, finance, caseworker, settler := e2eKeyFor("officer"), e2eKeyFor("manager"), e2eKeyFor("finance"), e2eKeyFor("caseworker"), e2eKeyFor("settler")
	adm := func(ag string) e2eKey { return e2eKeyFor(ag + "-admin") }
	acc := func(k e2eKey, ag string, role agencyv1.Role) *agencyv1.Account {
		return &agencyv1.Account{PubKey: k.priv.Public().(ed25519.PublicKey), AgencyId: ag, Roles: []agencyv1.Role{role}}
	}
	state := &appv1.GenesisState{
		Params: app.DefaultParams(),
		Agency: &agencyv1.Genesis{
			Agencies: []*agencyv1.Agency{
				{Id: "treasury", Name: "Treasury", Kind: agencyv1.Kind_KIND_TREASURY},
				{Id: "benefits", Name: "Benefits Agency", Kind: agencyv1.Kind_KIND_BENEFITS},
				{Id: "bank", Name: "Bank", Kind: agencyv1.Kind_KIND_BANK},
			},
			Accounts: []*agencyv1.Account{
				acc(adm("treasury"), "treasury", agencyv1.Role_ROLE_ADMIN), acc(officer, "treasury", agencyv1.Role_ROLE_TREASURY),
				acc(adm("benefits"), "benefits", agencyv1.Role_ROLE_ADMIN), acc(manager, "benefits", agencyv1.Role_ROLE_PROGRAMME_MANAGER),
				acc(finance, "benefits", agencyv1.Role_ROLE_FINANCE), acc(caseworker, "benefits", agencyv1.Role_ROLE_CASEWORKER),
				acc(adm("bank"), "bank", agencyv1.Role_ROLE_ADMIN), acc(settler, "bank", agencyv1.Role_ROLE_SETTLEMENT_BANK),
			},
		},
	}
	state.Gov = &govv1.Genesis{Mandates: gov.FoundingMandates(state.Agency.Agencies)}
	// Not t.TempDir: CometBFT may still be flushing its address book into
	// config/ just after Shutdown, which would fail the test's cleanup.
	dir, err := os.MkdirTemp("", "tally-funds-e2e-")
	require.NoError(t, err)
	t.Cleanup(func() {
		for range 5 {
			if os.RemoveAll(dir) == nil {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
	id, err := node.InitNode(dir, "funds-node")
	require.NoError(t, err)
	comet, appCfg, err := node.LoadConfigs(dir)
	require.NoError(t, err)
	rpcAddr := fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t))
	comet.RPC.ListenAddress = rpcAddr
	comet.P2P.ListenAddress = fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t))
	comet.Consensus.TimeoutCommit = 200 * time.Millisecond
	// The node's metrics, read at the end: the only node of this package
	// that exports them (one per process), its invariants checked every 2 s.
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	node.EnableMetrics(comet, metricsAddr)
	appCfg.InvariantCheckEvery = 2 * time.Second
	require.NoError(t, node.WriteConfigs(dir, comet, appCfg))
	require.NoError(t, genesis.ProveAccounts("tally-funds", state.Agency, adm("treasury").priv, officer.priv, adm("benefits").priv, manager.priv, finance.priv, caseworker.priv, adm("bank").priv, settler.priv))
	_, err = genesis.WriteGenesis(comet.GenesisFile(), "tally-funds", time.Now().UTC(), []genesis.Validator{{Name: "v0", PubKey: id.ConsensusPK, Power: 10}}, state)
	require.NoError(t, err)
	n, err := node.NewNode(dir, log.NewNopLogger(), app.Options{})
	require.NoError(t, err)
	require.NoError(t, n.Start())
	defer func() { require.NoError(t, n.Shutdown()) }()

	c, err := client.Dial(rpcAddr)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	require.Eventually(t, func() bool { _, h, err := c.Status(ctx); return err == nil && h >= 1 }, 30*time.Second, 100*time.Millisecond)
	before := scrapeMetrics(t, metricsAddr)

	var nonce uint64
	build := func(k e2eKey, msgs ...*txv1.Msg) []byte {
		_, h, err := c.Status(ctx)
		require.NoError(t, err)
		nonce++
		tx, err := client.BuildTx(client.TxOptions{ChainID: "tally-funds", Signer: k.addr, Nonce: nonce, TimeoutHeight: uint64(h) + 100},
			func(b []byte) ([]byte, error) { return ed25519.Sign(k.priv, b), nil }, msgs...)
		require.NoError(t, err)
		return tx
	}
	send := func(k e2eKey, msgs ...*txv1.Msg) {
		_, err := c.BroadcastAndWait(ctx, build(k, msgs...))
		require.NoError(t, err)
	}
	const prog = "bursary"
	start := time.Now().Add(4 * time.Second).Unix()
	send(officer,
		&txv1.Msg{Sum: &txv1.Msg_Appropriate{Appropriate: &fundsv1.MsgAppropriate{Reference: "SA/E2E/1", Amount: 1_000_000, Currency: "GBP"}}},
		&txv1.Msg{Sum: &txv1.Msg_Allocate{Allocate: &fundsv1.MsgAllocate{ToAgency: "benefits", Amount: 500_000, Currency: "GBP", Reference: "DfE 2030"}}})
	send(manager, &txv1.Msg{Sum: &txv1.Msg_CreateProgramme{CreateProgramme: &benefitsv1.MsgCreateProgramme{
		Id: prog, Name: "Student bursary", Amount: amount, Currency: "GBP", PeriodSeconds: period, StartUnix: start, EndUnix: start + 3*period}}})
	send(finance, &txv1.Msg{Sum: &txv1.Msg_Fund{Fund: &fundsv1.MsgFund{Programme: prog, Amount: 400_000, Currency: "GBP", Reference: "bursary 2030"}}})

	// Enrol 1,000 recipients: 32 transactions of 32 messages (the limit),
	// all in flight at once.
	var hashes [][]byte
	var msgs []*txv1.Msg
	for i := range recipients {
		r := fmt.Sprintf("student-%04d", i)
		msgs = append(msgs, &txv1.Msg{Sum: &txv1.Msg_Enrol{Enrol: &benefitsv1.MsgEnrol{Programme: prog, Recipient: pseud(r),
			ReceivingAccount: pseud("acct-" + r), EvidenceHash: make([]byte, 32), StartUnix: start}}})
		if len(msgs) == 32 || i == recipients-1 {
			tx := build(caseworker, msgs...)
			res, err := c.RPC.BroadcastTxSync(ctx, tx)
			require.NoError(t, err)
			require.Zero(t, res.Code, res.Log)
			hashes = append(hashes, res.Hash)
			msgs = nil
		}
	}
	for _, h := range hashes {
		_, err := c.WaitTx(ctx, h)
		require.NoError(t, err)
	}

	// Three periods run by themselves.
	p := &benefitsv1.Programme{}
	require.Eventually(t, func() bool {
		res, _, err := c.Query(ctx, api.PathBenefitsProgramme, []byte(prog), 0, false)
		return err == nil && proto.Unmarshal(res.Value, p) == nil && p.Finished
	}, 60*time.Second, 200*time.Millisecond, "the three periods did not run")

	res, proven, err := c.Query(ctx, api.PathBenefitsProgramme, []byte(prog), 0, true)
	require.NoError(t, err)
	require.True(t, proven.HeaderChecked)
	require.NoError(t, proto.Unmarshal(res.Value, p))
	require.Equal(t, uint64(recipients), p.Recipients)
	require.Equal(t, uint64(3*recipients), p.Payments)
	require.Equal(t, uint64(3*recipients*amount), p.PaidTotal)
	require.Zero(t, p.FailedPayments)

	// Settle the first payment of ten recipients, in one transaction.
	var settle []*txv1.Msg
	for i := 0; i < 10; i++ {
		h := provenHistory(t, ctx, c, prog, fmt.Sprintf("student-%04d", i))
		require.Len(t, h, 3)
		settle = append(settle, &txv1.Msg{Sum: &txv1.Msg_Settle{Settle: &fundsv1.MsgSettle{Payment: h[0].Movement, BankReference: pseud("FPS-" + strconv.Itoa(i))}}})
	}
	send(settler, settle...)

	// Every recipient was paid exactly once for each of the three periods.
	for i := 0; i < recipients; i += 37 {
		h := provenHistory(t, ctx, c, prog, fmt.Sprintf("student-%04d", i))
		require.Len(t, h, 3)
		for k, pay := range h {
			require.Equal(t, benefitsv1.PaymentStatus_PAYMENT_STATUS_PAID, pay.Status)
			require.Equal(t, uint64(k), pay.Period)
		}
	}
	// Balances, proven: a settled recipient's bank account awaits two payments.
	requireProvenBalance(t, ctx, c, api.PayeeHolder(pseud("acct-student-0003")), 2*amount)
	requireProvenBalance(t, ctx, c, api.PayeeHolder(pseud("acct-student-0500")), 3*amount)
	requireProvenBalance(t, ctx, c, api.ProgrammeHolder(prog), 400_000-3*recipients*amount)
	requireProvenBalance(t, ctx, c, api.AgencyHolder("treasury"), 500_000)

	// A settled payment's trace, every record proven: the payment, its
	// funds path back to the appropriation, and its settlement.
	first := provenHistory(t, ctx, c, prog, "student-0003")[0]
	list, tp, err := c.QueryRecords(ctx, api.PathBenefitsTrace, []byte(strconv.FormatUint(first.Id, 10)), 0, true)
	require.NoError(t, err)
	require.True(t, tp.HeaderChecked)
	var kinds []fundsv1.MovementKind
	settled := false
	for _, e := range list.Entries {
		switch {
		case api.IsFundsMovementKey(e.Key):
			m := &fundsv1.Movement{}
			require.NoError(t, proto.Unmarshal(e.Value, m))
			kinds = append(kinds, m.Kind)
			if m.Kind == fundsv1.MovementKind_MOVEMENT_KIND_APPROPRIATE {
				require.Equal(t, "SA/E2E/1", m.Reference)
			}
		case api.IsFundsSettlementKey(e.Key):
			s := &fundsv1.Settlement{}
			require.NoError(t, proto.Unmarshal(e.Value, s))
			require.Equal(t, pseud("FPS-3"), s.BankReference)
			settled = true
		}
	}
	require.Equal(t, []fundsv1.MovementKind{
		fundsv1.MovementKind_MOVEMENT_KIND_PAYMENT, fundsv1.MovementKind_MOVEMENT_KIND_FUND,
		fundsv1.MovementKind_MOVEMENT_KIND_ALLOCATE, fundsv1.MovementKind_MOVEMENT_KIND_APPROPRIATE,
	}, kinds, "payment ← programme funding ← allocation ← appropriation")
	require.True(t, settled)

	// An unsettled payment's trace proves the settlement absent.
	later := provenHistory(t, ctx, c, prog, "student-0003")[2]
	list, _, err = c.QueryRecords(ctx, api.PathBenefitsTrace, []byte(strconv.FormatUint(later.Id, 10)), 0, true)
	require.NoError(t, err)
	last := list.Entries[len(list.Entries)-1]
	require.True(t, api.IsFundsSettlementKey(last.Key))
	require.Empty(t, last.Value)

	// Conservation, from proven totals and proven balances only.
	r, ip, err := c.ProvenInvariants(ctx, 0)
	require.NoError(t, err)
	require.True(t, ip.HeaderChecked)
	require.True(t, r.Ok, r.Problems)
	require.Equal(t, uint64(1_000_000), r.Totals.Appropriated)
	require.Equal(t, uint64(10*amount), r.Totals.Settled)
	require.Equal(t, uint64(1_000_000-10*amount), r.SumOfBalances)

	// The node's metrics say the same: the business figures by what the
	// blocks did (counters are per process, so the change since the
	// start), FinalizeBlock and Commit timed, the state's size, and the
	// periodic invariant check finding nothing.
	_, height, err := c.Status(ctx)
	require.NoError(t, err)
	var after map[string]float64
	require.Eventually(t, func() bool {
		after = scrapeMetrics(t, metricsAddr)
		return after["tally_invariants_checked_height"] >= float64(height)
	}, 60*time.Second, 500*time.Millisecond, "no periodic invariant check of height %d", height)
	delta := func(series string) float64 { return after[series] - before[series] }
	for series, want := range map[string]float64{
		`tally_event_amount_pence_total{attribute="amount",type="funds.appropriated"}`: 1_000_000,               // money appropriated
		`tally_event_amount_pence_total{attribute="net",type="benefits.paid"}`:         3 * recipients * amount, // money paid
		`tally_event_amount_pence_total{attribute="amount",type="funds.settled"}`:      10 * amount,             // money settled
		`tally_events_total{type="benefits.paid"}`:                                     3 * recipients,
		`tally_events_total{type="funds.settled"}`:                                     10,
		`tally_messages_total{message="enrol",module="benefits",result="ok"}`:          recipients,
		`tally_messages_total{message="appropriate",module="funds",result="ok"}`:       1,
	} {
		require.Equal(t, want, delta(series), series)
	}
	for _, hist := range []string{"tally_finalize_block_seconds_count", "tally_commit_seconds_count"} {
		require.Greater(t, delta(hist), 0.0, hist)
		require.GreaterOrEqual(t, after[hist], after["tally_block_height"]-before["tally_block_height"], hist+": one a block")
	}
	require.Zero(t, after["tally_invariant_checks_failing"])
	require.Contains(t, after, "tally_invariant_checks_failing")
	require.Zero(t, after["tally_queue_payment_periods_due"], "every period ran")
	require.Greater(t, after["tally_state_bytes"], 0.0)
	require.Less(t, after["tally_state_bytes"], after["tally_data_bytes"], "the state is part of the data directory")
	require.Equal(t, float64(node.MempoolLimit(comet.Mempool.Size)), after["tally_mempool_limit_transactions"])
}

// scrapeMetrics reads the node's metrics endpoint.
func scrapeMetrics(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	m, err := monitoring.Scrape(context.Background(), addr)
	require.NoError(t, err)
	return m
}

func provenHistory(t *testing.T, ctx context.Context, c *client.Client, prog, recipient string) []*benefitsv1.Payment {
	t.Helper()
	list, proven, err := c.QueryRecords(ctx, api.PathBenefitsHistory, api.ListData([]byte(prog+"/"+pseud(recipient)), nil, 0), 0, true)
	require.NoError(t, err)
	require.True(t, proven.HeaderChecked)
	var out []*benefitsv1.Payment
	for _, e := range list.Entries {
		p := &benefitsv1.Payment{}
		require.NoError(t, proto.Unmarshal(e.Value, p))
		out = append(out, p)
	}
	return out
}

func requireProvenBalance(t *testing.T, ctx context.Context, c *client.Client, holder string, want uint64) {
	t.Helper()
	res, proven, err := c.Query(ctx, api.PathFundsBalance, []byte(holder), 0, true)
	require.NoError(t, err)
	require.True(t, proven.HeaderChecked)
	b := &fundsv1.Balance{}
	require.NoError(t, proto.Unmarshal(res.Value, b))
	require.Equal(t, want, b.Amount, holder)
}

// pseud is the pseudonym standing for name on chain (64 hex characters).
func pseud(name string) string {
	h := sha256.Sum256([]byte("pseudonym/" + name))
	return hex.EncodeToString(h[:])
}

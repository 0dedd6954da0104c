package app_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/app"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	statev1 "github.com/tallyledger/tally/proto/tally/state/v1"
	"github.com/tallyledger/tally/store"
)

// exportVals are the export world's validators, one per agency operating it.
var exportVals = [][]byte{consKey("ex0"), consKey("ex1"), consKey("ex2"), consKey("ex3")}

// newExportWorld is the fuzz world (every module holding records) with a
// validator set, so the export carries governance's validators too.
func newExportWorld(t *testing.T) *chain {
	t.Helper()
	g := withKeyProofs(withFoundingMandates(fuzzGenesis()))
	var vals []abci.ValidatorUpdate
	for i, ag := range []string{mTreasury, mBenefits, mCouncil, mBank} {
		g.Gov.Operators = append(g.Gov.Operators, &govv1.ValidatorOperator{PubKey: exportVals[i], AgencyId: ag})
		vals = append(vals, abci.Ed25519ValidatorUpdate(exportVals[i], 10))
	}
	bz, err := app.MarshalGenesis(g)
	require.NoError(t, err)
	c := openChain(t, store.NewMemory(), fuzzOptions)
	_, err = c.app.InitChain(context.Background(), &abci.RequestInitChain{
		Time: genesisTime, ChainId: testChainID, AppStateBytes: bz, InitialHeight: 1, Validators: vals,
	})
	require.NoError(t, err)
	start := genesisTime.Unix() + 5*365*24*3600
	c.ok(
		c.tx(mOfficer, msgAppropriate("EX/1", 10_000_000), msgAllocate(mBenefits, 1_000_000)),
		c.tx(mManager, msgCreateProgramme(fzProgramme, 100, 30*24*3600, start, start+365*24*3600, 0)),
		c.tx(mFinance, msgFund(fzProgramme, 100_000)),
		c.tx(mCaseworker, msgEnrol(fzProgramme, "r1", start)),
		c.tx(mCollector, taxIssue("VAT", fzPayer, "2030-Q1", 1_000, "BANK-EX-1")),
		c.tx(mCollector, taxIssue("VAT", fzPayer, "2030-Q2", 400, "BANK-EX-0")), // left pending
		c.tx(mProducer, register(fzItem, 100, "milk.raw")),
		c.tx(mProducer, register(fzItem+"-2", 50, "milk.raw")),
		c.tx(mBenefitsAdmin, msgPropose(changeParam("app.max_memo_bytes", "200"))),
	)
	c.ok(
		c.tx(mSettler, taxConfirm("TAX-000001", "BANK-EX-1", 1_000)),
		c.tx(mProducer, split(fzItem, 60, 40)),
		c.tx(mProducer, offer(fzItem+"-2", mCouncilCase, 3600)),
		c.tx(mRegulator, recall("RO-EX-1", fzItem)),
		c.tx(mTreasuryAdmin, msgVote(1, govv1.VoteOption_VOTE_OPTION_YES)),
		c.tx(mBenefitsAdmin, addMemberTo(mBenefits, keyFor("export/newcomer"), roleProd)),
	)
	return c
}

// exportAt exports c at height and reads the app_state back from its JSON,
// as a node would read the genesis file tallyd export writes.
func exportAt(t *testing.T, c *chain, height int64) *appv1.GenesisState {
	t.Helper()
	g, err := c.app.ExportGenesis(height)
	require.NoError(t, err)
	bz, err := app.MarshalGenesis(g)
	require.NoError(t, err)
	back, err := app.ParseGenesis(bz)
	require.NoError(t, err)
	return back
}

// restore starts a fresh app from an exported app_state.
func restore(t *testing.T, g *appv1.GenesisState, chainID string, initialHeight int64, vals [][]byte) (*chain, error) {
	t.Helper()
	bz, err := app.MarshalGenesis(g)
	require.NoError(t, err)
	var updates []abci.ValidatorUpdate
	for _, pk := range vals {
		updates = append(updates, abci.Ed25519ValidatorUpdate(pk, 10))
	}
	c := openChain(t, store.NewMemory(), fuzzOptions)
	_, err = c.app.InitChain(context.Background(), &abci.RequestInitChain{
		Time: blockTime(initialHeight), ChainId: chainID, AppStateBytes: bz, InitialHeight: initialHeight, Validators: updates,
	})
	c.height = initialHeight - 1
	return c, err
}

// dumpAt is every key and value of c's state at a committed height.
func dumpAt(t *testing.T, c *chain, height int64) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, c.st.IterateAt(height, nil, nil, true, func(k, v []byte) bool {
		out[string(k)] = string(v)
		return false
	}))
	return out
}

// An export is every key of the state at its height: a chain restarted
// from it holds exactly the same keys and values, record by record, in
// every module (nothing is height-dependent: the restart continues at the
// next height, so stored heights keep their meaning), every invariant
// holds, and the next block has the same results and leaves the same state
// on both chains. Only the app hash differs (IAVL hashes carry each node's
// version, and the restarted tree writes every node at the restart height).
func TestExportRestartsTheChainWithTheSameState(t *testing.T) {
	c := newExportWorld(t)
	h := c.height
	g := exportAt(t, c, 0)

	require.Equal(t, testChainID, g.ExportedFrom.ChainId)
	require.Equal(t, h, g.ExportedFrom.Height)
	require.Equal(t, c.lastHash(), g.ExportedFrom.AppHash)
	sections := map[string][]*statev1.Record{
		"app": g.Records, "agency": g.Agency.Records, "funds": g.Funds.Records, "benefits": g.Benefits.Records,
		"tax": g.Tax.Records, "provenance": g.Provenance.Records, "gov": g.Gov.Records,
	}
	for name, recs := range sections {
		require.NotEmpty(t, recs, "section %s has no records: the workload must give every module state", name)
	}
	again, err := c.app.ExportGenesis(h)
	require.NoError(t, err)
	require.True(t, proto.Equal(g, again), "an export is deterministic")

	r, err := restore(t, g, testChainID, h+1, exportVals)
	require.NoError(t, err)
	want := dumpAt(t, c, h)
	got := r.dump()
	require.Equal(t, len(want), len(got), "key count")
	for k, v := range want {
		require.Equal(t, v, got[k], "key %q", k)
	}
	r.block()
	require.Equal(t, h+1, r.height)
	require.Equal(t, h+1, r.info().LastBlockHeight, "the restarted chain's first block is the exported height + 1")
	inv, _ := r.invariantsAt(0)
	require.True(t, inv.Ok, "%v", inv)

	// The same next block on both chains: same results, same state.
	c2, err := restore(t, g, testChainID, h+1, exportVals)
	require.NoError(t, err)
	txs := [][]byte{
		c.tx(mOfficer, msgAppropriate("EX/2", 5_000)),
		c.tx(mProducer, register(fzItem+"-3", 5, "milk.raw")),
		c.tx(mCollector, taxIssue("VAT", fzPayer, "2030-Q1", 70, "BANK-EX-2")),
	}
	want2 := c.block(txs...).TxResults
	got2 := c2.block(txs...).TxResults
	require.Equal(t, want2, got2)
	for _, res := range want2 {
		requireOK(t, res)
	}
	require.Equal(t, c.dump(), c2.dump())
	require.NotEqual(t, c.lastHash(), c2.lastHash(), "documented: the restarted tree's hash differs")

	// An export at an earlier kept height is that height's state.
	early := exportAt(t, c, h-1)
	r3, err := restore(t, early, testChainID, h, exportVals)
	require.NoError(t, err)
	require.Equal(t, dumpAt(t, c, h-1), r3.dump())
}

// A transaction of the exported chain cannot run again on the restarted
// one: its nonce is part of the export.
func TestExportCarriesUsedNonces(t *testing.T) {
	c := newExportWorld(t)
	tx := c.tx(mOfficer, msgAppropriate("EX/REPLAY", 1_000))
	requireOK(t, c.block(tx).TxResults[0])
	r, err := restore(t, exportAt(t, c, 0), testChainID, c.height+1, exportVals)
	require.NoError(t, err)
	res := r.block(tx).TxResults[0]
	requireCode(t, app.ErrReplay, res.Codespace, res.Code, res.Log)
}

// A genesis that is not the export as written is refused with a message
// that says what is wrong, and the new chain's state stays empty.
func TestRestoreRefusesForeignOrDamagedExports(t *testing.T) {
	c := newExportWorld(t)
	h := c.height
	good := exportAt(t, c, 0)
	mutate := func(f func(g *appv1.GenesisState), redigest bool) *appv1.GenesisState {
		g := proto.Clone(good).(*appv1.GenesisState)
		f(g)
		if redigest {
			g.ExportedFrom.RecordsSha256 = app.RecordsDigest(g)
		}
		return g
	}
	firstKey := func(recs []*statev1.Record, prefix string) *statev1.Record {
		for _, r := range recs {
			if strings.HasPrefix(string(r.Key), prefix) {
				return r
			}
		}
		t.Fatalf("no record %s", prefix)
		return nil
	}
	cases := []struct {
		name    string
		g       *appv1.GenesisState
		chainID string
		height  int64
		vals    [][]byte
		want    []string
	}{
		{"another chain's export", good, "tally-other-9", h + 1, exportVals,
			[]string{"tx/100", `export of chain "tally-test-1"`, `for chain "tally-other-9"`}},
		{"wrong initial height", good, testChainID, 1, exportVals,
			[]string{"tx/100", fmt.Sprintf("initial_height must be %d, not 1", h+1)}},
		{"a record edited", mutate(func(g *appv1.GenesisState) {
			r := firstKey(g.Funds.Records, "fu/totals")
			r.Value = append(bytes.Clone(r.Value), 0x08, 0x01)
		}, false), testChainID, h + 1, exportVals, []string{"tx/100", "damaged or edited"}},
		{"params edited", mutate(func(g *appv1.GenesisState) { g.Params.MaxMemoBytes++ }, false), testChainID, h + 1, exportVals,
			[]string{"tx/100", "damaged or edited"}},
		{"no digest", mutate(func(g *appv1.GenesisState) { g.ExportedFrom.RecordsSha256 = nil }, false), testChainID, h + 1, exportVals,
			[]string{"tx/100", "damaged or edited"}},
		{"records without exported_from", mutate(func(g *appv1.GenesisState) { g.ExportedFrom = nil }, false), testChainID, 1, nil,
			[]string{"tx/100", "no exported_from"}},
		{"a record in another module's section", mutate(func(g *appv1.GenesisState) {
			g.Tax.Records = append(g.Tax.Records, &statev1.Record{Key: []byte("zz/x"), Value: []byte{1}})
		}, true), testChainID, h + 1, exportVals, []string{"tax/", `"zz/x" is not in this module's state`}},
		{"keys out of order", mutate(func(g *appv1.GenesisState) {
			g.Funds.Records[0], g.Funds.Records[1] = g.Funds.Records[1], g.Funds.Records[0]
		}, true), testChainID, h + 1, exportVals, []string{"funds/", "is not after the key before it"}},
		{"a balance edited, digest recomputed", mutate(func(g *appv1.GenesisState) {
			r := firstKey(g.Funds.Records, "fu/b/")
			r.Value = append(bytes.Clone(r.Value), 0x10, 0x01) // protobuf: the last amount (field 2) wins: 1
		}, true), testChainID, h + 1, exportVals, []string{"tx/100", "fails invariants", "funds/"}},
		{"typed fields beside records", mutate(func(g *appv1.GenesisState) { g.Gov.Mandates = withFoundingMandates(fuzzGenesis()).Gov.Mandates }, true),
			testChainID, h + 1, exportVals, []string{"gov/", "both records"}},
		{"another validator set", good, testChainID, h + 1, append(exportVals[:3:3], consKey("intruder")),
			[]string{"gov/", "not in the exported validator set"}},
		{"a validator missing", good, testChainID, h + 1, exportVals[:3], []string{"gov/", "missing from the genesis validators"}},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			r, err := restore(t, tt.g, tt.chainID, tt.height, tt.vals)
			require.Error(t, err)
			for _, w := range tt.want {
				require.Contains(t, err.Error(), w)
			}
			require.Empty(t, r.dump(), "a refused genesis leaves the state empty")
		})
	}
}

// An export refuses a height the node no longer keeps, or has not reached.
func TestExportRefusesHeightsNotKept(t *testing.T) {
	c := newExportWorld(t)
	_, err := c.app.ExportGenesis(c.height + 1)
	require.ErrorContains(t, err, "tx/101")
	require.ErrorContains(t, err, fmt.Sprintf("committed up to %d", c.height))
}

package app_test

import (
	"context"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/app"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/tax"
)

// invariantsAt asks the app for the invariants report at height (0: the
// latest), as a client would through ABCI Query.
func (c *chain) invariantsAt(height int64) (*appv1.InvariantsReport, *abci.ResponseQuery) {
	c.tb.Helper()
	res, err := c.app.Query(context.Background(), &abci.RequestQuery{Path: api.PathInvariants, Height: height})
	require.NoError(c.tb, err)
	require.Zero(c.tb, res.Code, res.Log)
	r := &appv1.InvariantsReport{}
	require.NoError(c.tb, proto.Unmarshal(res.Value, r))
	return r, res
}

func moduleOf(r *appv1.InvariantsReport, name string) *appv1.ModuleInvariants {
	for _, m := range r.Modules {
		if m.Module == name {
			return m
		}
	}
	return nil
}

// One query runs every module's checks, funds conservation folded in, at
// the height asked: a record corrupted in a later block fails its module's
// check there and only there, and earlier heights still hold.
func TestInvariantsQueryRunsEveryModuleAtTheHeightAsked(t *testing.T) {
	c := newFuzzWorld(t)
	first := c.height
	c.ok(
		c.tx(mCollector, taxIssue("VAT", fzPayer, "2030-Q1", 500, "BANK-FZ-2")),
		c.tx(mSettler, taxConfirm("TAX-000002", "BANK-FZ-2", 500)),
		c.tx(mProducer, split(fzItem, 60, 40)),
	)
	second := c.height

	r, res := c.invariantsAt(0)
	require.Equal(t, second, res.Height)
	require.True(t, r.Ok, "%v", r)
	var names []string
	for _, m := range r.Modules {
		names = append(names, m.Module)
		require.True(t, m.Ok, "%s: %v", m.Module, m.Checks)
		require.NotEmpty(t, m.Checks, m.Module)
		for _, ch := range m.Checks {
			require.True(t, ch.Ok, "%s/%s: %s", m.Module, ch.Name, ch.Detail)
		}
	}
	require.Equal(t, []string{"agency", "funds", "benefits", "tax", "provenance", "gov"}, names)
	require.Equal(t, app.CheckFundsConservation, moduleOf(r, "funds").Checks[0].Name)
	require.True(t, r.Funds.Ok)
	require.Equal(t, uint64(1_500), r.Funds.Totals.RevenueCredited)

	old, res := c.invariantsAt(first)
	require.Equal(t, first, res.Height)
	require.True(t, old.Ok)
	require.Equal(t, uint64(1_000), old.Funds.Totals.RevenueCredited, "the report is of the state at the height asked")

	// A running total drifts behind the handlers' back, in the next block.
	key := api.TaxTypeTotalKey("VAT", "2030-Q1")
	tot := &taxv1.Total{}
	found, err := store.GetProto(c.st, key, tot)
	require.NoError(t, err)
	require.True(t, found)
	tot.Net += 7
	require.NoError(t, store.SetProto(c.st, key, tot))
	c.block()

	bad, res := c.invariantsAt(0)
	require.Equal(t, second+1, res.Height)
	require.False(t, bad.Ok)
	for _, m := range bad.Modules {
		if m.Module != "tax" {
			require.True(t, m.Ok, "%s: %v", m.Module, m.Checks)
			continue
		}
		require.False(t, m.Ok)
		for _, ch := range m.Checks {
			if ch.Name != tax.CheckRunningTotals {
				require.True(t, ch.Ok, "%s: %s", ch.Name, ch.Detail)
				continue
			}
			require.False(t, ch.Ok)
			require.Equal(t, uint64(1), ch.Problems)
			require.Contains(t, ch.Detail, "1507 net; its live receipts sum to 2, 1500, 0, 1500")
		}
	}
	still, _ := c.invariantsAt(second)
	require.True(t, still.Ok, "the height before the corruption still holds")

	// The query takes no data, and heights not yet committed are refused.
	res = c.query(api.PathInvariants, []byte("x"))
	require.True(t, isCode(res.Codespace, res.Code, app.ErrInvalidQuery), res.Log)
	res, err = c.app.Query(context.Background(), &abci.RequestQuery{Path: api.PathInvariants, Height: c.height + 1})
	require.NoError(t, err)
	require.True(t, isCode(res.Codespace, res.Code, app.ErrInvalidQuery), res.Log)
}

// Every module's invariants hold after every block of the determinism
// script: members added, roles granted and revoked, accounts suspended,
// reinstated and removed, keys rotated, with refusals of every kind mixed
// in (including ones that would leave an agency without an admin).
func TestInvariantsHoldAfterEveryBlockOfMembershipChurn(t *testing.T) {
	c := newChain(t)
	for _, txs := range script(t, 30) {
		c.block(txs...)
		r, res := c.invariantsAt(0)
		require.True(t, r.Ok, "height %d: %v", res.Height, r)
	}
}

// The whole-state walks are the operator's: a node whose app.toml does not
// turn operator_queries on refuses them with a code that says how to get
// them, and still answers paged queries.
func TestWholeStateQueriesAreForTheOperatorOnly(t *testing.T) {
	a, err := app.New(store.NewMemory(), app.Options{})
	require.NoError(t, err)
	c := &chain{tb: t, app: a, hashes: map[int64][]byte{}, nonce: 1000}
	t.Cleanup(c.close)
	c.initChain(testGenesis())
	c.block()
	for _, path := range []string{api.PathInvariants, api.PathFundsInvariants} {
		res := c.query(path, nil)
		requireCode(t, app.ErrOperatorOnly, res.Codespace, res.Code, res.Log, "operator_queries = true")
	}
	res := c.query(api.PathMembers, listData(agTreasury))
	require.Zero(t, res.Code, res.Log)
}

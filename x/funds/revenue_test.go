package funds_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/api"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/funds"
	"github.com/tallyledger/tally/x/module"
)

func newLedger(t *testing.T) (funds.Keeper, module.Context, *[]module.Event) {
	t.Helper()
	kv := store.NewMemory()
	ak := agency.Keeper{}
	require.NoError(t, ak.SetAgency(kv, &agencyv1.Agency{Id: "treasury", Name: "T", Kind: agencyv1.Kind_KIND_TREASURY, Status: agencyv1.Status_STATUS_ACTIVE}))
	k := funds.Keeper{Agency: ak}
	require.NoError(t, k.InitGenesis(kv, nil))
	var events []module.Event
	return k, module.NewContext(kv, 5, time.Unix(1_900_000_000, 0), "c", &events), &events
}

func dump(kv store.KV) map[string]string {
	out := map[string]string{}
	kv.Iterate(nil, nil, true, func(k, v []byte) bool { out[string(k)] = string(v); return false })
	return out
}

// Revenue credited by another module is an inflow with its own trace root,
// counted in conservation; a refund debits it, and an overdraft is refused
// with a coded error and no state change.
func TestCreditAndDebitRevenue(t *testing.T) {
	k, ctx, events := newLedger(t)
	h := api.AgencyHolder("treasury")
	require.Equal(t, "agency:treasury", h)

	id, err := k.CreditRevenue(ctx, h, 5_000, "tax", "receipt/1", 0)
	require.NoError(t, err)
	require.Equal(t, "1", id)
	require.Equal(t, funds.EventRevenueCredit, (*events)[0].Type)
	bal, _ := k.Balance(ctx.Store, h)
	require.Equal(t, uint64(5_000), bal)

	refund, err := k.DebitRevenue(ctx, h, 1_200, "tax", "refund/1")
	require.NoError(t, err)
	require.Equal(t, "2", refund)

	before := dump(ctx.Store)
	_, err = k.DebitRevenue(ctx, h, 3_801, "tax", "refund/2")
	require.ErrorIs(t, err, funds.ErrInsufficientFunds)
	require.Equal(t, before, dump(ctx.Store), "an overdraft changes nothing")

	for _, bad := range []struct {
		holder string
		amount uint64
		source string
		want   *module.Error
	}{
		{h, 0, "tax", funds.ErrZeroAmount},
		{"agency:nobody", 1, "tax", funds.ErrUnknownHolder},
		{api.PayeeHolder("x"), 1, "tax", funds.ErrInvalidHolder},
		{h, 1, "", funds.ErrInvalidReference},
	} {
		_, err := k.CreditRevenue(ctx, bad.holder, bad.amount, bad.source, "r", 0)
		require.ErrorIs(t, err, bad.want)
	}
	require.Equal(t, before, dump(ctx.Store))

	r, err := k.Invariants(ctx.Store)
	require.NoError(t, err)
	require.True(t, r.Ok, r.Problems)
	require.Equal(t, uint64(5_000), r.Totals.RevenueCredited)
	require.Equal(t, uint64(1_200), r.Totals.RevenueDebited)
	require.Equal(t, uint64(3_800), r.SumOfBalances)

	keys, complete, err := k.TraceUp(ctx.Store, 2)
	require.NoError(t, err)
	require.True(t, complete)
	require.Len(t, keys, 3, "refund, the revenue tranche, and the credit that created it")
}

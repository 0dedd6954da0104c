package tax_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/api"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	"github.com/tallyledger/tally/x/gov"
)

// Hole: collectors of other agencies kept issuing receipts in an
// authority's name after governance suspended the authority. Now every
// receipt is issued under the authority's tax-authority mandate, which a
// suspended authority does not exercise; reinstated, its collectors issue
// again.
func TestSuspendedAuthorityStopsItsCollectors(t *testing.T) {
	e := newEnv(t)
	require.NoError(t, e.issue(bankCollector, vat(taxpayer("a"), "2026-Q1", 700, "B-1")))
	require.NoError(t, agK.SetAgencyStatus(e.kv, "revenue", agencyv1.Status_STATUS_SUSPENDED))
	err := e.issue(bankCollector, vat(taxpayer("a"), "2026-Q1", 700, "B-2"))
	require.ErrorIs(t, err, gov.ErrNoMandate)
	require.ErrorContains(t, err, `agency "revenue" is suspended; its tax_authority mandate`)
	require.Equal(t, uint64(700), e.balance("treasury"), "nothing more was credited")
	require.NoError(t, agK.SetAgencyStatus(e.kv, "revenue", agencyv1.Status_STATUS_ACTIVE))
	require.NoError(t, e.issue(bankCollector, vat(taxpayer("a"), "2026-Q1", 700, "B-2")))
}

// Withdrawing an authority's tax-authority mandate stops every collector
// it authorised at once, its own and other agencies'.
func TestWithdrawnTaxMandateStopsReceipts(t *testing.T) {
	e := newEnv(t)
	g, err := govK.Mandate(e.kv, "revenue", govv1.Mandate_MANDATE_TAX_AUTHORITY)
	require.NoError(t, err)
	require.NotNil(t, g)
	e.kv.Delete(api.GovMandateKey("revenue", int32(govv1.Mandate_MANDATE_TAX_AUTHORITY))) // as a passed withdrawal leaves it
	for _, c := range []key{revCollector, bankCollector} {
		err := e.issue(c, vat(taxpayer("a"), "2026-Q1", 700, "W-"+string(c.addr[:2])))
		require.ErrorIs(t, err, gov.ErrNoMandate)
		require.ErrorContains(t, err, "tax_authority mandate")
	}
}

package provenance_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/gov"
)

// regulated writes the regulator's agency (fsa) into kv with, unless
// granted is false, a regulator mandate granted at genesis, and returns
// governance's real keeper to answer for mandates.
func regulated(t *testing.T, kv store.KV, granted bool) gov.Keeper {
	t.Helper()
	ak := agency.Keeper{}
	require.NoError(t, ak.SetAgency(kv, &agencyv1.Agency{Id: regulator.AgencyId, Name: "FSA", Kind: agencyv1.Kind_KIND_REGULATOR, Status: agencyv1.Status_STATUS_ACTIVE}))
	g := &govv1.Genesis{}
	if granted {
		g.Mandates = []*govv1.MandateGrant{{AgencyId: regulator.AgencyId, Mandate: govv1.Mandate_MANDATE_REGULATOR, LegalBasis: "Food Safety Act 1990"}}
	}
	k := gov.NewKeeper(ak, nil)
	require.NoError(t, k.InitGenesis(kv, g, nil))
	return k
}

package app_test

import (
	"strings"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/app"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	pv "github.com/tallyledger/tally/proto/tally/provenance/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/module"
	"github.com/tallyledger/tally/x/provenance"
)

func setAccountName(addr []byte, name string) *txv1.Msg {
	return &txv1.Msg{Sum: &txv1.Msg_SetAccountName{SetAccountName: &agencyv1.MsgSetAccountName{Address: addr, DisplayName: name}}}
}

func nameLocation(code, name string) *txv1.Msg {
	return &txv1.Msg{Sum: &txv1.Msg_NameLocation{NameLocation: &pv.MsgNameLocation{Location: code, Name: name}}}
}

// refused sends tx in CheckTx and in a block and requires code want (in
// CheckTx too when CheckTx can tell), with nothing in state changed but the
// signer's spent nonce.
func (c *chain) refused(want *module.Error, tx []byte, fragments ...string) {
	c.tb.Helper()
	check := c.checkTx(tx)
	if check.Code != 0 || want == app.ErrUnauthorized {
		requireCode(c.tb, want, check.Codespace, check.Code, check.Log, fragments...)
	}
	before := c.dump()
	res := c.block(tx).TxResults[0]
	requireCode(c.tb, want, res.Codespace, res.Code, res.Log, fragments...)
	for k, v := range c.dump() {
		if old, ok := before[k]; (!ok || old != v) && !strings.HasPrefix(k, "tx/r/") {
			c.tb.Fatalf("a refused transaction changed %q", k)
		}
	}
}

// An agency's admin names an account of its agency with a desk name; the
// name is on the account record and can be cleared. Only an admin may, only
// for its own agency, and only a name of letters, digits and a few marks.
func TestAdminSetsAccountDisplayName(t *testing.T) {
	c := newChain(t)
	c.initChain(withKeyProofs(testGenesis()))
	c.block()

	role, ok := app.RequiredRole(setAccountName(taxCollector.addr, "x"))
	require.True(t, ok)
	require.Equal(t, agencyv1.Role_ROLE_ADMIN, role)

	res := c.block(c.tx(taxAdmin, setAccountName(taxCollector.addr, "Bristol collections desk")))
	requireOK(t, res.TxResults[0])
	require.Equal(t, "Bristol collections desk", c.account(taxCollector.addr).DisplayName)
	require.Equal(t, "Bristol collections desk", attrs(event(t, res.TxResults[0].Events, agency.EventAccountNamed))["display_name"].Value)

	c.refused(app.ErrUnauthorized, c.tx(taxCollector, setAccountName(taxCollector.addr, "My own desk")))
	c.refused(agency.ErrOtherAgency, c.tx(treasuryAdmin, setAccountName(taxCollector.addr, "Spending desk")), "belongs to agency")
	c.refused(agency.ErrNameUnchanged, c.tx(taxAdmin, setAccountName(taxCollector.addr, "Bristol collections desk")), "already named")
	for _, bad := range []string{"jane.doe@example.org", " Desk", "Desk  two", strings.Repeat("d", module.MaxDisplayName+1), "Desk\u202e", "Tel: 0117 496 0000"} {
		c.refused(agency.ErrInvalidName, c.tx(taxAdmin, setAccountName(taxCollector.addr, bad)))
	}
	c.refused(agency.ErrInvalidAddress, c.tx(taxAdmin, setAccountName([]byte{1, 2}, "Desk")), "20 bytes")

	requireOK(t, c.block(c.tx(taxAdmin, setAccountName(taxCollector.addr, ""))).TxResults[0])
	require.Empty(t, c.account(taxCollector.addr).DisplayName, "an empty name clears it")
}

// A genesis account may carry a display name; a bad one stops the chain
// from starting with the same code a message would get.
func TestGenesisAccountDisplayNameIsChecked(t *testing.T) {
	g := testGenesis()
	g.Agency.Accounts[4].DisplayName = "Bristol collections desk"
	c := newChain(t)
	c.initChain(withKeyProofs(g))
	c.block()
	require.Equal(t, "Bristol collections desk", c.account(taxCollector.addr).DisplayName)

	bad := testGenesis()
	bad.Agency.Accounts[4].DisplayName = "name@example.org"
	bz, err := app.MarshalGenesis(withKeyProofs(withFoundingMandates(bad)))
	require.NoError(t, err)
	_, err = newChain(t).app.InitChain(t.Context(), &abci.RequestInitChain{Time: genesisTime, ChainId: testChainID, AppStateBytes: bz, InitialHeight: 1})
	require.ErrorIs(t, err, agency.ErrInvalidName)
}

// An admin names a location code; the first agency to name it holds it, its
// admins may rename it, another agency's admin is refused, and a producer
// (no admin role) may not name places.
func TestAdminNamesLocation(t *testing.T) {
	c := newProvChain(t)
	role, ok := app.RequiredRole(nameLocation(pvLoc, "x"))
	require.True(t, ok)
	require.Equal(t, agencyv1.Role_ROLE_ADMIN, role)

	requireOK(t, c.block(c.tx(pvFarmAdmin, nameLocation(pvLoc, "Dale Farm, milking parlour"))).TxResults[0])
	require.Equal(t, "Dale Farm, milking parlour", c.location(pvLoc).Name)
	require.Equal(t, "farm", c.location(pvLoc).AgencyId)

	c.refused(app.ErrUnauthorized, c.tx(pvFarmer, nameLocation(pvLoc, "Parlour")))
	c.refused(provenance.ErrLocationHeld, c.tx(keyFor("dairy/admin"), nameLocation(pvLoc, "Vale Creamery")), `by agency "farm"`)
	c.refused(provenance.ErrLocationHeld, c.tx(pvFarmAdmin, nameLocation(pvLoc, "Dale Farm, milking parlour")), "already named")
	c.refused(provenance.ErrInvalidLocationName, c.tx(pvFarmAdmin, nameLocation(pvLoc, "")))
	c.refused(provenance.ErrInvalidLocationName, c.tx(pvFarmAdmin, nameLocation(pvLoc, "Farm #1")))
	c.refused(provenance.ErrInvalidLocation, c.tx(pvFarmAdmin, nameLocation("", "Farm")))

	requireOK(t, c.block(c.tx(pvFarmAdmin, nameLocation(pvLoc, "Dale Farm"))).TxResults[0])
	require.Equal(t, "Dale Farm", c.location(pvLoc).Name)
}

func (c *chain) location(code string) *pv.Location {
	c.tb.Helper()
	res := c.query(api.PathProvenanceLocation, []byte(code))
	require.Zero(c.tb, res.Code, res.Log)
	l := &pv.Location{}
	require.NoError(c.tb, proto.Unmarshal(res.Value, l))
	return l
}

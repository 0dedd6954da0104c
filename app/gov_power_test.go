package app_test

import (
	"context"
	"strconv"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/app"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/gov"
)

// A business agency, with its admin; and the gov test genesis's agency
// that runs no validator at genesis.
const (
	agBusiness = "acme"
	agHarbour  = "harbour"
)

var (
	businessAdmin = keyFor("acme/admin")
	harbourAdmin  = keyFor("harbour/admin")
)

// withHarbour adds an active agency that runs no validator: an agency's
// validators count together against gov.max_validator_share, so tests
// that add validators give them to the harbour.
func withHarbour(g *appv1.GenesisState) *appv1.GenesisState {
	g.Agency.Agencies = append(g.Agency.Agencies, &agencyv1.Agency{Id: agHarbour, Name: "Harbour Authority", Kind: agencyv1.Kind_KIND_DEPARTMENT})
	g.Agency.Accounts = append(g.Agency.Accounts, &agencyv1.Account{PubKey: harbourAdmin.pub, AgencyId: agHarbour, Roles: []agencyv1.Role{agencyv1.Role_ROLE_ADMIN}})
	return g
}

// newChainFrom starts a chain from g with vals as genesis validators of
// power 10 and runs its first block.
func newChainFrom(tb testing.TB, g *appv1.GenesisState, vals [][]byte) *chain {
	tb.Helper()
	c := openChain(tb, store.NewMemory(), app.Options{})
	bz, err := app.MarshalGenesis(withKeyProofs(g))
	require.NoError(tb, err)
	var updates []abci.ValidatorUpdate
	for _, pk := range vals {
		updates = append(updates, abci.Ed25519ValidatorUpdate(pk, 10))
	}
	_, err = c.app.InitChain(context.Background(), &abci.RequestInitChain{
		Time: genesisTime, ChainId: testChainID, AppStateBytes: bz, InitialHeight: 1, Validators: updates,
	})
	require.NoError(tb, err)
	c.block()
	return c
}

// withBusiness adds an active business agency with an admin account.
func withBusiness(g *appv1.GenesisState) *appv1.GenesisState {
	g.Agency.Agencies = append(g.Agency.Agencies, &agencyv1.Agency{Id: agBusiness, Name: "Acme Foods Ltd", Kind: agencyv1.Kind_KIND_BUSINESS})
	g.Agency.Accounts = append(g.Agency.Accounts, &agencyv1.Account{PubKey: businessAdmin.pub, AgencyId: agBusiness, Roles: []agencyv1.Role{agencyv1.Role_ROLE_ADMIN}})
	return g
}

// initGov starts a chain from g with the given validator powers, or
// returns InitChain's error.
func initGov(tb testing.TB, g *appv1.GenesisState, vals map[string]int64) (*chain, error) {
	tb.Helper()
	c := openChain(tb, store.NewMemory(), app.Options{})
	bz, err := app.MarshalGenesis(withKeyProofs(g))
	require.NoError(tb, err)
	var updates []abci.ValidatorUpdate
	for _, name := range []string{"v0", "v1", "v2", "v3", "v4", "v5"} {
		if p, ok := vals[name]; ok {
			updates = append(updates, abci.Ed25519ValidatorUpdate(consKey(name), p))
		}
	}
	_, err = c.app.InitChain(context.Background(), &abci.RequestInitChain{
		Time: genesisTime, ChainId: testChainID, AppStateBytes: bz, InitialHeight: 1, Validators: updates,
	})
	if err != nil {
		return nil, err
	}
	c.block()
	return c, nil
}

func shareOf(vals map[string]*govv1.Validator, pk []byte) (int64, int64) {
	var total int64
	for _, v := range vals {
		total += v.Power
	}
	return vals[string(pk)].Power, total
}

// The attack the cap exists for: re-weighting one validator in steps, each
// well within gov.max_power_change, until it holds more than a third (then
// two thirds) of the power. Each step that would lift it above
// gov.max_validator_share (3/10) is refused at submission with a coded
// error, so it never gets there.
func TestGovRepeatedPowerStepsCannotTakeAValidatorPastTheCap(t *testing.T) {
	c := newGovChain(t) // four validators of power 10
	target := genesisVals[0]
	refused := false
	var most struct{ power, total int64 }
	for step := 0; step < 30 && !refused; step++ {
		power, _ := shareOf(c.validators(), target)
		r := c.block(c.tx(treasuryAdmin, msgPropose(setPower(target, power+2)))).TxResults[0]
		if r.Code != 0 {
			requireCode(t, gov.ErrPowerConcentrated, r.Codespace, r.Code, r.Log, "gov.max_validator_share 3/10")
			refused = true
			break
		}
		id, err := strconv.ParseUint(attrs(event(t, r.Events, gov.EventSubmitted))["proposal_id"].Value, 10, 64)
		require.NoError(t, err)
		res := c.vote(id, govv1.VoteOption_VOTE_OPTION_YES, voters...)
		requireExecuted(t, c, id, res)
		p, total := shareOf(c.validators(), target)
		if most.total == 0 || p*most.total > most.power*total {
			most.power, most.total = p, total
		}
	}
	require.True(t, refused, "no step was refused; the validator reached %d of %d total power", most.power, most.total)
	require.LessOrEqual(t, most.power*10, most.total*3, "the validator held %d of %d", most.power, most.total)
	p, total := shareOf(c.validators(), target)
	require.Equal(t, [2]int64{12, 42}, [2]int64{p, total}, "one step of +2 fits under 3/10, the next does not")
}

// Removing one validator shares the power among fewer: a removal that
// would leave another above the cap is refused too.
func TestGovRemovalThatConcentratesPowerIsRefused(t *testing.T) {
	c := newChainFrom(t, withHarbour(govGenesis()), genesisVals)
	id, res := c.pass(addValidator(consKey("v4"), 10, agHarbour))
	requireExecuted(t, c, id, res)
	id, res = c.pass(setPower(genesisVals[0], 13)) // 13 of 53: under 3/10
	requireExecuted(t, c, id, res)
	before := c.govState()
	r := c.block(c.tx(treasuryAdmin, msgPropose(removeValidator(genesisVals[3])))).TxResults[0]
	requireCode(t, gov.ErrPowerConcentrated, r.Codespace, r.Code, r.Log, "removing validator", "13 of 43")
	require.Equal(t, before, c.govState())
	require.Len(t, c.validators(), 5)
}

// The cap is on what one party controls: an agency's validators count
// together, so an agency that already runs one cannot add a second that
// lifts its total above the cap.
func TestGovAgencyValidatorsCountTogetherAgainstTheCap(t *testing.T) {
	c := newChainFrom(t, withHarbour(govGenesis()), genesisVals)
	before := c.govState()
	r := c.block(c.tx(treasuryAdmin, msgPropose(addValidator(consKey("t2"), 5, agTax)))).TxResults[0]
	requireCode(t, gov.ErrPowerConcentrated, r.Codespace, r.Code, r.Log, `agency "tax"`, "15 of 45")
	require.Equal(t, before, c.govState())
	id, res := c.pass(addValidator(consKey("t2"), 2, agTax)) // 12 of 42
	requireExecuted(t, c, id, res)
}

// The cap holds from the first block: a genesis in which one of four
// validators holds 20 of 50 is refused.
func TestGovGenesisRefusesAConcentratedValidatorSet(t *testing.T) {
	_, err := initGov(t, govGenesis(), map[string]int64{"v0": 20, "v1": 10, "v2": 10, "v3": 10})
	require.ErrorContains(t, err, gov.ErrPowerConcentrated.Desc)
	c, err := initGov(t, govGenesis(), map[string]int64{"v0": 12, "v1": 10, "v2": 10, "v3": 10})
	require.NoError(t, err)
	require.Len(t, c.validators(), 4)
}

// min_validators has a floor of four (BFT needs 3f+1 validators to
// tolerate f faults) and the share cap stays below a third; proposals to
// go past either are refused at submission.
func TestGovValidatorParamsHaveHardLimits(t *testing.T) {
	c := newGovChain(t)
	before := c.govState()
	for _, tt := range []struct{ name, value, fragment string }{
		{"gov.min_validators", "3", "below 4"},
		{"gov.min_validators", "1", "3f+1"},
		{"gov.max_validator_share", "1/3", "below 1/3"},
		{"gov.max_validator_share", "1/2", "below 1/3"},
		{"gov.max_validator_share", "0/1", "above 0"},
	} {
		r := c.block(c.tx(treasuryAdmin, msgPropose(changeParam(tt.name, tt.value)))).TxResults[0]
		requireCode(t, gov.ErrInvalidParamValue, r.Codespace, r.Code, r.Log, tt.fragment)
	}
	require.Equal(t, before, c.govState())
	// A cap the current set already breaks is refused: four validators
	// of 10 hold a quarter each.
	r := c.block(c.tx(treasuryAdmin, msgPropose(changeParam("gov.max_validator_share", "1/5")))).TxResults[0]
	requireCode(t, gov.ErrPowerConcentrated, r.Codespace, r.Code, r.Log, "10 of 40")
	id, res := c.pass(changeParam("gov.max_validator_share", "1/4"))
	requireExecuted(t, c, id, res)
	require.Equal(t, "1/4", c.registry()["gov.max_validator_share"])
}

// Businesses do not vote by default: a business admin's vote is refused
// with a coded error and the tally counts only the voting agencies.
func TestGovBusinessAgencyDoesNotVote(t *testing.T) {
	c, err := initGov(t, withBusiness(govGenesis()), map[string]int64{"v0": 10, "v1": 10, "v2": 10, "v3": 10})
	require.NoError(t, err)
	id := c.propose(changeParam("gov.voting_period_seconds", "7200"))
	r := c.block(c.tx(businessAdmin, msgVote(id, govv1.VoteOption_VOTE_OPTION_NO))).TxResults[0]
	requireCode(t, gov.ErrNotVotingKind, r.Codespace, r.Code, r.Log, `"acme" is a business`)
	res := c.vote(id, govv1.VoteOption_VOTE_OPTION_YES, voters...)
	requireExecuted(t, c, id, res)
	p := c.proposal(id)
	require.EqualValues(t, 3, p.ActiveAgencies, "the business is not counted among the voters")
	require.EqualValues(t, 3, p.Yes)
	require.Zero(t, p.No)
}

// Genesis decides which kinds vote: a chain whose genesis lists business
// among gov.voting_kinds counts a business's vote.
func TestGovGenesisVotingKindsDecideWhoVotes(t *testing.T) {
	g := withBusiness(govGenesis())
	g.Gov.Params.VotingKinds = append(gov.DefaultVotingKinds(), agencyv1.Kind_KIND_BUSINESS)
	c, err := initGov(t, g, map[string]int64{"v0": 10, "v1": 10, "v2": 10, "v3": 10})
	require.NoError(t, err)
	id := c.propose(changeParam("gov.voting_period_seconds", "7200"))
	c.vote(id, govv1.VoteOption_VOTE_OPTION_NO, businessAdmin)
	c.vote(id, govv1.VoteOption_VOTE_OPTION_YES, voters...)
	p := c.proposal(id)
	require.EqualValues(t, 4, p.ActiveAgencies)
	require.EqualValues(t, 1, p.No)

	g = withBusiness(govGenesis())
	g.Gov.Params.VotingKinds = []agencyv1.Kind{agencyv1.Kind_KIND_TREASURY, agencyv1.Kind_KIND_TREASURY}
	_, err = initGov(t, g, nil)
	require.ErrorContains(t, err, "voting_kinds names treasury twice")
}

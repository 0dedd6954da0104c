package app_test

import (
	"context"
	"crypto/ed25519"
	"strconv"
	"strings"
	"sync"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/api/keyproof"
	"github.com/tallyledger/tally/app"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/gov"
	"github.com/tallyledger/tally/x/module"
)

// The gov test chain: the test genesis (active agencies treasury, tax and
// regulator; dormant is suspended) with four genesis validators of power
// 10, a ten-second voting period, and one-second blocks. With three active
// agencies, more than two thirds means all three must vote yes.
const govVotingPeriod = 10

// consKey is a consensus key; keyFor remembers its private half so
// proposals can carry its proof of possession.
func consKey(name string) []byte { return keyFor("consensus/" + name).pub }

// validatorProof is the consensus key pub's proof of possession for
// agencyID, or nothing when a test made pub without keyFor.
func validatorProof(pub []byte, agencyID string, purpose keyproof.Purpose) []byte {
	k, ok := keyOf(pub)
	if !ok {
		return nil
	}
	return ed25519.Sign(k.priv, keyproof.Statement(testChainID, agencyID, gov.ConsensusAddress(pub), pub, purpose))
}

// operators are the agencies operating test validators, as the tests set them up.
var operators sync.Map

func operatorOf(pub []byte) string {
	if ag, ok := operators.Load(string(pub)); ok {
		return ag.(string)
	}
	return gov.UnknownOperator
}

var genesisVals = [][]byte{consKey("v0"), consKey("v1"), consKey("v2"), consKey("v3")}

func govGenesis() *appv1.GenesisState {
	for i, ag := range []string{agTreasury, agTax, agRegulator} {
		operators.Store(string(genesisVals[i]), ag)
	}
	g := testGenesis()
	p := gov.DefaultParams()
	p.VotingPeriodSeconds = govVotingPeriod
	g.Gov = &govv1.Genesis{Params: p, Operators: []*govv1.ValidatorOperator{
		{PubKey: genesisVals[0], AgencyId: agTreasury},
		{PubKey: genesisVals[1], AgencyId: agTax},
		{PubKey: genesisVals[2], AgencyId: agRegulator},
		// genesisVals[3] is not mapped: its operator is "unknown".
	}}
	return g
}

func newGovChainOn(tb testing.TB, st *store.Store, opts app.Options) *chain {
	c := openChain(tb, st, opts)
	bz, err := app.MarshalGenesis(withKeyProofs(govGenesis()))
	require.NoError(tb, err)
	var vals []abci.ValidatorUpdate
	for _, pk := range genesisVals {
		vals = append(vals, abci.Ed25519ValidatorUpdate(pk, 10))
	}
	_, err = c.app.InitChain(context.Background(), &abci.RequestInitChain{
		Time: genesisTime, ChainId: testChainID, AppStateBytes: bz, InitialHeight: 1, Validators: vals,
	})
	require.NoError(tb, err)
	c.block()
	return c
}

func newGovChain(tb testing.TB) *chain { return newGovChainOn(tb, store.NewMemory(), app.Options{}) }

// voters are the admins of the three active agencies.
var voters = []testKey{treasuryAdmin, taxAdmin, regAdmin}

func msgPropose(c *govv1.Content) *txv1.Msg {
	return &txv1.Msg{Sum: &txv1.Msg_SubmitProposal{SubmitProposal: &govv1.MsgSubmitProposal{Content: c, Title: "test"}}}
}

func msgVote(id uint64, o govv1.VoteOption) *txv1.Msg {
	return &txv1.Msg{Sum: &txv1.Msg_Vote{Vote: &govv1.MsgVote{ProposalId: id, Option: o}}}
}

func addValidator(pk []byte, power int64, ag string) *govv1.Content {
	operators.Store(string(pk), ag)
	return &govv1.Content{Sum: &govv1.Content_AddValidator{AddValidator: &govv1.AddValidator{PubKey: pk, Power: power, AgencyId: ag, NodeAddress: "id@127.0.0.9:26656",
		KeyProof: validatorProof(pk, ag, keyproof.AddValidator)}}}
}

func removeValidator(pk []byte) *govv1.Content {
	return &govv1.Content{Sum: &govv1.Content_RemoveValidator{RemoveValidator: &govv1.RemoveValidator{PubKey: pk}}}
}

func setPower(pk []byte, power int64) *govv1.Content {
	return &govv1.Content{Sum: &govv1.Content_SetValidatorPower{SetValidatorPower: &govv1.SetValidatorPower{PubKey: pk, Power: power}}}
}

func rotateValidator(old, nw []byte) *govv1.Content {
	ag := operatorOf(old)
	operators.Store(string(nw), ag)
	return &govv1.Content{Sum: &govv1.Content_RotateValidatorKey{RotateValidatorKey: &govv1.RotateValidatorKey{OldPubKey: old, NewPubKey: nw,
		KeyProof: validatorProof(nw, ag, keyproof.RotateValidator)}}}
}

func admitAgency(id string, admin testKey) *govv1.Content {
	return &govv1.Content{Sum: &govv1.Content_AdmitAgency{AdmitAgency: &govv1.AdmitAgency{AgencyId: id, Name: "Port Authority", Kind: agencyv1.Kind_KIND_DEPARTMENT, AdminPubKey: admin.pub,
		AdminKeyProof: keyProof(admin, id, admin.addr, keyproof.AdmitAgency)}}}
}

func agencyStatus(id string, s agencyv1.Status) *govv1.Content {
	return &govv1.Content{Sum: &govv1.Content_SetAgencyStatus{SetAgencyStatus: &govv1.SetAgencyStatus{AgencyId: id, Status: s, Reason: "test"}}}
}

func grantMandate(id string, m govv1.Mandate, until int64) *govv1.Content {
	var ceiling uint64
	if m == govv1.Mandate_MANDATE_TREASURY {
		ceiling = 1_000_000_00 // a supply mandate needs one
	}
	return &govv1.Content{Sum: &govv1.Content_GrantMandate{GrantMandate: &govv1.GrantMandate{AgencyId: id, Mandate: m, UntilUnix: until, LegalBasis: "Finance Act 2029 s.4", Ceiling: ceiling}}}
}

func withdrawMandate(id string, m govv1.Mandate) *govv1.Content {
	return &govv1.Content{Sum: &govv1.Content_WithdrawMandate{WithdrawMandate: &govv1.WithdrawMandate{AgencyId: id, Mandate: m}}}
}

func changeParam(name, value string) *govv1.Content {
	return &govv1.Content{Sum: &govv1.Content_ChangeParam{ChangeParam: &govv1.ChangeParam{Name: name, Value: value}}}
}

func scheduleUpgrade(name string, h int64) *govv1.Content {
	return &govv1.Content{Sum: &govv1.Content_ScheduleUpgrade{ScheduleUpgrade: &govv1.ScheduleUpgrade{Name: name, Height: h, Notes: "v2: see release notes"}}}
}

// propose submits content from the treasury admin and returns its id.
func (c *chain) propose(content *govv1.Content) uint64 {
	c.tb.Helper()
	res := c.block(c.tx(treasuryAdmin, msgPropose(content)))
	requireOK(c.tb, res.TxResults[0])
	id, err := strconv.ParseUint(attrs(event(c.tb, res.TxResults[0].Events, gov.EventSubmitted))["proposal_id"].Value, 10, 64)
	require.NoError(c.tb, err)
	return id
}

// vote runs one block in which each key votes option on proposal id.
func (c *chain) vote(id uint64, o govv1.VoteOption, keys ...testKey) *abci.ResponseFinalizeBlock {
	c.tb.Helper()
	var txs [][]byte
	for _, k := range keys {
		txs = append(txs, c.tx(k, msgVote(id, o)))
	}
	res := c.block(txs...)
	for _, r := range res.TxResults {
		requireOK(c.tb, r)
	}
	return res
}

// pass proposes content and has every active agency vote yes; it returns
// the block in which the proposal was executed or failed.
func (c *chain) pass(content *govv1.Content) (uint64, *abci.ResponseFinalizeBlock) {
	id := c.propose(content)
	return id, c.vote(id, govv1.VoteOption_VOTE_OPTION_YES, voters...)
}

func (c *chain) proposal(id uint64) *govv1.Proposal {
	c.tb.Helper()
	res := c.query(api.PathGovProposal, []byte(strconv.FormatUint(id, 10)))
	require.Zero(c.tb, res.Code, res.Log)
	p := &govv1.Proposal{}
	require.NoError(c.tb, proto.Unmarshal(res.Value, p))
	return p
}

func govList[T proto.Message](c *chain, path string, data []byte, newT func() T) []T {
	c.tb.Helper()
	c.requireListingProven(path, data)
	res := c.query(path, data)
	require.Zero(c.tb, res.Code, res.Log)
	list := &appv1.ProvedList{}
	require.NoError(c.tb, proto.Unmarshal(res.Value, list))
	var out []T
	for _, e := range list.Entries {
		v := newT()
		require.NoError(c.tb, proto.Unmarshal(e.Value, v))
		out = append(out, v)
	}
	return out
}

func (c *chain) validators() map[string]*govv1.Validator {
	out := map[string]*govv1.Validator{}
	for _, v := range govList(c, api.PathGovValidators, nil, func() *govv1.Validator { return &govv1.Validator{} }) {
		out[string(v.PubKey)] = v
	}
	return out
}

func (c *chain) registry() map[string]string {
	c.tb.Helper()
	res := c.query(api.PathGovRegistry, nil)
	require.Zero(c.tb, res.Code, res.Log)
	l := &govv1.ParamList{}
	require.NoError(c.tb, proto.Unmarshal(res.Value, l))
	out := map[string]string{}
	for _, p := range l.Params {
		out[p.Name] = p.Value
	}
	return out
}

// govState is every agency and gov record and the params, as text: what a
// refused message must not touch (the spent nonce aside).
func (c *chain) govState() map[string]string {
	out := map[string]string{}
	for k, v := range c.dump() {
		if strings.HasPrefix(k, "ag/") || strings.HasPrefix(k, "gov/") || strings.HasSuffix(k, "params") {
			out[k] = v
		}
	}
	return out
}

func requireExecuted(t *testing.T, c *chain, id uint64, res *abci.ResponseFinalizeBlock) {
	t.Helper()
	p := c.proposal(id)
	require.Equal(t, govv1.ProposalStatus_PROPOSAL_STATUS_EXECUTED, p.Status, api.Describe(p.FailureCodespace, p.FailureCode))
	require.Equal(t, c.height, p.EndHeight)
	e := attrs(event(t, res.Events, gov.EventExecuted))
	require.Equal(t, strconv.FormatUint(id, 10), e["proposal_id"].Value)
}

func TestGovGenesisRecordsValidatorsWithOperators(t *testing.T) {
	c := newGovChain(t)
	vals := c.validators()
	require.Len(t, vals, 4)
	require.Equal(t, agTreasury, vals[string(genesisVals[0])].AgencyId)
	require.Equal(t, agRegulator, vals[string(genesisVals[2])].AgencyId)
	require.Equal(t, gov.UnknownOperator, vals[string(genesisVals[3])].AgencyId)
	require.EqualValues(t, 10, vals[string(genesisVals[1])].Power)
}

func TestGovAdmitAgencyThroughToExecution(t *testing.T) {
	c := newGovChain(t)
	portAdmin := keyFor("ports/admin")
	id := c.propose(admitAgency("ports", portAdmin))
	// Two of three yes is not more than two thirds: still open.
	res := c.vote(id, govv1.VoteOption_VOTE_OPTION_YES, treasuryAdmin, taxAdmin)
	require.Empty(t, res.Events)
	require.Equal(t, govv1.ProposalStatus_PROPOSAL_STATUS_VOTING, c.proposal(id).Status)
	require.Equal(t, app.ErrNotFound.Code, c.query(api.PathAgency, []byte("ports")).Code)

	res = c.vote(id, govv1.VoteOption_VOTE_OPTION_YES, regAdmin)
	requireExecuted(t, c, id, res)
	voted := attrs(event(t, res.TxResults[0].Events, gov.EventVote))
	require.Equal(t, agRegulator, voted["agency"].Value)
	require.Equal(t, "yes", voted["option"].Value)
	require.True(t, voted["proposal_id"].Index)
	p := c.proposal(id)
	require.EqualValues(t, 3, p.Yes)
	require.EqualValues(t, 3, p.ActiveAgencies)
	ag := c.agency("ports")
	require.Equal(t, agencyv1.Status_STATUS_ACTIVE, ag.Status)
	require.EqualValues(t, 1, ag.ActiveAdmins)
	acc := c.account(portAdmin.addr)
	require.Equal(t, "ports", acc.AgencyId)
	require.True(t, agency.HasRole(acc, agencyv1.Role_ROLE_ADMIN))

	// The new agency votes from now on: four active, so three yes no longer pass.
	id2 := c.propose(grantMandate("ports", govv1.Mandate_MANDATE_REGULATOR, 0))
	c.vote(id2, govv1.VoteOption_VOTE_OPTION_YES, voters...)
	require.Equal(t, govv1.ProposalStatus_PROPOSAL_STATUS_EXECUTED, c.proposal(id2).Status) // 3 of 4 > 2/3
	require.Len(t, govList(c, api.PathGovVotes, listData(strconv.FormatUint(id2, 10)), func() *govv1.Vote { return &govv1.Vote{} }), 3)
}

func TestGovSuspendReinstateAndRemoveAgency(t *testing.T) {
	c := newGovChain(t)
	id, res := c.pass(agencyStatus(agTax, agencyv1.Status_STATUS_SUSPENDED))
	requireExecuted(t, c, id, res)
	require.Equal(t, agencyv1.Status_STATUS_SUSPENDED, c.agency(agTax).Status)

	// A suspended agency's admin can no longer vote (or sign anything).
	id2 := c.propose(agencyStatus(agTax, agencyv1.Status_STATUS_ACTIVE))
	r := c.block(c.tx(taxAdmin, msgVote(id2, govv1.VoteOption_VOTE_OPTION_YES))).TxResults[0]
	requireCode(t, app.ErrInactiveSigner, r.Codespace, r.Code, r.Log, "suspended")
	// Two active agencies remain; both yes is more than two thirds.
	res = c.vote(id2, govv1.VoteOption_VOTE_OPTION_YES, treasuryAdmin, regAdmin)
	requireExecuted(t, c, id2, res)
	require.Equal(t, agencyv1.Status_STATUS_ACTIVE, c.agency(agTax).Status)

	// An agency that operates a validator cannot be removed; the proposal is refused.
	r = c.block(c.tx(treasuryAdmin, msgPropose(agencyStatus(agTax, agencyv1.Status_STATUS_REMOVED)))).TxResults[0]
	requireCode(t, gov.ErrAgencyRunsValidators, r.Codespace, r.Code, r.Log, "propose its removal")
	// The dormant agency runs none: it can be removed, and removal is final.
	id3, res := c.pass(agencyStatus(agDormant, agencyv1.Status_STATUS_REMOVED))
	requireExecuted(t, c, id3, res)
	require.Equal(t, agencyv1.Status_STATUS_REMOVED, c.agency(agDormant).Status)
	r = c.block(c.tx(treasuryAdmin, msgPropose(agencyStatus(agDormant, agencyv1.Status_STATUS_ACTIVE)))).TxResults[0]
	requireCode(t, gov.ErrInvalidStatus, r.Codespace, r.Code, r.Log, "final")
}

func TestGovMandatesGrantedAndWithdrawn(t *testing.T) {
	c := newGovChain(t)
	until := blockTime(1000).Unix()
	id, res := c.pass(grantMandate(agTax, govv1.Mandate_MANDATE_TAX_AUTHORITY, until))
	requireExecuted(t, c, id, res)
	ms := govList(c, api.PathGovMandates, nil, func() *govv1.MandateGrant { return &govv1.MandateGrant{} })
	require.Len(t, ms, 1)
	require.Equal(t, agTax, ms[0].AgencyId)
	require.Equal(t, govv1.Mandate_MANDATE_TAX_AUTHORITY, ms[0].Mandate)
	require.Equal(t, until, ms[0].UntilUnix)
	require.Equal(t, "Finance Act 2029 s.4", ms[0].LegalBasis)
	require.Equal(t, id, ms[0].ProposalId)

	id, res = c.pass(withdrawMandate(agTax, govv1.Mandate_MANDATE_TAX_AUTHORITY))
	requireExecuted(t, c, id, res)
	require.Empty(t, govList(c, api.PathGovMandates, nil, func() *govv1.MandateGrant { return &govv1.MandateGrant{} }))

	r := c.block(c.tx(treasuryAdmin, msgPropose(withdrawMandate(agTax, govv1.Mandate_MANDATE_TAX_AUTHORITY)))).TxResults[0]
	requireCode(t, gov.ErrMandateNotHeld, r.Codespace, r.Code, r.Log)
	r = c.block(c.tx(treasuryAdmin, msgPropose(grantMandate(agTax, govv1.Mandate_MANDATE_TREASURY, blockTime(1).Unix())))).TxResults[0]
	requireCode(t, gov.ErrInvalidMandate, r.Codespace, r.Code, r.Log, "not after the block time")
}

func TestGovChangeParamTakesEffect(t *testing.T) {
	c := newGovChain(t)
	require.Equal(t, "600", c.registry()["app.timeout_window"])
	id, res := c.pass(changeParam("app.timeout_window", "20"))
	requireExecuted(t, c, id, res)
	require.Equal(t, "20", c.registry()["app.timeout_window"])
	// The app's own rules changed at once: a timeout 30 blocks ahead is now too far.
	r := c.checkTx(c.txWith(txArgs{signer: treasuryAdmin, timeout: uint64(c.height) + 30}, msgVote(id, govv1.VoteOption_VOTE_OPTION_YES)))
	requireCode(t, app.ErrTimeoutTooFar, r.Codespace, r.Code, r.Log, "20 blocks")

	id, res = c.pass(changeParam("provenance.recall_budget", "5"))
	requireExecuted(t, c, id, res)
	require.Equal(t, "5", c.registry()["provenance.recall_budget"])
	// The param query answers the owning module's record.
	pr := c.query(api.PathGovParam, []byte("provenance.recall_budget"))
	require.Zero(t, pr.Code, pr.Log)
	require.NotEmpty(t, pr.Value)
}

// Lowering the pass threshold is itself decided by the current threshold,
// and cannot help proposals already open.
func TestGovThresholdChangeNeedsCurrentThreshold(t *testing.T) {
	c := newGovChain(t)
	early := c.propose(grantMandate(agRegulator, govv1.Mandate_MANDATE_REGULATOR, 0))
	lower := c.propose(changeParam("gov.pass_threshold", "1/2"))
	// Two of three yes does not pass the threshold change under 2/3.
	c.vote(lower, govv1.VoteOption_VOTE_OPTION_YES, treasuryAdmin, taxAdmin)
	require.Equal(t, govv1.ProposalStatus_PROPOSAL_STATUS_VOTING, c.proposal(lower).Status)
	res := c.vote(lower, govv1.VoteOption_VOTE_OPTION_YES, regAdmin)
	requireExecuted(t, c, lower, res)
	require.Equal(t, "1/2", c.registry()["gov.pass_threshold"])

	// A new proposal passes with two of three...
	late := c.propose(grantMandate(agTax, govv1.Mandate_MANDATE_TAX_AUTHORITY, 0))
	c.vote(late, govv1.VoteOption_VOTE_OPTION_YES, treasuryAdmin, taxAdmin)
	require.Equal(t, govv1.ProposalStatus_PROPOSAL_STATUS_EXECUTED, c.proposal(late).Status)
	// ...but the one opened under 2/3 still needs more than 2/3.
	c.vote(early, govv1.VoteOption_VOTE_OPTION_YES, treasuryAdmin, taxAdmin)
	require.Equal(t, govv1.ProposalStatus_PROPOSAL_STATUS_VOTING, c.proposal(early).Status)
	for c.height < int64(c.proposal(early).VotingEndUnix-genesisTime.Unix()) {
		c.block()
	}
	p := c.proposal(early)
	require.Equal(t, govv1.ProposalStatus_PROPOSAL_STATUS_REJECTED, p.Status)
	require.EqualValues(t, 2, p.Yes)
}

func TestGovProposalRejectedWhenPeriodEnds(t *testing.T) {
	c := newGovChain(t)
	id := c.propose(grantMandate(agTax, govv1.Mandate_MANDATE_TAX_AUTHORITY, 0))
	c.vote(id, govv1.VoteOption_VOTE_OPTION_NO, taxAdmin)
	var rejected *abci.ResponseFinalizeBlock
	for i := 0; i < govVotingPeriod+1 && rejected == nil; i++ {
		res := c.block()
		for _, e := range res.Events {
			if e.Type == gov.EventRejected {
				rejected = res
			}
		}
	}
	require.NotNil(t, rejected)
	p := c.proposal(id)
	require.Equal(t, govv1.ProposalStatus_PROPOSAL_STATUS_REJECTED, p.Status)
	require.EqualValues(t, 1, p.No)
	open := govList(c, api.PathGovOpenProposals, nil, func() *govv1.Proposal { return &govv1.Proposal{} })
	require.Empty(t, open)
	all := govList(c, api.PathGovProposals, nil, func() *govv1.Proposal { return &govv1.Proposal{} })
	require.Len(t, all, 1)
}

func TestGovValidatorChangesReturnValidatorUpdates(t *testing.T) {
	c := newChainFrom(t, withHarbour(govGenesis()), genesisVals)
	v4, v4b := consKey("v4"), consKey("v4-rotated")

	id, res := c.pass(addValidator(v4, 10, agHarbour))
	requireExecuted(t, c, id, res)
	require.Equal(t, []abci.ValidatorUpdate{abci.Ed25519ValidatorUpdate(v4, 10)}, res.ValidatorUpdates)
	vals := c.validators()
	require.Len(t, vals, 5)
	require.Equal(t, agHarbour, vals[string(v4)].AgencyId)
	require.Equal(t, "id@127.0.0.9:26656", vals[string(v4)].NodeAddress)

	id, res = c.pass(setPower(v4, 12))
	requireExecuted(t, c, id, res)
	require.Equal(t, []abci.ValidatorUpdate{abci.Ed25519ValidatorUpdate(v4, 12)}, res.ValidatorUpdates)

	// Rotation: old key out and new key in, in one block, same power and operator.
	id, res = c.pass(rotateValidator(v4, v4b))
	requireExecuted(t, c, id, res)
	require.Equal(t, []abci.ValidatorUpdate{abci.Ed25519ValidatorUpdate(v4, 0), abci.Ed25519ValidatorUpdate(v4b, 12)}, res.ValidatorUpdates)
	vals = c.validators()
	require.Nil(t, vals[string(v4)])
	require.EqualValues(t, 12, vals[string(v4b)].Power)
	require.Equal(t, agHarbour, vals[string(v4b)].AgencyId)

	id, res = c.pass(removeValidator(genesisVals[3]))
	requireExecuted(t, c, id, res)
	require.Equal(t, []abci.ValidatorUpdate{abci.Ed25519ValidatorUpdate(genesisVals[3], 0)}, res.ValidatorUpdates)
	require.Len(t, c.validators(), 4)

	// Four is gov.min_validators: another removal is refused.
	r := c.block(c.tx(treasuryAdmin, msgPropose(removeValidator(genesisVals[2])))).TxResults[0]
	requireCode(t, gov.ErrTooFewValidators, r.Codespace, r.Code, r.Log, "min_validators")
}

// Two changes, each safe alone, that pass in the same block would together
// change more than a third of the power: the second fails with its reason
// and nothing of it applies.
func TestGovPowerChangesAccumulateWithinTheWindow(t *testing.T) {
	c := newChainFrom(t, withHarbour(govGenesis()), genesisVals)
	a, b := consKey("a"), consKey("b")
	first := c.propose(addValidator(a, 10, agHarbour))
	second := c.propose(addValidator(b, 10, agHarbour))
	var txs [][]byte
	for _, k := range voters {
		txs = append(txs, c.tx(k, msgVote(first, govv1.VoteOption_VOTE_OPTION_YES)), c.tx(k, msgVote(second, govv1.VoteOption_VOTE_OPTION_YES)))
	}
	before := c.validators()
	res := c.block(txs...)
	require.Equal(t, govv1.ProposalStatus_PROPOSAL_STATUS_EXECUTED, c.proposal(first).Status)
	p := c.proposal(second)
	require.Equal(t, govv1.ProposalStatus_PROPOSAL_STATUS_FAILED, p.Status)
	requireCode(t, gov.ErrUnsafeValidatorChange, p.FailureCodespace, p.FailureCode, api.Describe(p.FailureCodespace, p.FailureCode))
	stored := c.query(api.PathKey, api.GovProposalKey(second))
	require.Zero(t, stored.Code, stored.Log)
	require.NotContains(t, string(stored.Value), gov.ErrUnsafeValidatorChange.Desc, "state keeps the code, never the message")
	require.Contains(t, attrs(event(t, res.Events, gov.EventFailed))["reason"].Value, gov.ErrUnsafeValidatorChange.Desc, "the event carries the text")
	require.Equal(t, []abci.ValidatorUpdate{abci.Ed25519ValidatorUpdate(a, 10)}, res.ValidatorUpdates)
	require.Len(t, c.validators(), len(before)+1)
	require.Nil(t, c.validators()[string(b)])
}

func TestGovUpgradeHaltsOldBinaryAndRunsMigrationOnce(t *testing.T) {
	st := store.NewMemory()
	c := newGovChainOn(t, st, app.Options{})
	at := c.height + 5
	id, res := c.pass(scheduleUpgrade("v2", at))
	requireExecuted(t, c, id, res)
	for c.height < at-1 {
		c.block()
	}
	hashBefore := c.lastHash()
	_, err := c.app.FinalizeBlock(context.Background(), &abci.RequestFinalizeBlock{Height: at, Time: blockTime(at)})
	var need *app.UpgradeNeededError
	require.ErrorAs(t, err, &need)
	require.Equal(t, "v2", need.Name)
	require.Contains(t, err.Error(), `UPGRADE "v2" NEEDED at height`)
	require.Equal(t, hashBefore, c.lastHash())

	// The new binary: same state, a handler registered.
	c.closed = true // the old App is abandoned; the store lives on
	runs := 0
	c2 := openChain(t, st, app.Options{Upgrades: map[string]app.UpgradeHandler{"v2": func(ctx module.Context) error {
		runs++
		ctx.Store.Set([]byte("gov/test-migrated"), []byte("yes"))
		return nil
	}}})
	res = c2.block()
	require.Equal(t, 1, runs)
	require.Equal(t, "v2", attrs(event(t, res.Events, gov.EventUpgradeApplied))["name"].Value)
	c2.block()
	c2.block()
	require.Equal(t, 1, runs)
	require.Equal(t, "yes", string(c2.query(api.PathKey, []byte("gov/test-migrated")).Value))
	require.Equal(t, app.ErrNotFound.Code, c2.query(api.PathGovUpgrade, nil).Code)
}

// Every refusal has its own code, and leaves agencies, gov state and params
// as they were.
func TestGovRefusals(t *testing.T) {
	c := newGovChain(t)
	old := c.propose(grantMandate(agRegulator, govv1.Mandate_MANDATE_REGULATOR, 0))
	for c.height < int64(c.proposal(old).VotingEndUnix-genesisTime.Unix())+1 {
		c.block()
	}
	require.Equal(t, govv1.ProposalStatus_PROPOSAL_STATUS_REJECTED, c.proposal(old).Status)
	// A long period, so the open proposal stays open through every case.
	id, res := c.pass(changeParam("gov.voting_period_seconds", "100000"))
	requireExecuted(t, c, id, res)
	open := c.propose(grantMandate(agTax, govv1.Mandate_MANDATE_TAX_AUTHORITY, 0))
	c.vote(open, govv1.VoteOption_VOTE_OPTION_YES, taxAdmin)

	for _, tt := range []struct {
		name   string
		signer testKey
		msg    *txv1.Msg
		want   *module.Error
		log    string
	}{
		{"proposal by a non-admin", treasuryClerk, msgPropose(grantMandate(agTax, govv1.Mandate_MANDATE_TREASURY, 0)), app.ErrUnauthorized, "admin"},
		{"vote by a non-admin", taxCollector, msgVote(open, govv1.VoteOption_VOTE_OPTION_YES), app.ErrUnauthorized, "admin"},
		{"vote by a suspended agency", dormantAdmin, msgVote(open, govv1.VoteOption_VOTE_OPTION_YES), app.ErrInactiveSigner, "suspended"},
		{"double vote", taxAdmin, msgVote(open, govv1.VoteOption_VOTE_OPTION_NO), gov.ErrAlreadyVoted, "final"},
		{"vote after the period", taxAdmin, msgVote(old, govv1.VoteOption_VOTE_OPTION_YES), gov.ErrVotingClosed, "rejected"},
		{"unknown proposal", taxAdmin, msgVote(999, govv1.VoteOption_VOTE_OPTION_YES), gov.ErrUnknownProposal, "999"},
		{"invalid vote option", taxAdmin, msgVote(open, govv1.VoteOption_VOTE_OPTION_UNSPECIFIED), gov.ErrInvalidVote, "yes, no or abstain"},
		{"unsafe validator change", treasuryAdmin, msgPropose(addValidator(consKey("big"), 20, agTax)), gov.ErrUnsafeValidatorChange, "max_power_change"},
		{"unsafe re-weighting", treasuryAdmin, msgPropose(setPower(genesisVals[0], 30)), gov.ErrUnsafeValidatorChange, ""},
		{"too few validators", treasuryAdmin, msgPropose(removeValidator(genesisVals[0])), gov.ErrTooFewValidators, ""},
		{"unknown validator", treasuryAdmin, msgPropose(setPower(consKey("nobody"), 5)), gov.ErrUnknownValidator, ""},
		{"validator already in the set", treasuryAdmin, msgPropose(addValidator(genesisVals[1], 5, agTax)), gov.ErrValidatorExists, ""},
		{"zero power", treasuryAdmin, msgPropose(setPower(genesisVals[0], 0)), gov.ErrInvalidPower, "removal"},
		{"invalid parameter value", treasuryAdmin, msgPropose(changeParam("app.timeout_window", "0")), gov.ErrInvalidParamValue, "timeout_window"},
		{"parameter value of the wrong type", treasuryAdmin, msgPropose(changeParam("gov.min_validators", "four")), gov.ErrInvalidParamValue, "whole number"},
		{"threshold below a half", treasuryAdmin, msgPropose(changeParam("gov.pass_threshold", "1/3")), gov.ErrInvalidParamValue, "below 1/2"},
		{"unknown parameter", treasuryAdmin, msgPropose(changeParam("funds.currency", "EUR")), gov.ErrUnknownParam, "app.timeout_window"},
		{"malformed consensus key", treasuryAdmin, msgPropose(addValidator([]byte("short"), 5, agTax)), gov.ErrInvalidConsensusKey, "32"},
		{"rotation to the same key", treasuryAdmin, msgPropose(rotateValidator(genesisVals[0], genesisVals[0])), gov.ErrInvalidConsensusKey, ""},
		{"admitting an agency that exists", treasuryAdmin, msgPropose(admitAgency(agTax, keyFor("new"))), gov.ErrAgencyExists, "choose another id"},
		{"admitting with a key in use", treasuryAdmin, msgPropose(admitAgency("ports", taxAdmin)), agency.ErrKeyInUse, ""},
		{"upgrade height in the past", treasuryAdmin, msgPropose(scheduleUpgrade("v2", 2)), gov.ErrUpgradeHeightPast, "later height"},
		{"validator for a suspended agency", treasuryAdmin, msgPropose(addValidator(consKey("d"), 5, agDormant)), gov.ErrAgencyNotActive, "suspended"},
		{"suspending an agency twice", treasuryAdmin, msgPropose(agencyStatus(agDormant, agencyv1.Status_STATUS_SUSPENDED)), gov.ErrInvalidStatus, "already"},
		{"mandate without legal basis", treasuryAdmin, msgPropose(&govv1.Content{Sum: &govv1.Content_GrantMandate{GrantMandate: &govv1.GrantMandate{AgencyId: agTax, Mandate: govv1.Mandate_MANDATE_TREASURY}}}), gov.ErrInvalidMandate, "legal basis"},
		{"empty proposal", treasuryAdmin, msgPropose(&govv1.Content{}), gov.ErrInvalidProposal, "no content"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := c.govState()
			res := c.block(c.tx(tt.signer, tt.msg))
			r := res.TxResults[0]
			requireCode(t, tt.want, r.Codespace, r.Code, r.Log, tt.log)
			require.Equal(t, before, c.govState())
		})
	}
}

func TestGovOpenProposalLimit(t *testing.T) {
	c := newGovChain(t)
	id, res := c.pass(changeParam("gov.max_open_proposals_per_agency", "1"))
	requireExecuted(t, c, id, res)
	c.propose(grantMandate(agTax, govv1.Mandate_MANDATE_TAX_AUTHORITY, 0))
	before := c.govState()
	r := c.block(c.tx(treasuryAdmin, msgPropose(grantMandate(agTax, govv1.Mandate_MANDATE_TREASURY, 0)))).TxResults[0]
	requireCode(t, gov.ErrTooManyOpen, r.Codespace, r.Code, r.Log, "wait for one to close")
	require.Equal(t, before, c.govState())
	// Another agency may still propose.
	requireOK(t, c.block(c.tx(taxAdmin, msgPropose(grantMandate(agTax, govv1.Mandate_MANDATE_TREASURY, 0)))).TxResults[0])
}

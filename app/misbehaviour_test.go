package app_test

import (
	"context"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/app"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/gov"
	"github.com/tallyledger/tally/x/module"
)

// The misbehaviour test chain: the gov test chain's agencies and voting
// period, with the validators given (power 10 each; the first three run
// by treasury, tax and regulator) and gov params edited by the test.
func newMisbehaviourChain(tb testing.TB, vals [][]byte, edit func(*govv1.Params)) *chain {
	tb.Helper()
	g := govGenesis()
	edit(g.Gov.Params)
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

// fiveVals are the genesis validators plus one, so one can be removed
// without going below gov.min_validators (4).
var fiveVals = append(append([][]byte(nil), genesisVals...), consKey("v4"))

func mode(m string) func(*govv1.Params) { return func(p *govv1.Params) { p.MisbehaviourAction = m } }

// consAddr is the address CometBFT itself gives a consensus key.
func consAddr(pk []byte) []byte { return ed25519.PubKey(pk).Address() }

func hexAddr(pk []byte) string { return strings.ToUpper(hex.EncodeToString(consAddr(pk))) }

// duplicateVote is the evidence CometBFT commits when pk's validator signs
// two votes at height h.
func duplicateVote(pk []byte, h int64) abci.Misbehavior {
	return abci.Misbehavior{
		Type: abci.MisbehaviorType_DUPLICATE_VOTE, Validator: abci.Validator{Address: consAddr(pk), Power: 10},
		Height: h, Time: blockTime(h), TotalVotingPower: 50,
	}
}

// blockWithEvidence runs and commits the next block carrying evidence, as
// runBlock does for transactions.
func (c *chain) blockWithEvidence(ev ...abci.Misbehavior) *abci.ResponseFinalizeBlock {
	c.tb.Helper()
	h := c.height + 1
	res, err := c.app.FinalizeBlock(context.Background(), &abci.RequestFinalizeBlock{Height: h, Time: blockTime(h), Misbehavior: ev})
	require.NoError(c.tb, err)
	_, err = c.app.Commit(context.Background(), &abci.RequestCommit{})
	require.NoError(c.tb, err)
	c.height = h
	c.hashes[h] = c.lastHash()
	require.Equal(c.tb, res.AppHash, c.hashes[h], "Commit saved a different state than FinalizeBlock announced")
	return res
}

func (c *chain) misbehaviours() []*govv1.Misbehaviour {
	return govList(c, api.PathGovMisbehaviours, nil, func() *govv1.Misbehaviour { return &govv1.Misbehaviour{} })
}

func (c *chain) proposals() []*govv1.Proposal {
	return govList(c, api.PathGovProposals, nil, func() *govv1.Proposal { return &govv1.Proposal{} })
}

// requireMisbehaviourEvent checks the one misbehaviour event of a block:
// only the validator attribute is indexed.
func requireMisbehaviourEvent(t *testing.T, events []abci.Event, pk []byte, evHeight int64, action string) {
	t.Helper()
	e := attrs(event(t, events, gov.EventMisbehaviour))
	require.Equal(t, hexAddr(pk), e["validator"].Value)
	require.True(t, e["validator"].Index)
	require.Equal(t, "duplicate_vote", e["type"].Value)
	require.Equal(t, strconv.FormatInt(evHeight, 10), e["height"].Value)
	require.Equal(t, action, e["action"].Value)
	for k, a := range e {
		require.Equal(t, k == "validator", a.Index, "attribute %s indexed", k)
	}
}

func TestMisbehaviourProposeModeOpensRemovalProposalThatAgenciesPass(t *testing.T) {
	c := newMisbehaviourChain(t, fiveVals, func(p *govv1.Params) {
		p.MaxOpenProposalsPerAgency = 1 // the chain's proposal must not use up an agency's one
	})
	require.Equal(t, gov.MisbehaviourPropose, c.registry()["gov.misbehaviour_action"])
	bad := genesisVals[1] // run by tax
	evHeight := c.height

	res := c.blockWithEvidence(duplicateVote(bad, evHeight))
	require.Empty(t, res.ValidatorUpdates, "propose mode changes nothing until the agencies vote")
	requireMisbehaviourEvent(t, res.Events, bad, evHeight, "proposed")
	sub := attrs(event(t, res.Events, gov.EventSubmitted))
	require.Equal(t, gov.SystemMisbehaviour, sub["proposer_agency"].Value)
	require.Equal(t, "remove_validator", sub["type"].Value)

	recs := c.misbehaviours()
	require.Len(t, recs, 1)
	r := recs[0]
	id := r.ProposalId
	require.NotZero(t, id)
	require.True(t, proto.Equal(&govv1.Misbehaviour{
		Seq: 1, Type: govv1.MisbehaviourType_MISBEHAVIOUR_TYPE_DUPLICATE_VOTE, ValidatorAddress: consAddr(bad), PubKey: bad,
		AgencyId: agTax, ValidatorPower: 10, TotalVotingPower: 50, EvidenceHeight: evHeight, EvidenceTimeUnix: blockTime(evHeight).Unix(),
		Height: c.height, TimeUnix: blockTime(c.height).Unix(), Mode: gov.MisbehaviourPropose,
		Action: govv1.MisbehaviourAction_MISBEHAVIOUR_ACTION_PROPOSED, ProposalId: id,
	}, r), "record: %v", r)
	p := c.proposal(id)
	require.Equal(t, govv1.ProposalStatus_PROPOSAL_STATUS_VOTING, p.Status)
	require.Equal(t, gov.SystemMisbehaviour, p.ProposerAgency)
	require.Empty(t, p.Proposer)
	require.Equal(t, bad, p.Content.GetRemoveValidator().GetPubKey())
	require.NotNil(t, c.validators()[string(bad)], "still a validator while the agencies decide")

	// The treasury's one open proposal is still free.
	other := c.propose(grantMandate(agTax, govv1.Mandate_MANDATE_TAX_AUTHORITY, 0))
	require.NotEqual(t, id, other)

	res = c.vote(id, govv1.VoteOption_VOTE_OPTION_YES, voters...)
	requireExecuted(t, c, id, res)
	require.Equal(t, []abci.ValidatorUpdate{abci.Ed25519ValidatorUpdate(bad, 0)}, res.ValidatorUpdates)
	require.Len(t, c.validators(), 4)
	require.Nil(t, c.validators()[string(bad)])
	for k := range c.dump() {
		require.False(t, strings.HasPrefix(k, "gov/n/"+gov.SystemMisbehaviour), "no open-proposal count kept for the chain: %q", k)
	}
	// The record is provable, alone and through the validator's index.
	q, err := c.app.Query(context.Background(), &abci.RequestQuery{Path: api.PathGovMisbehaviour, Data: []byte("1"), Prove: true})
	require.NoError(t, err)
	require.Zero(t, q.Code, q.Log)
	require.NotNil(t, q.ProofOps)
	require.Equal(t, api.GovMisbehaviourKey(1), q.Key)
	got := &govv1.Misbehaviour{}
	require.NoError(t, proto.Unmarshal(q.Value, got))
	require.True(t, proto.Equal(r, got))
	byVal := govList(c, api.PathGovValidatorMisbehaviours, listData(hexAddr(bad)), func() *govv1.Misbehaviour { return &govv1.Misbehaviour{} })
	require.Len(t, byVal, 1)
	require.True(t, proto.Equal(r, byVal[0]))
	require.Empty(t, govList(c, api.PathGovValidatorMisbehaviours, listData(hexAddr(genesisVals[0])), func() *govv1.Misbehaviour { return &govv1.Misbehaviour{} }))
}

func TestMisbehaviourRemoveModeRemovesInTheSameBlock(t *testing.T) {
	c := newMisbehaviourChain(t, fiveVals, mode(gov.MisbehaviourRemove))
	bad := genesisVals[2] // run by the regulator
	before := len(c.proposals())

	res := c.blockWithEvidence(duplicateVote(bad, c.height))
	require.Equal(t, []abci.ValidatorUpdate{abci.Ed25519ValidatorUpdate(bad, 0)}, res.ValidatorUpdates)
	requireMisbehaviourEvent(t, res.Events, bad, c.height-1, "removed")
	changed := attrs(event(t, res.Events, gov.EventValidatorChanged))
	require.Equal(t, "0", changed["power"].Value)
	require.Equal(t, agRegulator, changed["agency"].Value)
	require.Len(t, c.validators(), 4)
	require.Nil(t, c.validators()[string(bad)])
	require.Len(t, c.proposals(), before, "nothing to vote on")
	r := c.misbehaviours()[0]
	require.Equal(t, govv1.MisbehaviourAction_MISBEHAVIOUR_ACTION_REMOVED, r.Action)
	require.Equal(t, gov.MisbehaviourRemove, r.Mode)
	require.Zero(t, r.ProposalId)
	require.Zero(t, r.ReasonCode)

	// Later evidence about the removed validator is recorded, with the key
	// and operator the first record knew, and nothing more.
	res = c.blockWithEvidence(duplicateVote(bad, c.height-1))
	require.Empty(t, res.ValidatorUpdates)
	requireMisbehaviourEvent(t, res.Events, bad, c.height-2, "none")
	recs := c.misbehaviours()
	require.Len(t, recs, 2)
	require.Equal(t, govv1.MisbehaviourAction_MISBEHAVIOUR_ACTION_NONE, recs[1].Action)
	require.Equal(t, bad, recs[1].PubKey)
	require.Equal(t, agRegulator, recs[1].AgencyId)
	requireCode(t, gov.ErrMisbehaviourNotValidator, recs[1].ReasonCodespace, recs[1].ReasonCode, api.Describe(recs[1].ReasonCodespace, recs[1].ReasonCode), "not in the current validator set")
	require.Len(t, c.proposals(), before)
}

// Two validators caught in one block: removing both would change more than
// gov.max_power_change of the power, so the second falls back to a proposal.
func TestMisbehaviourRemoveModeKeepsThePowerChangeLimit(t *testing.T) {
	sixVals := append(append([][]byte(nil), fiveVals...), consKey("v5"))
	c := newMisbehaviourChain(t, sixVals, mode(gov.MisbehaviourRemove))
	a, b := genesisVals[0], genesisVals[1]
	res := c.blockWithEvidence(duplicateVote(a, c.height), duplicateVote(b, c.height))
	require.Equal(t, []abci.ValidatorUpdate{abci.Ed25519ValidatorUpdate(a, 0)}, res.ValidatorUpdates)
	recs := c.misbehaviours()
	require.Len(t, recs, 2)
	require.Equal(t, govv1.MisbehaviourAction_MISBEHAVIOUR_ACTION_REMOVED, recs[0].Action)
	require.Equal(t, govv1.MisbehaviourAction_MISBEHAVIOUR_ACTION_PROPOSED, recs[1].Action)
	requireCode(t, gov.ErrUnsafeValidatorChange, recs[1].ReasonCodespace, recs[1].ReasonCode, api.Describe(recs[1].ReasonCodespace, recs[1].ReasonCode))
	require.Equal(t, b, c.proposal(recs[1].ProposalId).Content.GetRemoveValidator().GetPubKey())
	require.NotNil(t, c.validators()[string(b)])
}

// With gov.min_validators validators left, the removal is refused: the
// refusal is recorded and a proposal opened; the agencies add a validator
// first and then pass it.
func TestMisbehaviourRemovalRefusedByMinValidatorsFallsBackToProposal(t *testing.T) {
	g := withHarbour(govGenesis())
	g.Gov.Params.MisbehaviourAction = gov.MisbehaviourRemove
	c := newChainFrom(t, g, genesisVals)
	bad := genesisVals[3] // operator unknown
	res := c.blockWithEvidence(duplicateVote(bad, c.height))
	require.Empty(t, res.ValidatorUpdates)
	requireMisbehaviourEvent(t, res.Events, bad, c.height-1, "proposed")
	require.Len(t, c.validators(), 4)
	r := c.misbehaviours()[0]
	require.Equal(t, govv1.MisbehaviourAction_MISBEHAVIOUR_ACTION_PROPOSED, r.Action)
	require.Equal(t, gov.UnknownOperator, r.AgencyId)
	requireCode(t, gov.ErrTooFewValidators, r.ReasonCodespace, r.ReasonCode, api.Describe(r.ReasonCodespace, r.ReasonCode))
	stored := c.query(api.PathKey, api.GovMisbehaviourKey(r.Seq))
	require.Zero(t, stored.Code, stored.Log)
	require.NotContains(t, string(stored.Value), gov.ErrTooFewValidators.Desc, "state keeps the code, never the message")
	require.Equal(t, strconv.FormatUint(r.ProposalId, 10), attrs(event(t, res.Events, gov.EventSubmitted))["proposal_id"].Value)

	v4 := consKey("v4")
	id, done := c.pass(addValidator(v4, 10, agHarbour))
	requireExecuted(t, c, id, done)
	c.block() // out of the power-change window of the addition
	res = c.vote(r.ProposalId, govv1.VoteOption_VOTE_OPTION_YES, voters...)
	requireExecuted(t, c, r.ProposalId, res)
	require.Equal(t, []abci.ValidatorUpdate{abci.Ed25519ValidatorUpdate(bad, 0)}, res.ValidatorUpdates)
	vals := c.validators()
	require.Len(t, vals, 4)
	require.Nil(t, vals[string(bad)])
	require.NotNil(t, vals[string(v4)])
}

func TestMisbehaviourOfAnAddressNotInTheSetIsRecordedOnly(t *testing.T) {
	c := newMisbehaviourChain(t, fiveVals, mode(gov.MisbehaviourRemove))
	gone := consKey("never-a-validator")
	before := c.proposals()
	res := c.blockWithEvidence(duplicateVote(gone, c.height))
	require.Empty(t, res.ValidatorUpdates)
	requireMisbehaviourEvent(t, res.Events, gone, c.height-1, "none")
	require.Len(t, res.Events, 1, "nothing but the record's event")
	r := c.misbehaviours()[0]
	require.Equal(t, govv1.MisbehaviourAction_MISBEHAVIOUR_ACTION_NONE, r.Action)
	require.Equal(t, consAddr(gone), r.ValidatorAddress)
	require.Empty(t, r.PubKey)
	require.Empty(t, r.AgencyId)
	requireCode(t, gov.ErrMisbehaviourNotValidator, r.ReasonCodespace, r.ReasonCode, api.Describe(r.ReasonCodespace, r.ReasonCode))
	require.Equal(t, before, c.proposals())
	require.Len(t, c.validators(), 5)
}

// Evidence keeps coming while two nodes share a key: every piece is
// recorded, one proposal is opened, and twin chains agree on every hash.
func TestMisbehaviourRepeatedForOneValidatorOpensOneProposal(t *testing.T) {
	run := func(c *chain) {
		bad := genesisVals[0]
		c.blockWithEvidence(duplicateVote(bad, c.height))
		res := c.blockWithEvidence(duplicateVote(bad, c.height-1), duplicateVote(bad, c.height))
		require.Empty(t, res.ValidatorUpdates)
		for _, e := range res.Events {
			require.NotEqual(t, gov.EventSubmitted, e.Type)
		}
		recs := c.misbehaviours()
		require.Len(t, recs, 3)
		require.Len(t, c.proposals(), 1)
		first := recs[0].ProposalId
		for i, r := range recs {
			require.EqualValues(t, i+1, r.Seq)
			require.Equal(t, first, r.ProposalId, "record %d", r.Seq)
		}
		for _, r := range recs[1:] {
			require.Equal(t, govv1.MisbehaviourAction_MISBEHAVIOUR_ACTION_NONE, r.Action)
			requireCode(t, gov.ErrRemovalAlreadyOpen, r.ReasonCodespace, r.ReasonCode, api.Describe(r.ReasonCodespace, r.ReasonCode), "already open")
		}
	}
	a := newMisbehaviourChain(t, fiveVals, mode(gov.MisbehaviourPropose))
	b := newMisbehaviourChain(t, fiveVals, mode(gov.MisbehaviourPropose))
	run(a)
	run(b)
	require.Equal(t, a.hashes, b.hashes)

	// In remove mode, a proposal some agency already opened counts too.
	c := newMisbehaviourChain(t, fiveVals, mode(gov.MisbehaviourRemove))
	id := c.propose(removeValidator(genesisVals[1]))
	res := c.blockWithEvidence(duplicateVote(genesisVals[1], c.height))
	require.Empty(t, res.ValidatorUpdates)
	r := c.misbehaviours()[0]
	require.Equal(t, govv1.MisbehaviourAction_MISBEHAVIOUR_ACTION_NONE, r.Action)
	require.Equal(t, id, r.ProposalId)
}

func TestMisbehaviourActionParamChangedByGovernance(t *testing.T) {
	c := newMisbehaviourChain(t, fiveVals, mode(""))
	require.Equal(t, "", c.registry()["gov.misbehaviour_action"], "a chain from before the parameter")
	r := c.block(c.tx(treasuryAdmin, msgPropose(changeParam("gov.misbehaviour_action", "slash")))).TxResults[0]
	requireCode(t, gov.ErrInvalidParamValue, r.Codespace, r.Code, r.Log, `"propose"`, `"remove"`)

	// Empty behaves as propose.
	res := c.blockWithEvidence(duplicateVote(genesisVals[0], c.height))
	require.Equal(t, gov.MisbehaviourPropose, c.misbehaviours()[0].Mode)
	require.Equal(t, govv1.MisbehaviourAction_MISBEHAVIOUR_ACTION_PROPOSED, c.misbehaviours()[0].Action)
	require.Empty(t, res.ValidatorUpdates)

	id, done := c.pass(changeParam("gov.misbehaviour_action", gov.MisbehaviourRemove))
	requireExecuted(t, c, id, done)
	require.Equal(t, gov.MisbehaviourRemove, c.registry()["gov.misbehaviour_action"])
	res = c.blockWithEvidence(duplicateVote(genesisVals[1], c.height))
	require.Equal(t, []abci.ValidatorUpdate{abci.Ed25519ValidatorUpdate(genesisVals[1], 0)}, res.ValidatorUpdates)
}

func TestMisbehaviourQueriesPageAndRefuse(t *testing.T) {
	c := newMisbehaviourChain(t, fiveVals, mode(gov.MisbehaviourPropose))
	gone := consKey("gone")
	ev := make([]abci.Misbehavior, 1001)
	for i := range ev {
		ev[i] = duplicateVote(gone, c.height)
	}
	c.blockWithEvidence(ev...)

	page := func(path string, data []byte) *appv1.ProvedList {
		res := c.query(path, data)
		require.Zero(t, res.Code, res.Log)
		l := &appv1.ProvedList{}
		require.NoError(t, proto.Unmarshal(res.Value, l))
		return l
	}
	for _, path := range []string{api.PathGovMisbehaviours, api.PathGovValidatorMisbehaviours} {
		arg := ""
		if path == api.PathGovValidatorMisbehaviours {
			arg = strings.ToLower(hexAddr(gone))
		}
		first := page(path, listData(arg))
		require.Len(t, first.Entries, 1000, path)
		require.NotEmpty(t, first.NextKey)
		rest := page(path, api.ListData([]byte(arg), first.NextKey, 0))
		require.Len(t, rest.Entries, 1, path)
		require.Empty(t, rest.NextKey)
		last := &govv1.Misbehaviour{}
		require.NoError(t, proto.Unmarshal(rest.Entries[0].Value, last))
		require.EqualValues(t, 1001, last.Seq)
		require.Equal(t, api.GovMisbehaviourKey(1001), rest.Entries[0].Key)
	}

	for _, tt := range []struct {
		path, data string
		want       *module.Error
	}{
		{api.PathGovMisbehaviour, "x", app.ErrInvalidQuery},
		{api.PathGovMisbehaviour, "0", app.ErrInvalidQuery},
		{api.PathGovMisbehaviour, "1002", app.ErrNotFound},
		{api.PathGovMisbehaviours, "junk", app.ErrInvalidQuery},
		{api.PathGovValidatorMisbehaviours, "abc", app.ErrInvalidQuery},
		{api.PathGovValidatorMisbehaviours, "", app.ErrInvalidQuery},
		{"/gov/misbehaviours/nobody", "", app.ErrUnknownQuery},
	} {
		data := []byte(tt.data)
		if r, ok := api.RouteOf(tt.path); ok && r.Answer == api.Page {
			data = listData(tt.data)
		}
		res := c.query(tt.path, data)
		requireCode(t, tt.want, res.Codespace, res.Code, res.Log)
	}
}

package gov

import (
	"bytes"
	"fmt"
	"strconv"
	"time"

	"github.com/tallyledger/tally/api"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/module"
)

// EventMisbehaviour is emitted once for every piece of evidence a block
// carries, with the validator's address (indexed), the evidence type and
// height, and the action taken; seq names the record.
const EventMisbehaviour = "misbehaviour"

// SystemMisbehaviour is the proposer recorded on proposals the chain opens
// itself when a validator misbehaves. It is no agency (agency ids cannot
// hold ':'), and its proposals count against no agency's open-proposal
// limit; there is at most one per validator.
const SystemMisbehaviour = "system:misbehaviour"

// ConsensusAddressSize is the size of a CometBFT validator address.
const ConsensusAddressSize = api.ConsensusAddressSize

// Evidence is one piece of validator misbehaviour CometBFT committed in a
// block, as the app hands it to governance.
type Evidence struct {
	Type govv1.MisbehaviourType
	// Address is the validator's consensus address (ConsensusAddress).
	Address []byte
	// Power and TotalVotingPower are as of Height.
	Power            int64
	TotalVotingPower int64
	// Height and Time are when the misbehaviour happened.
	Height int64
	Time   time.Time
}

// ConsensusAddress is the address CometBFT gives an ed25519 consensus key:
// the first 20 bytes of its SHA-256 (api.ConsensusAddress).
func ConsensusAddress(pub []byte) []byte { return api.ConsensusAddress(pub) }

// MisbehaviourTypeName is the short name of an evidence type
// ("duplicate_vote").
func MisbehaviourTypeName(t govv1.MisbehaviourType) string { return api.MisbehaviourTypeName(t) }

// MisbehaviourActionName is the short name of an action ("proposed").
func MisbehaviourActionName(a govv1.MisbehaviourAction) string { return api.MisbehaviourActionName(a) }

// Misbehaviour loads a misbehaviour record, or returns ErrUnknownMisbehaviour.
func (Keeper) Misbehaviour(kv store.KV, seq uint64) (*govv1.Misbehaviour, error) {
	m := &govv1.Misbehaviour{}
	found, err := store.GetProto(kv, api.GovMisbehaviourKey(seq), m)
	if err != nil {
		return nil, fmt.Errorf("misbehaviour %d: %w", seq, err)
	}
	if !found {
		return nil, ErrUnknownMisbehaviour.Wrapf("no misbehaviour record %d; list them with `tallyd query gov misbehaviour`", seq)
	}
	return m, nil
}

// HandleMisbehaviour records every piece of evidence of a block, in the
// order given, and acts on each as gov.misbehaviour_action says: a
// validator in the set is removed, or a proposal to remove it is opened;
// evidence about an address no longer in the set, or about a validator
// already facing an open removal proposal, is recorded and nothing more.
// It returns the validator updates of the removals it executed. An error
// is a bug (state that does not decode); the caller drops ctx's writes.
func (k Keeper) HandleMisbehaviour(ctx module.Context, evidence []Evidence) ([]ValidatorUpdate, error) {
	if len(evidence) == 0 {
		return nil, nil
	}
	params, err := k.Params(ctx.Store)
	if err != nil {
		return nil, err
	}
	var updates []ValidatorUpdate
	for _, ev := range evidence {
		ups, err := k.handleOne(ctx, params, ev)
		if err != nil {
			return nil, err
		}
		updates = MergeUpdates(updates, ups)
	}
	return updates, nil
}

func (k Keeper) handleOne(ctx module.Context, params *govv1.Params, ev Evidence) ([]ValidatorUpdate, error) {
	kv := ctx.Store
	seq, err := module.NextSeq(kv, api.GovMisbehaviourSeqKey(), "misbehaviour")
	if err != nil {
		return nil, err
	}
	rec := &govv1.Misbehaviour{
		Seq: seq, Type: ev.Type, ValidatorAddress: ev.Address, ValidatorPower: ev.Power, TotalVotingPower: ev.TotalVotingPower,
		EvidenceHeight: ev.Height, EvidenceTimeUnix: ev.Time.Unix(), Height: ctx.Height, TimeUnix: ctx.Time.Unix(),
		Mode: misbehaviourMode(params), Action: govv1.MisbehaviourAction_MISBEHAVIOUR_ACTION_NONE,
	}
	val, err := k.validatorByAddress(kv, ev.Address)
	if err != nil {
		return nil, err
	}
	// What the action itself emits follows the misbehaviour event.
	var actionEvents []module.Event
	actx := module.NewContext(kv, ctx.Height, ctx.Time, ctx.ChainID, &actionEvents)
	var updates []ValidatorUpdate
	switch {
	case val == nil:
		if err := k.knownFromEarlier(kv, rec); err != nil {
			return nil, err
		}
		rec.ReasonCodespace, rec.ReasonCode = ErrMisbehaviourNotValidator.Codespace, ErrMisbehaviourNotValidator.Code
	case ev.Type != govv1.MisbehaviourType_MISBEHAVIOUR_TYPE_DUPLICATE_VOTE && ev.Type != govv1.MisbehaviourType_MISBEHAVIOUR_TYPE_LIGHT_CLIENT_ATTACK:
		rec.PubKey, rec.AgencyId = val.PubKey, val.AgencyId
		rec.ReasonCodespace, rec.ReasonCode = ErrMisbehaviourTypeIgnored.Codespace, ErrMisbehaviourTypeIgnored.Code
	default:
		rec.PubKey, rec.AgencyId = val.PubKey, val.AgencyId
		open, err := k.openRemoval(kv, val.PubKey)
		if err != nil {
			return nil, err
		}
		if open != 0 {
			rec.ProposalId = open
			rec.ReasonCodespace, rec.ReasonCode = ErrRemovalAlreadyOpen.Codespace, ErrRemovalAlreadyOpen.Code
			break
		}
		content := &govv1.Content{Sum: &govv1.Content_RemoveValidator{RemoveValidator: &govv1.RemoveValidator{PubKey: val.PubKey}}}
		if rec.Mode == MisbehaviourRemove {
			// The removal proposal's own path, on a branch: the
			// min_validators and power-change rules apply as they would
			// to a passed proposal, and a refusal leaves nothing behind.
			cache := store.NewCache(kv)
			var removed []module.Event
			ups, err := k.apply(module.NewContext(cache, ctx.Height, ctx.Time, ctx.ChainID, &removed), content, 0, true)
			if err == nil {
				cache.Write()
				actionEvents = append(actionEvents, removed...)
				updates = ups
				rec.Action = govv1.MisbehaviourAction_MISBEHAVIOUR_ACTION_REMOVED
				break
			}
			// Refused: the record keeps the refusal's code, and a proposal
			// is opened instead (action PROPOSED says so).
			rec.ReasonCodespace, rec.ReasonCode, _ = module.CodeOf(err)
		}
		title := fmt.Sprintf("Remove validator %s (operated by %s): %s at height %d (misbehaviour %d)",
			hexUpper(ev.Address), val.AgencyId, MisbehaviourTypeName(ev.Type), ev.Height, seq)
		id, err := k.openSystemProposal(actx, params, content, title)
		if err != nil {
			return nil, err
		}
		rec.Action, rec.ProposalId = govv1.MisbehaviourAction_MISBEHAVIOUR_ACTION_PROPOSED, id
	}
	if err := store.SetProto(kv, api.GovMisbehaviourKey(seq), rec); err != nil {
		return nil, err
	}
	if len(ev.Address) == ConsensusAddressSize { // a fixed width keeps one address's index apart from another's
		kv.Set(api.GovValidatorMisbehaviourKey(ev.Address, seq), []byte{})
	}
	ctx.Emit(EventMisbehaviour,
		module.Indexed("validator", hexUpper(ev.Address)),
		module.Attr("type", MisbehaviourTypeName(ev.Type)),
		module.Attr("height", strconv.FormatInt(ev.Height, 10)),
		module.Attr("action", MisbehaviourActionName(rec.Action)),
		module.Attr("seq", strconv.FormatUint(seq, 10)))
	for _, e := range actionEvents {
		ctx.Emit(e.Type, e.Attributes...)
	}
	return updates, nil
}

// validatorByAddress finds the validator in the set whose consensus key
// has address addr, or nil. The set is small; scanning it keeps no second
// index of keys to go stale.
func (k Keeper) validatorByAddress(kv store.KV, addr []byte) (*govv1.Validator, error) {
	if len(addr) != ConsensusAddressSize {
		return nil, nil
	}
	vals, err := k.Validators(kv)
	if err != nil {
		return nil, err
	}
	for _, v := range vals {
		if bytes.Equal(ConsensusAddress(v.PubKey), addr) {
			return v, nil
		}
	}
	return nil, nil
}

// knownFromEarlier fills in the key and operator of an address no longer
// in the set from the first earlier record of it, when there is one.
func (k Keeper) knownFromEarlier(kv store.KV, rec *govv1.Misbehaviour) error {
	if len(rec.ValidatorAddress) != ConsensusAddressSize {
		return nil
	}
	var first []byte
	store.IteratePrefix(kv, api.GovValidatorMisbehavioursPrefix(rec.ValidatorAddress), func(key, _ []byte) bool {
		first = api.GovMisbehaviourOfIndexKey(key)
		return true
	})
	if first == nil {
		return nil
	}
	prev := &govv1.Misbehaviour{}
	if _, err := store.GetProto(kv, first, prev); err != nil {
		return err
	}
	rec.PubKey, rec.AgencyId = prev.PubKey, prev.AgencyId
	return nil
}

// openRemoval returns the id of an open proposal to remove the validator
// with key pub, by an agency or by the chain, or 0.
func (k Keeper) openRemoval(kv store.KV, pub []byte) (uint64, error) {
	var ids []uint64
	store.IteratePrefix(kv, api.GovOpenPrefix(), func(key, _ []byte) bool {
		ids = append(ids, getU64FromKey(key[len(api.GovOpenPrefix()):]))
		return false
	})
	for _, id := range ids {
		p, err := k.Proposal(kv, id)
		if err != nil {
			return 0, err
		}
		if r := p.Content.GetRemoveValidator(); r != nil && bytes.Equal(r.PubKey, pub) {
			return id, nil
		}
	}
	return 0, nil
}

// openSystemProposal opens a proposal for the chain itself. Unlike an
// agency's, it is not checked against state when opened: the agencies may
// first add a validator so that the removal fits min_validators, and it is
// checked when it passes, as every proposal is.
func (k Keeper) openSystemProposal(ctx module.Context, params *govv1.Params, c *govv1.Content, title string) (uint64, error) {
	id, err := module.NextSeq(ctx.Store, api.GovProposalSeqKey(), "proposal")
	if err != nil {
		return 0, err
	}
	p := &govv1.Proposal{
		Id: id, Content: c, Title: title, ProposerAgency: SystemMisbehaviour,
		SubmitHeight: ctx.Height, SubmitTimeUnix: ctx.Time.Unix(), VotingEndUnix: ctx.Time.Unix() + params.VotingPeriodSeconds,
		Status: govv1.ProposalStatus_PROPOSAL_STATUS_VOTING, PassThreshold: params.PassThreshold, Quorum: params.Quorum,
	}
	if err := store.SetProto(ctx.Store, api.GovProposalKey(id), p); err != nil {
		return 0, err
	}
	ctx.Store.Set(api.GovOpenKey(id), []byte{})
	ctx.Emit(EventSubmitted,
		module.Indexed("proposal_id", strconv.FormatUint(id, 10)),
		module.Indexed("proposer_agency", SystemMisbehaviour),
		module.Indexed("type", ContentType(c)),
		module.Attr("voting_end_unix", strconv.FormatInt(p.VotingEndUnix, 10)))
	return id, nil
}

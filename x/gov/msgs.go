package gov

import (
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/api/keyproof"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/module"
)

// Event types the gov module emits. A validator_changed event carries the
// proposal that made the change; proposal_id 0 when a misbehaving validator
// was removed directly (gov.misbehaviour_action remove).
const (
	EventSubmitted        = "gov.proposal_submitted"
	EventVote             = "gov.vote"
	EventExecuted         = "gov.proposal_executed"
	EventFailed           = "gov.proposal_failed"
	EventRejected         = "gov.proposal_rejected"
	EventValidatorChanged = "gov.validator_changed"
	EventUpgradeApplied   = "gov.upgrade_applied"
)

// Bounds on free text kept in state.
const (
	maxTitleBytes    = 256
	maxNameBytes     = 128
	maxReasonBytes   = 256
	maxNotesBytes    = 1024
	maxAddressBytes  = 256
	maxUpgradeName   = 64
	maxParamValueLen = 256
)

// MaxPower is the largest power one validator may hold, far below
// CometBFT's total voting power limit for any realistic set size.
const MaxPower = 1_000_000_000

// ConsensusKeySize is the size of an ed25519 consensus public key.
const ConsensusKeySize = api.ConsensusKeySize

// ContentType is the short name of what a proposal does ("add_validator").
func ContentType(c *govv1.Content) string {
	switch c.GetSum().(type) {
	case *govv1.Content_AddValidator:
		return "add_validator"
	case *govv1.Content_SetValidatorPower:
		return "set_validator_power"
	case *govv1.Content_RemoveValidator:
		return "remove_validator"
	case *govv1.Content_RotateValidatorKey:
		return "rotate_validator_key"
	case *govv1.Content_AdmitAgency:
		return "admit_agency"
	case *govv1.Content_SetAgencyStatus:
		return "set_agency_status"
	case *govv1.Content_GrantMandate:
		return "grant_mandate"
	case *govv1.Content_WithdrawMandate:
		return "withdraw_mandate"
	case *govv1.Content_ChangeParam:
		return "change_param"
	case *govv1.Content_ScheduleUpgrade:
		return "schedule_upgrade"
	}
	return "unknown"
}

func validateKey(what string, pub []byte) error {
	if len(pub) != ConsensusKeySize {
		return ErrInvalidConsensusKey.Wrapf("%s is %d bytes; an ed25519 consensus key is %d (the value in the node's priv_validator_key.json)", what, len(pub), ConsensusKeySize)
	}
	// A small-order or non-canonical consensus key could sign votes without
	// a private key (see agency.ValidatePubKey).
	if err := agency.ValidatePubKey(what, pub); err != nil {
		return ErrInvalidConsensusKey.Wrapf("%v", err)
	}
	return nil
}

// checkValidatorKeyProof checks a validator key's proof of possession: the
// consensus key signs keyproof.Statement naming the chain, the operating
// agency and its own consensus address, so nobody can propose a key whose
// private half they (and the agency) do not hold.
func checkValidatorKeyProof(ctx module.Context, pub, proof []byte, agencyID string, purpose keyproof.Purpose) error {
	return agency.CheckKeyProof("consensus key", pub, proof, ctx.ChainID, agencyID, ConsensusAddress(pub), purpose)
}

func validatePower(p int64) error {
	if p < 1 || p > MaxPower {
		return ErrInvalidPower.Wrapf("power %d must be from 1 to %d; to take a validator out, propose its removal", p, MaxPower)
	}
	return nil
}

func validateText(what string, s string, max int, required bool) error {
	if required && s == "" {
		return ErrInvalidProposal.Wrapf("%s is required", what)
	}
	if len(s) > max {
		return ErrInvalidProposal.Wrapf("%s is %d bytes; at most %d", what, len(s), max)
	}
	return nil
}

// ValidateMandate checks a mandate value.
func ValidateMandate(m govv1.Mandate) error {
	if _, ok := govv1.Mandate_name[int32(m)]; !ok || m == govv1.Mandate_MANDATE_UNSPECIFIED {
		return ErrInvalidMandate.Wrapf("mandate %d is not defined", m)
	}
	return nil
}

// ValidateUpgradeName checks an upgrade name: 1-64 of a-z, 0-9, '.', '-', '_'.
func ValidateUpgradeName(name string) error {
	if name == "" || len(name) > maxUpgradeName {
		return ErrInvalidUpgrade.Wrapf("upgrade name must be 1 to %d characters", maxUpgradeName)
	}
	for _, c := range []byte(name) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return ErrInvalidUpgrade.Wrapf("upgrade name %q may use only a-z, 0-9, '-', '_' and '.'", name)
		}
	}
	return nil
}

// ValidateContent checks a proposal's content without state.
func ValidateContent(c *govv1.Content) error {
	switch m := c.GetSum().(type) {
	case *govv1.Content_AddValidator:
		v := m.AddValidator
		if err := validateKey("pub_key", v.PubKey); err != nil {
			return err
		}
		if err := validatePower(v.Power); err != nil {
			return err
		}
		if err := agency.ValidateAgencyID(v.AgencyId); err != nil {
			return err
		}
		return validateText("node_address", v.NodeAddress, maxAddressBytes, false)
	case *govv1.Content_SetValidatorPower:
		if err := validateKey("pub_key", m.SetValidatorPower.PubKey); err != nil {
			return err
		}
		return validatePower(m.SetValidatorPower.Power)
	case *govv1.Content_RemoveValidator:
		return validateKey("pub_key", m.RemoveValidator.PubKey)
	case *govv1.Content_RotateValidatorKey:
		r := m.RotateValidatorKey
		if err := validateKey("old_pub_key", r.OldPubKey); err != nil {
			return err
		}
		if err := validateKey("new_pub_key", r.NewPubKey); err != nil {
			return err
		}
		if string(r.OldPubKey) == string(r.NewPubKey) {
			return ErrInvalidConsensusKey.Wrapf("new_pub_key is the old key; generate a new consensus key first")
		}
		return nil
	case *govv1.Content_AdmitAgency:
		a := m.AdmitAgency
		if err := agency.ValidateAgencyID(a.AgencyId); err != nil {
			return err
		}
		if err := validateText("name", a.Name, maxNameBytes, true); err != nil {
			return err
		}
		if _, ok := agencyv1.Kind_name[int32(a.Kind)]; !ok || a.Kind == agencyv1.Kind_KIND_UNSPECIFIED {
			return ErrInvalidProposal.Wrapf("kind %d is not an agency kind", a.Kind)
		}
		return agency.ValidatePubKey("admin_pub_key", a.AdminPubKey)
	case *govv1.Content_SetAgencyStatus:
		s := m.SetAgencyStatus
		if err := agency.ValidateAgencyID(s.AgencyId); err != nil {
			return err
		}
		switch s.Status {
		case agencyv1.Status_STATUS_ACTIVE, agencyv1.Status_STATUS_SUSPENDED, agencyv1.Status_STATUS_REMOVED:
		default:
			return ErrInvalidStatus.Wrapf("status must be active, suspended or removed")
		}
		return validateText("reason", s.Reason, maxReasonBytes, false)
	case *govv1.Content_GrantMandate:
		g := m.GrantMandate
		if err := agency.ValidateAgencyID(g.AgencyId); err != nil {
			return err
		}
		return validateGrant(g.Mandate, g.UntilUnix, g.LegalBasis, g.Scope, g.Ceiling)
	case *govv1.Content_WithdrawMandate:
		w := m.WithdrawMandate
		if err := agency.ValidateAgencyID(w.AgencyId); err != nil {
			return err
		}
		if err := ValidateMandate(w.Mandate); err != nil {
			return err
		}
		return validateText("reason", w.Reason, maxReasonBytes, false)
	case *govv1.Content_ChangeParam:
		if m.ChangeParam.Name == "" {
			return ErrUnknownParam.Wrapf("name the parameter to change")
		}
		if len(m.ChangeParam.Value) > maxParamValueLen {
			return ErrInvalidParamValue.Wrapf("value is longer than %d bytes", maxParamValueLen)
		}
		return nil
	case *govv1.Content_ScheduleUpgrade:
		u := m.ScheduleUpgrade
		if err := ValidateUpgradeName(u.Name); err != nil {
			return err
		}
		if u.Height <= 0 {
			return ErrUpgradeHeightPast.Wrapf("height %d is not a block height", u.Height)
		}
		if len(u.Notes) > maxNotesBytes {
			return ErrInvalidUpgrade.Wrapf("notes are longer than %d bytes", maxNotesBytes)
		}
		return nil
	}
	return ErrInvalidProposal.Wrapf("the proposal has no content; say what it would do")
}

func validateSubmitProposal(m *govv1.MsgSubmitProposal) error {
	if len(m.Title) > maxTitleBytes {
		return ErrInvalidProposal.Wrapf("title is longer than %d bytes", maxTitleBytes)
	}
	return ValidateContent(m.Content)
}

func validateVote(m *govv1.MsgVote) error {
	switch m.Option {
	case govv1.VoteOption_VOTE_OPTION_YES, govv1.VoteOption_VOTE_OPTION_NO, govv1.VoteOption_VOTE_OPTION_ABSTAIN:
		return nil
	}
	return ErrInvalidVote.Wrapf("option must be yes, no or abstain")
}

// SubmitProposal opens a proposal for the signer's agency. The content is
// checked against current state now, so a proposal that could not execute
// is refused at once; it is checked again when it passes.
func (k Keeper) SubmitProposal(ctx module.Context, signer *agencyv1.Account, m *govv1.MsgSubmitProposal) error {
	params, err := k.Params(ctx.Store)
	if err != nil {
		return err
	}
	open := getU64(ctx.Store, api.GovOpenCountKey(signer.AgencyId))
	if open >= uint64(params.MaxOpenProposalsPerAgency) {
		return ErrTooManyOpen.Wrapf("agency %q has %d open proposals, the most allowed (gov.max_open_proposals_per_agency); wait for one to close", signer.AgencyId, open)
	}
	if err := k.check(ctx, m.Content, 0, false); err != nil {
		return err
	}
	id, err := module.NextSeq(ctx.Store, api.GovProposalSeqKey(), "proposal")
	if err != nil {
		return err
	}
	p := &govv1.Proposal{
		Id: id, Content: m.Content, Title: m.Title, ProposerAgency: signer.AgencyId, Proposer: signer.Address,
		SubmitHeight: ctx.Height, SubmitTimeUnix: ctx.Time.Unix(), VotingEndUnix: ctx.Time.Unix() + params.VotingPeriodSeconds,
		Status: govv1.ProposalStatus_PROPOSAL_STATUS_VOTING, PassThreshold: params.PassThreshold, Quorum: params.Quorum,
	}
	if err := store.SetProto(ctx.Store, api.GovProposalKey(id), p); err != nil {
		return err
	}
	ctx.Store.Set(api.GovOpenKey(id), []byte{})
	setU64(ctx.Store, api.GovOpenCountKey(signer.AgencyId), open+1)
	ctx.Emit(EventSubmitted,
		module.Indexed("proposal_id", strconv.FormatUint(id, 10)),
		module.Indexed("proposer_agency", signer.AgencyId),
		module.Indexed("type", ContentType(m.Content)),
		module.Attr("voting_end_unix", strconv.FormatInt(p.VotingEndUnix, 10)))
	return nil
}

// Vote records the signer's agency's vote. The signer's agency is active:
// authentication refuses signers of suspended agencies.
func (k Keeper) Vote(ctx module.Context, signer *agencyv1.Account, m *govv1.MsgVote) error {
	p, err := k.Proposal(ctx.Store, m.ProposalId)
	if err != nil {
		return err
	}
	if p.Status != govv1.ProposalStatus_PROPOSAL_STATUS_VOTING {
		return ErrVotingClosed.Wrapf("proposal %d is %s", p.Id, StatusName(p.Status))
	}
	if ctx.Time.Unix() >= p.VotingEndUnix {
		return ErrVotingClosed.Wrapf("voting on proposal %d ended at unix time %d; the block time is %d", p.Id, p.VotingEndUnix, ctx.Time.Unix())
	}
	ag, err := k.Agency.Agency(ctx.Store, signer.AgencyId)
	if err != nil {
		return err
	}
	if ag.Status != agencyv1.Status_STATUS_ACTIVE {
		return ErrAgencyNotActive.Wrapf("agency %q is %s and does not vote", ag.Id, agency.StatusName(ag.Status))
	}
	params, err := k.Params(ctx.Store)
	if err != nil {
		return err
	}
	if !Votes(params, ag.Kind) {
		names := make([]string, 0, len(votingKinds(params)))
		for _, kind := range votingKinds(params) {
			names = append(names, agency.KindName(kind))
		}
		return ErrNotVotingKind.Wrapf("agency %q is a %s; only agencies of kinds %s vote (gov voting_kinds, fixed in genesis)", ag.Id, agency.KindName(ag.Kind), strings.Join(names, ", "))
	}
	key := api.GovVoteKey(p.Id, signer.AgencyId)
	if ctx.Store.Has(key) {
		return ErrAlreadyVoted.Wrapf("agency %q already voted on proposal %d; votes are final", signer.AgencyId, p.Id)
	}
	v := &govv1.Vote{ProposalId: p.Id, AgencyId: signer.AgencyId, Option: m.Option, Voter: signer.Address, Height: ctx.Height}
	if err := store.SetProto(ctx.Store, key, v); err != nil {
		return err
	}
	switch m.Option {
	case govv1.VoteOption_VOTE_OPTION_YES:
		p.Yes++
	case govv1.VoteOption_VOTE_OPTION_NO:
		p.No++
	default:
		p.Abstain++
	}
	if err := store.SetProto(ctx.Store, api.GovProposalKey(p.Id), p); err != nil {
		return err
	}
	ctx.Emit(EventVote,
		module.Indexed("proposal_id", strconv.FormatUint(p.Id, 10)),
		module.Indexed("agency", signer.AgencyId),
		module.Attr("option", OptionName(m.Option)))
	return nil
}

// StatusName is the short name of a proposal status ("voting").
func StatusName(s govv1.ProposalStatus) string {
	return module.EnumName(s, "PROPOSAL_STATUS_")
}

// OptionName is the short name of a vote option ("yes").
func OptionName(o govv1.VoteOption) string { return module.EnumName(o, "VOTE_OPTION_") }

// MandateName is the short name of a mandate ("tax_authority").
func MandateName(m govv1.Mandate) string { return module.EnumName(m, "MANDATE_") }

// ParseMandate reads a short mandate name (api.ParseMandate), refusing
// another with ErrInvalidMandate.
func ParseMandate(s string) (govv1.Mandate, error) {
	m, err := api.ParseMandate(s)
	if err != nil {
		return 0, ErrInvalidMandate.Wrapf("%v", err)
	}
	return m, nil
}

// ParseOption reads a short vote option name (api.ParseVoteOption),
// refusing another with ErrInvalidVote.
func ParseOption(s string) (govv1.VoteOption, error) {
	o, err := api.ParseVoteOption(s)
	if err != nil {
		return 0, ErrInvalidVote.Wrapf("%v", err)
	}
	return o, nil
}

func unmarshal(b []byte, m proto.Message) error { return proto.Unmarshal(b, m) }

package gov

import "github.com/tallyledger/tally/x/module"

// Codespace is the gov module's error namespace.
const Codespace = "gov"

// Errors a user can cause through proposals, votes or genesis. Each
// refusal leaves state unchanged.
var (
	ErrUnknownProposal       = module.Register(Codespace, 2, "unknown proposal")
	ErrAlreadyVoted          = module.Register(Codespace, 3, "agency has already voted on this proposal")
	ErrVotingClosed          = module.Register(Codespace, 4, "voting on this proposal is closed")
	ErrInvalidVote           = module.Register(Codespace, 5, "invalid vote option")
	ErrInvalidProposal       = module.Register(Codespace, 6, "invalid proposal")
	ErrTooManyOpen           = module.Register(Codespace, 7, "agency has too many open proposals")
	ErrUnsafeValidatorChange = module.Register(Codespace, 8, "validator change is unsafe")
	ErrTooFewValidators      = module.Register(Codespace, 9, "validator set would be too small")
	ErrInvalidConsensusKey   = module.Register(Codespace, 10, "malformed consensus public key")
	ErrUnknownValidator      = module.Register(Codespace, 11, "unknown validator")
	ErrValidatorExists       = module.Register(Codespace, 12, "validator already in the set")
	ErrInvalidPower          = module.Register(Codespace, 13, "invalid validator power")
	ErrAgencyExists          = module.Register(Codespace, 14, "agency already exists")
	ErrAgencyNotActive       = module.Register(Codespace, 15, "agency is not active")
	ErrAgencyRunsValidators  = module.Register(Codespace, 16, "agency still operates validators")
	ErrInvalidStatus         = module.Register(Codespace, 17, "invalid agency status change")
	ErrInvalidMandate        = module.Register(Codespace, 18, "invalid mandate")
	ErrMandateNotHeld        = module.Register(Codespace, 19, "agency does not hold this mandate")
	ErrUnknownParam          = module.Register(Codespace, 20, "unknown parameter")
	ErrInvalidParamValue     = module.Register(Codespace, 21, "invalid parameter value")
	ErrUpgradeHeightPast     = module.Register(Codespace, 22, "upgrade height is not in the future")
	ErrUpgradeDone           = module.Register(Codespace, 23, "upgrade already applied")
	ErrInvalidUpgrade        = module.Register(Codespace, 24, "invalid upgrade plan")
	ErrInvalidGenesis        = module.Register(Codespace, 25, "invalid gov genesis")
	ErrLastAgency            = module.Register(Codespace, 26, "no active agency would be left")
	ErrUnknownMisbehaviour   = module.Register(Codespace, 27, "unknown misbehaviour record")
	// Codes 40-49 are the validator-power and voting-kind rules.
	ErrPowerConcentrated = module.Register(Codespace, 40, "one validator would hold too large a share of the power")
	ErrNotVotingKind     = module.Register(Codespace, 41, "agencies of this kind do not vote")
	// Codes 50-59 say, in a misbehaviour record, why nothing was done
	// (state keeps the code, not the text).
	ErrMisbehaviourNotValidator = module.Register(Codespace, 50, "the address is not in the current validator set (already removed, or its key rotated); nothing to remove")
	ErrMisbehaviourTypeIgnored  = module.Register(Codespace, 51, "evidence of this type is not one this software acts on")
	ErrRemovalAlreadyOpen       = module.Register(Codespace, 52, "a proposal to remove this validator is already open (proposal_id); vote on it")
)

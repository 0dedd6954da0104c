package api

import (
	"bytes"
	"crypto/sha256"
)

// Gov query paths. Proposals, votes, mandates and validators are records of
// state answered with proofs; a tally is the proposal record, whose counts
// are refreshed at each vote and each end-of-block tally.
const (
	PathGovProposal      = "/gov/proposal"       // data: decimal proposal id → Proposal
	PathGovProposals     = "/gov/proposals"      // ListRequest, no arg → every Proposal, open and past, a page at a time
	PathGovOpenProposals = "/gov/proposals/open" // ListRequest, no arg → open Proposals
	PathGovVotes         = "/gov/votes"          // ListRequest arg: decimal proposal id → its Votes
	PathGovMandates      = "/gov/mandates"       // ListRequest, no arg → MandateGrants in force
	PathGovMandate       = "/gov/mandate"        // data: decimal grant id → MandateGrant, in force or not
	PathGovValidators    = "/gov/validators"     // ListRequest, no arg → Validators with operating agency
	PathGovParams        = "/gov/params"         // data: none → gov Params
	PathGovParam         = "/gov/param"          // data: parameter name → the owning module's params record
	PathGovRegistry      = "/gov/registry"       // data: none → ParamList (derived, no proof)
	PathGovUpgrade       = "/gov/upgrade"        // data: none → UpgradePlan scheduled
	// Misbehaviour records, kept forever. The listings are paged (Page).
	PathGovMisbehaviour           = "/gov/misbehaviour"            // data: decimal sequence → Misbehaviour
	PathGovMisbehaviours          = "/gov/misbehaviours"           // ListRequest, no arg → Misbehaviours in sequence order
	PathGovValidatorMisbehaviours = "/gov/misbehaviours/validator" // ListRequest arg: hex consensus address → its Misbehaviours
)

// Gov state.
//
//	gov/params                       → tally.gov.v1.Params
//	gov/seq                          → last proposal id (8 bytes big-endian)
//	gov/p/<id 8 bytes>               → Proposal (open and past, kept forever)
//	gov/o/<id 8 bytes>               → index: open proposals
//	gov/n/<agency id>                → open proposals of the agency (8 bytes)
//	gov/v/<id 8 bytes>/<agency id>   → Vote
//	gov/m/<agency id>/<mandate 4 b>  → MandateGrant in force
//	gov/mg/<grant id 8 bytes>        → MandateGrant, in force or not, kept forever
//	gov/mgseq                        → last grant id (8 bytes)
//	gov/val/<pub key 32 bytes>       → Validator (the current set)
//	gov/vc/<height 8 bytes>          → power changed at that height (8 bytes)
//	gov/upgrade                      → UpgradePlan scheduled next
//	gov/done/<upgrade name>          → height the upgrade was applied at
//	gov/mseq                         → last misbehaviour sequence (8 bytes)
//	gov/mb/<seq 8 bytes>             → Misbehaviour (append-only, kept forever)
//	gov/mbv/<address 20 b>/<seq 8 b> → index: one validator's misbehaviour
var (
	keyGovParams       = []byte("gov/params")
	keyGovSeq          = []byte("gov/seq")
	prefixGovProposal  = []byte("gov/p/")
	prefixGovOpen      = []byte("gov/o/")
	prefixGovOpenCount = []byte("gov/n/")
	prefixGovVote      = []byte("gov/v/")
	prefixGovMandate   = []byte("gov/m/")
	prefixGovGrant     = []byte("gov/mg/")
	keyGovGrantSeq     = []byte("gov/mgseq")
	prefixGovValidator = []byte("gov/val/")
	prefixGovChange    = []byte("gov/vc/")
	keyGovUpgrade      = []byte("gov/upgrade")
	prefixGovDone      = []byte("gov/done/")
	keyGovMisbSeq      = []byte("gov/mseq")
	prefixGovMisb      = []byte("gov/mb/")
	prefixGovMisbByVal = []byte("gov/mbv/")
)

// GovStatePrefix starts every key the gov module keeps.
func GovStatePrefix() []byte { return []byte("gov/") }

// GovParamsKey is the state key of governance's own params.
func GovParamsKey() []byte { return clone(keyGovParams) }

// GovProposalSeqKey holds the last proposal id (8 bytes big-endian).
func GovProposalSeqKey() []byte { return clone(keyGovSeq) }

// GovProposalKey is the state key of a proposal.
func GovProposalKey(id uint64) []byte { return Key(prefixGovProposal, Uint64(id)) }

// GovProposalsPrefix covers every proposal, in id order.
func GovProposalsPrefix() []byte { return clone(prefixGovProposal) }

// GovOpenPrefix covers the open-proposal index; an entry's last 8 bytes are the id.
func GovOpenPrefix() []byte { return clone(prefixGovOpen) }

// GovProposalOfOpenKey maps an entry of the open-proposal index to the
// proposal record it indexes (nil when it is no such entry).
func GovProposalOfOpenKey(indexKey []byte) []byte {
	if !bytes.HasPrefix(indexKey, prefixGovOpen) {
		return nil
	}
	return Key(prefixGovProposal, indexKey[len(prefixGovOpen):])
}

// GovOpenKey is the open-proposal index entry of proposal id.
func GovOpenKey(id uint64) []byte { return Key(prefixGovOpen, Uint64(id)) }

// GovOpenCountKey holds the number of open proposals of an agency (8 bytes).
func GovOpenCountKey(agencyID string) []byte { return Key(prefixGovOpenCount, []byte(agencyID)) }

// GovOpenCountsPrefix covers every agency's open-proposal count.
func GovOpenCountsPrefix() []byte { return clone(prefixGovOpenCount) }

// GovVotesPrefix covers the votes on one proposal, in agency id order.
func GovVotesPrefix(id uint64) []byte { return Key(prefixGovVote, Uint64(id), slash) }

// GovVoteKey is the state key of an agency's vote on a proposal.
func GovVoteKey(id uint64, agencyID string) []byte { return Key(GovVotesPrefix(id), []byte(agencyID)) }

// GovMandatesPrefix covers every mandate in force, by agency.
func GovMandatesPrefix() []byte { return clone(prefixGovMandate) }

// GovMandateKey is the state key of one agency's mandate of kind m in force.
func GovMandateKey(agencyID string, m int32) []byte {
	return Key(prefixGovMandate, []byte(agencyID), slash, u32(uint32(m)))
}

// GovGrantKey is the state key of a mandate grant by id, kept for ever.
func GovGrantKey(id uint64) []byte { return Key(prefixGovGrant, Uint64(id)) }

// GovGrantsPrefix covers every mandate grant ever made, in id order.
func GovGrantsPrefix() []byte { return clone(prefixGovGrant) }

// GovGrantSeqKey holds the last grant id (8 bytes big-endian).
func GovGrantSeqKey() []byte { return clone(keyGovGrantSeq) }

// GovValidatorsPrefix covers the validator set, in public key order.
func GovValidatorsPrefix() []byte { return clone(prefixGovValidator) }

// GovValidatorKey is the state key of a validator.
func GovValidatorKey(pub []byte) []byte { return Key(prefixGovValidator, pub) }

// GovPowerChangeKey holds the voting power changed at height (8 bytes).
func GovPowerChangeKey(height int64) []byte { return Key(prefixGovChange, Uint64(uint64(height))) }

// GovUpgradeKey is the state key of the scheduled upgrade plan.
func GovUpgradeKey() []byte { return clone(keyGovUpgrade) }

// GovDoneKey is the state key recording that an upgrade was applied.
func GovDoneKey(name string) []byte { return Key(prefixGovDone, []byte(name)) }

// GovMisbehaviourSeqKey holds the last misbehaviour sequence (8 bytes).
func GovMisbehaviourSeqKey() []byte { return clone(keyGovMisbSeq) }

// GovMisbehaviourKey is the state key of a misbehaviour record.
func GovMisbehaviourKey(seq uint64) []byte { return Key(prefixGovMisb, Uint64(seq)) }

// GovMisbehavioursPrefix covers every misbehaviour record, in sequence order.
func GovMisbehavioursPrefix() []byte { return clone(prefixGovMisb) }

// GovValidatorMisbehavioursPrefix covers the index of one validator
// address's misbehaviour; an entry's last 8 bytes are the sequence.
func GovValidatorMisbehavioursPrefix(addr []byte) []byte {
	return Key(prefixGovMisbByVal, addr, slash)
}

// GovValidatorMisbehaviourKey is the index entry of misbehaviour seq of a validator address.
func GovValidatorMisbehaviourKey(addr []byte, seq uint64) []byte {
	return Key(GovValidatorMisbehavioursPrefix(addr), Uint64(seq))
}

// GovMisbehaviourOfIndexKey maps a key under GovValidatorMisbehavioursPrefix
// to the record it indexes.
func GovMisbehaviourOfIndexKey(indexKey []byte) []byte {
	if len(indexKey) < 8 {
		return nil
	}
	return Key(prefixGovMisb, indexKey[len(indexKey)-8:])
}

// ConsensusKeySize is the size of an ed25519 consensus (validator) public
// key.
const ConsensusKeySize = 32

// ConsensusAddressSize is the size of a CometBFT validator address.
const ConsensusAddressSize = 20

// ConsensusAddress is the address CometBFT gives an ed25519 consensus key:
// the first ConsensusAddressSize bytes of its SHA-256.
func ConsensusAddress(pub []byte) []byte {
	sum := sha256.Sum256(pub)
	return sum[:ConsensusAddressSize]
}

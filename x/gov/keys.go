package gov

import (
	"encoding/binary"

	"github.com/tallyledger/tally/store"
)

// State layout. Every record lives in the one IAVL tree so it is provable.
//
//	gov/params                       → Params
//	gov/seq                          → last proposal id (8 bytes big-endian)
//	gov/p/<id 8 bytes>               → Proposal (open and past, kept forever)
//	gov/o/<id 8 bytes>               → empty: index of open proposals
//	gov/n/<agency id>                → open proposals of the agency (8 bytes)
//	gov/v/<id 8 bytes>/<agency id>   → Vote
//	gov/m/<agency id>/<mandate 4 b>  → MandateGrant
//	gov/val/<pub key 32 bytes>       → Validator (the current set)
//	gov/vc/<height 8 bytes>          → power changed at that height (8 bytes)
//	gov/upgrade                      → UpgradePlan scheduled next
//	gov/done/<upgrade name>          → height the upgrade was applied at
//	gov/mseq                         → last misbehaviour sequence (8 bytes)
//	gov/mb/<seq 8 bytes>             → Misbehaviour (append-only, kept forever)
//	gov/mbv/<address 20 b>/<seq 8 b> → empty: index of one validator's misbehaviour
var (
	keyParams       = []byte("gov/params")
	keySeq          = []byte("gov/seq")
	prefixProposal  = []byte("gov/p/")
	prefixOpen      = []byte("gov/o/")
	prefixOpenCount = []byte("gov/n/")
	prefixVote      = []byte("gov/v/")
	prefixMandate   = []byte("gov/m/")
	prefixValidator = []byte("gov/val/")
	prefixChange    = []byte("gov/vc/")
	keyUpgrade      = []byte("gov/upgrade")
	prefixDone      = []byte("gov/done/")
	keyMisbSeq      = []byte("gov/mseq")
	prefixMisb      = []byte("gov/mb/")
	prefixMisbByVal = []byte("gov/mbv/")
)

// ParamsKey is the state key of governance's own params.
func ParamsKey() []byte { return keyParams }

// ProposalKey is the state key of a proposal.
func ProposalKey(id uint64) []byte { return store.Key(prefixProposal, store.Uint64(id)) }

// ProposalsPrefix covers every proposal, in id order.
func ProposalsPrefix() []byte { return prefixProposal }

// OpenPrefix covers the open-proposal index; the key's last 8 bytes are the id.
func OpenPrefix() []byte { return prefixOpen }

func openKey(id uint64) []byte { return store.Key(prefixOpen, store.Uint64(id)) }

func openCountKey(agencyID string) []byte { return store.Key(prefixOpenCount, []byte(agencyID)) }

// VotesPrefix covers the votes on one proposal, in agency id order.
func VotesPrefix(id uint64) []byte { return store.Key(prefixVote, store.Uint64(id), []byte("/")) }

// VoteKey is the state key of an agency's vote on a proposal.
func VoteKey(id uint64, agencyID string) []byte { return store.Key(VotesPrefix(id), []byte(agencyID)) }

// MandatesPrefix covers every mandate in force, by agency.
func MandatesPrefix() []byte { return prefixMandate }

// MandateKey is the state key of one agency's mandate.
func MandateKey(agencyID string, m int32) []byte {
	return store.Key(prefixMandate, []byte(agencyID), []byte("/"), binary.BigEndian.AppendUint32(nil, uint32(m)))
}

// ValidatorsPrefix covers the validator set, in public key order.
func ValidatorsPrefix() []byte { return prefixValidator }

// ValidatorKey is the state key of a validator.
func ValidatorKey(pub []byte) []byte { return store.Key(prefixValidator, pub) }

func changeKey(height int64) []byte { return store.Key(prefixChange, store.Uint64(uint64(height))) }

// UpgradeKey is the state key of the scheduled upgrade plan.
func UpgradeKey() []byte { return keyUpgrade }

// DoneKey is the state key recording that an upgrade was applied.
func DoneKey(name string) []byte { return store.Key(prefixDone, []byte(name)) }

// MisbehaviourKey is the state key of a misbehaviour record.
func MisbehaviourKey(seq uint64) []byte { return store.Key(prefixMisb, store.Uint64(seq)) }

// MisbehavioursPrefix covers every misbehaviour record, in sequence order.
func MisbehavioursPrefix() []byte { return prefixMisb }

// ValidatorMisbehavioursPrefix covers the index of one validator
// address's misbehaviour; the key's last 8 bytes are the sequence.
func ValidatorMisbehavioursPrefix(addr []byte) []byte {
	return store.Key(prefixMisbByVal, addr, []byte("/"))
}

// MisbehaviourOfIndexKey maps a key under ValidatorMisbehavioursPrefix to
// the record it indexes.
func MisbehaviourOfIndexKey(indexKey []byte) []byte {
	if len(indexKey) < 8 {
		return nil
	}
	return store.Key(prefixMisb, indexKey[len(indexKey)-8:])
}

// Package gov is multi-agency governance: agencies propose and vote, one
// vote per active agency of a kind genesis lets vote (not businesses, by
// default), on changes no single agency may make alone — the
// validator set, admitting and suspending agencies, agency mandates,
// parameters and software upgrades. Passed proposals execute at the end of
// the block in which they pass, atomically.
package gov

import (
	"encoding/binary"
	"fmt"

	"github.com/tallyledger/tally/api"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/agency"
)

// Keeper is the gov module's access to state.
type Keeper struct {
	// Agency admits and suspends agencies when proposals pass.
	Agency agency.Keeper
	// Reg is the registry of parameters proposals may change.
	Reg *Registry
}

// NewKeeper returns a Keeper that changes parameters through reg.
func NewKeeper(ag agency.Keeper, reg *Registry) Keeper { return Keeper{Agency: ag, Reg: reg} }

// Registry returns the parameter registry.
func (k Keeper) Registry() *Registry { return k.Reg }

// Proposal loads a proposal, or returns ErrUnknownProposal.
func (Keeper) Proposal(kv store.KV, id uint64) (*govv1.Proposal, error) {
	p := &govv1.Proposal{}
	found, err := store.GetProto(kv, api.GovProposalKey(id), p)
	if err != nil {
		return nil, fmt.Errorf("proposal %d: %w", id, err)
	}
	if !found {
		return nil, ErrUnknownProposal.Wrapf("no proposal %d; list proposals with `tallyd query gov proposals`", id)
	}
	return p, nil
}

// Validator loads a validator, or returns ErrUnknownValidator.
func (Keeper) Validator(kv store.KV, pub []byte) (*govv1.Validator, error) {
	v := &govv1.Validator{}
	found, err := store.GetProto(kv, api.GovValidatorKey(pub), v)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, ErrUnknownValidator.Wrapf("no validator with consensus key %X; list them with `tallyd query gov validators`", pub)
	}
	return v, nil
}

// Validators lists the validator set in public key order.
func (Keeper) Validators(kv store.KV) ([]*govv1.Validator, error) {
	var out []*govv1.Validator
	var err error
	store.IteratePrefix(kv, api.GovValidatorsPrefix(), func(_, v []byte) bool {
		val := &govv1.Validator{}
		if err = unmarshal(v, val); err != nil {
			return true
		}
		out = append(out, val)
		return false
	})
	return out, err
}

// Mandate returns an agency's mandate grant, or nil when it holds none.
func (Keeper) Mandate(kv store.KV, agencyID string, m govv1.Mandate) (*govv1.MandateGrant, error) {
	g := &govv1.MandateGrant{}
	found, err := store.GetProto(kv, api.GovMandateKey(agencyID, int32(m)), g)
	if err != nil || !found {
		return nil, err
	}
	return g, nil
}

// HasMandate reports whether an agency holds a mandate in force at block
// time unix (a mandate with until_unix lapses at that second). Modules
// that act for a mandated body may consult it.
func (k Keeper) HasMandate(kv store.KV, agencyID string, m govv1.Mandate, unix int64) bool {
	g, err := k.Mandate(kv, agencyID, m)
	return err == nil && g != nil && (g.UntilUnix == 0 || unix < g.UntilUnix)
}

// votingAgencies are the agencies that vote: active, and of a kind
// gov.voting_kinds names.
func (k Keeper) votingAgencies(kv store.KV) (map[string]bool, error) {
	params, err := k.Params(kv)
	if err != nil {
		return nil, err
	}
	all, err := k.Agency.Agencies(kv)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, a := range all {
		if a.Status == agencyv1.Status_STATUS_ACTIVE && Votes(params, a.Kind) {
			out[a.Id] = true
		}
	}
	return out, nil
}

func getU64(kv store.KV, key []byte) uint64 {
	bz := kv.Get(key)
	if len(bz) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(bz)
}

func setU64(kv store.KV, key []byte, v uint64) {
	if v == 0 {
		kv.Delete(key)
		return
	}
	kv.Set(key, api.Uint64(v))
}

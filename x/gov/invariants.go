package gov

import (
	"bytes"
	"cmp"
	"slices"
	"strconv"

	"github.com/tallyledger/tally/api"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/module"
)

// Names of the gov module's invariant checks.
const (
	CheckOpenProposals = "open-proposals"
	CheckOpenLimit     = "open-proposal-limit"
	CheckValidators    = "validator-operators"
	CheckSpread        = "validator-spread"
)

// maxOpenParam is the registry name of max_open_proposals_per_agency.
const maxOpenParam = "gov.max_open_proposals_per_agency"

// limitChange is an executed change of max_open_proposals_per_agency.
type limitChange struct {
	height int64 // the block whose end executed it
	value  uint64
}

// Invariants checks what the module promises about proposals and the
// validator set: the open-proposal index and per-agency counts match the
// proposals, no agency has more open proposals than the limit allowed when
// it submitted them, and every validator is operated by an agency that
// exists. It reads every proposal and validator once: it is for tests,
// audits and the invariants query, never for the block's hot path.
func (k Keeper) Invariants(kv store.KV) (*appv1.ModuleInvariants, error) {
	open := module.NewCheck(CheckOpenProposals, "the open-proposal index lists exactly the proposals still voting, and each agency's open count is the number of its proposals still voting")
	limit := module.NewCheck(CheckOpenLimit, "no agency has more open proposals than max_open_proposals_per_agency allowed when it submitted each of them")
	vals := module.NewCheck(CheckValidators, "every validator has a 32-byte key, power from 1 to the maximum, and an operating agency that exists (\""+UnknownOperator+"\" for a genesis validator genesis assigned to none)")

	spread := module.NewCheck(CheckSpread, "once the set has 4 validators, no validator and no agency's validators together hold more than gov.max_validator_share of the total power")

	params, err := k.Params(kv)
	if err != nil {
		return nil, err
	}
	byAgency := map[string][]*govv1.Proposal{} // open proposals per agency, in id order
	var agencies []string
	var changes []limitChange
	store.IteratePrefix(kv, api.GovProposalsPrefix(), func(key, v []byte) bool {
		p := &govv1.Proposal{}
		if err := unmarshal(v, p); err != nil {
			module.Failf(open, "proposal record %x does not decode: %v", key[len(api.GovProposalsPrefix()):], err)
			return false
		}
		voting := p.Status == govv1.ProposalStatus_PROPOSAL_STATUS_VOTING
		indexed := kv.Has(api.GovOpenKey(p.Id))
		switch {
		case voting && !indexed:
			module.Failf(open, "proposal %d is voting but missing from the open index, so it is never tallied", p.Id)
		case !voting && indexed:
			module.Failf(open, "proposal %d is %s but still in the open index", p.Id, StatusName(p.Status))
		}
		// Proposals the chain opens itself (misbehaviour) have a proposer
		// that is no agency id and count against no agency.
		if voting && agency.ValidateAgencyID(p.ProposerAgency) == nil {
			if _, seen := byAgency[p.ProposerAgency]; !seen {
				agencies = append(agencies, p.ProposerAgency)
			}
			byAgency[p.ProposerAgency] = append(byAgency[p.ProposerAgency], p)
		}
		if c := p.GetContent().GetChangeParam(); c != nil && c.Name == maxOpenParam && p.Status == govv1.ProposalStatus_PROPOSAL_STATUS_EXECUTED {
			if n, err := strconv.ParseUint(c.Value, 10, 32); err == nil {
				changes = append(changes, limitChange{height: p.EndHeight, value: n})
			}
		}
		return false
	})
	store.IteratePrefix(kv, api.GovOpenPrefix(), func(key, _ []byte) bool {
		id := getU64FromKey(key[len(api.GovOpenPrefix()):])
		if !kv.Has(api.GovProposalKey(id)) {
			module.Failf(open, "the open index lists proposal %d, which does not exist", id)
		}
		return false
	})
	store.IteratePrefix(kv, api.GovOpenCountsPrefix(), func(key, v []byte) bool {
		id := string(key[len(api.GovOpenCountsPrefix()):])
		if agency.ValidateAgencyID(id) != nil {
			return false
		}
		if _, seen := byAgency[id]; !seen {
			if n := getU64(kv, key); n != 0 {
				module.Failf(open, "agency %q's open count is %d but it has no proposal voting", id, n)
			}
		}
		return false
	})
	for _, id := range agencies {
		if n, want := getU64(kv, api.GovOpenCountKey(id)), uint64(len(byAgency[id])); n != want {
			module.Failf(open, "agency %q's open count is %d but %d of its proposals are voting", id, n, want)
		}
	}

	// At the submission of an agency's k-th open proposal (in id order)
	// its k-1 earlier ones were already open, and submission needs fewer
	// open than the limit then in force: so k may not exceed that limit.
	// A change executed at the end of block H is in force from block H+1.
	slices.SortStableFunc(changes, func(a, b limitChange) int { return cmp.Compare(a.height, b.height) })
	limitAt := func(h int64) (uint64, bool) {
		i := slices.IndexFunc(changes, func(c limitChange) bool { return c.height >= h })
		switch {
		case len(changes) == 0:
			return uint64(params.MaxOpenProposalsPerAgency), true
		case i == 0:
			return 0, false // under the genesis value, which state no longer holds
		case i < 0:
			return changes[len(changes)-1].value, true
		default:
			return changes[i-1].value, true
		}
	}
	for _, id := range agencies {
		for i, p := range byAgency[id] {
			if l, known := limitAt(p.SubmitHeight); known && uint64(i+1) > l {
				module.Failf(limit, "agency %q has %d open proposals: proposal %d, submitted at height %d as its open proposal number %d, exceeds the limit of %d then in force",
					id, len(byAgency[id]), p.Id, p.SubmitHeight, i+1, l)
			}
		}
	}

	store.IteratePrefix(kv, api.GovValidatorsPrefix(), func(key, v []byte) bool {
		pub := key[len(api.GovValidatorsPrefix()):]
		val := &govv1.Validator{}
		if err := unmarshal(v, val); err != nil {
			module.Failf(vals, "validator %X does not decode: %v", pub, err)
			return false
		}
		if !bytes.Equal(val.PubKey, pub) || len(pub) != ConsensusKeySize {
			module.Failf(vals, "validator record under %X has key %X; keys are %d bytes", pub, val.PubKey, ConsensusKeySize)
		}
		if validatePower(val.Power) != nil {
			module.Failf(vals, "validator %X has power %d; the set holds powers from 1 to %d", pub, val.Power, MaxPower)
		}
		if val.AgencyId == UnknownOperator {
			return false
		}
		if _, err := k.Agency.Agency(kv, val.AgencyId); err != nil {
			module.Failf(vals, "validator %X is operated by agency %q, which does not exist", pub, val.AgencyId)
		}
		return false
	})

	// Every change, genesis and a lowered cap are checked against the
	// resulting set, so the current set always satisfies the current cap.
	if err := k.requireSpread(kv, "the current set"); err != nil {
		module.Failf(spread, "%v", err)
	}

	r := &appv1.ModuleInvariants{Module: "gov", Checks: []*appv1.InvariantCheck{open, limit, vals, spread}, Ok: open.Ok && limit.Ok && vals.Ok && spread.Ok}
	return r, nil
}

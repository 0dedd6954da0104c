package gov

import (
	"bytes"

	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/module"
)

// UnknownOperator is the operating agency recorded for a genesis validator
// that genesis does not map to an agency.
const UnknownOperator = "unknown"

// InitGenesis writes governance's params and mandates, and records the
// genesis validator set (which CometBFT's genesis decides) with the agency
// operating each validator. Call it after the agency module's genesis.
func (k Keeper) InitGenesis(kv store.KV, g *govv1.Genesis, validators []ValidatorUpdate) error {
	if g == nil {
		g = &govv1.Genesis{}
	}
	if len(g.Records) > 0 {
		return k.importGenesis(kv, g, validators)
	}
	p := g.Params
	if p == nil {
		p = DefaultParams()
	}
	if err := ValidateParams(p); err != nil {
		return ErrInvalidGenesis.Wrapf("params: %v", err)
	}
	if err := store.SetProto(kv, api.GovParamsKey(), p); err != nil {
		return err
	}
	for i, op := range g.Operators {
		if err := validateKey("operator pub_key", op.PubKey); err != nil {
			return err
		}
		if _, err := k.Agency.Agency(kv, op.AgencyId); err != nil {
			return ErrInvalidGenesis.Wrapf("operator %d: %v", i, err)
		}
		if len(op.NodeAddress) > maxAddressBytes {
			return ErrInvalidGenesis.Wrapf("operator %d: node_address is longer than %d bytes", i, maxAddressBytes)
		}
		found := false
		for _, v := range validators {
			found = found || bytes.Equal(v.PubKey, op.PubKey)
		}
		if !found {
			return ErrInvalidGenesis.Wrapf("operator %d: key %X is not a genesis validator", i, op.PubKey)
		}
	}
	for _, v := range validators {
		if err := validateKey("genesis validator key", v.PubKey); err != nil {
			return err
		}
		rec := &govv1.Validator{PubKey: v.PubKey, Power: v.Power, AgencyId: UnknownOperator}
		for _, op := range g.Operators {
			if bytes.Equal(op.PubKey, v.PubKey) {
				rec.AgencyId, rec.NodeAddress = op.AgencyId, op.NodeAddress
			}
		}
		if err := store.SetProto(kv, api.GovValidatorKey(v.PubKey), rec); err != nil {
			return err
		}
	}
	if err := k.requireSpread(kv, "the genesis validator set"); err != nil {
		return ErrInvalidGenesis.Wrapf("%v", err)
	}
	for i, m := range g.Mandates {
		if err := validateGrant(m.Mandate, m.UntilUnix, m.LegalBasis, m.Scope, m.Ceiling); err != nil {
			return ErrInvalidGenesis.Wrapf("mandate %d: %v", i, err)
		}
		if _, err := k.Agency.Agency(kv, m.AgencyId); err != nil {
			return ErrInvalidGenesis.Wrapf("mandate %d: %v", i, err)
		}
		if kv.Has(api.GovMandateKey(m.AgencyId, int32(m.Mandate))) {
			return ErrInvalidGenesis.Wrapf("mandate %d: agency %q is granted %s twice", i, m.AgencyId, MandateName(m.Mandate))
		}
		// Genesis grants are numbered like voted ones, in genesis order;
		// their use starts at 0 and they belong to no proposal.
		rec := proto.Clone(m).(*govv1.MandateGrant)
		rec.Used, rec.WithdrawnHeight, rec.ProposalId = 0, 0, 0
		if err := k.grant(kv, rec, 0); err != nil {
			return err
		}
	}
	return nil
}

// StatePrefix starts every key the governance module keeps: its section of an
// export (ExportGenesis) holds exactly the keys under it.
var StatePrefix = api.GovStatePrefix()

// ExportGenesis returns the module's whole state (params, proposals and
// votes, mandates and their grants, the validator set with its operators,
// misbehaviour records, upgrades) as a genesis section of records;
// InitGenesis writes them back unchanged.
func (k Keeper) ExportGenesis(kv store.KV) *govv1.Genesis {
	return &govv1.Genesis{Records: module.ExportRecords(kv, StatePrefix)}
}

// importGenesis writes an exported section back, and checks that the
// validators CometBFT's genesis starts with are the exported set: the app
// and consensus must agree on who validates from the first block.
func (k Keeper) importGenesis(kv store.KV, g *govv1.Genesis, validators []ValidatorUpdate) error {
	if g.Params != nil || len(g.Operators)+len(g.Mandates) > 0 {
		return ErrInvalidGenesis.Wrapf("app_state.gov has both records (an export) and params, operators or mandates; an export is restored as written")
	}
	if err := module.ImportRecords(kv, "gov", StatePrefix, g.Records, ErrInvalidGenesis); err != nil {
		return err
	}
	set, err := k.Validators(kv)
	if err != nil {
		return err
	}
	want := map[string]int64{}
	for _, v := range set {
		if v.Power > 0 {
			want[string(v.PubKey)] = v.Power
		}
	}
	for _, v := range validators {
		if p, ok := want[string(v.PubKey)]; !ok || p != v.Power {
			return ErrInvalidGenesis.Wrapf("genesis validator %X with power %d is not in the exported validator set with that power; use the validators tallyd export wrote", v.PubKey, v.Power)
		}
		delete(want, string(v.PubKey))
	}
	if len(want) > 0 {
		return ErrInvalidGenesis.Wrapf("%d validators of the exported set are missing from the genesis validators; use the validators tallyd export wrote", len(want))
	}
	return nil
}

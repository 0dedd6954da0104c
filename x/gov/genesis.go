package gov

import (
	"bytes"

	"google.golang.org/protobuf/proto"

	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	"github.com/tallyledger/tally/store"
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
	p := g.Params
	if p == nil {
		p = DefaultParams()
	}
	if err := ValidateParams(p); err != nil {
		return ErrInvalidGenesis.Wrapf("params: %v", err)
	}
	if err := store.SetProto(kv, keyParams, p); err != nil {
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
		if err := store.SetProto(kv, ValidatorKey(v.PubKey), rec); err != nil {
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
		if kv.Has(MandateKey(m.AgencyId, int32(m.Mandate))) {
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

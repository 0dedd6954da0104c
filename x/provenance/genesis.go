package provenance

import (
	"slices"

	"github.com/tallyledger/tally/api"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	provenancev1 "github.com/tallyledger/tally/proto/tally/provenance/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/module"
)

// InitGenesis writes the module's parameters and the accreditations in
// force from the first block. A missing provenance section takes the
// defaults. Each accreditation must name an active inspector and an active
// regulator of the same agency, so genesis obeys the rules messages do.
func (k Keeper) InitGenesis(kv store.KV, g *provenancev1.Genesis) error {
	if len(g.GetRecords()) > 0 {
		if g.Params != nil || len(g.Accreditations) > 0 {
			return ErrInvalidGenesis.Wrapf("app_state.provenance has both records (an export) and params or accreditations; an export is restored as written")
		}
		return module.ImportRecords(kv, "provenance", StatePrefix, g.Records, ErrInvalidGenesis)
	}
	p := DefaultParams()
	if g != nil && g.Params != nil {
		p = g.Params
	}
	if err := ValidateParams(p); err != nil {
		return err
	}
	if err := store.SetProto(kv, api.ProvenanceParamsKey(), p); err != nil {
		return err
	}
	if g == nil {
		return nil
	}
	for i, a := range g.Accreditations {
		if err := validateAddress("inspector", a.GetInspector()); err != nil {
			return ErrInvalidGenesis.Wrapf("accreditation %d: %v", i, err)
		}
		insp, err := k.accounts.Account(kv, a.Inspector)
		if err != nil || !slices.Contains(insp.Roles, agencyv1.Role_ROLE_INSPECTOR) {
			return ErrInvalidGenesis.Wrapf("accreditation %d: %x is not an account holding the inspector role", i, a.Inspector)
		}
		reg, err := k.accounts.Account(kv, a.AccreditedBy)
		if err != nil || !slices.Contains(reg.Roles, agencyv1.Role_ROLE_REGULATOR) || reg.AgencyId != insp.AgencyId {
			return ErrInvalidGenesis.Wrapf("accreditation %d: accredited_by must be a regulator of agency %q", i, insp.AgencyId)
		}
		if kv.Has(api.ProvenanceAccreditationKey(a.Inspector)) {
			return ErrInvalidGenesis.Wrapf("accreditation %d: inspector %x appears twice", i, a.Inspector)
		}
		rec := &provenancev1.Accreditation{
			Inspector: slices.Clone(a.Inspector), AgencyId: insp.AgencyId, AccreditedBy: slices.Clone(a.AccreditedBy),
			Active: true, Serial: 1,
		}
		if err := store.SetProto(kv, api.ProvenanceAccreditationKey(a.Inspector), rec); err != nil {
			return err
		}
	}
	return nil
}

// StatePrefix starts every key the provenance module keeps: its section of an
// export (ExportGenesis) holds exactly the keys under it.
var StatePrefix = api.ProvenanceStatePrefix()

// ExportGenesis returns the module's whole state (items, custody, offers,
// attestations, accreditations, recalls and their queue, params) as a
// genesis section of records; InitGenesis writes them back unchanged.
func (k Keeper) ExportGenesis(kv store.KV) *provenancev1.Genesis {
	return &provenancev1.Genesis{Records: module.ExportRecords(kv, StatePrefix)}
}

package provenance

import (
	"github.com/tallyledger/tally/api"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	provenancev1 "github.com/tallyledger/tally/proto/tally/provenance/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/module"
)

// EventLocationNamed is emitted when a location code gets or changes its name.
const EventLocationNamed = "provenance.location_named"

// Location is the registered name of a location code (found is false when
// nobody has named it).
func (Keeper) Location(kv store.KV, code string) (*provenancev1.Location, bool, error) {
	l := &provenancev1.Location{}
	found, err := store.GetProto(kv, api.ProvenanceLocationKey(code), l)
	return l, found, err
}

// ValidateLocationQuery checks a location code asked for by a query.
func ValidateLocationQuery(code string) error { return validateLocation(code) }

// validateNameLocation checks a MsgNameLocation without state.
func validateNameLocation(m *provenancev1.MsgNameLocation) error {
	if err := validateLocation(m.Location); err != nil {
		return err
	}
	return module.ValidDisplayName("name", m.Name, ErrInvalidLocationName)
}

// NameLocation registers or changes the name a location code is shown by.
// The first agency to name a code holds it, so that another agency cannot
// relabel a farm it does not run; renaming is for that agency's admins.
func (k Keeper) NameLocation(ctx module.Context, signer *agencyv1.Account, m *provenancev1.MsgNameLocation) error {
	l, found, err := k.Location(ctx.Store, m.Location)
	if err != nil {
		return err
	}
	if found && l.AgencyId != signer.AgencyId {
		return ErrLocationHeld.Wrapf("location %s was named %q by agency %q; only its admins may rename it", m.Location, l.Name, l.AgencyId)
	}
	if found && l.Name == m.Name {
		return ErrLocationHeld.Wrapf("location %s is already named %q", m.Location, m.Name)
	}
	l = &provenancev1.Location{Code: m.Location, Name: m.Name, AgencyId: signer.AgencyId, UpdatedHeight: ctx.Height}
	if err := store.SetProto(ctx.Store, api.ProvenanceLocationKey(m.Location), l); err != nil {
		return err
	}
	ctx.Emit(EventLocationNamed, module.Indexed("location", m.Location), module.Attr("name", m.Name), module.Indexed("agency", signer.AgencyId))
	return nil
}

package tax

import (
	"fmt"

	"github.com/tallyledger/tally/api"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/module"
)

// InitGenesis writes the genesis tax-type registry and authorisations. It
// runs after the agency module's genesis, whose agencies and accounts it
// checks against. Collector counts are recomputed, not trusted. A nil
// genesis is an empty registry.
func (k Keeper) InitGenesis(kv store.KV, g *taxv1.Genesis) error {
	if g == nil {
		return nil
	}
	if len(g.Records) > 0 {
		if len(g.TaxTypes)+len(g.Authorisations) > 0 {
			return ErrInvalidGenesis.Wrapf("app_state.tax has both records (an export) and tax_types or authorisations; an export is restored as written")
		}
		return module.ImportRecords(kv, "tax", StatePrefix, g.Records, ErrInvalidGenesis)
	}
	for _, t := range g.TaxTypes {
		if err := ValidateTaxTypeCode(t.Code); err != nil {
			return err
		}
		if t.Name == "" || len(t.Name) > maxNameBytes {
			return ErrInvalidGenesis.Wrapf("tax type %s: name must be 1 to %d bytes", t.Code, maxNameBytes)
		}
		if KindName(t.PeriodKind) == "unspecified" {
			return ErrInvalidGenesis.Wrapf("tax type %s: period_kind must be year, quarter or month", t.Code)
		}
		auth, err := k.agency.Agency(kv, t.Authority)
		if err != nil {
			return fmt.Errorf("tax type %s: %w", t.Code, err)
		}
		if auth.Kind != agencyv1.Kind_KIND_TAX_AUTHORITY {
			return ErrInvalidGenesis.Wrapf("tax type %s: authority %q is a %s, not a tax_authority", t.Code, t.Authority, agency.KindName(auth.Kind))
		}
		if _, err := k.agency.Agency(kv, t.RevenueAgency); err != nil {
			return ErrInvalidGenesis.Wrapf("tax type %s: no revenue agency %q", t.Code, t.RevenueAgency)
		}
		if kv.Has(api.TaxTypeKey(t.Code)) {
			return ErrInvalidGenesis.Wrapf("tax type %s appears twice", t.Code)
		}
		rec := &taxv1.TaxType{Code: t.Code, Name: t.Name, Authority: t.Authority, RevenueAgency: t.RevenueAgency, PeriodKind: t.PeriodKind, CreatedHeight: t.CreatedHeight}
		if err := store.SetProto(kv, api.TaxTypeKey(t.Code), rec); err != nil {
			return err
		}
	}
	for i, a := range g.Authorisations {
		if err := validateCollector(a.Collector); err != nil {
			return fmt.Errorf("authorisation %d: %w", i, err)
		}
		tt, err := k.TaxType(kv, a.TaxType)
		if err != nil {
			return fmt.Errorf("authorisation %d: %w", i, err)
		}
		acc, err := k.agency.Account(kv, a.Collector)
		if err != nil {
			return fmt.Errorf("authorisation %d: %w", i, err)
		}
		if !agency.HasRole(acc, agencyv1.Role_ROLE_TAX_COLLECTOR) {
			return ErrInvalidGenesis.Wrapf("authorisation %d: account %x does not hold tax_collector", i, a.Collector)
		}
		if kv.Has(api.TaxAuthorisationKey(a.Collector, a.TaxType)) {
			return ErrInvalidGenesis.Wrapf("authorisation of %x for %s appears twice", a.Collector, a.TaxType)
		}
		rec := &taxv1.Authorisation{Collector: acc.Address, CollectorAgency: acc.AgencyId, TaxType: tt.Code, Authority: tt.Authority,
			Active: a.Active, GrantedHeight: a.GrantedHeight, WithdrawnHeight: a.WithdrawnHeight}
		if err := store.SetProto(kv, api.TaxAuthorisationKey(a.Collector, a.TaxType), rec); err != nil {
			return err
		}
		if rec.Active {
			if err := k.addActive(kv, rec.Collector, 1); err != nil {
				return err
			}
		}
	}
	return nil
}

// StatePrefix starts every key the tax module keeps: its section of an
// export (ExportGenesis) holds exactly the keys under it.
var StatePrefix = api.TaxStatePrefix()

// ExportGenesis returns the module's whole state (tax types,
// authorisations, receipts and their sequences, amendments, confirmations,
// totals) as a genesis section of records; InitGenesis writes them back
// unchanged.
func (k Keeper) ExportGenesis(kv store.KV) *taxv1.Genesis {
	return &taxv1.Genesis{Records: module.ExportRecords(kv, StatePrefix)}
}

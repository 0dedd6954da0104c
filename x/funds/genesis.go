package funds

import (
	"github.com/tallyledger/tally/api"
	fundsv1 "github.com/tallyledger/tally/proto/tally/funds/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/module"
)

// ValidateParams checks params for values that would break the ledger.
func ValidateParams(p *fundsv1.Params) error {
	switch {
	case p == nil:
		return ErrInvalidGenesis.Wrapf("funds params are missing")
	case len(p.Currency) != 3 || p.Currency[0] < 'A' || p.Currency[0] > 'Z' || p.Currency[1] < 'A' || p.Currency[1] > 'Z' || p.Currency[2] < 'A' || p.Currency[2] > 'Z':
		return ErrInvalidGenesis.Wrapf("currency %s is not an ISO 4217 code (three capital letters, e.g. GBP)", api.Quote(p.Currency))
	case p.MaxTranchesPerMovement == 0:
		return ErrInvalidGenesis.Wrapf("max_tranches_per_movement must be at least 1")
	}
	return nil
}

// InitGenesis writes the funds params. The ledger starts empty: money
// enters only by appropriation or revenue.
func (k Keeper) InitGenesis(kv store.KV, g *fundsv1.Genesis) error {
	if len(g.GetRecords()) > 0 {
		if g.Params != nil {
			return ErrInvalidGenesis.Wrapf("app_state.funds has both records (an export) and params; an export keeps its params among its records")
		}
		return module.ImportRecords(kv, "funds", StatePrefix, g.Records, ErrInvalidGenesis)
	}
	p := DefaultParams()
	if g != nil && g.Params != nil {
		p = g.Params
	}
	if err := ValidateParams(p); err != nil {
		return err
	}
	if err := store.SetProto(kv, api.FundsParamsKey(), p); err != nil {
		return err
	}
	return store.SetProto(kv, api.FundsTotalsKey(), &fundsv1.Totals{})
}

// StatePrefix starts every key the funds module keeps: its section of an
// export (ExportGenesis) holds exactly the keys under it.
var StatePrefix = api.FundsStatePrefix()

// ExportGenesis returns the module's whole state (the ledger, its
// sequences and params) as a genesis section of records; InitGenesis
// writes them back unchanged.
func (k Keeper) ExportGenesis(kv store.KV) *fundsv1.Genesis {
	return &fundsv1.Genesis{Records: module.ExportRecords(kv, StatePrefix)}
}

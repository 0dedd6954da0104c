package benefits

import (
	"github.com/tallyledger/tally/api"
	benefitsv1 "github.com/tallyledger/tally/proto/tally/benefits/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/module"
)

// DefaultParams are the benefits rules of a new chain.
func DefaultParams() *benefitsv1.Params {
	// 500 scheduled payments cost about a third of a second of block time on
	// our 2-core machines (BenchmarkScheduledRun); a million recipients are
	// then paid over about 2,000 blocks without stalling any of them.
	return &benefitsv1.Params{PaymentsPerBlock: 500, MaxDeductionPercent: 25}
}

// ValidateParams checks params for values that would stop payments.
func ValidateParams(p *benefitsv1.Params) error {
	switch {
	case p == nil:
		return ErrInvalidGenesis.Wrapf("benefits params are missing")
	case p.PaymentsPerBlock == 0:
		return ErrInvalidGenesis.Wrapf("payments_per_block must be at least 1, or no scheduled payment would ever run")
	case p.MaxDeductionPercent > 100:
		return ErrInvalidGenesis.Wrapf("max_deduction_percent %d is over 100", p.MaxDeductionPercent)
	}
	return nil
}

// InitGenesis writes the benefits params. Programmes are created by message.
func (k Keeper) InitGenesis(kv store.KV, g *benefitsv1.Genesis) error {
	if len(g.GetRecords()) > 0 {
		if g.Params != nil {
			return ErrInvalidGenesis.Wrapf("app_state.benefits has both records (an export) and params; an export keeps its params among its records")
		}
		return module.ImportRecords(kv, "benefits", StatePrefix, g.Records, ErrInvalidGenesis)
	}
	p := DefaultParams()
	if g != nil && g.Params != nil {
		p = g.Params
	}
	if err := ValidateParams(p); err != nil {
		return err
	}
	return store.SetProto(kv, api.BenefitsParamsKey(), p)
}

// StatePrefix starts every key the benefits module keeps: its section of an
// export (ExportGenesis) holds exactly the keys under it.
var StatePrefix = api.BenefitsStatePrefix()

// ExportGenesis returns the module's whole state (programmes, enrolments,
// the payment schedule, payments, recoveries, sequences, params) as a
// genesis section of records; InitGenesis writes them back unchanged.
func (k Keeper) ExportGenesis(kv store.KV) *benefitsv1.Genesis {
	return &benefitsv1.Genesis{Records: module.ExportRecords(kv, StatePrefix)}
}

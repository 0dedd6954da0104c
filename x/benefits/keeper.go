// Package benefits runs benefit programmes: a programme's fund, the
// recipients enrolled on it, the payments made to them — scheduled ones at
// the end of the block they fall due in, and one-off ones — and the
// recovery of overpayments. Money moves through the funds module, so every
// payment traces back to an appropriation and forward to its settlement.
package benefits

import (
	"github.com/tallyledger/tally/api"
	benefitsv1 "github.com/tallyledger/tally/proto/tally/benefits/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/funds"
	"github.com/tallyledger/tally/x/module"
)

// Keeper is the benefits module's access to state. It holds no state of
// its own; it calls the agency and funds keepers, and asks governance
// (Mandates) whether a programme's agency may run it.
type Keeper struct {
	Agency   agency.Keeper
	Funds    funds.Keeper
	Mandates Mandates
}

// Mandates is what benefits needs from governance: that an agency holds a
// mandate in force, within its ceiling (x/gov's Keeper). Running a
// programme — creating it, and every payment from it — needs its agency's
// benefits-payer mandate; the grant's id is recorded with the act.
type Mandates interface {
	Require(ctx module.Context, agencyID string, kind govv1.Mandate, amount uint64) (uint64, error)
}

// requirePayer asks for agencyID's benefits-payer mandate, counting amount
// against its ceiling; benefits wired without governance refuses.
func (k Keeper) requirePayer(ctx module.Context, agencyID string, amount uint64) (uint64, error) {
	if k.Mandates == nil {
		return 0, module.ErrInternal.Wrapf("the benefits module has no mandate registry wired; programmes cannot run")
	}
	return k.Mandates.Require(ctx, agencyID, govv1.Mandate_MANDATE_BENEFITS_PAYER, amount)
}

// Params reads the benefits params (defaults before genesis wrote them).
func (Keeper) Params(kv store.KV) (*benefitsv1.Params, error) {
	return module.Params(kv, api.BenefitsParamsKey(), DefaultParams)
}

// Programme loads a programme, or returns ErrUnknownProgramme.
func (Keeper) Programme(kv store.KV, id string) (*benefitsv1.Programme, error) {
	p := &benefitsv1.Programme{}
	found, err := store.GetProto(kv, api.BenefitsProgrammeKey(id), p)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, ErrUnknownProgramme.Wrapf("no programme %s", api.Quote(id))
	}
	return p, nil
}

// Enrolment loads an enrolment, or returns ErrUnknownEnrolment.
func (Keeper) Enrolment(kv store.KV, programme, recipient string) (*benefitsv1.Enrolment, error) {
	e := &benefitsv1.Enrolment{}
	found, err := store.GetProto(kv, api.BenefitsEnrolmentKey(programme, recipient), e)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, ErrUnknownEnrolment.Wrapf("recipient %s is not enrolled on programme %s", api.Quote(recipient), api.Quote(programme))
	}
	return e, nil
}

// Payment loads a payment, or returns ErrUnknownPayment.
func (Keeper) Payment(kv store.KV, id uint64) (*benefitsv1.Payment, error) {
	p := &benefitsv1.Payment{}
	found, err := store.GetProto(kv, api.BenefitsPaymentKey(id), p)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, ErrUnknownPayment.Wrapf("no payment %d", id)
	}
	return p, nil
}

// Recovery loads a recovery, or returns ErrUnknownRecovery.
func (Keeper) Recovery(kv store.KV, id uint64) (*benefitsv1.Recovery, error) {
	r := &benefitsv1.Recovery{}
	found, err := store.GetProto(kv, api.BenefitsRecoveryKey(id), r)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, ErrUnknownRecovery.Wrapf("no recovery %d", id)
	}
	return r, nil
}

// PeriodStart is when period k of a programme starts and falls due.
func PeriodStart(p *benefitsv1.Programme, k uint64) int64 { return api.BenefitsPeriodStart(p, k) }

// firstPeriodFrom is the first period of p starting at or after t.
func firstPeriodFrom(p *benefitsv1.Programme, t int64) uint64 {
	if t <= p.StartUnix {
		return 0
	}
	return uint64((t - p.StartUnix + p.PeriodSeconds - 1) / p.PeriodSeconds)
}

// NextRun is when the programme's next scheduled run falls due, or 0 once
// every period has been run.
func NextRun(p *benefitsv1.Programme) int64 { return api.BenefitsNextRun(p) }

func (Keeper) saveProgramme(kv store.KV, p *benefitsv1.Programme) error {
	return store.SetProto(kv, api.BenefitsProgrammeKey(p.Id), p)
}

func (Keeper) saveEnrolment(kv store.KV, e *benefitsv1.Enrolment) error {
	return store.SetProto(kv, api.BenefitsEnrolmentKey(e.Programme, e.Recipient), e)
}

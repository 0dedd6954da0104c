package benefits

import (
	"encoding/binary"
	"strconv"

	"github.com/tallyledger/tally/api"
	benefitsv1 "github.com/tallyledger/tally/proto/tally/benefits/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/module"
)

// EndBlock runs the scheduled payments that have fallen due by the block's
// time, doing at most payments_per_block units of work (a period run, an
// enrolment visited or a payment attempted) and stopping when the block's
// end-of-block budget is spent (ctx.Exhausted: each period run is charged
// a store.PeriodRun and each payment a store.Payment, on top of the state
// they touch). Where it stops, the programme's cursor says where to go on,
// and both live in state with the block: a restart resumes exactly there,
// so no period is paid twice or skipped, and a backlog of many periods (a
// chain halted for a day under a one-minute programme) is worked off over
// the next blocks instead of in one.
//
// The schedule is a queue of programmes ordered by when their next period
// falls due. A run of period k visits every enrolment in key order; an
// enrolment is paid every period from its own next_period up to k, so a
// recipient enrolled behind the cursor, or whose payment failed for want
// of funds, is paid at the next run. A failed payment is recorded with its
// reason and the run moves on.
func (k Keeper) EndBlock(ctx module.Context) error {
	params, err := k.Params(ctx.Store)
	if err != nil {
		return err
	}
	budget := int(params.PaymentsPerBlock)
	now := ctx.Time.Unix()
	for budget > 0 && !ctx.Exhausted() {
		var key []byte
		store.IteratePrefix(ctx.Store, api.BenefitsDuePrefix(), func(k, _ []byte) bool {
			key = append([]byte(nil), k...)
			return true
		})
		if key == nil || int64(binary.BigEndian.Uint64(key[len(api.BenefitsDuePrefix()):])) > now {
			return nil
		}
		p, err := k.Programme(ctx.Store, string(key[len(api.BenefitsDuePrefix())+8:]))
		if err != nil {
			return err
		}
		if p.Cursor == nil {
			ctx.Charge(store.PeriodRun, 1) // charged once per period, when its run starts
		}
		done, used, err := k.runPeriod(ctx, p, budget)
		if err != nil {
			return err
		}
		budget -= max(used, 1) // a period with no enrolments is still work
		if done {
			ctx.Store.Delete(key)
			ctx.Emit(EventPeriodCompleted, module.Indexed("programme", p.Id), module.Attr("period", strconv.FormatUint(p.NextPeriod, 10)))
			p.NextPeriod++
			p.Cursor = nil
			if next := PeriodStart(p, p.NextPeriod); next < p.EndUnix {
				ctx.Store.Set(api.BenefitsDueKey(next, p.Id), []byte{})
			} else {
				p.Finished = true
			}
		}
		if err := k.saveProgramme(ctx.Store, p); err != nil {
			return err
		}
	}
	return nil
}

// runPeriod goes on with programme p's run of period p.NextPeriod from its
// cursor, within budget. It reports whether the run is complete and how
// much of the budget it used.
func (k Keeper) runPeriod(ctx module.Context, p *benefitsv1.Programme, budget int) (done bool, used int, err error) {
	prefix := api.BenefitsEnrolmentsPrefix(p.Id)
	start := prefix
	if len(p.Cursor) > 0 {
		start = append(append([]byte(nil), p.Cursor...), 0)
	}
	// Read the batch first: state must not change under an iterator.
	var batch [][]byte
	ctx.Store.Iterate(start, store.PrefixEnd(prefix), true, func(key, _ []byte) bool {
		batch = append(batch, append([]byte(nil), key...))
		return len(batch) == budget
	})
	period := p.NextPeriod
	for _, key := range batch {
		if used >= budget || (used > 0 && ctx.Exhausted()) {
			return false, used, nil
		}
		e := &benefitsv1.Enrolment{}
		if _, err := store.GetProto(ctx.Store, key, e); err != nil {
			return false, used, err
		}
		cost, finished, err := k.payEnrolment(ctx, p, e, period, budget-used)
		if err != nil {
			return false, used, err
		}
		used += cost
		if !finished {
			return false, used, nil // budget spent inside this enrolment's catch-up
		}
		p.Cursor = key
	}
	// Every enrolment of the batch is done; the run is complete if the
	// batch reached the last enrolment.
	return len(batch) < budget, used, nil
}

// payEnrolment pays e every period from its next_period up to period, each
// attempt costing one unit of budget (a visit that pays nothing costs one
// too). finished is false when the budget ran out before e was up to date.
func (k Keeper) payEnrolment(ctx module.Context, p *benefitsv1.Programme, e *benefitsv1.Enrolment, period uint64, budget int) (cost int, finished bool, err error) {
	cost = 1
	if e.Status != benefitsv1.EnrolmentStatus_ENROLMENT_STATUS_ACTIVE {
		return cost, true, nil
	}
	attempts := 0
	for e.NextPeriod <= period {
		if attempts > 0 && (attempts >= budget || ctx.Exhausted()) {
			return attempts, false, nil
		}
		attempts++
		ctx.Charge(store.Payment, 1)
		gross := p.Amount
		if p.RecipientCap != 0 {
			gross = min(gross, p.RecipientCap-min(e.PaidTotal, p.RecipientCap))
		}
		if gross == 0 {
			break // the cap is reached: nothing more is due
		}
		cache := store.NewCache(ctx.Store)
		pctx := ctx
		pctx.Store = cache
		if _, err := k.pay(pctx, p, e, payRequest{kind: benefitsv1.PaymentKind_PAYMENT_KIND_SCHEDULED, period: e.NextPeriod, gross: gross}); err != nil {
			cache.Discard()
			if err := k.recordFailure(ctx, p, e, e.NextPeriod, gross, err); err != nil {
				return attempts, false, err
			}
			if err := k.saveProgramme(ctx.Store, p); err != nil {
				return attempts, false, err
			}
			break // retried at the next run
		}
		cache.Write()
	}
	return max(cost, attempts), true, nil
}

// DuePeriods counts programme periods whose payment run is due at or
// before now and not finished, stopping at limit (capped is then true).
// For operators' metrics.
func DuePeriods(kv store.KV, now int64, limit int) (n int, capped bool) {
	store.IteratePrefix(kv, api.BenefitsDuePrefix(), func(k, _ []byte) bool {
		if len(k) < len(api.BenefitsDuePrefix())+8 || int64(binary.BigEndian.Uint64(k[len(api.BenefitsDuePrefix()):])) > now {
			return true // keys sort by due time: the rest are later
		}
		n++
		capped = n >= limit
		return capped
	})
	return n, capped
}

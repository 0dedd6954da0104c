package benefits

import (
	"fmt"
	"math/bits"
	"strconv"

	"github.com/tallyledger/tally/api"
	benefitsv1 "github.com/tallyledger/tally/proto/tally/benefits/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/module"
)

// payRequest is one payment to make to an enrolment.
type payRequest struct {
	kind      benefitsv1.PaymentKind
	period    uint64
	gross     uint64
	reference string
	payer     []byte
}

// pay withholds what is owed on open recoveries (at most
// max_deduction_percent of gross), moves the rest from the programme's
// fund to the recipient's bank account, and records the payment. It
// updates p and e in memory and saves them. A funds error (not enough
// money in the fund) is returned with nothing written.
func (k Keeper) pay(ctx module.Context, p *benefitsv1.Programme, e *benefitsv1.Enrolment, r payRequest) (*benefitsv1.Payment, error) {
	kv := ctx.Store
	params, err := k.Params(kv)
	if err != nil {
		return nil, err
	}
	id, err := module.NextSeq(kv, api.BenefitsPaymentSeqKey(), "payment")
	if err != nil {
		return nil, err
	}
	pay := &benefitsv1.Payment{
		Id: id, Programme: p.Id, Recipient: e.Recipient, Kind: r.kind, Period: r.period,
		Gross: r.gross, Status: benefitsv1.PaymentStatus_PAYMENT_STATUS_PAID,
		Height: ctx.Height, TimeUnix: ctx.Time.Unix(), Reference: r.reference, Payer: r.payer,
	}
	deducted, err := k.deduct(kv, e, pay, params.MaxDeductionPercent, ctx.Height)
	if err != nil {
		return nil, err
	}
	pay.Net = r.gross - deducted
	// Every payment is made under the programme agency's benefits-payer
	// mandate in force now: withdrawn or lapsed, payments stop.
	if pay.Mandate, err = k.requirePayer(ctx, p.Agency, pay.Net); err != nil {
		return nil, err
	}
	if pay.Net > 0 {
		ref := fmt.Sprintf("benefits/%s/payment/%d", p.Id, id)
		if pay.Movement, err = k.Funds.Pay(ctx, p.FundingHolder, api.PayeeHolder(e.ReceivingAccount), pay.Net, ref, r.payer, pay.Mandate); err != nil {
			return nil, err
		}
	}
	if err := store.SetProto(kv, api.BenefitsPaymentKey(id), pay); err != nil {
		return nil, err
	}
	kv.Set(api.BenefitsHistoryKey(p.Id, e.Recipient, id), []byte{})
	e.PaidTotal += r.gross
	e.Payments++
	e.OutstandingRecovery -= deducted
	if r.kind == benefitsv1.PaymentKind_PAYMENT_KIND_SCHEDULED {
		e.NextPeriod = r.period + 1
	}
	p.PaidTotal += pay.Net
	p.RecoveredTotal += deducted
	p.Payments++
	if err := k.saveEnrolment(kv, e); err != nil {
		return nil, err
	}
	if err := k.saveProgramme(kv, p); err != nil {
		return nil, err
	}
	ctx.Emit(EventPaid, module.Indexed("payment", strconv.FormatUint(id, 10)), module.Indexed("programme", p.Id),
		module.Indexed("recipient", e.Recipient), module.Attr("period", strconv.FormatUint(r.period, 10)),
		module.Attr("gross", strconv.FormatUint(pay.Gross, 10)), module.Attr("net", strconv.FormatUint(pay.Net, 10)),
		module.Indexed("movement", strconv.FormatUint(pay.Movement, 10)))
	return pay, nil
}

// deduct withholds from pay towards the enrolment's open recoveries,
// oldest first, and records each as a recovery step.
func (k Keeper) deduct(kv store.KV, e *benefitsv1.Enrolment, pay *benefitsv1.Payment, maxPercent uint32, height int64) (uint64, error) {
	if e.OutstandingRecovery == 0 || maxPercent == 0 {
		return 0, nil
	}
	hi, lo := bits.Mul64(pay.Gross, uint64(maxPercent))
	limit, _ := bits.Div64(hi, lo, 100) // hi < 100 because maxPercent ≤ 100
	left := min(limit, e.OutstandingRecovery)
	if left == 0 {
		return 0, nil
	}
	var open []uint64
	store.IteratePrefix(kv, api.BenefitsOpenRecoveriesPrefix(e.Programme, e.Recipient), func(key, _ []byte) bool {
		open = append(open, api.IDOfKey(key))
		return false
	})
	var total uint64
	for _, rid := range open {
		if left == 0 {
			break
		}
		r, err := k.Recovery(kv, rid)
		if err != nil {
			return 0, err
		}
		x := min(left, r.Amount-r.Recovered)
		if err := recoverStep(kv, r, x, &benefitsv1.RecoveryStep{Payment: pay.Id, Height: height}); err != nil {
			return 0, err
		}
		pay.Deductions = append(pay.Deductions, &benefitsv1.Deduction{Recovery: rid, Amount: x})
		left -= x
		total += x
	}
	return total, nil
}

// recordFailure records a scheduled payment that could not be made, so the
// history shows it; the period stays unpaid and is retried at the next run.
func (k Keeper) recordFailure(ctx module.Context, p *benefitsv1.Programme, e *benefitsv1.Enrolment, period uint64, gross uint64, reason error) error {
	space, code, log := module.CodeOf(reason) // state keeps the code; the event carries the text
	kv := ctx.Store
	id, err := module.NextSeq(kv, api.BenefitsPaymentSeqKey(), "payment")
	if err != nil {
		return err
	}
	pay := &benefitsv1.Payment{
		Id: id, Programme: p.Id, Recipient: e.Recipient, Kind: benefitsv1.PaymentKind_PAYMENT_KIND_SCHEDULED, Period: period,
		Gross: gross, Status: benefitsv1.PaymentStatus_PAYMENT_STATUS_FAILED, ReasonCodespace: space, ReasonCode: code,
		Height: ctx.Height, TimeUnix: ctx.Time.Unix(),
	}
	if err := store.SetProto(kv, api.BenefitsPaymentKey(id), pay); err != nil {
		return err
	}
	kv.Set(api.BenefitsHistoryKey(p.Id, e.Recipient, id), []byte{})
	p.FailedPayments++
	ctx.Emit(EventPaymentFailed, module.Indexed("payment", strconv.FormatUint(id, 10)), module.Indexed("programme", p.Id),
		module.Indexed("recipient", e.Recipient), module.Attr("period", strconv.FormatUint(period, 10)), module.Attr("reason", log))
	return nil
}

package benefits

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	benefitsv1 "github.com/tallyledger/tally/proto/tally/benefits/v1"
	fundsv1 "github.com/tallyledger/tally/proto/tally/funds/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/funds"
	"github.com/tallyledger/tally/x/module"
)

// Names of the benefits module's invariant checks.
const (
	CheckPaymentsFunded   = "payments-funded"
	CheckProgrammeTotals  = "programme-totals"
	CheckEnrolmentTotals  = "enrolment-totals"
	CheckSchedule         = "schedule"
	CheckRecoveries       = "recoveries"
	CheckPaymentHistories = "payment-history"
)

// repaymentSource is the funds source of a recipient's repayment.
const repaymentSource = "benefits-repayment"

// figures are the running figures of a programme or an enrolment,
// recomputed from the payment and recovery records.
type figures struct {
	paidNet, paidGross, paid, failed, recovered, outstanding, enrolments uint64
}

// benefitsAudit is one run of the benefits invariants.
type benefitsAudit struct {
	k                                                        Keeper
	kv                                                       store.KV
	funded, programmes, enrolments, schedule, recov, history *appv1.InvariantCheck

	progs     map[string]*benefitsv1.Programme
	progOrder []string
	enrols    map[string]*benefitsv1.Enrolment // by programme 0x00 recipient
	enrOrder  []string
	byProg    map[string]*figures
	byEnrol   map[string]*figures
	// drawn is what payments took from each funding tranche.
	drawn      map[uint64]uint64
	tranches   []uint64
	payments   map[uint64]*benefitsv1.Payment
	deductions map[[2]uint64]uint64 // (payment, recovery) → withheld, per the payments
	steps      map[[2]uint64]uint64 // (payment, recovery) → withheld, per the recovery steps
}

func enrolKey(programme, recipient string) string { return programme + "\x00" + recipient }

// Invariants checks what the module promises about programmes and their
// payments: every payment was paid out of its programme's own fund, never
// more than the fund's tranches had received, by a funds movement of
// exactly its net; each programme's and enrolment's running figures are
// the sums of their payment and recovery records and no recipient is paid
// beyond the programme's cap; a recipient is paid at most once a period
// and each unfinished programme is queued once, for its next period;
// recoveries never recover more than they claim or than the payment was;
// and the histories list exactly the payments. It reads every programme,
// enrolment, payment and recovery, and the funds movement and tranches of
// every payment: it is for tests, audits and the invariants query, never
// for the block's hot path.
func (k Keeper) Invariants(kv store.KV) (*appv1.ModuleInvariants, error) {
	a := &benefitsAudit{
		k: k, kv: kv,
		funded:     module.NewCheck(CheckPaymentsFunded, "every payment's net is its gross less deductions and left its programme's fund by one funds payment of exactly that net to the recipient's account, drawn from tranches the fund held, and no fund tranche gave payments more than it had received"),
		programmes: module.NewCheck(CheckProgrammeTotals, "each programme's paid_total, payments, failed_payments, recovered_total and recipients are the sums and counts of its records"),
		enrolments: module.NewCheck(CheckEnrolmentTotals, "each enrolment's paid_total, payments and outstanding_recovery are the sums of its records, and paid_total never exceeds the programme's recipient_cap"),
		schedule:   module.NewCheck(CheckSchedule, "no recipient is paid twice for one period or for a period at or after its next_period, and each unfinished programme is queued exactly once, when its next period falls due"),
		recov:      module.NewCheck(CheckRecoveries, "each recovery belongs to a paid payment, has recovered the sum of its steps and never more than its amount (recovered exactly when it is), is indexed under its payment and, while open, its enrolment, and a payment's recoveries claim no more than it paid"),
		history:    module.NewCheck(CheckPaymentHistories, "each payment is listed in its recipient's history, and every history entry is a payment of that recipient"),
		progs:      map[string]*benefitsv1.Programme{},
		enrols:     map[string]*benefitsv1.Enrolment{},
		byProg:     map[string]*figures{},
		byEnrol:    map[string]*figures{},
		drawn:      map[uint64]uint64{},
		payments:   map[uint64]*benefitsv1.Payment{},
		deductions: map[[2]uint64]uint64{},
		steps:      map[[2]uint64]uint64{},
	}
	a.loadProgrammes()
	a.loadEnrolments()
	a.checkPayments()
	a.checkTranches()
	a.checkRecoveries()
	a.checkIndexes()
	a.compareFigures()
	r := &appv1.ModuleInvariants{Module: "benefits", Checks: []*appv1.InvariantCheck{a.funded, a.programmes, a.enrolments, a.schedule, a.recov, a.history}, Ok: true}
	for _, c := range r.Checks {
		r.Ok = r.Ok && c.Ok
	}
	return r, nil
}

func (a *benefitsAudit) loadProgrammes() {
	store.IteratePrefix(a.kv, api.BenefitsProgrammesPrefix(), func(key, v []byte) bool {
		p := &benefitsv1.Programme{}
		if err := proto.Unmarshal(v, p); err != nil || p.Id != string(key[len(api.BenefitsProgrammesPrefix()):]) {
			module.Failf(a.programmes, "programme record %q does not decode as that programme (%v)", key[len(api.BenefitsProgrammesPrefix()):], err)
			return false
		}
		a.progs[p.Id] = p
		a.progOrder = append(a.progOrder, p.Id)
		a.byProg[p.Id] = &figures{}
		return false
	})
}

func (a *benefitsAudit) loadEnrolments() {
	store.IteratePrefix(a.kv, api.BenefitsAllEnrolmentsPrefix(), func(key, v []byte) bool {
		e := &benefitsv1.Enrolment{}
		if err := proto.Unmarshal(v, e); err != nil || !bytes.Equal(key, api.BenefitsEnrolmentKey(e.Programme, e.Recipient)) {
			module.Failf(a.enrolments, "enrolment record %q does not decode as that enrolment (%v)", key[len(api.BenefitsAllEnrolmentsPrefix()):], err)
			return false
		}
		p, ok := a.progs[e.Programme]
		if !ok {
			module.Failf(a.enrolments, "recipient %q is enrolled on programme %q, which does not exist", e.Recipient, e.Programme)
			return false
		}
		ek := enrolKey(e.Programme, e.Recipient)
		a.enrols[ek] = e
		a.enrOrder = append(a.enrOrder, ek)
		a.byEnrol[ek] = &figures{}
		a.byProg[p.Id].enrolments++
		return false
	})
}

// checkPayments checks each payment against its programme's fund and
// gathers the figures the running totals must equal.
func (a *benefitsAudit) checkPayments() {
	type paidPeriod struct {
		enrolment string
		period    uint64
	}
	paidFor := map[paidPeriod]uint64{} // → payment id
	store.IteratePrefix(a.kv, api.BenefitsPaymentsPrefix(), func(key, v []byte) bool {
		pay := &benefitsv1.Payment{}
		if uerr := proto.Unmarshal(v, pay); uerr != nil || len(key) != len(api.BenefitsPaymentsPrefix())+8 || pay.Id != api.IDOfKey(key) {
			module.Failf(a.funded, "payment record %x does not decode as that payment (%v)", key[len(api.BenefitsPaymentsPrefix()):], uerr)
			return false
		}
		a.payments[pay.Id] = pay
		ek := enrolKey(pay.Programme, pay.Recipient)
		p, e := a.progs[pay.Programme], a.enrols[ek]
		if p == nil || e == nil {
			module.Failf(a.funded, "payment %d is to recipient %q of programme %q, who is not enrolled there", pay.Id, pay.Recipient, pay.Programme)
			return false
		}
		pf, ef := a.byProg[p.Id], a.byEnrol[ek]
		var withheld uint64
		for _, d := range pay.Deductions {
			withheld += d.Amount
			a.deductions[[2]uint64{pay.Id, d.Recovery}] += d.Amount
		}
		switch pay.Status {
		case benefitsv1.PaymentStatus_PAYMENT_STATUS_PAID:
			pf.paid++
			ef.paid++
			pf.paidNet += pay.Net
			ef.paidGross += pay.Gross
			pf.recovered += withheld
			if withheld > pay.Gross || pay.Net != pay.Gross-withheld {
				module.Failf(a.funded, "payment %d: gross %d less deductions %d is not its net %d", pay.Id, pay.Gross, withheld, pay.Net)
			}
			if pay.Kind == benefitsv1.PaymentKind_PAYMENT_KIND_SCHEDULED {
				pp := paidPeriod{ek, pay.Period}
				if first, dup := paidFor[pp]; dup {
					module.Failf(a.schedule, "recipient %q of %q was paid for period %d twice: payments %d and %d", pay.Recipient, pay.Programme, pay.Period, first, pay.Id)
				}
				paidFor[pp] = pay.Id
				if pay.Period >= e.NextPeriod {
					module.Failf(a.schedule, "payment %d paid recipient %q of %q for period %d, but the enrolment's next period to pay is %d", pay.Id, pay.Recipient, pay.Programme, pay.Period, e.NextPeriod)
				}
			}
			if pay.Net == 0 {
				if pay.Movement != 0 {
					module.Failf(a.funded, "payment %d was withheld in full but names funds movement %d", pay.Id, pay.Movement)
				}
				break
			}
			a.paidFromFund(pay, p, e)
		case benefitsv1.PaymentStatus_PAYMENT_STATUS_FAILED:
			pf.failed++
			if pay.Movement != 0 || len(pay.Deductions) > 0 {
				module.Failf(a.funded, "payment %d failed but names funds movement %d and %d deductions", pay.Id, pay.Movement, len(pay.Deductions))
			}
		default:
			module.Failf(a.funded, "payment %d has status %d, which is not defined", pay.Id, pay.Status)
		}
		if !a.kv.Has(api.BenefitsHistoryKey(pay.Programme, pay.Recipient, pay.Id)) {
			module.Failf(a.history, "payment %d is missing from the history of recipient %q of %q", pay.Id, pay.Recipient, pay.Programme)
		}
		return false
	})
}

// paidFromFund checks the funds movement of a paid payment: one payment
// of exactly its net from the programme's fund to the recipient's account,
// each leg drawn from a tranche the fund held.
func (a *benefitsAudit) paidFromFund(pay *benefitsv1.Payment, p *benefitsv1.Programme, e *benefitsv1.Enrolment) {
	if pay.Movement == 0 {
		module.Failf(a.funded, "payment %d paid %d but names no funds movement", pay.Id, pay.Net)
		return
	}
	m, err := a.k.Funds.Movement(a.kv, pay.Movement)
	if err != nil {
		module.Failf(a.funded, "payment %d names funds movement %d: %v", pay.Id, pay.Movement, err)
		return
	}
	payee := api.PayeeHolder(e.ReceivingAccount)
	ref := fmt.Sprintf("benefits/%s/payment/%d", p.Id, pay.Id)
	if m.Kind != fundsv1.MovementKind_MOVEMENT_KIND_PAYMENT || m.From != p.FundingHolder || m.To != payee || m.Amount != pay.Net || m.Reference != ref {
		module.Failf(a.funded, "payment %d: funds movement %d is %s of %d from %q to %q (ref %q); want payment of %d from %q to %q (ref %q)",
			pay.Id, m.Id, funds.KindName(m.Kind), m.Amount, m.From, m.To, m.Reference, pay.Net, p.FundingHolder, payee, ref)
		return
	}
	var legs uint64
	for _, leg := range m.Legs {
		legs += leg.Amount
		t, err := a.k.Funds.Tranche(a.kv, leg.FromTranche)
		if err != nil {
			module.Failf(a.funded, "payment %d: funds movement %d draws on tranche %d: %v", pay.Id, m.Id, leg.FromTranche, err)
			continue
		}
		if t.Holder != p.FundingHolder {
			module.Failf(a.funded, "payment %d drew %d from tranche %d of %q, not of its programme's fund %q", pay.Id, leg.Amount, t.Id, t.Holder, p.FundingHolder)
			continue
		}
		if _, seen := a.drawn[t.Id]; !seen {
			a.tranches = append(a.tranches, t.Id)
		}
		a.drawn[t.Id] += leg.Amount
	}
	if legs != m.Amount {
		module.Failf(a.funded, "payment %d: funds movement %d moved %d but its legs draw %d", pay.Id, m.Id, m.Amount, legs)
	}
}

// checkTranches bounds what payments took from each fund tranche by what
// the tranche received and has since given out.
func (a *benefitsAudit) checkTranches() {
	for _, id := range a.tranches {
		t, err := a.k.Funds.Tranche(a.kv, id)
		if err != nil {
			continue // reported with the payment
		}
		if t.Remaining > t.Amount || a.drawn[id] > t.Amount-t.Remaining {
			module.Failf(a.funded, "tranche %d of %q received %d and holds %d, but payments drew %d from it", id, t.Holder, t.Amount, t.Remaining, a.drawn[id])
		}
	}
}

func (a *benefitsAudit) checkRecoveries() {
	claimed := map[uint64]uint64{} // payment → sum of its recoveries' amounts
	var payOrder []uint64
	store.IteratePrefix(a.kv, api.BenefitsRecoveriesPrefix(), func(key, v []byte) bool {
		r := &benefitsv1.Recovery{}
		if err := proto.Unmarshal(v, r); err != nil || len(key) != len(api.BenefitsRecoveriesPrefix())+8 || r.Id != api.IDOfKey(key) {
			module.Failf(a.recov, "recovery record %x does not decode as that recovery (%v)", key[len(api.BenefitsRecoveriesPrefix()):], err)
			return false
		}
		pay := a.payments[r.Payment]
		switch {
		case pay == nil:
			module.Failf(a.recov, "recovery %d is of payment %d, which does not exist", r.Id, r.Payment)
		case pay.Status != benefitsv1.PaymentStatus_PAYMENT_STATUS_PAID || pay.Programme != r.Programme || pay.Recipient != r.Recipient:
			module.Failf(a.recov, "recovery %d (recipient %q of %q) is of payment %d, which did not pay that recipient", r.Id, r.Recipient, r.Programme, r.Payment)
		}
		if _, seen := claimed[r.Payment]; !seen {
			payOrder = append(payOrder, r.Payment)
		}
		claimed[r.Payment] += r.Amount
		if !a.kv.Has(api.BenefitsPaymentRecoveryKey(r.Payment, r.Id)) {
			module.Failf(a.recov, "recovery %d is missing from the index of payment %d's recoveries", r.Id, r.Payment)
		}

		var stepped uint64
		var n uint32
		store.IteratePrefix(a.kv, api.BenefitsRecoveryStepsPrefix(r.Id), func(key, v []byte) bool {
			s := &benefitsv1.RecoveryStep{}
			if err := proto.Unmarshal(v, s); err != nil {
				module.Failf(a.recov, "recovery %d: step %x does not decode: %v", r.Id, key, err)
				return false
			}
			if got := binary.BigEndian.Uint32(key[len(key)-4:]); got != n {
				module.Failf(a.recov, "recovery %d: step %d is stored where step %d comes next", r.Id, got, n)
			}
			n++
			stepped += s.Amount
			if s.Payment != 0 {
				a.steps[[2]uint64{s.Payment, r.Id}] += s.Amount
			} else {
				a.repayment(r, s)
			}
			return false
		})
		if stepped != r.Recovered {
			module.Failf(a.recov, "recovery %d has recovered %d but its steps sum to %d", r.Id, r.Recovered, stepped)
		}
		open := r.Status == benefitsv1.RecoveryStatus_RECOVERY_STATUS_OPEN
		switch {
		case r.Recovered > r.Amount:
			module.Failf(a.recov, "recovery %d recovered %d of %d: more than was overpaid", r.Id, r.Recovered, r.Amount)
		case open == (r.Recovered == r.Amount):
			module.Failf(a.recov, "recovery %d has recovered %d of %d but is %s", r.Id, r.Recovered, r.Amount, r.Status)
		}
		switch indexed := a.kv.Has(api.BenefitsOpenRecoveryKey(r.Programme, r.Recipient, r.Id)); {
		case open && !indexed:
			module.Failf(a.recov, "recovery %d is open but missing from the enrolment's open recoveries, so no payment withholds for it", r.Id)
		case !open && indexed:
			module.Failf(a.recov, "recovery %d is %s but still among the enrolment's open recoveries", r.Id, r.Status)
		}
		if f := a.byEnrol[enrolKey(r.Programme, r.Recipient)]; f != nil && r.Recovered <= r.Amount {
			f.outstanding += r.Amount - r.Recovered
		}
		return false
	})
	for _, pid := range payOrder {
		if pay := a.payments[pid]; pay != nil && claimed[pid] > pay.Gross {
			module.Failf(a.recov, "payment %d paid %d but its recoveries claim %d", pid, pay.Gross, claimed[pid])
		}
	}
	a.matchDeductions()
}

// repayment checks a repayment step: money the recipient paid back came
// into the programme's fund as revenue.
func (a *benefitsAudit) repayment(r *benefitsv1.Recovery, s *benefitsv1.RecoveryStep) {
	if f := a.byProg[r.Programme]; f != nil {
		f.recovered += s.Amount
	}
	m, err := a.k.Funds.Movement(a.kv, s.Movement)
	if err != nil {
		module.Failf(a.recov, "recovery %d: a repayment of %d names funds movement %d: %v", r.Id, s.Amount, s.Movement, err)
		return
	}
	holder := api.ProgrammeHolder(r.Programme)
	ref := fmt.Sprintf("recovery/%d/%s", r.Id, s.BankReference)
	if m.Kind != fundsv1.MovementKind_MOVEMENT_KIND_CREDIT_REVENUE || m.To != holder || m.Amount != s.Amount || m.Source != repaymentSource || m.Reference != ref {
		module.Failf(a.recov, "recovery %d: repayment movement %d is %s of %d to %q (source %q, ref %q); want credit_revenue of %d to %q (source %q, ref %q)",
			r.Id, m.Id, funds.KindName(m.Kind), m.Amount, m.To, m.Source, m.Reference, s.Amount, holder, repaymentSource, ref)
	}
}

// matchDeductions compares what payments say they withheld for each
// recovery with the recovery steps that record it.
func (a *benefitsAudit) matchDeductions() {
	pairs := make([][2]uint64, 0, len(a.deductions)+len(a.steps))
	for p := range a.deductions {
		pairs = append(pairs, p)
	}
	for p := range a.steps {
		if _, ok := a.deductions[p]; !ok {
			pairs = append(pairs, p)
		}
	}
	slices.SortFunc(pairs, func(x, y [2]uint64) int {
		if c := cmp.Compare(x[0], y[0]); c != 0 {
			return c
		}
		return cmp.Compare(x[1], y[1])
	})
	for _, p := range pairs {
		if d, s := a.deductions[p], a.steps[p]; d != s {
			module.Failf(a.recov, "payment %d withheld %d for recovery %d, but that recovery's steps record %d from it", p[0], d, p[1], s)
		}
	}
}

// checkIndexes checks the schedule queue, the histories and the open
// recovery index against the records.
func (a *benefitsAudit) checkIndexes() {
	queued := map[string]int{}
	store.IteratePrefix(a.kv, api.BenefitsDuePrefix(), func(key, _ []byte) bool {
		if len(key) < len(api.BenefitsDuePrefix())+8 {
			module.Failf(a.schedule, "schedule entry %x is too short", key)
			return false
		}
		due, id := int64(binary.BigEndian.Uint64(key[len(api.BenefitsDuePrefix()):])), string(key[len(api.BenefitsDuePrefix())+8:])
		p, ok := a.progs[id]
		switch {
		case !ok:
			module.Failf(a.schedule, "the schedule queues programme %q, which does not exist", id)
		case p.Finished:
			module.Failf(a.schedule, "the schedule queues programme %q at %d, but it has run every period", id, due)
		case due != PeriodStart(p, p.NextPeriod):
			module.Failf(a.schedule, "the schedule queues programme %q at %d, but its next period %d falls due at %d", id, due, p.NextPeriod, PeriodStart(p, p.NextPeriod))
		}
		queued[id]++
		return false
	})
	for _, id := range a.progOrder {
		if p := a.progs[id]; !p.Finished && queued[id] != 1 {
			module.Failf(a.schedule, "programme %q has not run every period but is queued %d times", id, queued[id])
		}
	}

	store.IteratePrefix(a.kv, api.BenefitsAllHistoryPrefix(), func(key, _ []byte) bool {
		rest := key[len(api.BenefitsAllHistoryPrefix()):]
		i := bytes.IndexByte(rest, 0)
		if i < 0 || len(rest) < i+1+1+8 || rest[len(rest)-9] != 0 {
			module.Failf(a.history, "history entry %x is malformed", key)
			return false
		}
		programme, recipient, id := string(rest[:i]), string(rest[i+1:len(rest)-9]), api.IDOfKey(key)
		if pay := a.payments[id]; pay == nil || pay.Programme != programme || pay.Recipient != recipient {
			module.Failf(a.history, "the history of recipient %q of %q lists payment %d, which is not theirs", recipient, programme, id)
		}
		return false
	})

	store.IteratePrefix(a.kv, api.BenefitsAllOpenRecoveriesPrefix(), func(key, _ []byte) bool {
		id := api.IDOfKey(key)
		r := &benefitsv1.Recovery{}
		if found, err := store.GetProto(a.kv, api.BenefitsRecoveryKey(id), r); err != nil || !found {
			module.Failf(a.recov, "the open recoveries index lists recovery %d, which does not exist", id)
		} else if !bytes.Equal(key, api.BenefitsOpenRecoveryKey(r.Programme, r.Recipient, id)) {
			module.Failf(a.recov, "the open recoveries index lists recovery %d under another enrolment than %q of %q", id, r.Recipient, r.Programme)
		}
		return false
	})
}

// compareFigures compares the stored running figures with the sums of the
// records.
func (a *benefitsAudit) compareFigures() {
	for _, id := range a.progOrder {
		p, f := a.progs[id], a.byProg[id]
		for _, c := range []struct {
			name        string
			stored, sum uint64
		}{
			{"paid_total", p.PaidTotal, f.paidNet}, {"payments", p.Payments, f.paid}, {"failed_payments", p.FailedPayments, f.failed},
			{"recovered_total", p.RecoveredTotal, f.recovered}, {"recipients", p.Recipients, f.enrolments},
		} {
			if c.stored != c.sum {
				module.Failf(a.programmes, "programme %q: %s is %d but its records sum to %d", id, c.name, c.stored, c.sum)
			}
		}
	}
	for _, ek := range a.enrOrder {
		e, f := a.enrols[ek], a.byEnrol[ek]
		p := a.progs[e.Programme]
		for _, c := range []struct {
			name        string
			stored, sum uint64
		}{
			{"paid_total", e.PaidTotal, f.paidGross}, {"payments", e.Payments, f.paid}, {"outstanding_recovery", e.OutstandingRecovery, f.outstanding},
		} {
			if c.stored != c.sum {
				module.Failf(a.enrolments, "recipient %q of %q: %s is %d but the records sum to %d", e.Recipient, e.Programme, c.name, c.stored, c.sum)
			}
		}
		if p.RecipientCap != 0 && e.PaidTotal > p.RecipientCap {
			module.Failf(a.enrolments, "recipient %q of %q has been paid %d, above the programme's cap of %d", e.Recipient, e.Programme, e.PaidTotal, p.RecipientCap)
		}
	}
}

package benefits

import (
	"encoding/binary"
	"encoding/hex"
	"math"
	"slices"
	"strconv"

	"github.com/tallyledger/tally/api"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	benefitsv1 "github.com/tallyledger/tally/proto/tally/benefits/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/funds"
	"github.com/tallyledger/tally/x/module"
)

// Event types the benefits module emits.
const (
	EventProgrammeCreated  = "benefits.programme_created"
	EventEnrolled          = "benefits.enrolled"
	EventEnrolmentSuspend  = "benefits.enrolment_suspended"
	EventEnrolmentResumed  = "benefits.enrolment_resumed"
	EventEnrolmentEnded    = "benefits.enrolment_ended"
	EventPaid              = "benefits.paid"
	EventPaymentFailed     = "benefits.payment_failed"
	EventRecoveryOpened    = "benefits.recovery_opened"
	EventRepaymentRecorded = "benefits.repayment_recorded"
	EventPeriodCompleted   = "benefits.period_completed"
)

// Limits on free text and hashes.
const (
	maxNameBytes     = 128
	evidenceHashSize = 32 // SHA-256 of the evidence the agency keeps
	// maxPeriods bounds a programme's schedule so period arithmetic never
	// overflows: a million periods is 19 years of weekly payments.
	maxPeriods = 1_000_000
	// MaxStartLagSeconds is how far before the block time a programme may
	// start: enough for a transaction built "starting now" to reach a
	// block, too little for a backdated programme to owe thousands of past
	// periods at once (every one would run at the end of the next blocks).
	MaxStartLagSeconds = 3600
)

func text(what, s string, maxBytes int, required bool) error {
	if (required && s == "") || len(s) > maxBytes {
		return ErrInvalidReason.Wrapf("%s must be 1 to %d bytes; got %d", what, maxBytes, len(s))
	}
	return nil
}

// Prefixes of the reason enums' value names (module.CodeName).
const (
	EnrolmentReasonPrefix = api.EnrolmentReasonPrefix
	RecoveryReasonPrefix  = api.RecoveryReasonPrefix
)

// commitment checks a reference about a person (a payment reference, a
// bank reference): only its commitment under the agency's key goes on
// chain, as 64 lower-case hex characters.
func commitment(what, s string) error {
	if err := funds.ValidatePseudonym(what, s); err != nil {
		return ErrInvalidReason.Wrapf("%s must be the commitment of the reference under your agency's key (64 lower-case hex characters), never the reference itself: references carry names", what)
	}
	return nil
}

func validateIDs(programme, recipient string) error {
	if err := funds.ValidateToken("programme id", programme); err != nil {
		return err
	}
	if err := funds.ValidatePseudonym("recipient reference", recipient); err != nil {
		return ErrInvalidRecipient.Wrapf("%v", err)
	}
	return nil
}

func validateMoney(amount uint64, currency string) error {
	if amount == 0 {
		return ErrZeroAmount.Wrapf("amount is in minor units and must be at least 1")
	}
	if currency == "" {
		return funds.ErrWrongCurrency.Wrapf("give the currency of the amount (for example GBP)")
	}
	return nil
}

func validateCreateProgramme(m *benefitsv1.MsgCreateProgramme) error {
	if err := funds.ValidateToken("programme id", m.Id); err != nil {
		return err
	}
	if err := text("name", m.Name, maxNameBytes, true); err != nil {
		return err
	}
	if err := validateMoney(m.Amount, m.Currency); err != nil {
		return err
	}
	switch {
	case m.PeriodSeconds <= 0:
		return ErrInvalidProgramme.Wrapf("period_seconds must be positive")
	case m.StartUnix <= 0:
		return ErrInvalidProgramme.Wrapf("start_unix must be a positive Unix time")
	case m.EndUnix <= m.StartUnix:
		return ErrInvalidProgramme.Wrapf("end_unix %d must be after start_unix %d", m.EndUnix, m.StartUnix)
	case (m.EndUnix-m.StartUnix)/m.PeriodSeconds > maxPeriods:
		return ErrInvalidProgramme.Wrapf("the programme spans more than %d periods; lengthen the period or shorten the programme", maxPeriods)
	case m.RecipientCap != 0 && m.RecipientCap < m.Amount:
		return ErrInvalidProgramme.Wrapf("recipient_cap %d is below one payment of %d", m.RecipientCap, m.Amount)
	}
	for _, id := range append(slices.Clone(m.EnrolAgencies), m.PayAgencies...) {
		if err := agency.ValidateAgencyID(id); err != nil {
			return err
		}
	}
	return nil
}

func validateEnrol(m *benefitsv1.MsgEnrol) error {
	if err := validateIDs(m.Programme, m.Recipient); err != nil {
		return err
	}
	if err := funds.ValidatePseudonym("receiving account", m.ReceivingAccount); err != nil {
		return ErrInvalidRecipient.Wrapf("%v", err)
	}
	if len(m.EvidenceHash) != evidenceHashSize {
		return ErrInvalidEvidence.Wrapf("evidence_hash is %d bytes; give the %d-byte SHA-256 of the evidence", len(m.EvidenceHash), evidenceHashSize)
	}
	if m.StartUnix < 0 {
		return ErrOutsideDates.Wrapf("start_unix %d is negative", m.StartUnix)
	}
	return nil
}

func validateSuspendEnrolment(m *benefitsv1.MsgSuspendEnrolment) error {
	if err := validateIDs(m.Programme, m.Recipient); err != nil {
		return err
	}
	return module.ValidCode(m.ReasonCode, EnrolmentReasonPrefix, "reason_code", ErrInvalidReason)
}

func validateResumeEnrolment(m *benefitsv1.MsgResumeEnrolment) error {
	return validateIDs(m.Programme, m.Recipient)
}

func validateEndEnrolment(m *benefitsv1.MsgEndEnrolment) error {
	if err := validateIDs(m.Programme, m.Recipient); err != nil {
		return err
	}
	return module.ValidCode(m.ReasonCode, EnrolmentReasonPrefix, "reason_code", ErrInvalidReason)
}

func validatePay(m *benefitsv1.MsgPay) error {
	if err := validateIDs(m.Programme, m.Recipient); err != nil {
		return err
	}
	if err := validateMoney(m.Amount, m.Currency); err != nil {
		return err
	}
	return commitment("reference", m.Reference)
}

func validateOpenRecovery(m *benefitsv1.MsgOpenRecovery) error {
	if m.Payment == 0 {
		return ErrUnknownPayment.Wrapf("give the id of the payment that was too much")
	}
	if err := validateMoney(m.Amount, m.Currency); err != nil {
		return err
	}
	return module.ValidCode(m.ReasonCode, RecoveryReasonPrefix, "reason_code", ErrInvalidReason)
}

func validateRecordRepayment(m *benefitsv1.MsgRecordRepayment) error {
	if m.Recovery == 0 {
		return ErrUnknownRecovery.Wrapf("give the recovery id")
	}
	if err := validateMoney(m.Amount, m.Currency); err != nil {
		return err
	}
	return commitment("bank_reference", m.BankReference)
}

// allowed checks that the signer's agency may act on p: the owning agency,
// or one the programme names.
func allowed(p *benefitsv1.Programme, agencies []string, signer *agencyv1.Account, what string) error {
	if signer.AgencyId == p.Agency || slices.Contains(agencies, signer.AgencyId) {
		return nil
	}
	return ErrAgencyNotAllowed.Wrapf("agency %q may not %s on programme %q; it is run by %q", signer.AgencyId, what, p.Id, p.Agency)
}

// CreateProgramme creates a programme owned by the signer's agency, and
// opens its fund.
func (k Keeper) CreateProgramme(ctx module.Context, signer *agencyv1.Account, m *benefitsv1.MsgCreateProgramme) error {
	kv := ctx.Store
	if err := k.Funds.CheckCurrency(kv, m.Currency); err != nil {
		return err
	}
	if kv.Has(api.BenefitsProgrammeKey(m.Id)) {
		return ErrProgrammeExists.Wrapf("programme %s exists; choose another id", api.Quote(m.Id))
	}
	if now := ctx.Time.Unix(); m.StartUnix < now-MaxStartLagSeconds {
		return ErrStartsInPast.Wrapf("start_unix %d is %d s before the block time %d; a programme may start at most %d s in the past: start it now or later",
			m.StartUnix, now-m.StartUnix, now, MaxStartLagSeconds)
	}
	for _, id := range append(slices.Clone(m.EnrolAgencies), m.PayAgencies...) {
		if _, err := k.Agency.Agency(kv, id); err != nil {
			return err
		}
	}
	mandate, err := k.requirePayer(ctx, signer.AgencyId, 0)
	if err != nil {
		return err
	}
	// The programme schedules a run of every period: a future obligation
	// of the end-of-block budget, charged in part now, so that a
	// programme of very many short periods costs its creator.
	ctx.Charge(store.PeriodScheduled, uint64((m.EndUnix-m.StartUnix)/m.PeriodSeconds)+1) // ValidateBasic: end > start, period > 0
	holder, err := k.Funds.OpenProgrammeHolder(ctx, m.Id, signer.AgencyId)
	if err != nil {
		return err
	}
	p := &benefitsv1.Programme{
		Id: m.Id, Name: m.Name, Agency: signer.AgencyId, Amount: m.Amount,
		PeriodSeconds: m.PeriodSeconds, StartUnix: m.StartUnix, EndUnix: m.EndUnix,
		RecipientCap: m.RecipientCap, EnrolAgencies: m.EnrolAgencies, PayAgencies: m.PayAgencies,
		CreatedHeight: ctx.Height, FundingHolder: holder, Mandate: mandate,
	}
	if err := k.saveProgramme(kv, p); err != nil {
		return err
	}
	kv.Set(api.BenefitsDueKey(p.StartUnix, p.Id), []byte{})
	ctx.Emit(EventProgrammeCreated, module.Indexed("programme", p.Id), module.Indexed("agency", p.Agency),
		module.Attr("amount", strconv.FormatUint(p.Amount, 10)), module.Attr("period_seconds", strconv.FormatInt(p.PeriodSeconds, 10)),
		module.Attr("funding_holder", holder))
	return nil
}

// Enrol enrols a recipient on a programme.
func (k Keeper) Enrol(ctx module.Context, signer *agencyv1.Account, m *benefitsv1.MsgEnrol) error {
	kv := ctx.Store
	p, err := k.Programme(kv, m.Programme)
	if err != nil {
		return err
	}
	if err := allowed(p, p.EnrolAgencies, signer, "enrol"); err != nil {
		return err
	}
	if kv.Has(api.BenefitsEnrolmentKey(m.Programme, m.Recipient)) {
		return ErrDuplicateEnrolment.Wrapf("recipient %s is already enrolled on %s; resume or end that enrolment instead", api.Quote(m.Recipient), api.Quote(m.Programme))
	}
	start := m.StartUnix
	if start == 0 {
		start = ctx.Time.Unix()
	}
	if start < p.StartUnix || start >= p.EndUnix {
		return ErrOutsideDates.Wrapf("start %d is outside programme %q's dates [%d, %d)", start, p.Id, p.StartUnix, p.EndUnix)
	}
	e := &benefitsv1.Enrolment{
		Programme: m.Programme, Recipient: m.Recipient, ReceivingAccount: m.ReceivingAccount,
		EvidenceHash: m.EvidenceHash, StartUnix: start, Status: benefitsv1.EnrolmentStatus_ENROLMENT_STATUS_ACTIVE,
		NextPeriod: firstPeriodFrom(p, start), EnrolledBy: signer.Address, EnrolledHeight: ctx.Height,
	}
	if err := k.saveEnrolment(kv, e); err != nil {
		return err
	}
	p.Recipients++
	if err := k.saveProgramme(kv, p); err != nil {
		return err
	}
	ctx.Emit(EventEnrolled, module.Indexed("programme", p.Id), module.Indexed("recipient", e.Recipient),
		module.Attr("receiving_account", e.ReceivingAccount), module.Attr("evidence_hash", hex.EncodeToString(e.EvidenceHash)),
		module.Attr("start_unix", strconv.FormatInt(start, 10)))
	return nil
}

// enrolmentFor loads an enrolment a caseworker of the signer's agency may change.
func (k Keeper) enrolmentFor(kv store.KV, signer *agencyv1.Account, programme, recipient string) (*benefitsv1.Programme, *benefitsv1.Enrolment, error) {
	p, err := k.Programme(kv, programme)
	if err != nil {
		return nil, nil, err
	}
	if err := allowed(p, p.EnrolAgencies, signer, "manage enrolments"); err != nil {
		return nil, nil, err
	}
	e, err := k.Enrolment(kv, programme, recipient)
	if err != nil {
		return nil, nil, err
	}
	if e.Status == benefitsv1.EnrolmentStatus_ENROLMENT_STATUS_ENDED {
		return nil, nil, ErrEnded.Wrapf("recipient %s's enrolment on %s ended; enrol them again under a new reference", api.Quote(recipient), api.Quote(programme))
	}
	return p, e, nil
}

// SuspendEnrolment stops payments to a recipient until resumed.
func (k Keeper) SuspendEnrolment(ctx module.Context, signer *agencyv1.Account, m *benefitsv1.MsgSuspendEnrolment) error {
	_, e, err := k.enrolmentFor(ctx.Store, signer, m.Programme, m.Recipient)
	if err != nil {
		return err
	}
	if e.Status != benefitsv1.EnrolmentStatus_ENROLMENT_STATUS_ACTIVE {
		return ErrNotActive.Wrapf("recipient %s is already suspended", api.Quote(m.Recipient))
	}
	e.Status, e.ReasonCode = benefitsv1.EnrolmentStatus_ENROLMENT_STATUS_SUSPENDED, m.ReasonCode
	if err := k.saveEnrolment(ctx.Store, e); err != nil {
		return err
	}
	ctx.Emit(EventEnrolmentSuspend, module.Indexed("programme", m.Programme), module.Indexed("recipient", m.Recipient), module.Attr("reason", module.CodeName(m.ReasonCode, EnrolmentReasonPrefix)))
	return nil
}

// ResumeEnrolment restarts payments from the first period starting now or later.
func (k Keeper) ResumeEnrolment(ctx module.Context, signer *agencyv1.Account, m *benefitsv1.MsgResumeEnrolment) error {
	p, e, err := k.enrolmentFor(ctx.Store, signer, m.Programme, m.Recipient)
	if err != nil {
		return err
	}
	if e.Status != benefitsv1.EnrolmentStatus_ENROLMENT_STATUS_SUSPENDED {
		return ErrNotSuspended.Wrapf("recipient %s is not suspended", api.Quote(m.Recipient))
	}
	e.Status, e.ReasonCode = benefitsv1.EnrolmentStatus_ENROLMENT_STATUS_ACTIVE, benefitsv1.EnrolmentReason_ENROLMENT_REASON_UNSPECIFIED
	e.NextPeriod = max(e.NextPeriod, firstPeriodFrom(p, ctx.Time.Unix()))
	if err := k.saveEnrolment(ctx.Store, e); err != nil {
		return err
	}
	ctx.Emit(EventEnrolmentResumed, module.Indexed("programme", m.Programme), module.Indexed("recipient", m.Recipient),
		module.Attr("next_period", strconv.FormatUint(e.NextPeriod, 10)))
	return nil
}

// EndEnrolment ends an enrolment for good; the record stays.
func (k Keeper) EndEnrolment(ctx module.Context, signer *agencyv1.Account, m *benefitsv1.MsgEndEnrolment) error {
	_, e, err := k.enrolmentFor(ctx.Store, signer, m.Programme, m.Recipient)
	if err != nil {
		return err
	}
	e.Status, e.ReasonCode, e.EndUnix = benefitsv1.EnrolmentStatus_ENROLMENT_STATUS_ENDED, m.ReasonCode, ctx.Time.Unix()
	if err := k.saveEnrolment(ctx.Store, e); err != nil {
		return err
	}
	ctx.Emit(EventEnrolmentEnded, module.Indexed("programme", m.Programme), module.Indexed("recipient", m.Recipient), module.Attr("reason", module.CodeName(m.ReasonCode, EnrolmentReasonPrefix)))
	return nil
}

// Pay makes a one-off payment to an active recipient, within the
// programme's dates and the recipient's cap.
func (k Keeper) Pay(ctx module.Context, signer *agencyv1.Account, m *benefitsv1.MsgPay) error {
	kv := ctx.Store
	if err := k.Funds.CheckCurrency(kv, m.Currency); err != nil {
		return err
	}
	p, err := k.Programme(kv, m.Programme)
	if err != nil {
		return err
	}
	if err := allowed(p, p.PayAgencies, signer, "pay"); err != nil {
		return err
	}
	if now := ctx.Time.Unix(); now < p.StartUnix || now >= p.EndUnix {
		return ErrOutsideDates.Wrapf("block time %d is outside programme %q's dates [%d, %d)", now, p.Id, p.StartUnix, p.EndUnix)
	}
	e, err := k.Enrolment(kv, m.Programme, m.Recipient)
	if err != nil {
		return err
	}
	if e.Status != benefitsv1.EnrolmentStatus_ENROLMENT_STATUS_ACTIVE {
		return ErrNotActive.Wrapf("recipient %q is %s; only active recipients are paid", e.Recipient, statusName(e.Status))
	}
	if p.RecipientCap != 0 && (e.PaidTotal > p.RecipientCap || m.Amount > p.RecipientCap-e.PaidTotal) {
		return ErrOverCap.Wrapf("recipient %q has been paid %d of the cap %d; at most %d more", e.Recipient, e.PaidTotal, p.RecipientCap, p.RecipientCap-min(e.PaidTotal, p.RecipientCap))
	}
	_, err = k.pay(ctx, p, e, payRequest{kind: benefitsv1.PaymentKind_PAYMENT_KIND_ONE_OFF, gross: m.Amount, reference: m.Reference, payer: signer.Address})
	return err
}

// OpenRecovery records an overpayment within an earlier paid payment.
func (k Keeper) OpenRecovery(ctx module.Context, signer *agencyv1.Account, m *benefitsv1.MsgOpenRecovery) error {
	kv := ctx.Store
	if err := k.Funds.CheckCurrency(kv, m.Currency); err != nil {
		return err
	}
	pay, err := k.Payment(kv, m.Payment)
	if err != nil {
		return err
	}
	if pay.Status != benefitsv1.PaymentStatus_PAYMENT_STATUS_PAID {
		return ErrPaymentNotPaid.Wrapf("payment %d failed (%s); nothing was overpaid", pay.Id, api.Describe(pay.ReasonCodespace, pay.ReasonCode))
	}
	p, err := k.Programme(kv, pay.Programme)
	if err != nil {
		return err
	}
	if err := allowed(p, p.PayAgencies, signer, "recover payments"); err != nil {
		return err
	}
	var claimed uint64
	store.IteratePrefix(kv, api.BenefitsPaymentRecoveriesPrefix(pay.Id), func(key, _ []byte) bool {
		if r, err := k.Recovery(kv, api.IDOfKey(key)); err == nil {
			claimed += r.Amount
		}
		return false
	})
	if claimed > pay.Gross || m.Amount > pay.Gross-claimed {
		return ErrOverRecovery.Wrapf("payment %d was %d and %d is already being recovered; at most %d more", pay.Id, pay.Gross, claimed, pay.Gross-min(claimed, pay.Gross))
	}
	e, err := k.Enrolment(kv, pay.Programme, pay.Recipient)
	if err != nil {
		return err
	}
	if e.OutstandingRecovery > math.MaxUint64-m.Amount {
		return funds.ErrOverflow.Wrapf("outstanding recovery would overflow")
	}
	id, err := module.NextSeq(kv, api.BenefitsRecoverySeqKey(), "recovery")
	if err != nil {
		return err
	}
	r := &benefitsv1.Recovery{Id: id, Programme: pay.Programme, Recipient: pay.Recipient, Payment: pay.Id, Amount: m.Amount,
		Status: benefitsv1.RecoveryStatus_RECOVERY_STATUS_OPEN, ReasonCode: m.ReasonCode, Height: ctx.Height}
	if err := store.SetProto(kv, api.BenefitsRecoveryKey(id), r); err != nil {
		return err
	}
	kv.Set(api.BenefitsPaymentRecoveryKey(pay.Id, id), []byte{})
	kv.Set(api.BenefitsOpenRecoveryKey(pay.Programme, pay.Recipient, id), []byte{})
	e.OutstandingRecovery += m.Amount
	if err := k.saveEnrolment(kv, e); err != nil {
		return err
	}
	ctx.Emit(EventRecoveryOpened, module.Indexed("recovery", strconv.FormatUint(id, 10)), module.Indexed("payment", strconv.FormatUint(pay.Id, 10)),
		module.Indexed("programme", pay.Programme), module.Indexed("recipient", pay.Recipient), module.Attr("amount", strconv.FormatUint(m.Amount, 10)))
	return nil
}

// RecordRepayment records money the recipient repaid towards a recovery:
// it enters the ledger as revenue into the programme's fund, with the
// recovery as its trace root's reference.
func (k Keeper) RecordRepayment(ctx module.Context, signer *agencyv1.Account, m *benefitsv1.MsgRecordRepayment) error {
	kv := ctx.Store
	if err := k.Funds.CheckCurrency(kv, m.Currency); err != nil {
		return err
	}
	r, err := k.Recovery(kv, m.Recovery)
	if err != nil {
		return err
	}
	if r.Status != benefitsv1.RecoveryStatus_RECOVERY_STATUS_OPEN {
		return ErrRecovered.Wrapf("recovery %d is recovered in full", r.Id)
	}
	if owed := r.Amount - r.Recovered; m.Amount > owed {
		return ErrOverRecovery.Wrapf("recovery %d has %d outstanding; record at most that", r.Id, owed)
	}
	// Money enters the ledger only on a settling bank's word, under its
	// settlement-bank mandate.
	if k.Mandates == nil {
		return module.ErrInternal.Wrapf("the benefits module has no mandate registry wired; repayments cannot be recorded")
	}
	mandate, err := k.Mandates.Require(ctx, signer.AgencyId, govv1.Mandate_MANDATE_SETTLEMENT_BANK, 0)
	if err != nil {
		return err
	}
	mv, err := k.Funds.CreditRevenue(ctx, api.ProgrammeHolder(r.Programme), m.Amount, "benefits-repayment", "recovery/"+strconv.FormatUint(r.Id, 10)+"/"+m.BankReference, mandate)
	if err != nil {
		return err
	}
	mvID, _ := funds.ParseID(mv)
	if err := recoverStep(kv, r, m.Amount, &benefitsv1.RecoveryStep{Movement: mvID, BankReference: m.BankReference, Height: ctx.Height}); err != nil {
		return err
	}
	e, err := k.Enrolment(kv, r.Programme, r.Recipient)
	if err != nil {
		return err
	}
	e.OutstandingRecovery -= m.Amount
	if err := k.saveEnrolment(kv, e); err != nil {
		return err
	}
	p, err := k.Programme(kv, r.Programme)
	if err != nil {
		return err
	}
	p.RecoveredTotal += m.Amount
	if err := k.saveProgramme(kv, p); err != nil {
		return err
	}
	ctx.Emit(EventRepaymentRecorded, module.Indexed("recovery", strconv.FormatUint(r.Id, 10)), module.Indexed("movement", mv),
		module.Attr("amount", strconv.FormatUint(m.Amount, 10)), module.Attr("bank_reference", m.BankReference))
	return nil
}

// recoverStep applies amount to a recovery: the step is recorded and a
// recovery paid in full is closed. The caller moves the enrolment's and
// programme's totals.
func recoverStep(kv store.KV, r *benefitsv1.Recovery, amount uint64, step *benefitsv1.RecoveryStep) error {
	var n uint32 // the first step is number 0; each next one the last's number plus one
	var err error
	store.ReverseIteratePrefix(kv, api.BenefitsRecoveryStepsPrefix(r.Id), func(key, _ []byte) bool {
		n, err = module.Next(binary.BigEndian.Uint32(key[len(key)-4:]), "step of recovery "+strconv.FormatUint(r.Id, 10))
		return true
	})
	if err != nil {
		return err
	}
	step.Recovery, step.Amount = r.Id, amount
	if err := store.SetProto(kv, api.BenefitsRecoveryStepKey(r.Id, n), step); err != nil {
		return err
	}
	r.Recovered += amount
	if r.Recovered == r.Amount {
		r.Status = benefitsv1.RecoveryStatus_RECOVERY_STATUS_RECOVERED
		kv.Delete(api.BenefitsOpenRecoveryKey(r.Programme, r.Recipient, r.Id))
	}
	return store.SetProto(kv, api.BenefitsRecoveryKey(r.Id), r)
}

func statusName(s benefitsv1.EnrolmentStatus) string {
	return module.EnumName(s, "ENROLMENT_STATUS_")
}

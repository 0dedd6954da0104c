package funds

import (
	"encoding/hex"

	"github.com/tallyledger/tally/api"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	fundsv1 "github.com/tallyledger/tally/proto/tally/funds/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/module"
)

// maxPurposeBytes bounds a purpose code ("GRANT", "SUPPLIER-PAYMENT").
const maxPurposeBytes = 32

func validateAmount(amount uint64, currency string) error {
	if amount == 0 {
		return ErrZeroAmount.Wrapf("amount is in minor units and must be at least 1")
	}
	if currency == "" {
		return ErrWrongCurrency.Wrapf("give the currency of the amount (for example GBP)")
	}
	return nil
}

func validatePurpose(p string) error {
	if p == "" || len(p) > maxPurposeBytes {
		return ErrMissingPurpose.Wrapf("purpose must be 1 to %d characters (A-Z, 0-9, '-', '_')", maxPurposeBytes)
	}
	for _, c := range []byte(p) {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return ErrMissingPurpose.Wrapf("purpose %q may use only A-Z, 0-9, '-' and '_'", p)
		}
	}
	return nil
}

func validateAppropriate(m *fundsv1.MsgAppropriate) error {
	if err := validateAmount(m.Amount, m.Currency); err != nil {
		return err
	}
	return validateReference("reference (the appropriation line)", m.Reference)
}

func validateAllocate(m *fundsv1.MsgAllocate) error {
	if err := validateAmount(m.Amount, m.Currency); err != nil {
		return err
	}
	if err := ValidateHolder(api.AgencyHolder(m.ToAgency)); err != nil {
		return err
	}
	return validateReference("reference", m.Reference)
}

func validateFund(m *fundsv1.MsgFund) error {
	if err := validateAmount(m.Amount, m.Currency); err != nil {
		return err
	}
	if err := ValidateToken("programme id", m.Programme); err != nil {
		return err
	}
	return validateReference("reference", m.Reference)
}

func validateTransfer(m *fundsv1.MsgTransfer) error {
	if err := validateAmount(m.Amount, m.Currency); err != nil {
		return err
	}
	if err := validateFromTo(m.From, m.To); err != nil {
		return err
	}
	if err := validatePurpose(m.Purpose); err != nil {
		return err
	}
	if isPayee(m.To) || isPayee(m.From) {
		// A payment to a person: its reference is about them.
		return validatePersonalReference("reference", m.Reference)
	}
	return validateReference("reference", m.Reference)
}

func validateReturn(m *fundsv1.MsgReturn) error {
	if err := validateAmount(m.Amount, m.Currency); err != nil {
		return err
	}
	if err := validateFromTo(m.From, m.To); err != nil {
		return err
	}
	return validateReference("reference", m.Reference)
}

func validateSettle(m *fundsv1.MsgSettle) error {
	if m.Payment == 0 {
		return ErrUnknownPayment.Wrapf("give the payment's movement id")
	}
	// A settlement is a bank payment to a person; its reference
	// often carries their name.
	return validatePersonalReference("bank_reference", m.BankReference)
}

// validatePersonalReference checks a reference about a person: a
// commitment (64 lower-case hex characters), never the reference itself.
func validatePersonalReference(what, s string) error {
	if err := ValidatePseudonym(what, s); err != nil {
		return ErrInvalidReference.Wrapf("%s about a person must be a commitment of the reference under your agency's key (64 lower-case hex characters), never the reference itself", what)
	}
	return nil
}

func validateFromTo(from, to string) error {
	if err := ValidateHolder(from); err != nil {
		return err
	}
	if err := ValidateHolder(to); err != nil {
		return err
	}
	if from == to {
		return ErrSameHolder.Wrapf("%s cannot pay itself", from)
	}
	return nil
}

// Appropriate creates money in the signer's Treasury account against an
// appropriation reference, within the year's limit.
func (k Keeper) Appropriate(ctx module.Context, signer *agencyv1.Account, m *fundsv1.MsgAppropriate) error {
	kv := ctx.Store
	if err := k.CheckCurrency(kv, m.Currency); err != nil {
		return err
	}
	ag, err := k.Agency.Agency(kv, signer.AgencyId)
	if err != nil {
		return err
	}
	if ag.Kind != agencyv1.Kind_KIND_TREASURY {
		return ErrNotTreasury.Wrapf("agency %q is not a treasury", ag.Id)
	}
	if kv.Has(api.FundsAppropriationKey(m.Reference)) {
		return ErrDuplicateAppropriation.Wrapf("reference %q was appropriated already; each line of a supply act is appropriated once", m.Reference)
	}
	p, err := k.Params(kv)
	if err != nil {
		return err
	}
	year := int32(ctx.Time.UTC().Year())
	yt := &fundsv1.YearTotal{Year: year}
	if _, err := store.GetProto(kv, api.FundsYearKey(year), yt); err != nil {
		return err
	}
	total, err := add(yt.Appropriated, m.Amount)
	if err != nil || total > p.AnnualAppropriationLimit {
		return ErrOverAnnualLimit.Wrapf("%d already appropriated in %d; the limit is %d, so at most %d more", yt.Appropriated, year, p.AnnualAppropriationLimit, p.AnnualAppropriationLimit-min(yt.Appropriated, p.AnnualAppropriationLimit))
	}
	yt.Appropriated = total
	// Money is created only under the treasury's supply mandate, and the
	// appropriations under one grant never pass its ceiling.
	mandate, err := k.require(ctx, ag.Id, govv1.Mandate_MANDATE_TREASURY, m.Amount)
	if err != nil {
		return err
	}
	mv, err := k.move(ctx, move{kind: fundsv1.MovementKind_MOVEMENT_KIND_APPROPRIATE, to: api.AgencyHolder(ag.Id), amount: m.Amount, reference: m.Reference, signer: signer.Address, mandate: mandate})
	if err != nil {
		return err
	}
	if err := k.newRoot(kv, mv); err != nil {
		return err
	}
	if err := k.updateTotals(kv, func(t *fundsv1.Totals) (err error) {
		t.Appropriated, err = add(t.Appropriated, m.Amount)
		return err
	}); err != nil {
		return err
	}
	if err := store.SetProto(kv, api.FundsYearKey(year), yt); err != nil {
		return err
	}
	if err := store.SetProto(kv, api.FundsAppropriationKey(m.Reference), &fundsv1.Appropriation{Reference: m.Reference, Amount: m.Amount, Movement: mv.Id, Year: year, Treasury: ag.Id, Mandate: mandate}); err != nil {
		return err
	}
	emitMovement(ctx, EventAppropriated, mv)
	return nil
}

// Allocate moves money from the signer's Treasury account to an agency.
func (k Keeper) Allocate(ctx module.Context, signer *agencyv1.Account, m *fundsv1.MsgAllocate) error {
	if err := k.CheckCurrency(ctx.Store, m.Currency); err != nil {
		return err
	}
	to := api.AgencyHolder(m.ToAgency)
	if _, err := k.owner(ctx.Store, to); err != nil {
		return err
	}
	return k.transferMsg(ctx, signer, fundsv1.MovementKind_MOVEMENT_KIND_ALLOCATE, api.AgencyHolder(signer.AgencyId), to, m.Amount, "ALLOCATION", m.Reference, "")
}

// Fund moves money from the signer's agency account to a programme's fund.
func (k Keeper) Fund(ctx module.Context, signer *agencyv1.Account, m *fundsv1.MsgFund) error {
	if err := k.CheckCurrency(ctx.Store, m.Currency); err != nil {
		return err
	}
	to := api.ProgrammeHolder(m.Programme)
	if _, err := k.owner(ctx.Store, to); err != nil {
		return err
	}
	return k.transferMsg(ctx, signer, fundsv1.MovementKind_MOVEMENT_KIND_FUND, api.AgencyHolder(signer.AgencyId), to, m.Amount, "PROGRAMME-FUNDING", m.Reference, "")
}

// Transfer moves money from a holder the signer's agency controls to any holder.
func (k Keeper) Transfer(ctx module.Context, signer *agencyv1.Account, m *fundsv1.MsgTransfer) error {
	if err := k.CheckCurrency(ctx.Store, m.Currency); err != nil {
		return err
	}
	own, err := k.owner(ctx.Store, m.To)
	if err != nil {
		return err
	}
	if own == "" {
		// A bank account is paid only by a programme payment, which names
		// its recipient and is made under the programme's mandate; a
		// transfer there would let one officer send public money to any
		// account for settlement.
		return ErrPayeeByPaymentOnly.Wrapf("%s is a bank account; money reaches a bank account only as a payment of a benefit programme to an enrolled recipient", m.To)
	}
	return k.transferMsg(ctx, signer, fundsv1.MovementKind_MOVEMENT_KIND_TRANSFER, m.From, m.To, m.Amount, m.Purpose, m.Reference, "")
}

// Return sends unspent money back to the holder it came from.
func (k Keeper) Return(ctx module.Context, signer *agencyv1.Account, m *fundsv1.MsgReturn) error {
	if err := k.CheckCurrency(ctx.Store, m.Currency); err != nil {
		return err
	}
	own, err := k.owner(ctx.Store, m.To)
	if err != nil {
		return err
	}
	if own == "" {
		return ErrNotReturnable.Wrapf("%s is a bank account; money is returned up the chain to an agency or programme", m.To)
	}
	return k.transferMsg(ctx, signer, fundsv1.MovementKind_MOVEMENT_KIND_RETURN, m.From, m.To, m.Amount, "RETURN", m.Reference, m.To)
}

func (k Keeper) transferMsg(ctx module.Context, signer *agencyv1.Account, kind fundsv1.MovementKind, from, to string, amount uint64, purpose, ref, onlyFrom string) error {
	if err := k.controlled(ctx.Store, signer, from); err != nil {
		return err
	}
	if from == to {
		return ErrSameHolder.Wrapf("%s cannot pay itself", from)
	}
	mv, err := k.move(ctx, move{kind: kind, from: from, to: to, amount: amount, purpose: purpose, reference: ref, signer: signer.Address, onlyFrom: onlyFrom})
	if err != nil {
		return err
	}
	emitMovement(ctx, EventMoved, mv)
	return nil
}

// Pay moves amount from a programme's fund to a recipient's bank account
// (payee holder), where it waits for settlement. The benefits module calls
// it for every programme payment, with the id of the mandate the payment is
// made under; signer is empty for scheduled payments.
func (k Keeper) Pay(ctx module.Context, from, payee string, amount uint64, reference string, signer []byte, mandate uint64) (uint64, error) {
	if !isPayee(payee) {
		return 0, ErrInvalidHolder.Wrapf("%s is not a bank account (payee:<token>)", payee)
	}
	if err := ValidateHolder(payee); err != nil {
		return 0, err
	}
	mv, err := k.move(ctx, move{kind: fundsv1.MovementKind_MOVEMENT_KIND_PAYMENT, from: from, to: payee, amount: amount, purpose: "BENEFIT", reference: reference, signer: signer, mandate: mandate})
	if err != nil {
		return 0, err
	}
	emitMovement(ctx, EventMoved, mv)
	return mv.Id, nil
}

// Settle records that a payment reached the recipient's bank account: the
// payment's tranches leave the ledger.
func (k Keeper) Settle(ctx module.Context, signer *agencyv1.Account, m *fundsv1.MsgSettle) error {
	kv := ctx.Store
	pay, err := k.Movement(kv, m.Payment)
	if err != nil {
		return ErrUnknownPayment.Wrapf("no movement %d; settle the id of a payment to a bank account", m.Payment)
	}
	if !isPayee(pay.To) || pay.Kind != fundsv1.MovementKind_MOVEMENT_KIND_PAYMENT {
		return ErrNotPayment.Wrapf("movement %d is a %s to %s, not a programme's payment to a bank account", pay.Id, KindName(pay.Kind), pay.To)
	}
	if kv.Has(api.FundsSettlementKey(pay.Id)) {
		return ErrAlreadySettled.Wrapf("payment %d was settled already", pay.Id)
	}
	mandate, err := k.require(ctx, signer.AgencyId, govv1.Mandate_MANDATE_SETTLEMENT_BANK, 0)
	if err != nil {
		return err
	}
	exact := make([]uint64, len(pay.Legs))
	for i, leg := range pay.Legs {
		exact[i] = leg.ToTranche
	}
	mv, err := k.move(ctx, move{kind: fundsv1.MovementKind_MOVEMENT_KIND_SETTLE, from: pay.To, amount: pay.Amount, reference: m.BankReference, signer: signer.Address, settles: pay.Id, exact: exact, mandate: mandate})
	if err != nil {
		return err
	}
	if err := k.leaveRoots(kv, mv, true); err != nil {
		return err
	}
	if err := k.updateTotals(kv, func(t *fundsv1.Totals) (err error) {
		t.Settled, err = add(t.Settled, pay.Amount)
		return err
	}); err != nil {
		return err
	}
	if err := store.SetProto(kv, api.FundsSettlementKey(pay.Id), &fundsv1.Settlement{
		Payment: pay.Id, Movement: mv.Id, BankReference: m.BankReference, Signer: signer.Address,
		Height: ctx.Height, TimeUnix: ctx.Time.Unix(), Amount: pay.Amount, Mandate: mandate,
	}); err != nil {
		return err
	}
	ctx.Emit(EventSettled,
		module.Indexed("payment", FormatID(pay.Id)),
		module.Indexed("movement", FormatID(mv.Id)),
		module.Indexed("payee", pay.To),
		module.Attr("amount", FormatID(pay.Amount)),
		module.Attr("bank_reference", m.BankReference),
		module.Attr("signer", hex.EncodeToString(signer.Address)),
	)
	return nil
}

// HolderOwner reports the agency that controls holder ("" for a bank
// account), refusing unknown holders.
func (k Keeper) HolderOwner(kv store.KV, holder string) (string, error) { return k.owner(kv, holder) }

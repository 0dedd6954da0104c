package funds

import (
	fundsv1 "github.com/tallyledger/tally/proto/tally/funds/v1"
	"github.com/tallyledger/tally/x/module"
)

// Event types the funds module emits.
const (
	EventAppropriated  = "funds.appropriated"
	EventMoved         = "funds.moved"
	EventSettled       = "funds.settled"
	EventRevenueCredit = "funds.revenue_credited"
	EventRevenueDebit  = "funds.revenue_debited"
)

// maxSourceBytes bounds the name of who reports revenue ("tax").
const maxSourceBytes = 64

// CreditRevenue records money entering the public ledger from outside (tax
// collected) into holder; it is an inflow alongside appropriations, with its
// own trace root (source, ref). It returns the id of the inflow movement.
//
// mandate is the grant under which the money was confirmed (a settling
// bank's settlement-bank mandate), recorded in the movement; 0 when none
// applies (a repayment the programme's own bank account received).
func (k Keeper) CreditRevenue(ctx module.Context, holder string, amount uint64, source, ref string, mandate uint64) (movementID string, err error) {
	if err := k.checkRevenue(ctx, holder, amount, source, ref); err != nil {
		return "", err
	}
	m, err := k.move(ctx, move{kind: fundsv1.MovementKind_MOVEMENT_KIND_CREDIT_REVENUE, to: holder, amount: amount, source: source, reference: ref, mandate: mandate})
	if err != nil {
		return "", err
	}
	if err := k.newRoot(ctx.Store, m); err != nil {
		return "", err
	}
	if err := k.updateTotals(ctx.Store, func(t *fundsv1.Totals) (err error) {
		t.RevenueCredited, err = add(t.RevenueCredited, amount)
		return err
	}); err != nil {
		return "", err
	}
	emitMovement(ctx, EventRevenueCredit, m)
	return FormatID(m.Id), nil
}

// DebitRevenue takes money back out of the ledger (a tax refund) from
// holder, oldest tranches first. An overdraft returns ErrInsufficientFunds
// and leaves state unchanged.
func (k Keeper) DebitRevenue(ctx module.Context, holder string, amount uint64, source, ref string) (movementID string, err error) {
	if err := k.checkRevenue(ctx, holder, amount, source, ref); err != nil {
		return "", err
	}
	m, err := k.move(ctx, move{kind: fundsv1.MovementKind_MOVEMENT_KIND_DEBIT_REVENUE, from: holder, amount: amount, source: source, reference: ref})
	if err != nil {
		return "", err
	}
	if err := k.leaveRoots(ctx.Store, m, false); err != nil {
		return "", err
	}
	if err := k.updateTotals(ctx.Store, func(t *fundsv1.Totals) (err error) {
		t.RevenueDebited, err = add(t.RevenueDebited, amount)
		return err
	}); err != nil {
		return "", err
	}
	emitMovement(ctx, EventRevenueDebit, m)
	return FormatID(m.Id), nil
}

func (k Keeper) checkRevenue(ctx module.Context, holder string, amount uint64, source, ref string) error {
	if amount == 0 {
		return ErrZeroAmount.Wrapf("revenue must be a positive number of minor units")
	}
	if source == "" || len(source) > maxSourceBytes {
		return ErrInvalidReference.Wrapf("source must be 1 to %d bytes and name who reports the revenue (e.g. \"tax\")", maxSourceBytes)
	}
	if err := validateReference("ref", ref); err != nil {
		return err
	}
	return k.revenueHolder(ctx.Store, holder)
}

func emitMovement(ctx module.Context, typ string, m *fundsv1.Movement) {
	ctx.Emit(typ,
		module.Indexed("movement", FormatID(m.Id)),
		module.Attr("kind", KindName(m.Kind)),
		module.Indexed("from", m.From),
		module.Indexed("to", m.To),
		module.Attr("amount", FormatID(m.Amount)),
		module.Attr("reference", m.Reference),
	)
}

// KindName is the short lower-case name of a movement kind ("allocate").
func KindName(kind fundsv1.MovementKind) string { return module.EnumName(kind, "MOVEMENT_KIND_") }

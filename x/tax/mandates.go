package tax

import (
	"fmt"

	"github.com/tallyledger/tally/api"

	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	"github.com/tallyledger/tally/x/module"
)

// requireMandate asks governance for agencyID's mandate of kind; tax wired
// without governance refuses.
func (k Keeper) requireMandate(ctx module.Context, agencyID string, kind govv1.Mandate) (uint64, error) {
	if k.gov == nil {
		return 0, module.ErrInternal.Wrapf("the tax module has no governance wired; acts that need a mandate are refused")
	}
	return k.gov.Require(ctx, agencyID, kind, 0)
}

// requireAuthority is the tax-authority mandate of authority, under which
// its tax types are registered and its receipts issued and amended. A
// withdrawn or lapsed mandate, or a suspended authority, stops every
// collector it authorised at once.
func (k Keeper) requireAuthority(ctx module.Context, authority string) (uint64, error) {
	return k.requireMandate(ctx, authority, govv1.Mandate_MANDATE_TAX_AUTHORITY)
}

// requireRevenueAgency checks that agencyID may be credited with tax: it
// is the Treasury (holds the treasury mandate) or a body with a revenue
// mandate. It returns the grant that lets it.
func (k Keeper) requireRevenueAgency(ctx module.Context, agencyID string) (uint64, error) {
	id, err := k.requireMandate(ctx, agencyID, govv1.Mandate_MANDATE_REVENUE)
	if err == nil {
		return id, nil
	}
	if id, terr := k.requireMandate(ctx, agencyID, govv1.Mandate_MANDATE_TREASURY); terr == nil {
		return id, nil
	}
	return 0, fmt.Errorf("revenue agency %s must be the Treasury (treasury mandate) or hold a revenue mandate: %w", api.Quote(agencyID), err)
}

// checkReceiptAmount refuses an amount above gov.max_receipt_amount.
func (k Keeper) checkReceiptAmount(ctx module.Context, amount uint64) error {
	if k.gov == nil {
		return module.ErrInternal.Wrapf("the tax module has no governance wired; the receipt cap is unknown")
	}
	max, err := k.gov.MaxReceiptAmount(ctx.Store)
	if err != nil {
		return err
	}
	if amount > max {
		return ErrOverReceiptCap.Wrapf("amount %d is above gov.max_receipt_amount %d; receipt a larger payment in parts, or ask governance to change the cap", amount, max)
	}
	return nil
}

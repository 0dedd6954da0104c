package tax

import (
	"encoding/hex"

	"github.com/tallyledger/tally/api"
	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
	"github.com/tallyledger/tally/x/module"
)

// MaxAmendments bounds the amendments of one receipt, so that a receipt
// and its whole history fit in one proved answer.
const MaxAmendments = api.MaxAmendments

// initialState is what a receipt stands for before any amendment.
func initialState(r *taxv1.Receipt) *taxv1.ReceiptState { return api.InitialReceiptState(r) }

// Apply returns the state of a receipt after amendment a: the contract's
// one definition of what an amendment means (api.ApplyAmendment, which
// readers use through api.FoldReceipt to re-derive a receipt's state from
// its records), its refusals given this module's codes. Handlers use it to
// move money and totals. Period kinds are checked by the caller, which
// knows the tax type.
func Apply(s *taxv1.ReceiptState, a *taxv1.Amendment) (*taxv1.ReceiptState, error) {
	out, err := api.ApplyAmendment(s, a)
	return out, coded(err)
}

// contribution is what a receipt in state s adds to each running total.
func contribution(s *taxv1.ReceiptState) *taxv1.Total {
	if s.Status == taxv1.Status_STATUS_CANCELLED {
		return &taxv1.Total{}
	}
	return &taxv1.Total{Receipts: 1, Collected: s.Amount, Refunded: s.Refunded, Net: s.Net}
}

// StatusName is the short name of a receipt status ("partially_refunded").
func StatusName(s taxv1.Status) string { return module.EnumName(s, "STATUS_") }

// KindOfAmendment is the short name of an amendment kind ("refund").
func KindOfAmendment(k taxv1.AmendmentKind) string { return module.EnumName(k, "AMENDMENT_KIND_") }

// ReasonName is the short name of a reason code ("keying_error").
func ReasonName(r taxv1.Reason) string { return api.TaxReasonName(r) }

// ParseReason reads a reason code as ReasonName writes it
// (api.ParseTaxReason), refusing another with ErrInvalidReason.
func ParseReason(s string) (taxv1.Reason, error) {
	r, err := api.ParseTaxReason(s)
	if err != nil {
		return 0, ErrInvalidReason.Wrapf("%v", err)
	}
	return r, nil
}

func validReason(r taxv1.Reason) error {
	if _, ok := taxv1.Reason_name[int32(r)]; !ok || r == taxv1.Reason_REASON_UNSPECIFIED {
		return ErrInvalidReason.Wrapf("reason %d is not defined; codes are %s", r, reasonList())
	}
	return nil
}

// reasonList is every reason code's short name, for refusals.
func reasonList() string { return api.EnumNames(taxv1.Reason(0), api.TaxReasonPrefix) }

// TaxpayerHex formats a taxpayer reference or commitment for events and output.
func TaxpayerHex(t []byte) string { return hex.EncodeToString(t) }

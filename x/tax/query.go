package tax

import (
	"github.com/tallyledger/tally/api"
	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
)

// The answers to /tax/receipt and /tax/clearance are read and checked by
// the client contract (api.DecodeReceipt, api.DecodeClearance). The node
// builds a clearance answer at the keys the contract computes; these give
// the contract's refusals this module's codes.

// ValidateClearanceRequest checks a clearance request without state
// (api.ValidateClearanceRequest).
func ValidateClearanceRequest(r *taxv1.ClearanceRequest) error {
	return coded(api.ValidateClearanceRequest(r))
}

// ClearanceKeys are the keys of a clearance answer and the periods they
// cover (api.ClearanceKeys).
func ClearanceKeys(r *taxv1.ClearanceRequest, tt *taxv1.TaxType) ([][]byte, []string, error) {
	keys, periods, err := api.ClearanceKeys(r, tt)
	return keys, periods, coded(err)
}

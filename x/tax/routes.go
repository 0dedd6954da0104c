package tax

import (
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	"github.com/tallyledger/tally/x/module"
)

// Module is the tax module's route table: one row per message (the role it
// needs, its stateless check, its handler). The tax authority's own powers
// need its admin (and the handler checks that the admin's agency is a tax
// authority); issuing and amending receipts need a collector (and the
// handler checks its authorisation); a settlement bank confirms.
func (k Keeper) Module() module.Module {
	return module.Module{Name: "tax", Routes: []module.Route{
		module.Msg(agencyv1.Role_ROLE_ADMIN, validateRegisterTaxType, k.RegisterTaxType),
		module.Msg(agencyv1.Role_ROLE_ADMIN, validateAuthoriseCollector, k.AuthoriseCollector),
		module.Msg(agencyv1.Role_ROLE_ADMIN, validateWithdrawCollector, k.WithdrawCollector),
		module.Msg(agencyv1.Role_ROLE_TAX_COLLECTOR, validateIssueReceipt, k.IssueReceipt),
		module.Msg(agencyv1.Role_ROLE_TAX_COLLECTOR, validateCorrectReceipt, k.CorrectReceipt),
		module.Msg(agencyv1.Role_ROLE_TAX_COLLECTOR, validateRefundReceipt, k.RefundReceipt),
		module.Msg(agencyv1.Role_ROLE_TAX_COLLECTOR, validateCancelReceipt, k.CancelReceipt),
		module.Msg(agencyv1.Role_ROLE_SETTLEMENT_BANK, validateConfirmReceipt, k.ConfirmReceipt),
	}}
}

// ValidateBasic checks a message without reading state. It returns nil for
// message types this module does not own.
func ValidateBasic(msg any) error { return module.ValidateBasic(Keeper{}.Module().Routes, msg) }

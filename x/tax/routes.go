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
// Each row's bound (WithUnits) is the most one message used in any state
// the app tests and the load mix build, with a margin (README "Bounded
// work"); the app tests check it on every block they run.
func (k Keeper) Module() module.Module {
	return module.Module{Name: "tax", Routes: []module.Route{
		module.Msg(agencyv1.Role_ROLE_ADMIN, validateRegisterTaxType, k.RegisterTaxType).WithUnits(3_000),
		module.Msg(agencyv1.Role_ROLE_ADMIN, validateAuthoriseCollector, k.AuthoriseCollector).WithUnits(4_500),
		module.Msg(agencyv1.Role_ROLE_ADMIN, validateWithdrawCollector, k.WithdrawCollector).WithUnits(4_000),
		module.Msg(agencyv1.Role_ROLE_TAX_COLLECTOR, validateIssueReceipt, k.IssueReceipt).WithUnits(17_000),
		module.Msg(agencyv1.Role_ROLE_TAX_COLLECTOR, validateCorrectReceipt, k.CorrectReceipt).WithUnits(28_000),
		module.Msg(agencyv1.Role_ROLE_TAX_COLLECTOR, validateRefundReceipt, k.RefundReceipt).WithUnits(28_000),
		module.Msg(agencyv1.Role_ROLE_TAX_COLLECTOR, validateCancelReceipt, k.CancelReceipt).WithUnits(38_000),
		module.Msg(agencyv1.Role_ROLE_SETTLEMENT_BANK, validateConfirmReceipt, k.ConfirmReceipt).WithUnits(23_000),
	}}
}

// ValidateBasic checks a message without reading state. It returns nil for
// message types this module does not own.
func ValidateBasic(msg any) error { return module.ValidateBasic(Keeper{}.Module().Routes, msg) }

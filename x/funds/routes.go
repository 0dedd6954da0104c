package funds

import (
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	"github.com/tallyledger/tally/x/module"
)

// Module is the funds module's route table: one row per message (the role
// it needs, its stateless check, its handler). The treasury appropriates
// and allocates; an agency's finance officers fund, transfer and return;
// a settlement bank settles.
// Each row's bound (WithUnits) is the most one message used in any state
// the app tests and the load mix build, with a margin (README "Bounded
// work"); the app tests check it on every block they run.
func (k Keeper) Module() module.Module {
	return module.Module{Name: "funds", Routes: []module.Route{
		module.Msg(agencyv1.Role_ROLE_TREASURY, validateAppropriate, k.Appropriate).WithUnits(26_500),
		module.Msg(agencyv1.Role_ROLE_TREASURY, validateAllocate, k.Allocate).WithUnits(90_000),
		module.Msg(agencyv1.Role_ROLE_FINANCE, validateFund, k.Fund).WithUnits(48_000),
		module.Msg(agencyv1.Role_ROLE_FINANCE, validateTransfer, k.Transfer).WithUnits(20_000),
		module.Msg(agencyv1.Role_ROLE_FINANCE, validateReturn, k.Return).WithUnits(33_000),
		module.Msg(agencyv1.Role_ROLE_SETTLEMENT_BANK, validateSettle, k.Settle).WithUnits(25_000),
	}}
}

// ValidateBasic checks a message without reading state. It returns nil for
// message types this module does not own.
func ValidateBasic(msg any) error { return module.ValidateBasic(Keeper{}.Module().Routes, msg) }

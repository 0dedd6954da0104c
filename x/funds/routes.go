package funds

import (
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	"github.com/tallyledger/tally/x/module"
)

// Module is the funds module's route table: one row per message (the role
// it needs, its stateless check, its handler). The treasury appropriates
// and allocates; an agency's finance officers fund, transfer and return;
// a settlement bank settles.
func (k Keeper) Module() module.Module {
	return module.Module{Name: "funds", Routes: []module.Route{
		module.Msg(agencyv1.Role_ROLE_TREASURY, validateAppropriate, k.Appropriate),
		module.Msg(agencyv1.Role_ROLE_TREASURY, validateAllocate, k.Allocate),
		module.Msg(agencyv1.Role_ROLE_FINANCE, validateFund, k.Fund),
		module.Msg(agencyv1.Role_ROLE_FINANCE, validateTransfer, k.Transfer),
		module.Msg(agencyv1.Role_ROLE_FINANCE, validateReturn, k.Return),
		module.Msg(agencyv1.Role_ROLE_SETTLEMENT_BANK, validateSettle, k.Settle),
	}}
}

// ValidateBasic checks a message without reading state. It returns nil for
// message types this module does not own.
func ValidateBasic(msg any) error { return module.ValidateBasic(Keeper{}.Module().Routes, msg) }

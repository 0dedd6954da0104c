package app

import (
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/x/module"
)

var benefitsRoutes = moduleRoutes{
	name:     "benefits",
	owns:     func(msg *txv1.Msg) bool { return false },
	role:     func(msg *txv1.Msg) agencyv1.Role { return agencyv1.Role_ROLE_PAYER },
	validate: func(msg *txv1.Msg) error { return nil },
	handle: func(a *App, ctx module.Context, signer *agencyv1.Account, msg *txv1.Msg) error {
		return ErrInvalidMessage.Wrapf("benefits module cannot handle %T", msg.Sum)
	},
}

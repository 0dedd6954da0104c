package app

import (
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
)

// anyActiveAccount marks a message any active account may send on its own
// behalf (rotating its own key, for example).
const anyActiveAccount = agencyv1.Role_ROLE_UNSPECIFIED

// RequiredRole is the permission table: the role each message needs. It is
// the one place permissions are decided; handlers add only checks that
// depend on the target (same agency, custodian of the item, ...).
// A message type missing here is refused, so a new message cannot be
// added without deciding who may send it.
func RequiredRole(msg *txv1.Msg) (agencyv1.Role, bool) {
	switch msg.Sum.(type) {
	case *txv1.Msg_AddMember, *txv1.Msg_RemoveMember, *txv1.Msg_GrantRole, *txv1.Msg_RevokeRole,
		*txv1.Msg_SuspendAccount, *txv1.Msg_ReinstateAccount:
		return agencyv1.Role_ROLE_ADMIN, true
	case *txv1.Msg_RotateKey:
		return anyActiveAccount, true
	}
	return 0, false
}

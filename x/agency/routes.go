package agency

import (
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	"github.com/tallyledger/tally/x/module"
)

// Module is the agency module's route table: one row per message (the
// role it needs, its stateless check, its handler). An agency's admins
// manage its members; an account rotates its own key.
// Each row's bound (WithUnits) is the most one message used in any state
// the app tests and the load mix build, with a margin (README "Bounded
// work"); the app tests check it on every block they run.
func (k Keeper) Module() module.Module {
	return module.Module{Name: "agency", Routes: []module.Route{
		module.Msg(agencyv1.Role_ROLE_ADMIN, ValidateAddMember, k.AddMember).WithUnits(accountUnits),
		module.Msg(agencyv1.Role_ROLE_ADMIN, func(m *agencyv1.MsgRemoveMember) error { return validateAddress(m.Address) }, k.RemoveMember).WithUnits(accountUnits),
		module.Msg(agencyv1.Role_ROLE_ADMIN, func(m *agencyv1.MsgGrantRole) error { return validateAddressRole(m.Address, m.Role) }, k.GrantRole).WithUnits(accountUnits),
		module.Msg(agencyv1.Role_ROLE_ADMIN, func(m *agencyv1.MsgRevokeRole) error { return validateAddressRole(m.Address, m.Role) }, k.RevokeRole).WithUnits(accountUnits),
		module.Msg(module.AnyActiveAccount, validateRotateKey, k.RotateKey).WithUnits(accountUnits),
		module.Msg(agencyv1.Role_ROLE_ADMIN, validateSuspend, k.SuspendAccount).WithUnits(accountUnits),
		module.Msg(agencyv1.Role_ROLE_ADMIN, func(m *agencyv1.MsgReinstateAccount) error { return validateAddress(m.Address) }, k.ReinstateAccount).WithUnits(accountUnits),
		module.Msg(agencyv1.Role_ROLE_ADMIN, validateSetName, k.SetAccountName).WithUnits(accountUnits),
	}}
}

// ValidateBasic checks a message without reading state. It returns nil for
// message types this module does not own.
func ValidateBasic(msg any) error { return module.ValidateBasic(Keeper{}.Module().Routes, msg) }

func validateAddressRole(addr []byte, r agencyv1.Role) error {
	if err := validateAddress(addr); err != nil {
		return err
	}
	return validateRole(r)
}

func validateRotateKey(m *agencyv1.MsgRotateKey) error {
	if err := ValidatePubKey("new_pub_key", m.NewPubKey); err != nil {
		return err
	}
	return validateProofSize("new_key_signature", m.NewKeySignature)
}

func validateSuspend(m *agencyv1.MsgSuspendAccount) error {
	if err := validateAddress(m.Address); err != nil {
		return err
	}
	return module.ValidCode(m.ReasonCode, SuspensionReasonPrefix, "reason_code", ErrInvalidReason)
}

// accountUnits bounds what any agency message is charged (module.Route.Units):
// the signer's agency and an account read, the account and its indexes
// written. The most one used was 6,050 (add_member, besides its bytes).
const accountUnits = 7_000

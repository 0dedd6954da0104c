package agency

import (
	"bytes"
	"encoding/hex"
	"slices"
	"strings"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/api/keyproof"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	"github.com/tallyledger/tally/x/module"
)

// Event types the agency module emits.
const (
	EventMemberAdded       = "agency.member_added"
	EventMemberRemoved     = "agency.member_removed"
	EventRoleGranted       = "agency.role_granted"
	EventRoleRevoked       = "agency.role_revoked"
	EventKeyRotated        = "agency.key_rotated"
	EventAccountSuspended  = "agency.account_suspended"
	EventAccountReinstated = "agency.account_reinstated"
	EventAccountNamed      = "agency.account_named"
)

// SuspensionReasonPrefix is the prefix of SuspensionReason's value names.
const SuspensionReasonPrefix = api.SuspensionReasonPrefix

// VerifyKeyProof checks a rotate_key's proof of possession: the new key's
// signature of keyproof.Statement(chain id, "", the rotating account's
// address, new key, rotate-key). The address names the account, and so its
// agency, for good; leaving the agency out lets the app check the proof
// without state and refuse a bad one before the mempool. RotateKey checks
// it again.
func VerifyKeyProof(chainID string, addr []byte, m *agencyv1.MsgRotateKey) error {
	return CheckKeyProof("new_pub_key", m.NewPubKey, m.NewKeySignature, chainID, "", addr, keyproof.RotateKey)
}

// ValidateAddMember checks what can be checked without state.
func ValidateAddMember(m *agencyv1.MsgAddMember) error {
	if err := ValidatePubKey("pub_key", m.PubKey); err != nil {
		return err
	}
	if err := validateProofSize("key_proof", m.KeyProof); err != nil {
		return err
	}
	return validateRoles(m.Roles)
}

// validateProofSize checks that a proof of possession is a signature's size.
func validateProofSize(what string, proof []byte) error {
	if len(proof) != SignatureSize {
		return ErrBadKeyProof.Wrapf("%s is %d bytes; the new key's holder signs keyproof.Statement (tallyd keys prove) and the %d-byte ed25519 signature goes here", what, len(proof), SignatureSize)
	}
	return nil
}

func validateRoles(roles []agencyv1.Role) error {
	for _, r := range roles {
		if !ValidRole(r) {
			return ErrInvalidRole.Wrapf("role %d is not defined; roles are %s", r, roleList())
		}
	}
	return nil
}

func validateAddress(addr []byte) error {
	if len(addr) != AddressSize {
		return ErrInvalidAddress.Wrapf("address is %d bytes; addresses are %d bytes (40 hex characters)", len(addr), AddressSize)
	}
	return nil
}

func validateRole(r agencyv1.Role) error {
	if !ValidRole(r) {
		return ErrInvalidRole.Wrapf("role %d is not defined; roles are %s", r, roleList())
	}
	return nil
}

// ValidateDisplayName checks an account's display name: a desk or role
// ("Bristol collections desk"), in the characters module.ValidDisplayName
// allows.
func ValidateDisplayName(name string) error {
	return module.ValidDisplayName("display_name", name, ErrInvalidName)
}

// validateSetName checks a set_account_name; an empty name clears it.
func validateSetName(m *agencyv1.MsgSetAccountName) error {
	if err := validateAddress(m.Address); err != nil {
		return err
	}
	if m.DisplayName == "" {
		return nil
	}
	return ValidateDisplayName(m.DisplayName)
}

// member loads target and checks that the admin may act on it: same
// agency, not removed.
func (k Keeper) member(ctx module.Context, admin *agencyv1.Account, target []byte) (*agencyv1.Account, error) {
	acc, err := k.Account(ctx.Store, target)
	if err != nil {
		return nil, err
	}
	if acc.AgencyId != admin.AgencyId {
		return nil, ErrOtherAgency.Wrapf("account %x belongs to agency %q; you administer %q", target, acc.AgencyId, admin.AgencyId)
	}
	if acc.Status == agencyv1.Status_STATUS_REMOVED {
		return nil, ErrRemoved.Wrapf("account %x was removed at height %d", target, acc.UpdatedHeight)
	}
	return acc, nil
}

func addrAttr(key string, addr []byte) module.Attribute {
	return module.Indexed(key, hex.EncodeToString(addr))
}

// AddMember creates an account in the signer's agency.
func (k Keeper) AddMember(ctx module.Context, signer *agencyv1.Account, m *agencyv1.MsgAddMember) error {
	ag, err := k.Agency(ctx.Store, signer.AgencyId)
	if err != nil {
		return err
	}
	roles := sortedRoles(m.Roles)
	for _, r := range roles {
		if !RoleAllowed(ag.Kind, r) {
			return ErrRoleNotAllowed.Wrapf("role %s cannot be held in a %s agency", RoleName(r), KindName(ag.Kind))
		}
	}
	addr := AddressOf(m.PubKey)
	if err := k.checkKeyProof("pub_key", m.PubKey, m.KeyProof, ctx.ChainID, ag.Id, addr, keyproof.AddMember); err != nil {
		return err
	}
	if _, err := k.Account(ctx.Store, addr); err == nil {
		return ErrAccountExists.Wrapf("an account with address %x already exists", addr)
	}
	if holder := k.KeyHolder(ctx.Store, m.PubKey); holder != nil {
		return ErrKeyInUse.Wrapf("public key is the current key of account %x", holder)
	}
	acc := &agencyv1.Account{
		Address:       addr,
		PubKey:        slices.Clone(m.PubKey),
		AgencyId:      ag.Id,
		Roles:         roles,
		Status:        agencyv1.Status_STATUS_ACTIVE,
		CreatedHeight: ctx.Height,
		UpdatedHeight: ctx.Height,
	}
	if err := k.saveAccount(ctx.Store, nil, acc); err != nil {
		return err
	}
	ctx.Emit(EventMemberAdded, module.Indexed("agency", ag.Id), addrAttr("address", addr), module.Attr("roles", rolesString(roles)))
	return nil
}

// RemoveMember marks an account removed; the record and its history stay.
func (k Keeper) RemoveMember(ctx module.Context, signer *agencyv1.Account, m *agencyv1.MsgRemoveMember) error {
	if bytes.Equal(signer.Address, m.Address) {
		return ErrSelf.Wrapf("ask another admin of %q to remove your account", signer.AgencyId)
	}
	acc, err := k.member(ctx, signer, m.Address)
	if err != nil {
		return err
	}
	before := clone(acc)
	acc.Status = agencyv1.Status_STATUS_REMOVED
	acc.UpdatedHeight = ctx.Height
	if err := k.saveAccount(ctx.Store, before, acc); err != nil {
		return err
	}
	ctx.Emit(EventMemberRemoved, module.Indexed("agency", acc.AgencyId), addrAttr("address", acc.Address))
	return nil
}

// GrantRole adds a role to an account of the signer's agency.
func (k Keeper) GrantRole(ctx module.Context, signer *agencyv1.Account, m *agencyv1.MsgGrantRole) error {
	acc, err := k.member(ctx, signer, m.Address)
	if err != nil {
		return err
	}
	ag, err := k.Agency(ctx.Store, acc.AgencyId)
	if err != nil {
		return err
	}
	if !RoleAllowed(ag.Kind, m.Role) {
		return ErrRoleNotAllowed.Wrapf("role %s cannot be held in a %s agency", RoleName(m.Role), KindName(ag.Kind))
	}
	if HasRole(acc, m.Role) {
		return ErrRoleHeld.Wrapf("account %x already holds role %s", acc.Address, RoleName(m.Role))
	}
	before := clone(acc)
	acc.Roles = sortedRoles(append(acc.Roles, m.Role))
	acc.UpdatedHeight = ctx.Height
	if err := k.saveAccount(ctx.Store, before, acc); err != nil {
		return err
	}
	ctx.Emit(EventRoleGranted, module.Indexed("agency", acc.AgencyId), addrAttr("address", acc.Address), module.Attr("role", RoleName(m.Role)))
	return nil
}

// RevokeRole removes a role from an account of the signer's agency.
func (k Keeper) RevokeRole(ctx module.Context, signer *agencyv1.Account, m *agencyv1.MsgRevokeRole) error {
	acc, err := k.member(ctx, signer, m.Address)
	if err != nil {
		return err
	}
	if !HasRole(acc, m.Role) {
		return ErrRoleNotHeld.Wrapf("account %x does not hold role %s", acc.Address, RoleName(m.Role))
	}
	before := clone(acc)
	acc.Roles = slices.DeleteFunc(slices.Clone(acc.Roles), func(r agencyv1.Role) bool { return r == m.Role })
	acc.UpdatedHeight = ctx.Height
	if err := k.saveAccount(ctx.Store, before, acc); err != nil {
		return err
	}
	ctx.Emit(EventRoleRevoked, module.Indexed("agency", acc.AgencyId), addrAttr("address", acc.Address), module.Attr("role", RoleName(m.Role)))
	return nil
}

// RotateKey replaces the signer's own key after checking the new key's proof
// of possession.
func (k Keeper) RotateKey(ctx module.Context, signer *agencyv1.Account, m *agencyv1.MsgRotateKey) error {
	// Earlier messages of the same transaction may have changed the signer's
	// account (a role granted, a key already rotated): work on it as they left it.
	signer, err := k.Account(ctx.Store, signer.Address)
	if err != nil {
		return err
	}
	if holder := k.KeyHolder(ctx.Store, m.NewPubKey); holder != nil {
		return ErrKeyInUse.Wrapf("new public key is already the key of account %x", holder)
	}
	if err := VerifyKeyProof(ctx.ChainID, signer.Address, m); err != nil {
		return err
	}
	before := clone(signer)
	acc := clone(signer)
	acc.PubKey = slices.Clone(m.NewPubKey)
	acc.KeyRotations++
	acc.UpdatedHeight = ctx.Height
	if err := k.saveAccount(ctx.Store, before, acc); err != nil {
		return err
	}
	ctx.Emit(EventKeyRotated, module.Indexed("agency", acc.AgencyId), addrAttr("address", acc.Address))
	return nil
}

// SuspendAccount stops an account of the signer's agency from signing.
func (k Keeper) SuspendAccount(ctx module.Context, signer *agencyv1.Account, m *agencyv1.MsgSuspendAccount) error {
	if bytes.Equal(signer.Address, m.Address) {
		return ErrSelf.Wrapf("ask another admin of %q to suspend your account", signer.AgencyId)
	}
	acc, err := k.member(ctx, signer, m.Address)
	if err != nil {
		return err
	}
	if acc.Status != agencyv1.Status_STATUS_ACTIVE {
		return ErrNotActive.Wrapf("account %x is %s", acc.Address, StatusName(acc.Status))
	}
	before := clone(acc)
	acc.Status = agencyv1.Status_STATUS_SUSPENDED
	acc.UpdatedHeight = ctx.Height
	if err := k.saveAccount(ctx.Store, before, acc); err != nil {
		return err
	}
	ctx.Emit(EventAccountSuspended, module.Indexed("agency", acc.AgencyId), addrAttr("address", acc.Address), module.Attr("reason", module.CodeName(m.ReasonCode, SuspensionReasonPrefix)))
	return nil
}

// ReinstateAccount lets a suspended account of the signer's agency sign again.
func (k Keeper) ReinstateAccount(ctx module.Context, signer *agencyv1.Account, m *agencyv1.MsgReinstateAccount) error {
	acc, err := k.member(ctx, signer, m.Address)
	if err != nil {
		return err
	}
	if acc.Status != agencyv1.Status_STATUS_SUSPENDED {
		return ErrNotSuspended.Wrapf("account %x is %s", acc.Address, StatusName(acc.Status))
	}
	before := clone(acc)
	acc.Status = agencyv1.Status_STATUS_ACTIVE
	acc.UpdatedHeight = ctx.Height
	if err := k.saveAccount(ctx.Store, before, acc); err != nil {
		return err
	}
	ctx.Emit(EventAccountReinstated, module.Indexed("agency", acc.AgencyId), addrAttr("address", acc.Address))
	return nil
}

func rolesString(roles []agencyv1.Role) string {
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = RoleName(r)
	}
	return strings.Join(names, ",")
}

// SetAccountName sets or clears the display name of an account of the
// signer's agency. A removed account keeps the name it had.
func (k Keeper) SetAccountName(ctx module.Context, signer *agencyv1.Account, m *agencyv1.MsgSetAccountName) error {
	acc, err := k.member(ctx, signer, m.Address)
	if err != nil {
		return err
	}
	if acc.DisplayName == m.DisplayName {
		return ErrNameUnchanged.Wrapf("account %x is already named %q; send a different name, or an empty one to clear it", acc.Address, m.DisplayName)
	}
	before := clone(acc)
	acc.DisplayName = m.DisplayName
	acc.UpdatedHeight = ctx.Height
	if err := k.saveAccount(ctx.Store, before, acc); err != nil {
		return err
	}
	ctx.Emit(EventAccountNamed, module.Indexed("agency", acc.AgencyId), addrAttr("address", acc.Address), module.Attr("display_name", m.DisplayName))
	return nil
}

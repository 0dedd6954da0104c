package app

import (
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/module"
)

// inner returns the module message inside the oneof, or nil when empty.
func inner(msg *txv1.Msg) any {
	switch m := msg.Sum.(type) {
	case *txv1.Msg_AddMember:
		return m.AddMember
	case *txv1.Msg_RemoveMember:
		return m.RemoveMember
	case *txv1.Msg_GrantRole:
		return m.GrantRole
	case *txv1.Msg_RevokeRole:
		return m.RevokeRole
	case *txv1.Msg_RotateKey:
		return m.RotateKey
	case *txv1.Msg_SuspendAccount:
		return m.SuspendAccount
	case *txv1.Msg_ReinstateAccount:
		return m.ReinstateAccount
	}
	return nil
}

// validateBasic runs each module's stateless checks on a message.
func validateBasic(msg *txv1.Msg) error {
	m := inner(msg)
	if m == nil {
		return ErrInvalidMessage.Wrapf("message has no content or is of a type this node does not know; is the node up to date?")
	}
	return agency.ValidateBasic(m)
}

// route hands a message to the module that owns it.
func (a *App) route(ctx module.Context, signer *agencyv1.Account, msg *txv1.Msg) error {
	switch m := msg.Sum.(type) {
	case *txv1.Msg_AddMember:
		return a.agency.AddMember(ctx, signer, m.AddMember)
	case *txv1.Msg_RemoveMember:
		return a.agency.RemoveMember(ctx, signer, m.RemoveMember)
	case *txv1.Msg_GrantRole:
		return a.agency.GrantRole(ctx, signer, m.GrantRole)
	case *txv1.Msg_RevokeRole:
		return a.agency.RevokeRole(ctx, signer, m.RevokeRole)
	case *txv1.Msg_RotateKey:
		return a.agency.RotateKey(ctx, signer, m.RotateKey)
	case *txv1.Msg_SuspendAccount:
		return a.agency.SuspendAccount(ctx, signer, m.SuspendAccount)
	case *txv1.Msg_ReinstateAccount:
		return a.agency.ReinstateAccount(ctx, signer, m.ReinstateAccount)
	}
	return ErrInvalidMessage.Wrapf("no handler for message %T", msg.Sum)
}

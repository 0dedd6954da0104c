package app

import (
	abci "github.com/cometbft/cometbft/abci/types"

	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/module"
)

var agencyRoutes = moduleRoutes{
	name: "agency",
	owns: func(msg *txv1.Msg) bool {
		switch msg.Sum.(type) {
		case *txv1.Msg_AddMember, *txv1.Msg_RemoveMember, *txv1.Msg_GrantRole, *txv1.Msg_RevokeRole,
			*txv1.Msg_RotateKey, *txv1.Msg_SuspendAccount, *txv1.Msg_ReinstateAccount:
			return true
		}
		return false
	},
	role: func(msg *txv1.Msg) agencyv1.Role {
		if _, ok := msg.Sum.(*txv1.Msg_RotateKey); ok {
			return anyActiveAccount // an account rotates its own key
		}
		return agencyv1.Role_ROLE_ADMIN
	},
	validate: func(msg *txv1.Msg) error {
		switch m := msg.Sum.(type) {
		case *txv1.Msg_AddMember:
			return agency.ValidateBasic(m.AddMember)
		case *txv1.Msg_RemoveMember:
			return agency.ValidateBasic(m.RemoveMember)
		case *txv1.Msg_GrantRole:
			return agency.ValidateBasic(m.GrantRole)
		case *txv1.Msg_RevokeRole:
			return agency.ValidateBasic(m.RevokeRole)
		case *txv1.Msg_RotateKey:
			return agency.ValidateBasic(m.RotateKey)
		case *txv1.Msg_SuspendAccount:
			return agency.ValidateBasic(m.SuspendAccount)
		case *txv1.Msg_ReinstateAccount:
			return agency.ValidateBasic(m.ReinstateAccount)
		}
		return nil
	},
	handle: func(a *App, ctx module.Context, signer *agencyv1.Account, msg *txv1.Msg) error {
		k := a.agency
		switch m := msg.Sum.(type) {
		case *txv1.Msg_AddMember:
			return k.AddMember(ctx, signer, m.AddMember)
		case *txv1.Msg_RemoveMember:
			return k.RemoveMember(ctx, signer, m.RemoveMember)
		case *txv1.Msg_GrantRole:
			return k.GrantRole(ctx, signer, m.GrantRole)
		case *txv1.Msg_RevokeRole:
			return k.RevokeRole(ctx, signer, m.RevokeRole)
		case *txv1.Msg_RotateKey:
			return k.RotateKey(ctx, signer, m.RotateKey)
		case *txv1.Msg_SuspendAccount:
			return k.SuspendAccount(ctx, signer, m.SuspendAccount)
		case *txv1.Msg_ReinstateAccount:
			return k.ReinstateAccount(ctx, signer, m.ReinstateAccount)
		}
		return ErrInvalidMessage.Wrapf("agency module cannot handle %T", msg.Sum)
	},
	query: func(a *App, q Query) (*abci.ResponseQuery, error) {
		switch q.Path {
		case PathAgency:
			if err := agency.ValidateAgencyID(string(q.Data)); err != nil {
				return nil, err
			}
			return a.single(agency.AgencyKey(string(q.Data)), q.Height, q.Prove)
		case PathAccount:
			if len(q.Data) != agency.AddressSize {
				return nil, ErrInvalidQuery.Wrapf("an address is %d bytes; got %d", agency.AddressSize, len(q.Data))
			}
			return a.single(agency.AccountKey(q.Data), q.Height, q.Prove)
		case PathMembers:
			arg, after := splitPage(q.Data)
			if err := agency.ValidateAgencyID(arg); err != nil {
				return nil, err
			}
			prefix := agency.MembersPrefix(arg)
			return a.list(prefix, after, q.Height, q.Prove, func(indexKey []byte) []byte {
				return agency.AccountKey(indexKey[len(prefix):])
			})
		}
		return nil, ErrUnknownQuery.Wrapf("no agency query %q; paths are %s, %s, %s", q.Path, PathAgency, PathAccount, PathMembers)
	},
}

// Agency query paths.
const (
	PathAgency  = "/agency/agency"  // data: agency id
	PathAccount = "/agency/account" // data: 20-byte address
	PathMembers = "/agency/members" // data: agency id [0x00 next_key]; each member account with its proof, a page at a time
)

package agency_test

import (
	"crypto/ed25519"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/api/keyproof"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/module"
)

// requireOnlyFails asserts that the report's check name fails with a
// detail containing fragment, and that every other check holds.
func requireOnlyFails(t *testing.T, r *appv1.ModuleInvariants, name, fragment string) {
	t.Helper()
	require.False(t, r.Ok, "the report must fail")
	seen := false
	for _, c := range r.Checks {
		if c.Name != name {
			require.True(t, c.Ok, "check %s: %s", c.Name, c.Detail)
			continue
		}
		seen = true
		require.False(t, c.Ok, "check %s must fail", name)
		require.NotZero(t, c.Problems)
		require.Contains(t, c.Detail, fragment)
	}
	require.True(t, seen, "no check named %s", name)
}

func requireHolds(t *testing.T, kv store.KV) {
	t.Helper()
	r, err := k.Invariants(kv)
	require.NoError(t, err)
	for _, c := range r.Checks {
		require.True(t, c.Ok, "check %s: %s", c.Name, c.Detail)
		require.NotEmpty(t, c.Rule)
	}
	require.True(t, r.Ok)
	require.Equal(t, "agency", r.Module)
	require.Len(t, r.Checks, 4)
}

// invariantState is genesis followed by every kind of membership change
// the handlers make: members added, admins granted, suspended, reinstated,
// revoked and removed, and a key rotated.
func invariantState(t *testing.T) store.KV {
	kv := store.NewMemory()
	require.NoError(t, k.InitGenesis(kv, validGenesis(), 0))
	newbie, next := keyFor("inv/newbie"), keyFor("inv/next")
	for _, step := range []func(ctx module.Context, s *agencyv1.Account) error{
		func(ctx module.Context, s *agencyv1.Account) error {
			return k.AddMember(ctx, s, &agencyv1.MsgAddMember{KeyProof: proofFor(admin2, "treasury", admin2.addr, keyproof.AddMember), PubKey: admin2.pub, Roles: []agencyv1.Role{agencyv1.Role_ROLE_ADMIN}})
		},
		func(ctx module.Context, s *agencyv1.Account) error {
			return k.AddMember(ctx, s, &agencyv1.MsgAddMember{KeyProof: proofFor(newbie, "treasury", newbie.addr, keyproof.AddMember), PubKey: newbie.pub})
		},
		func(ctx module.Context, s *agencyv1.Account) error {
			return k.GrantRole(ctx, s, &agencyv1.MsgGrantRole{Address: newbie.addr, Role: agencyv1.Role_ROLE_ADMIN})
		},
		func(ctx module.Context, s *agencyv1.Account) error {
			return k.SuspendAccount(ctx, s, &agencyv1.MsgSuspendAccount{Address: newbie.addr})
		},
		func(ctx module.Context, s *agencyv1.Account) error {
			return k.ReinstateAccount(ctx, s, &agencyv1.MsgReinstateAccount{Address: newbie.addr})
		},
		func(ctx module.Context, s *agencyv1.Account) error {
			return k.RevokeRole(ctx, s, &agencyv1.MsgRevokeRole{Address: newbie.addr, Role: agencyv1.Role_ROLE_ADMIN})
		},
		func(ctx module.Context, s *agencyv1.Account) error {
			return k.RemoveMember(ctx, s, &agencyv1.MsgRemoveMember{Address: admin2.addr})
		},
	} {
		_, err := apply(t, kv, admin.addr, step)
		require.NoError(t, err)
	}
	proof := ed25519.Sign(next.priv, keyproof.Statement(chainID, "", member.addr, next.pub, keyproof.RotateKey))
	_, err := apply(t, kv, member.addr, func(ctx module.Context, s *agencyv1.Account) error {
		return k.RotateKey(ctx, s, &agencyv1.MsgRotateKey{NewPubKey: next.pub, NewKeySignature: proof})
	})
	require.NoError(t, err)
	return kv
}

func TestAgencyInvariantsHoldAfterEveryMembershipChange(t *testing.T) {
	requireHolds(t, invariantState(t))
}

// Each check catches state the handlers never write, written directly
// under the module's keys, and names the record at fault.
func TestAgencyInvariantsCatchCorruptState(t *testing.T) {
	for _, tt := range []struct {
		name, check, fragment string
		corrupt               func(t *testing.T, kv store.KV)
	}{
		{"last admin loses the role behind the handlers' back", agency.CheckActiveAdmins, `active agency "treasury" has no active admin`,
			func(t *testing.T, kv store.KV) {
				acc, err := k.Account(kv, admin.addr)
				require.NoError(t, err)
				acc.Roles = nil
				require.NoError(t, store.SetProto(kv, api.AccountKey(admin.addr), acc))
			}},
		{"admin count drifts", agency.CheckActiveAdmins, `agency "tax": active_admins is 5 but 1 active accounts hold admin`,
			func(t *testing.T, kv store.KV) {
				ag, err := k.Agency(kv, "tax")
				require.NoError(t, err)
				ag.ActiveAdmins = 5
				require.NoError(t, k.SetAgency(kv, ag))
			}},
		{"account of an agency that does not exist", agency.CheckMembership, `belongs to agency "ghost", which does not exist`,
			func(t *testing.T, kv store.KV) {
				acc, err := k.Account(kv, member.addr)
				require.NoError(t, err)
				acc.AgencyId = "ghost"
				require.NoError(t, store.SetProto(kv, api.AccountKey(member.addr), acc))
			}},
		{"membership index entry without an account", agency.CheckMembership, "which is no account",
			func(t *testing.T, kv store.KV) {
				kv.Set(api.MemberKey("tax", keyFor("inv/phantom").addr), []byte{})
			}},
		{"unsorted roles", agency.CheckAccountRecord, "are not sorted and unique",
			func(t *testing.T, kv store.KV) {
				acc, err := k.Account(kv, other.addr)
				require.NoError(t, err)
				acc.Roles = []agencyv1.Role{agencyv1.Role_ROLE_TAX_COLLECTOR, agencyv1.Role_ROLE_ADMIN}
				require.NoError(t, store.SetProto(kv, api.AccountKey(other.addr), acc))
			}},
		{"stale key index entry", agency.CheckKeyIndex, "whose current key is",
			func(t *testing.T, kv store.KV) {
				kv.Set(api.PubKeyKey(member.pub), member.addr) // the key rotated away
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			kv := invariantState(t)
			tt.corrupt(t, kv)
			r, err := k.Invariants(kv)
			require.NoError(t, err)
			requireOnlyFails(t, r, tt.check, tt.fragment)
		})
	}
}

package agency_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/api/keyproof"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/module"
)

const chainID = "tally-unit"

var k agency.Keeper

type key struct {
	priv ed25519.PrivateKey
	pub  []byte
	addr []byte
}

func keyFor(name string) key {
	seed := sha256.Sum256([]byte("agency-unit/" + name))
	priv := ed25519.NewKeyFromSeed(seed[:])
	pub := []byte(priv.Public().(ed25519.PublicKey))
	return key{priv: priv, pub: pub, addr: agency.AddressOf(pub)}
}

var (
	admin  = keyFor("admin")
	admin2 = keyFor("admin2")
	member = keyFor("member")
	other  = keyFor("other")
)

// proofFor is k's proof of possession on the unit-test chain.
func proofFor(k key, agencyID string, account []byte, purpose keyproof.Purpose) []byte {
	return ed25519.Sign(k.priv, keyproof.Statement(chainID, agencyID, account, k.pub, purpose))
}

func account(k key, ag string, roles ...agencyv1.Role) *agencyv1.Account {
	return &agencyv1.Account{PubKey: k.pub, AgencyId: ag, Roles: roles}
}

func validGenesis() *agencyv1.Genesis {
	return &agencyv1.Genesis{
		Agencies: []*agencyv1.Agency{
			{Id: "treasury", Name: "Treasury", Kind: agencyv1.Kind_KIND_TREASURY},
			{Id: "tax", Name: "Revenue", Kind: agencyv1.Kind_KIND_TAX_AUTHORITY},
		},
		Accounts: []*agencyv1.Account{
			account(admin, "treasury", agencyv1.Role_ROLE_ADMIN),
			account(member, "treasury", agencyv1.Role_ROLE_TREASURY),
			account(other, "tax", agencyv1.Role_ROLE_ADMIN, agencyv1.Role_ROLE_TAX_COLLECTOR),
		},
	}
}

func requireCoded(t *testing.T, want *module.Error, err error, fragment string) {
	t.Helper()
	require.Error(t, err)
	space, code, log := module.CodeOf(err)
	require.Equal(t, fmt.Sprintf("%s/%d", want.Codespace, want.Code), fmt.Sprintf("%s/%d", space, code), log)
	require.Contains(t, log, fragment)
}

func TestInitGenesisRefusesInvalidGenesis(t *testing.T) {
	for _, tt := range []struct {
		name     string
		edit     func(g *agencyv1.Genesis)
		want     *module.Error
		fragment string
	}{
		{"duplicate agency", func(g *agencyv1.Genesis) { g.Agencies = append(g.Agencies, g.Agencies[0]) }, agency.ErrInvalidGenesis, `agency "treasury" appears twice`},
		{"account in unknown agency", func(g *agencyv1.Genesis) { g.Accounts[1].AgencyId = "nowhere" }, agency.ErrUnknownAgency, `"nowhere"`},
		{"agency without admin", func(g *agencyv1.Genesis) { g.Accounts[0].Roles = nil }, agency.ErrInvalidGenesis, `agency "treasury" has no active admin`},
		{"agency whose only admin is suspended", func(g *agencyv1.Genesis) { g.Accounts[0].Status = agencyv1.Status_STATUS_SUSPENDED }, agency.ErrInvalidGenesis, "no active admin"},
		{"role not allowed for kind", func(g *agencyv1.Genesis) {
			g.Accounts[2].Roles = append(g.Accounts[2].Roles, agencyv1.Role_ROLE_TREASURY)
		}, agency.ErrRoleNotAllowed, "cannot be held in a tax_authority agency"},
		{"undefined role", func(g *agencyv1.Genesis) { g.Accounts[1].Roles = []agencyv1.Role{42} }, agency.ErrInvalidRole, "role 42 is not defined"},
		{"upper-case id", func(g *agencyv1.Genesis) { g.Agencies[0].Id = "Treasury" }, agency.ErrInvalidAgencyID, "may use only"},
		{"id with a slash", func(g *agencyv1.Genesis) { g.Agencies[0].Id = "tre/asury" }, agency.ErrInvalidAgencyID, "may use only"},
		{"empty id", func(g *agencyv1.Genesis) { g.Agencies[0].Id = "" }, agency.ErrInvalidAgencyID, "must be 1 to 64"},
		{"id too long", func(g *agencyv1.Genesis) { g.Agencies[0].Id = strings.Repeat("a", 65) }, agency.ErrInvalidAgencyID, "must be 1 to 64"},
		{"agency without name", func(g *agencyv1.Genesis) { g.Agencies[1].Name = "" }, agency.ErrInvalidGenesis, "has no name"},
		{"agency without kind", func(g *agencyv1.Genesis) { g.Agencies[1].Kind = agencyv1.Kind_KIND_UNSPECIFIED }, agency.ErrInvalidGenesis, "no valid kind"},
		{"undefined kind", func(g *agencyv1.Genesis) { g.Agencies[1].Kind = 99 }, agency.ErrInvalidGenesis, "no valid kind"},
		{"short public key", func(g *agencyv1.Genesis) { g.Accounts[1].PubKey = g.Accounts[1].PubKey[:31] }, agency.ErrInvalidKey, "pub_key is 31 bytes"},
		{"address not of its key", func(g *agencyv1.Genesis) { g.Accounts[1].Address = admin2.addr }, agency.ErrInvalidGenesis, "does not match its public key"},
		{"rotated account with a short address", func(g *agencyv1.Genesis) { g.Accounts[1].Address = admin2.addr[:19]; g.Accounts[1].KeyRotations = 1 }, agency.ErrInvalidGenesis, "address is 19 bytes"},
		{"undefined agency status", func(g *agencyv1.Genesis) { g.Agencies[1].Status = 9 }, agency.ErrInvalidGenesis, "status 9, which is not defined"},
		{"undefined account status", func(g *agencyv1.Genesis) { g.Accounts[1].Status = 9 }, agency.ErrInvalidGenesis, "status 9, which is not defined"},
		{"duplicate account", func(g *agencyv1.Genesis) { g.Accounts = append(g.Accounts, account(member, "treasury")) }, agency.ErrInvalidGenesis, "appears twice"},
		{"key held by two accounts", func(g *agencyv1.Genesis) {
			g.Accounts = append(g.Accounts, &agencyv1.Account{Address: admin2.addr, PubKey: member.pub, AgencyId: "treasury", KeyRotations: 1})
		}, agency.ErrInvalidGenesis, "public key already used"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := validGenesis()
			tt.edit(g)
			requireCoded(t, tt.want, k.InitGenesis(store.NewMemory(), g, 0), tt.fragment)
		})
	}
	t.Run("missing", func(t *testing.T) {
		requireCoded(t, agency.ErrInvalidGenesis, k.InitGenesis(store.NewMemory(), nil, 0), "app_state.agency is missing")
	})
}

func TestInitGenesisRecomputesDerivedFieldsAndDefaults(t *testing.T) {
	g := validGenesis()
	g.Agencies[0].MemberCount, g.Agencies[0].ActiveAdmins = 99, 99 // not trusted
	g.Accounts[1].Roles = []agencyv1.Role{agencyv1.Role_ROLE_AUDITOR, agencyv1.Role_ROLE_TREASURY, agencyv1.Role_ROLE_AUDITOR}
	kv := store.NewMemory()
	require.NoError(t, k.InitGenesis(kv, g, 0))

	tr, err := k.Agency(kv, "treasury")
	require.NoError(t, err)
	require.Equal(t, agencyv1.Status_STATUS_ACTIVE, tr.Status)
	require.Equal(t, uint64(2), tr.MemberCount)
	require.Equal(t, uint64(1), tr.ActiveAdmins)

	acc, err := k.Account(kv, member.addr)
	require.NoError(t, err)
	require.Equal(t, member.addr, acc.Address, "address derived from the key")
	require.Equal(t, agencyv1.Status_STATUS_ACTIVE, acc.Status)
	require.Equal(t, []agencyv1.Role{agencyv1.Role_ROLE_TREASURY, agencyv1.Role_ROLE_AUDITOR}, acc.Roles, "sorted, unique")
	require.Equal(t, member.addr, k.KeyHolder(kv, member.pub))
	require.ElementsMatch(t, [][]byte{admin.addr, member.addr}, k.Members(kv, "treasury"))

	exported := k.ExportGenesis(kv)
	again := store.NewMemory()
	require.NoError(t, k.InitGenesis(again, exported, 0), "an export is a valid genesis")
	require.Equal(t, fmt.Sprint(exported), fmt.Sprint(k.ExportGenesis(again)))
}

// apply runs a handler as the app does: on its own cache, written only if
// it succeeds.
func apply(t *testing.T, kv store.KV, signer []byte, fn func(ctx module.Context, signer *agencyv1.Account) error) ([]module.Event, error) {
	t.Helper()
	acc, err := k.Account(kv, signer)
	require.NoError(t, err)
	cache := store.NewCache(kv)
	var events []module.Event
	err = fn(module.NewContext(cache, 7, time.Unix(0, 0), chainID, &events), acc)
	if err == nil {
		cache.Write()
	}
	return events, err
}

// member_count counts every account ever added (the membership index keeps
// removed ones); active_admins counts active accounts holding admin. Both
// follow every change and never drift from the records.
func TestCountsFollowMembershipChanges(t *testing.T) {
	kv := store.NewMemory()
	require.NoError(t, k.InitGenesis(kv, validGenesis(), 0))
	newbie := keyFor("newbie")

	check := func(step string, members, admins uint64) {
		t.Helper()
		ag, err := k.Agency(kv, "treasury")
		require.NoError(t, err)
		require.Equal(t, members, ag.MemberCount, "%s: member_count", step)
		require.Equal(t, admins, ag.ActiveAdmins, "%s: active_admins", step)
		require.Len(t, k.Members(kv, "treasury"), int(members), "%s: membership index", step)
		// Recount from the records themselves.
		var active uint64
		for _, addr := range k.Members(kv, "treasury") {
			acc, err := k.Account(kv, addr)
			require.NoError(t, err)
			if acc.Status == agencyv1.Status_STATUS_ACTIVE && agency.HasRole(acc, agencyv1.Role_ROLE_ADMIN) {
				active++
			}
		}
		require.Equal(t, active, ag.ActiveAdmins, "%s: recount", step)
	}
	ok := func(step string, fn func(ctx module.Context, s *agencyv1.Account) error, members, admins uint64) {
		t.Helper()
		_, err := apply(t, kv, admin.addr, fn)
		require.NoError(t, err, step)
		check(step, members, admins)
	}
	refused := func(step string, want *module.Error, fn func(ctx module.Context, s *agencyv1.Account) error, members, admins uint64) {
		t.Helper()
		_, err := apply(t, kv, admin.addr, fn)
		requireCoded(t, want, err, "")
		check(step, members, admins)
	}

	check("genesis", 2, 1)
	refused("revoke the last admin's role", agency.ErrLastAdmin, func(ctx module.Context, s *agencyv1.Account) error {
		return k.RevokeRole(ctx, s, &agencyv1.MsgRevokeRole{Address: admin.addr, Role: agencyv1.Role_ROLE_ADMIN})
	}, 2, 1)
	ok("add an admin", func(ctx module.Context, s *agencyv1.Account) error {
		return k.AddMember(ctx, s, &agencyv1.MsgAddMember{KeyProof: proofFor(admin2, "treasury", admin2.addr, keyproof.AddMember), PubKey: admin2.pub, Roles: []agencyv1.Role{agencyv1.Role_ROLE_ADMIN}})
	}, 3, 2)
	ok("add a plain member", func(ctx module.Context, s *agencyv1.Account) error {
		return k.AddMember(ctx, s, &agencyv1.MsgAddMember{KeyProof: proofFor(newbie, "treasury", newbie.addr, keyproof.AddMember), PubKey: newbie.pub})
	}, 4, 2)
	ok("grant admin", func(ctx module.Context, s *agencyv1.Account) error {
		return k.GrantRole(ctx, s, &agencyv1.MsgGrantRole{Address: newbie.addr, Role: agencyv1.Role_ROLE_ADMIN})
	}, 4, 3)
	ok("suspend an admin", func(ctx module.Context, s *agencyv1.Account) error {
		return k.SuspendAccount(ctx, s, &agencyv1.MsgSuspendAccount{Address: newbie.addr})
	}, 4, 2)
	ok("revoke admin from a suspended account", func(ctx module.Context, s *agencyv1.Account) error {
		return k.RevokeRole(ctx, s, &agencyv1.MsgRevokeRole{Address: newbie.addr, Role: agencyv1.Role_ROLE_ADMIN})
	}, 4, 2)
	ok("grant admin to a suspended account", func(ctx module.Context, s *agencyv1.Account) error {
		return k.GrantRole(ctx, s, &agencyv1.MsgGrantRole{Address: newbie.addr, Role: agencyv1.Role_ROLE_ADMIN})
	}, 4, 2)
	ok("reinstate an admin", func(ctx module.Context, s *agencyv1.Account) error {
		return k.ReinstateAccount(ctx, s, &agencyv1.MsgReinstateAccount{Address: newbie.addr})
	}, 4, 3)
	ok("revoke admin", func(ctx module.Context, s *agencyv1.Account) error {
		return k.RevokeRole(ctx, s, &agencyv1.MsgRevokeRole{Address: newbie.addr, Role: agencyv1.Role_ROLE_ADMIN})
	}, 4, 2)
	ok("remove an admin", func(ctx module.Context, s *agencyv1.Account) error {
		return k.RemoveMember(ctx, s, &agencyv1.MsgRemoveMember{Address: admin2.addr})
	}, 4, 1)
	ok("remove a plain member", func(ctx module.Context, s *agencyv1.Account) error {
		return k.RemoveMember(ctx, s, &agencyv1.MsgRemoveMember{Address: newbie.addr})
	}, 4, 1)
	refused("act on a removed account", agency.ErrRemoved, func(ctx module.Context, s *agencyv1.Account) error {
		return k.ReinstateAccount(ctx, s, &agencyv1.MsgReinstateAccount{Address: newbie.addr})
	}, 4, 1)
	refused("re-add a removed account", agency.ErrAccountExists, func(ctx module.Context, s *agencyv1.Account) error {
		return k.AddMember(ctx, s, &agencyv1.MsgAddMember{KeyProof: proofFor(newbie, "treasury", newbie.addr, keyproof.AddMember), PubKey: newbie.pub})
	}, 4, 1)

	// The admin count is kept even when the last admin is the target of
	// someone without the admin role (the permission check is the app's).
	_, err := apply(t, kv, member.addr, func(ctx module.Context, s *agencyv1.Account) error {
		return k.SuspendAccount(ctx, s, &agencyv1.MsgSuspendAccount{Address: admin.addr})
	})
	requireCoded(t, agency.ErrLastAdmin, err, "last active admin")
	_, err = apply(t, kv, member.addr, func(ctx module.Context, s *agencyv1.Account) error {
		return k.RemoveMember(ctx, s, &agencyv1.MsgRemoveMember{Address: admin.addr})
	})
	requireCoded(t, agency.ErrLastAdmin, err, "last active admin")
	check("after refusals", 4, 1)

	// The other agency's counts never moved.
	tax, err := k.Agency(kv, "tax")
	require.NoError(t, err)
	require.Equal(t, uint64(1), tax.MemberCount)
	require.Equal(t, uint64(1), tax.ActiveAdmins)
}

func TestHandlersEmitIndexedEvents(t *testing.T) {
	kv := store.NewMemory()
	require.NoError(t, k.InitGenesis(kv, validGenesis(), 0))
	newbie := keyFor("newbie")
	events, err := apply(t, kv, admin.addr, func(ctx module.Context, s *agencyv1.Account) error {
		return k.AddMember(ctx, s, &agencyv1.MsgAddMember{KeyProof: proofFor(newbie, "treasury", newbie.addr, keyproof.AddMember), PubKey: newbie.pub, Roles: []agencyv1.Role{agencyv1.Role_ROLE_AUDITOR, agencyv1.Role_ROLE_PAYER}})
	})
	require.NoError(t, err)
	require.Equal(t, []module.Event{{Type: agency.EventMemberAdded, Attributes: []module.Attribute{
		module.Indexed("agency", "treasury"),
		module.Indexed("address", fmt.Sprintf("%x", newbie.addr)),
		module.Attr("roles", "payer,auditor"),
	}}}, events)
	acc, err := k.Account(kv, newbie.addr)
	require.NoError(t, err)
	require.Equal(t, int64(7), acc.CreatedHeight)
}

func TestRotateKeyMovesTheKeyIndex(t *testing.T) {
	kv := store.NewMemory()
	require.NoError(t, k.InitGenesis(kv, validGenesis(), 0))
	next := keyFor("member/next")
	proof := ed25519.Sign(next.priv, keyproof.Statement(chainID, "", member.addr, next.pub, keyproof.RotateKey))
	_, err := apply(t, kv, member.addr, func(ctx module.Context, s *agencyv1.Account) error {
		return k.RotateKey(ctx, s, &agencyv1.MsgRotateKey{NewPubKey: next.pub, NewKeySignature: proof})
	})
	require.NoError(t, err)
	require.Nil(t, k.KeyHolder(kv, member.pub))
	require.Equal(t, member.addr, k.KeyHolder(kv, next.pub))

	// The proof binds chain and address: the same signature is no good elsewhere.
	third := keyFor("member/third")
	for name, proof := range map[string][]byte{
		"other chain":   ed25519.Sign(third.priv, keyproof.Statement("other-chain", "", member.addr, third.pub, keyproof.RotateKey)),
		"other address": ed25519.Sign(third.priv, keyproof.Statement(chainID, "", admin.addr, third.pub, keyproof.RotateKey)),
		"other key":     ed25519.Sign(next.priv, keyproof.Statement(chainID, "", member.addr, third.pub, keyproof.RotateKey)),
	} {
		_, err := apply(t, kv, member.addr, func(ctx module.Context, s *agencyv1.Account) error {
			return k.RotateKey(ctx, s, &agencyv1.MsgRotateKey{NewPubKey: third.pub, NewKeySignature: proof})
		})
		requireCoded(t, agency.ErrBadKeyProof, err, "")
		require.Nil(t, k.KeyHolder(kv, third.pub), name)
	}
}

func TestValidateBasic(t *testing.T) {
	addr := make([]byte, agency.AddressSize)
	for _, tt := range []struct {
		name string
		msg  any
		want *module.Error
	}{
		{"add member", &agencyv1.MsgAddMember{PubKey: member.pub, KeyProof: make([]byte, 64), Roles: []agencyv1.Role{agencyv1.Role_ROLE_AUDITOR}}, nil},
		{"add member with short key", &agencyv1.MsgAddMember{PubKey: make([]byte, 33)}, agency.ErrInvalidKey},
		{"add member without proof", &agencyv1.MsgAddMember{PubKey: member.pub}, agency.ErrBadKeyProof},
		{"add member with unspecified role", &agencyv1.MsgAddMember{PubKey: member.pub, KeyProof: make([]byte, 64), Roles: []agencyv1.Role{0}}, agency.ErrInvalidRole},
		{"remove with short address", &agencyv1.MsgRemoveMember{Address: addr[:19]}, agency.ErrInvalidAddress},
		{"grant undefined role", &agencyv1.MsgGrantRole{Address: addr, Role: agencyv1.Role(len(agencyv1.Role_name))}, agency.ErrInvalidRole},
		{"revoke without address", &agencyv1.MsgRevokeRole{Role: agencyv1.Role_ROLE_ADMIN}, agency.ErrInvalidAddress},
		{"rotate to short key", &agencyv1.MsgRotateKey{NewPubKey: make([]byte, 31), NewKeySignature: make([]byte, 64)}, agency.ErrInvalidKey},
		{"rotate without proof", &agencyv1.MsgRotateKey{NewPubKey: member.pub}, agency.ErrBadKeyProof},
		{"suspend without a reason code", &agencyv1.MsgSuspendAccount{Address: addr}, agency.ErrInvalidReason},
		{"suspend with an undefined reason code", &agencyv1.MsgSuspendAccount{Address: addr, ReasonCode: 99}, agency.ErrInvalidReason},
		{"suspend with a reason code", &agencyv1.MsgSuspendAccount{Address: addr, ReasonCode: agencyv1.SuspensionReason_SUSPENSION_REASON_KEY_COMPROMISED}, nil},
		{"reinstate with long address", &agencyv1.MsgReinstateAccount{Address: make([]byte, 21)}, agency.ErrInvalidAddress},
		{"not an agency message", "something else", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := agency.ValidateBasic(tt.msg)
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			requireCoded(t, tt.want, err, "")
		})
	}
}

// Only a treasury creates money, only a bank confirms settlement, only a
// regulator accredits and inspects; tax collection belongs to tax
// authorities, councils and banks. Every other role fits any agency.
func TestRoleAllowedByKind(t *testing.T) {
	restricted := map[agencyv1.Role][]agencyv1.Kind{
		agencyv1.Role_ROLE_TREASURY:        {agencyv1.Kind_KIND_TREASURY},
		agencyv1.Role_ROLE_SETTLEMENT_BANK: {agencyv1.Kind_KIND_BANK},
		agencyv1.Role_ROLE_INSPECTOR:       {agencyv1.Kind_KIND_REGULATOR},
		agencyv1.Role_ROLE_REGULATOR:       {agencyv1.Kind_KIND_REGULATOR},
		agencyv1.Role_ROLE_TAX_COLLECTOR:   {agencyv1.Kind_KIND_TAX_AUTHORITY, agencyv1.Kind_KIND_COUNCIL, agencyv1.Kind_KIND_BANK},
	}
	for r := agencyv1.Role(1); agency.ValidRole(r); r++ {
		for kind := agencyv1.Kind(1); int(kind) < len(agencyv1.Kind_name); kind++ {
			want := true
			if kinds, ok := restricted[r]; ok {
				want = false
				for _, kk := range kinds {
					want = want || kk == kind
				}
			}
			require.Equal(t, want, agency.RoleAllowed(kind, r), "%s in %s", agency.RoleName(r), agency.KindName(kind))
		}
	}
	require.True(t, agency.RoleAllowed(agencyv1.Kind_KIND_DEPARTMENT, agencyv1.Role_ROLE_ADMIN))
	require.False(t, agency.RoleAllowed(agencyv1.Kind_KIND_BUSINESS, agencyv1.Role_ROLE_TAX_COLLECTOR))
}

func TestRoleAndKindNamesRoundTrip(t *testing.T) {
	n := 0
	for r := agencyv1.Role(1); agency.ValidRole(r); r++ {
		got, err := agency.ParseRole(agency.RoleName(r))
		require.NoError(t, err)
		require.Equal(t, r, got)
		n++
	}
	require.Equal(t, len(agencyv1.Role_name)-1, n, "every defined role")
	require.Equal(t, "tax_collector", agency.RoleName(agencyv1.Role_ROLE_TAX_COLLECTOR))
	got, err := agency.ParseRole("settlement-bank")
	require.NoError(t, err)
	require.Equal(t, agencyv1.Role_ROLE_SETTLEMENT_BANK, got)

	for _, bad := range []string{"", "unspecified", "root", "admin "} {
		_, err := agency.ParseRole(bad)
		requireCoded(t, agency.ErrInvalidRole, err, "roles are admin, treasury, tax_collector")
	}

	for kind := agencyv1.Kind(1); int(kind) < len(agencyv1.Kind_name); kind++ {
		got, err := agency.ParseKind(agency.KindName(kind))
		require.NoError(t, err)
		require.Equal(t, kind, got)
	}
	require.Equal(t, "tax_authority", agency.KindName(agencyv1.Kind_KIND_TAX_AUTHORITY))
	_, err = agency.ParseKind("unspecified")
	require.Error(t, err)
	require.Equal(t, "suspended", agency.StatusName(agencyv1.Status_STATUS_SUSPENDED))
}

func TestValidateAgencyID(t *testing.T) {
	for id, ok := range map[string]bool{
		"treasury": true, "tax-2030_east.v1": true, strings.Repeat("a", 64): true,
		"": false, strings.Repeat("a", 65): false, "Tax": false, "a/b": false, "a b": false, "é": false,
	} {
		err := agency.ValidateAgencyID(id)
		if ok {
			require.NoError(t, err, id)
		} else {
			requireCoded(t, agency.ErrInvalidAgencyID, err, "")
		}
	}
}

package agency

import (
	"bytes"
	"slices"

	"github.com/tallyledger/tally/api"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/module"
)

// Names of the agency module's invariant checks.
const (
	CheckActiveAdmins  = "active-admins"
	CheckMembership    = "membership"
	CheckAccountRecord = "account-records"
	CheckKeyIndex      = "key-index"
)

// Invariants checks what the module promises about its records: every
// active agency keeps at least one active admin and its counts match its
// accounts, every account belongs to an agency that lists it, and the
// public-key index names each account's current key. It reads every agency,
// account and index entry once: it is for tests, audits and the
// invariants query, never for the block's hot path.
func (k Keeper) Invariants(kv store.KV) (*appv1.ModuleInvariants, error) {
	admins := module.NewCheck(CheckActiveAdmins, "every active agency has at least one active admin, and each agency's active_admins counts exactly its active accounts holding admin")
	members := module.NewCheck(CheckMembership, "every account's agency exists and lists it in its membership index, every index entry is an account of that agency, and member_count counts them")
	records := module.NewCheck(CheckAccountRecord, "every account's roles are sorted, unique and defined, its status is defined, and an account whose key never rotated has the address of that key")
	keys := module.NewCheck(CheckKeyIndex, "the public-key index maps each account's current key to it, and nothing else")

	type counts struct{ members, admins uint64 }
	agencies := map[string]*agencyv1.Agency{}
	var order []string
	store.IteratePrefix(kv, api.AgenciesPrefix(), func(key, v []byte) bool {
		a := &agencyv1.Agency{}
		if err := unmarshal(v, a); err != nil {
			module.Failf(members, "agency record %q does not decode: %v", key[len(api.AgenciesPrefix()):], err)
			return false
		}
		if a.Id != string(key[len(api.AgenciesPrefix()):]) {
			module.Failf(members, "agency record under %q names agency %q", key[len(api.AgenciesPrefix()):], a.Id)
		}
		agencies[a.Id] = a
		order = append(order, a.Id)
		return false
	})
	found := map[string]*counts{}
	for _, id := range order {
		found[id] = &counts{}
	}

	store.IteratePrefix(kv, api.AccountsPrefix(), func(key, v []byte) bool {
		addr := key[len(api.AccountsPrefix()):]
		acc := &agencyv1.Account{}
		if err := unmarshal(v, acc); err != nil {
			module.Failf(records, "account %x does not decode: %v", addr, err)
			return false
		}
		if !bytes.Equal(acc.Address, addr) {
			module.Failf(records, "account record under %x has address %x", addr, acc.Address)
		}
		checkAccount(records, acc)
		if holder := kv.Get(api.PubKeyKey(acc.PubKey)); !bytes.Equal(holder, acc.Address) {
			module.Failf(keys, "account %x's key %x is indexed to %x", acc.Address, acc.PubKey, holder)
		}
		c, ok := found[acc.AgencyId]
		if !ok {
			module.Failf(members, "account %x belongs to agency %q, which does not exist", acc.Address, acc.AgencyId)
			return false
		}
		if !kv.Has(api.MemberKey(acc.AgencyId, acc.Address)) {
			module.Failf(members, "account %x of %q is missing from the agency's membership index", acc.Address, acc.AgencyId)
		}
		c.members++
		if activeAdmin(acc) {
			c.admins++
		}
		return false
	})

	store.IteratePrefix(kv, api.AllMembersPrefix(), func(key, _ []byte) bool {
		rest := key[len(api.AllMembersPrefix()):]
		i := bytes.IndexByte(rest, '/')
		if i < 0 {
			module.Failf(members, "membership index entry %q has no agency/address separator", rest)
			return false
		}
		id, addr := string(rest[:i]), rest[i+1:]
		acc := &agencyv1.Account{}
		ok, err := store.GetProto(kv, api.AccountKey(addr), acc)
		switch {
		case err != nil || !ok:
			module.Failf(members, "membership index of %q lists %x, which is no account", id, addr)
		case acc.AgencyId != id:
			module.Failf(members, "membership index of %q lists %x, an account of %q", id, addr, acc.AgencyId)
		}
		return false
	})

	store.IteratePrefix(kv, api.PubKeysPrefix(), func(key, v []byte) bool {
		pub := key[len(api.PubKeysPrefix()):]
		acc := &agencyv1.Account{}
		if ok, err := store.GetProto(kv, api.AccountKey(v), acc); err != nil || !ok {
			module.Failf(keys, "key %x is indexed to %x, which is no account", pub, v)
		} else if !bytes.Equal(acc.PubKey, pub) {
			module.Failf(keys, "key %x is indexed to %x, whose current key is %x", pub, v, acc.PubKey)
		}
		return false
	})

	for _, id := range order {
		a, c := agencies[id], found[id]
		if a.MemberCount != c.members {
			module.Failf(members, "agency %q: member_count is %d but %d accounts belong to it", id, a.MemberCount, c.members)
		}
		if a.ActiveAdmins != c.admins {
			module.Failf(admins, "agency %q: active_admins is %d but %d active accounts hold admin", id, a.ActiveAdmins, c.admins)
		}
		// An agency admitted suspended or removed at genesis may have no
		// admin; an active one never lacks one (saveAccount refuses the
		// change that would remove the last).
		if a.Status == agencyv1.Status_STATUS_ACTIVE && c.admins == 0 {
			module.Failf(admins, "active agency %q has no active admin: nobody can manage it", id)
		}
	}
	return moduleReport("agency", admins, members, records, keys), nil
}

// checkAccount checks one account record on its own.
func checkAccount(c *appv1.InvariantCheck, acc *agencyv1.Account) {
	if !slices.Equal(acc.Roles, sortedRoles(acc.Roles)) {
		module.Failf(c, "account %x: roles %v are not sorted and unique", acc.Address, acc.Roles)
	}
	for _, r := range acc.Roles {
		if !ValidRole(r) {
			module.Failf(c, "account %x holds role %d, which is not defined", acc.Address, r)
		}
	}
	if _, ok := agencyv1.Status_name[int32(acc.Status)]; !ok || acc.Status == agencyv1.Status_STATUS_UNSPECIFIED {
		module.Failf(c, "account %x has status %d, which is not defined", acc.Address, acc.Status)
	}
	if acc.KeyRotations == 0 && len(acc.PubKey) == PubKeySize && !bytes.Equal(acc.Address, AddressOf(acc.PubKey)) {
		module.Failf(c, "account %x never rotated its key but its key's address is %x", acc.Address, AddressOf(acc.PubKey))
	}
}

// moduleReport gathers a module's checks.
func moduleReport(module string, checks ...*appv1.InvariantCheck) *appv1.ModuleInvariants {
	r := &appv1.ModuleInvariants{Module: module, Checks: checks, Ok: true}
	for _, c := range checks {
		r.Ok = r.Ok && c.Ok
	}
	return r
}

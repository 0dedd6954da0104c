// Package agency keeps the bodies that run Tally and the accounts that act
// for them: agencies, their member accounts, roles, public keys, key
// rotation and suspension.
package agency

import (
	"fmt"
	"slices"

	gproto "google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	"github.com/tallyledger/tally/store"
)

// PubKeySize is the size of an ed25519 public key, the only key type accounts use.
const PubKeySize = api.PubKeySize

// AddressSize is the size of an account address.
const AddressSize = 20

// Keeper is the agency module's access to state. It holds no state of its
// own; every method works on the KV it is given.
type Keeper struct {
	// Verified, when set, reports signatures this node has already found
	// valid (the app verifies a block's proofs of possession in one batch
	// before running it). false means only "not known": the signature is
	// then verified here. A verdict depends on the key, message and
	// signature alone, so this saves work and changes no result.
	Verified func(pub, msg, sig []byte) bool
}

// AddressOf is the address of an account whose first key is pub
// (api.AddressOf).
func AddressOf(pub []byte) []byte { return api.AddressOf(pub) }

// Agency loads an agency, or returns ErrUnknownAgency.
func (Keeper) Agency(kv store.KV, id string) (*agencyv1.Agency, error) {
	a := &agencyv1.Agency{}
	found, err := store.GetProto(kv, api.AgencyKey(id), a)
	if err != nil {
		return nil, fmt.Errorf("agency %s: %w", api.Quote(id), err)
	}
	if !found {
		return nil, ErrUnknownAgency.Wrapf("no agency with id %s", api.Quote(id))
	}
	return a, nil
}

// Account loads an account, or returns ErrUnknownAccount.
func (Keeper) Account(kv store.KV, addr []byte) (*agencyv1.Account, error) {
	a := &agencyv1.Account{}
	found, err := store.GetProto(kv, api.AccountKey(addr), a)
	if err != nil {
		return nil, fmt.Errorf("account %x: %w", addr, err)
	}
	if !found {
		return nil, ErrUnknownAccount.Wrapf("no account with address %x", addr)
	}
	return a, nil
}

// Members lists the addresses of an agency's members (removed ones too), in
// address order.
func (Keeper) Members(kv store.KV, agencyID string) [][]byte {
	prefix := api.MembersPrefix(agencyID)
	var out [][]byte
	store.IteratePrefix(kv, prefix, func(key, _ []byte) bool {
		out = append(out, slices.Clone(key[len(prefix):]))
		return false
	})
	return out
}

// SetAgency writes an agency record.
func (Keeper) SetAgency(kv store.KV, a *agencyv1.Agency) error {
	return store.SetProto(kv, api.AgencyKey(a.Id), a)
}

// saveAccount writes acc and keeps the derived records in step: the public
// key index, the membership index and the agency's member and active-admin
// counts. before is the account as it was (nil when new). It is the only
// place accounts are written, so the counts cannot drift.
func (k Keeper) saveAccount(kv store.KV, before, acc *agencyv1.Account) error {
	ag, err := k.Agency(kv, acc.AgencyId)
	if err != nil {
		return err
	}
	if before == nil {
		kv.Set(api.MemberKey(acc.AgencyId, acc.Address), []byte{})
		ag.MemberCount++
	}
	if before != nil && !slices.Equal(before.PubKey, acc.PubKey) {
		kv.Delete(api.PubKeyKey(before.PubKey))
	}
	kv.Set(api.PubKeyKey(acc.PubKey), acc.Address)

	wasAdmin, isAdmin := before != nil && activeAdmin(before), activeAdmin(acc)
	switch {
	case wasAdmin && !isAdmin:
		if ag.ActiveAdmins <= 1 {
			return ErrLastAdmin.Wrapf("account %x is the last active admin of agency %q; make another member admin first", acc.Address, ag.Id)
		}
		ag.ActiveAdmins--
	case !wasAdmin && isAdmin:
		ag.ActiveAdmins++
	}
	if err := k.SetAgency(kv, ag); err != nil {
		return err
	}
	return store.SetProto(kv, api.AccountKey(acc.Address), acc)
}

func activeAdmin(acc *agencyv1.Account) bool {
	return acc.Status == agencyv1.Status_STATUS_ACTIVE && HasRole(acc, agencyv1.Role_ROLE_ADMIN)
}

// KeyHolder returns the address of the account whose current key is pub, or nil.
func (Keeper) KeyHolder(kv store.KV, pub []byte) []byte { return kv.Get(api.PubKeyKey(pub)) }

func sortedRoles(roles []agencyv1.Role) []agencyv1.Role {
	out := slices.Clone(roles)
	slices.Sort(out)
	return slices.Compact(out)
}

func clone(a *agencyv1.Account) *agencyv1.Account { return gproto.Clone(a).(*agencyv1.Account) }

func unmarshal(b []byte, m gproto.Message) error { return gproto.Unmarshal(b, m) }

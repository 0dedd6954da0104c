package agency

import (
	"github.com/tallyledger/tally/api"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	"github.com/tallyledger/tally/store"
)

// This file holds what governance (x/gov) may do to agencies once the
// agencies have voted for it. Nothing here checks permissions: a passed
// proposal is the permission.

// AdmitAgency creates an active agency with one active admin account whose
// key is adminPub. It refuses an id or key already in use.
func (k Keeper) AdmitAgency(kv store.KV, id, name string, kind agencyv1.Kind, adminPub []byte, height int64) error {
	if err := ValidateAgencyID(id); err != nil {
		return err
	}
	if _, err := k.Agency(kv, id); err == nil {
		return ErrInvalidAgencyID.Wrapf("agency %q already exists; choose another id", id)
	}
	// The admin key's proof of possession names the chain, so x/gov checks
	// it (CheckKeyProof) before calling this; the key itself is checked here
	// too, as everywhere a key enters state.
	if err := ValidatePubKey("admin key", adminPub); err != nil {
		return err
	}
	if holder := k.KeyHolder(kv, adminPub); holder != nil {
		return ErrKeyInUse.Wrapf("admin key is already the key of account %x", holder)
	}
	addr := AddressOf(adminPub)
	if _, err := k.Account(kv, addr); err == nil {
		return ErrAccountExists.Wrapf("account %x already exists", addr)
	}
	if err := k.SetAgency(kv, &agencyv1.Agency{Id: id, Name: name, Kind: kind, Status: agencyv1.Status_STATUS_ACTIVE, CreatedHeight: height}); err != nil {
		return err
	}
	acc := &agencyv1.Account{
		Address: addr, PubKey: adminPub, AgencyId: id, Roles: []agencyv1.Role{agencyv1.Role_ROLE_ADMIN},
		Status: agencyv1.Status_STATUS_ACTIVE, CreatedHeight: height, UpdatedHeight: height,
	}
	return k.saveAccount(kv, nil, acc)
}

// SetAgencyStatus sets an agency's status. A removed agency stays removed.
func (k Keeper) SetAgencyStatus(kv store.KV, id string, status agencyv1.Status) error {
	ag, err := k.Agency(kv, id)
	if err != nil {
		return err
	}
	if ag.Status == agencyv1.Status_STATUS_REMOVED {
		return ErrRemoved.Wrapf("agency %q has been removed; it cannot change status again", id)
	}
	ag.Status = status
	return k.SetAgency(kv, ag)
}

// Agencies lists every agency, in id order.
func (Keeper) Agencies(kv store.KV) ([]*agencyv1.Agency, error) {
	var out []*agencyv1.Agency
	var err error
	store.IteratePrefix(kv, api.AgenciesPrefix(), func(_, v []byte) bool {
		a := &agencyv1.Agency{}
		if err = unmarshal(v, a); err != nil {
			return true
		}
		out = append(out, a)
		return false
	})
	return out, err
}

package agency

import (
	"bytes"
	"fmt"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/api/keyproof"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/module"
)

// ValidateAgencyID checks an agency id's syntax (api.CheckAgencyID: the
// key layouts rely on it).
func ValidateAgencyID(id string) error {
	if err := api.CheckAgencyID(id); err != nil {
		return ErrInvalidAgencyID.Wrapf("%v", err)
	}
	return nil
}

// InitGenesis writes the genesis agencies and accounts. Derived fields
// (member counts, admin counts, indexes) are recomputed, not trusted.
// Every agency must end with at least one active admin.
func (k Keeper) InitGenesis(kv store.KV, g *agencyv1.Genesis, height int64) error {
	if g == nil {
		return ErrInvalidGenesis.Wrapf("app_state.agency is missing; a chain needs at least one agency with an admin")
	}
	if len(g.Records) > 0 {
		return importGenesis(kv, g)
	}
	for _, a := range g.Agencies {
		if err := ValidateAgencyID(a.Id); err != nil {
			return err
		}
		if a.Name == "" {
			return ErrInvalidGenesis.Wrapf("agency %q has no name", a.Id)
		}
		if _, ok := agencyv1.Kind_name[int32(a.Kind)]; !ok || a.Kind == agencyv1.Kind_KIND_UNSPECIFIED {
			return ErrInvalidGenesis.Wrapf("agency %q has no valid kind", a.Id)
		}
		if _, err := k.Agency(kv, a.Id); err == nil {
			return ErrInvalidGenesis.Wrapf("agency %q appears twice", a.Id)
		}
		if _, ok := agencyv1.Status_name[int32(a.Status)]; !ok {
			return ErrInvalidGenesis.Wrapf("agency %q has status %d, which is not defined", a.Id, a.Status)
		}
		rec := &agencyv1.Agency{Id: a.Id, Name: a.Name, Kind: a.Kind, Status: a.Status, CreatedHeight: a.CreatedHeight}
		if rec.Status == agencyv1.Status_STATUS_UNSPECIFIED {
			rec.Status = agencyv1.Status_STATUS_ACTIVE
		}
		if err := k.SetAgency(kv, rec); err != nil {
			return err
		}
	}
	for i, in := range g.Accounts {
		if err := ValidatePubKey(fmt.Sprintf("account %d: pub_key", i), in.PubKey); err != nil {
			return err
		}
		acc := clone(in)
		derived := AddressOf(in.PubKey)
		switch {
		case len(acc.Address) == 0:
			acc.Address = derived
		case len(acc.Address) != AddressSize:
			return ErrInvalidGenesis.Wrapf("account %d: address is %d bytes; addresses are %d", i, len(acc.Address), AddressSize)
		case acc.KeyRotations == 0 && !bytes.Equal(acc.Address, derived):
			return ErrInvalidGenesis.Wrapf("account %x: address does not match its public key", acc.Address)
		}
		ag, err := k.Agency(kv, acc.AgencyId)
		if err != nil {
			return fmt.Errorf("account %x: %w", acc.Address, err)
		}
		if err := validateRoles(acc.Roles); err != nil {
			return fmt.Errorf("account %x: %w", acc.Address, err)
		}
		if acc.DisplayName != "" {
			if err := ValidateDisplayName(acc.DisplayName); err != nil {
				return fmt.Errorf("account %x: %w", acc.Address, err)
			}
		}
		acc.Roles = sortedRoles(acc.Roles)
		for _, r := range acc.Roles {
			if !RoleAllowed(ag.Kind, r) {
				return ErrRoleNotAllowed.Wrapf("account %x: role %s cannot be held in a %s agency", acc.Address, RoleName(r), KindName(ag.Kind))
			}
		}
		if _, ok := agencyv1.Status_name[int32(acc.Status)]; !ok {
			return ErrInvalidGenesis.Wrapf("account %x has status %d, which is not defined", acc.Address, acc.Status)
		}
		if acc.Status == agencyv1.Status_STATUS_UNSPECIFIED {
			acc.Status = agencyv1.Status_STATUS_ACTIVE
		}
		if _, err := k.Account(kv, acc.Address); err == nil {
			return ErrInvalidGenesis.Wrapf("account %x appears twice", acc.Address)
		}
		if holder := k.KeyHolder(kv, acc.PubKey); holder != nil {
			return ErrInvalidGenesis.Wrapf("account %x: public key already used by account %x", acc.Address, holder)
		}
		if err := k.saveAccount(kv, nil, acc); err != nil {
			return err
		}
	}
	for _, a := range g.Agencies {
		ag, err := k.Agency(kv, a.Id)
		if err != nil {
			return err
		}
		if ag.Status == agencyv1.Status_STATUS_ACTIVE && ag.ActiveAdmins == 0 {
			return ErrInvalidGenesis.Wrapf("agency %q has no active admin account; give one account the admin role", a.Id)
		}
	}
	return nil
}

// CheckGenesisKeyProofs checks that every genesis account carries a proof
// of possession of its key for chainID (keyproof.GenesisAccount), and that
// no proof is left over. The app calls it before InitGenesis: only it knows
// the chain id.
func CheckGenesisKeyProofs(g *agencyv1.Genesis, chainID string) error {
	if g == nil {
		return nil
	}
	proofs := make(map[string][]byte, len(g.KeyProofs))
	for i, p := range g.KeyProofs {
		if _, dup := proofs[string(p.Address)]; dup {
			return ErrInvalidGenesis.Wrapf("key_proofs %d: a second proof for account %x", i, p.Address)
		}
		proofs[string(p.Address)] = p.Signature
	}
	used := make(map[string]bool, len(g.Accounts))
	for i, acc := range g.Accounts {
		addr := acc.Address
		if len(addr) == 0 {
			addr = AddressOf(acc.PubKey)
		}
		proof, ok := proofs[string(addr)]
		if !ok {
			return ErrBadKeyProof.Wrapf("genesis account %d (%x) has no entry in key_proofs; its key holder signs keyproof.Statement for purpose %s (tallyd keys prove)", i, addr, keyproof.GenesisAccount)
		}
		used[string(addr)] = true
		if err := CheckKeyProof(fmt.Sprintf("genesis account %x", addr), acc.PubKey, proof, chainID, acc.AgencyId, addr, keyproof.GenesisAccount); err != nil {
			return err
		}
	}
	for _, p := range g.KeyProofs {
		if !used[string(p.Address)] {
			return ErrInvalidGenesis.Wrapf("key_proofs names account %x, which is not a genesis account", p.Address)
		}
	}
	return nil
}

// StatePrefix starts every key the agency module keeps: its section of an
// export (ExportGenesis) holds exactly the keys under it.
var StatePrefix = api.AgencyStatePrefix()

// ExportGenesis returns the module's whole state as a genesis section of
// records (module.ExportRecords); InitGenesis writes them back unchanged.
// An export carries no proofs of possession: its accounts proved their
// keys on the chain it was exported from.
func (k Keeper) ExportGenesis(kv store.KV) *agencyv1.Genesis {
	return &agencyv1.Genesis{Records: module.ExportRecords(kv, StatePrefix)}
}

// importGenesis writes an exported section back.
func importGenesis(kv store.KV, g *agencyv1.Genesis) error {
	if len(g.Agencies)+len(g.Accounts)+len(g.KeyProofs) > 0 {
		return ErrInvalidGenesis.Wrapf("app_state.agency has both records (an export) and agencies, accounts or key_proofs; an export is restored as written")
	}
	return module.ImportRecords(kv, "agency", StatePrefix, g.Records, ErrInvalidGenesis)
}

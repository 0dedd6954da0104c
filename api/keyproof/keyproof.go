// Package keyproof is the statement a new key signs to prove its holder
// has the private key (proof of possession) when the key enters Tally's
// state: an account added, a key rotated, an agency admitted or founded in
// genesis, a validator added or rotated by governance. Clients sign it and
// the chain checks it, so it is written once, here.
//
// Without the proof anyone could register a key they do not hold (a
// public key copied from another chain, or a point crafted so signatures
// "verify" without a private key); with it, only the holder of the private
// key can put the key into state, and only for the chain, agency, account
// and purpose it signed for.
package keyproof

import "encoding/binary"

// Prefix separates key proofs from every other message a key signs
// (transactions sign protobuf TxBody bytes, which never start with it).
const Prefix = "tally/pop/v1\x00"

// Purpose says what the key is being added for; a proof for one purpose is
// useless for another.
type Purpose string

// The purposes a key proof may have.
const (
	// AddMember: an admin adds an account with this key to its agency.
	AddMember Purpose = "add-member"
	// RotateKey: an account replaces its own key with this one. Its
	// statement leaves the agency empty: the account's address names it
	// for good, and the chain checks the proof without state.
	RotateKey Purpose = "rotate-key"
	// AdmitAgency: a governance proposal admits an agency with this admin key.
	AdmitAgency Purpose = "admit-agency"
	// GenesisAccount: the genesis file founds an account with this key.
	GenesisAccount Purpose = "genesis-account"
	// AddValidator: a governance proposal adds this consensus key.
	AddValidator Purpose = "add-validator"
	// RotateValidator: a governance proposal moves a validator to this consensus key.
	RotateValidator Purpose = "rotate-validator"
)

// Statement is the bytes the new key signs: Prefix, then the chain id, the
// agency id, the account address (for a validator, its consensus address),
// the new public key and the purpose, each preceded by its length as a
// uvarint so no two different statements share bytes.
func Statement(chainID, agencyID string, account, pub []byte, purpose Purpose) []byte {
	out := []byte(Prefix)
	for _, f := range [][]byte{[]byte(chainID), []byte(agencyID), account, pub, []byte(purpose)} {
		out = binary.AppendUvarint(out, uint64(len(f)))
		out = append(out, f...)
	}
	return out
}

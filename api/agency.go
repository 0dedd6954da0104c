package api

import (
	"crypto/sha256"
	"fmt"
)

// Agency state.
//
//	ag/a/<agency id>                 → tally.agency.v1.Agency
//	ag/c/<address 20 bytes>          → tally.agency.v1.Account
//	ag/m/<agency id>/<address>       → index: membership, in address order
//	ag/k/<public key 32 bytes>       → the address of the account holding the key now
var (
	prefixAgency  = []byte("ag/a/")
	prefixAccount = []byte("ag/c/")
	prefixMember  = []byte("ag/m/")
	prefixPubKey  = []byte("ag/k/")
)

// Agency query paths.
const (
	PathAgency  = "/agency/agency"  // data: agency id → Agency
	PathAccount = "/agency/account" // data: 20-byte address → Account
	PathMembers = "/agency/members" // ListRequest arg: agency id; each member Account with its proof, a page at a time
)

// MaxAgencyIDBytes bounds an agency id.
const MaxAgencyIDBytes = 64

// CheckAgencyID checks an agency id's syntax: 1 to MaxAgencyIDBytes of
// a-z, 0-9, '-', '_' and '.'. Ids never hold '/' or 0x00, which is what
// keeps one agency's key prefixes from covering another's.
func CheckAgencyID(id string) error {
	if id == "" || len(id) > MaxAgencyIDBytes {
		return fmt.Errorf("agency id %s must be 1 to %d characters", Quote(id), MaxAgencyIDBytes)
	}
	for _, c := range []byte(id) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("agency id %s may use only a-z, 0-9, '-', '_' and '.'", Quote(id))
		}
	}
	return nil
}

// AgencyKey is the state key of an agency record.
func AgencyKey(id string) []byte { return Key(prefixAgency, []byte(id)) }

// AgenciesPrefix covers every agency record, in id order.
func AgenciesPrefix() []byte { return clone(prefixAgency) }

// AccountKey is the state key of an account record.
func AccountKey(addr []byte) []byte { return Key(prefixAccount, addr) }

// AccountsPrefix covers every account record, in address order.
func AccountsPrefix() []byte { return clone(prefixAccount) }

// MembersPrefix is the prefix of an agency's membership index; a members
// answer carries it as its Key.
func MembersPrefix(agencyID string) []byte { return Key(prefixMember, []byte(agencyID), slash) }

// AllMembersPrefix covers the membership index of every agency.
func AllMembersPrefix() []byte { return clone(prefixMember) }

// MemberKey is the state key of one membership index entry.
func MemberKey(agencyID string, addr []byte) []byte { return Key(MembersPrefix(agencyID), addr) }

// PubKeyKey is the state key of the public-key index entry.
func PubKeyKey(pub []byte) []byte { return Key(prefixPubKey, pub) }

// PubKeysPrefix covers the whole public-key index.
func PubKeysPrefix() []byte { return clone(prefixPubKey) }

// AgencyStatePrefix starts every key the agency module keeps (an export's
// agency section holds exactly the keys under it).
func AgencyStatePrefix() []byte { return []byte("ag/") }

// PubKeySize is the size of an ed25519 public key, the only key type
// accounts use.
const PubKeySize = 32

// AddressOf is the address of an account whose first key is pub: the
// first AddressSize bytes of its SHA-256, as CometBFT addresses an
// ed25519 key.
func AddressOf(pub []byte) []byte {
	sum := sha256.Sum256(pub)
	return sum[:AddressSize]
}

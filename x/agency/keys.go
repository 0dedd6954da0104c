package agency

import "github.com/tallyledger/tally/store"

// State layout. Every record the module keeps lives in the one IAVL tree
// under these prefixes, so each is provable against the app hash.
//
//	ag/a/<agency id>                 → Agency
//	ag/c/<address 20 bytes>          → Account
//	ag/m/<agency id>/<address>       → empty: membership index, key order = address order
//	ag/k/<public key 32 bytes>       → address: which account holds a key now
var (
	prefixAgency  = []byte("ag/a/")
	prefixAccount = []byte("ag/c/")
	prefixMember  = []byte("ag/m/")
	prefixKey     = []byte("ag/k/")
)

// AgencyKey is the state key of an agency record.
func AgencyKey(id string) []byte { return store.Key(prefixAgency, []byte(id)) }

// AccountKey is the state key of an account record.
func AccountKey(addr []byte) []byte { return store.Key(prefixAccount, addr) }

// MembersPrefix is the prefix under which an agency's member index lives.
// Agency ids cannot contain '/', so one agency's prefix never covers another's.
func MembersPrefix(agencyID string) []byte {
	return store.Key(prefixMember, []byte(agencyID), []byte("/"))
}

// MemberKey is the state key of one membership index entry.
func MemberKey(agencyID string, addr []byte) []byte { return store.Key(MembersPrefix(agencyID), addr) }

// PubKeyKey is the state key of the public-key index entry.
func PubKeyKey(pub []byte) []byte { return store.Key(prefixKey, pub) }

package agency

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

func join(parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := make([]byte, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// AgencyKey is the state key of an agency record.
func AgencyKey(id string) []byte { return join(prefixAgency, []byte(id)) }

// AccountKey is the state key of an account record.
func AccountKey(addr []byte) []byte { return join(prefixAccount, addr) }

// MembersPrefix is the prefix under which an agency's member index lives.
// Agency ids cannot contain '/', so one agency's prefix never covers another's.
func MembersPrefix(agencyID string) []byte { return join(prefixMember, []byte(agencyID), []byte("/")) }

// MemberKey is the state key of one membership index entry.
func MemberKey(agencyID string, addr []byte) []byte { return join(MembersPrefix(agencyID), addr) }

// PubKeyKey is the state key of the public-key index entry.
func PubKeyKey(pub []byte) []byte { return join(prefixKey, pub) }

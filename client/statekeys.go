package client

// Query paths and the state keys their answers must be proven at.
//
// The client never imports the node's packages, so it mirrors here the few
// facts it needs to tell that a node proved the RIGHT key: a proof of some
// other record is a valid proof, and only the key the request implies makes
// it an answer to the question asked. Keep these in step with the files
// named beside each; a mismatch makes every verified read of that record
// fail loudly ("proved key … but the request implies …"), never pass wrongly.

// Query paths (app/query.go, app/route_agency.go).
const (
	PathKey      = "/store/key"      // data: raw state key
	PathParams   = "/app/params"     // no data
	PathAgency   = "/agency/agency"  // data: agency id
	PathAccount  = "/agency/account" // data: 20-byte address
	PathMembers  = "/agency/members" // data: agency id; a ProvedList of accounts
	addressBytes = 20
)

// ParamsKey is the state key of the chain's parameters (app/query.go keyParams).
func ParamsKey() []byte { return []byte("app/params") }

// AgencyKey is the state key of an agency record (x/agency/keys.go AgencyKey).
func AgencyKey(id string) []byte { return append([]byte("ag/a/"), id...) }

// AccountKey is the state key of an account record (x/agency/keys.go AccountKey).
func AccountKey(addr []byte) []byte { return append([]byte("ag/c/"), addr...) }

// MembersPrefix is the prefix of an agency's membership index
// (x/agency/keys.go MembersPrefix); a members answer carries it as its Key.
func MembersPrefix(id string) []byte { return append(append([]byte("ag/m/"), id...), '/') }

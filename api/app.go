package api

// App-level query paths and state.
//
//	app/params                                  → tally.app.v1.Params
//	app/chain_id                                → the chain id, as text
//	tx/r/<timeout 8B><signer 20B><nonce 8B>     → index: a used nonce
const (
	// PathKey reads any state key; the query data is the raw key.
	PathKey = "/store/key"
	// PathParams answers the app's Params; no data.
	PathParams = "/app/params"
	// PathInvariants answers an InvariantReport the node computes by
	// walking the whole state (no proof); operator-only. No data.
	PathInvariants = "/invariants"
)

// ProofOpType names the proof carried in a query answer's ProofOps (and in
// each ProvedEntry's proof): a marshalled ICS23 CommitmentProof against the
// IAVL root, which is the app hash. State at height H is committed in the
// header of block H+1.
const ProofOpType = "ics23:iavl"

// IndexValue is the value of every index entry (and of a used nonce): one
// 0x01 byte. A stored value is never empty, because an ICS23 proof cannot
// carry an empty value; 0x01 is never a protobuf encoding, so it cannot be
// mistaken for a record.
var IndexValue = []byte{0x01}

var (
	keyParams    = []byte("app/params")
	keyChainID   = []byte("app/chain_id")
	prefixNonces = []byte("tx/r/")
)

// ParamsKey is the state key of the chain's parameters.
func ParamsKey() []byte { return keyParams }

// ChainIDKey is the state key of the chain id saved at genesis.
func ChainIDKey() []byte { return keyChainID }

// NoncesPrefix covers every remembered nonce, by timeout height first.
func NoncesPrefix() []byte { return prefixNonces }

// NoncesExpiredEnd is the end (exclusive) of the nonces whose
// transactions timed out at or before height: iterating from NoncesPrefix
// to it visits exactly those. height+1 cannot wrap: the largest height,
// math.MaxInt64, gives 2^63. A negative height gives the prefix itself, so
// nothing has expired.
func NoncesExpiredEnd(height int64) []byte {
	if height < 0 {
		return Key(prefixNonces)
	}
	return Key(prefixNonces, Uint64(uint64(height)+1))
}

// NonceKey is the state key recording that signer used nonce with this
// timeout height. Keys sort by timeout first, so expired nonces are a
// prefix range the chain deletes as blocks pass.
func NonceKey(timeout uint64, signer []byte, nonce uint64) []byte {
	return Key(prefixNonces, Uint64(timeout), signer, Uint64(nonce))
}

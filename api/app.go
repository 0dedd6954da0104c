package api

import "errors"

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
func ParamsKey() []byte { return clone(keyParams) }

// ChainIDKey is the state key of the chain id saved at genesis.
func ChainIDKey() []byte { return clone(keyChainID) }

// NoncesPrefix covers every remembered nonce, by timeout height first.
func NoncesPrefix() []byte { return clone(prefixNonces) }

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

// MemoCommitmentSize is the size of the one memo the chain keeps: a
// commitment, written as hex.
const MemoCommitmentSize = 32

// ErrMemo is the kind of CheckMemo's refusals.
var ErrMemo = errors.New("memo is not a commitment")

// CheckMemo refuses a memo that is not empty or a 32-byte commitment in
// lower-case hex. Every block is public and kept for ever, and a memo is
// free text: a bound on its length does not stop "pay J Smith, NI QQ…" in
// twenty bytes. A sender who needs a note commits to it
// (tallyd tx … --memo TEXT sends SHA-256 of a random salt and the text,
// and prints the salt, which opens it; client.CommitMemo).
func CheckMemo(memo string) error {
	if memo == "" {
		return nil
	}
	if len(memo) != 2*MemoCommitmentSize {
		return refuse(ErrMemo, "memo is %d characters; a memo is empty or a %d-byte commitment as %d lower-case hex characters, since every block is public for ever", len(memo), MemoCommitmentSize, 2*MemoCommitmentSize)
	}
	for _, c := range []byte(memo) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return refuse(ErrMemo, "memo must be empty or %d lower-case hex characters (a commitment), not text: every block is public for ever", 2*MemoCommitmentSize)
		}
	}
	return nil
}

// Package api is Tally's client contract, shared by the node and every
// client: the query paths, the state key each answer is proven at, and the
// decoders that check an answer's records link up. A fact about the wire
// or the state layout is written here once; x/*, app, client, the CLI, the
// explorer and testnet all use it, so the server and its clients cannot
// drift apart.
//
// It imports only the generated protobuf types and the standard library,
// so a client can depend on it without pulling in the node. The protocol
// these functions implement is written out for other languages in
// docs/protocol.md.
//
// Key layouts. Every record and index lives in the one IAVL tree, so each
// is provable against the app hash. Ids and sequence numbers are 8-byte
// big-endian (so key order is numeric order), addresses 20 bytes, public
// keys 32 bytes. Identifiers that share a prefix are separated by a byte
// they cannot contain ('/' or 0x00) or preceded by their length, so one
// record's prefix never covers another's. An index entry's value is the
// single byte 0x01 (its presence is the fact); the index comments below say
// "index".
package api

import "encoding/binary"

// AddressSize is the size of an account address (the first 20 bytes of
// the SHA-256 of its ed25519 public key).
const AddressSize = 20

// Key concatenates the parts of a state key (a prefix, ids, numbers
// encoded by Uint64) into one new slice. Every key builder here uses it,
// and so does any state key built outside this package (x/*, tests), so
// keys are made one way.
func Key(parts ...[]byte) []byte {
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

// Uint64 is n as 8 bytes big-endian, so numbers in keys (and the values
// of sequence counters) sort in numeric order.
func Uint64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// u32 is n as 4 bytes big-endian.
func u32(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }

var (
	slash = []byte("/")
	zero  = []byte{0}
)

// clone is a fresh copy of one of the package's fixed keys or prefixes:
// the functions that return them hand each caller its own slice, so a
// caller that appends to or writes into it cannot change the package's.
func clone(b []byte) []byte { return append([]byte(nil), b...) }

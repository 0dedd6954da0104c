// Package store holds Tally's application state: one IAVL tree, saved as a
// new version at every block, plus a per-transaction write buffer (Cache)
// and helpers shared by all keepers.
package store

import (
	"bytes"
	"fmt"

	"google.golang.org/protobuf/proto"
)

// KV is the read-write key-value view a module's keeper works on.
//
// Keys should be non-empty. Slices passed to Set are copied; slices returned
// by Get and passed to Iterate callbacks must not be modified.
type KV interface {
	// Get returns the value stored at key, or nil if it is absent.
	Get(key []byte) []byte
	// Has reports whether key is present.
	Has(key []byte) bool
	// Set stores value at key. An empty or nil value is stored as Present,
	// so every stored value can be proven and Get never returns nil for a
	// present key.
	Set(key, value []byte)
	// Delete removes key; deleting an absent key is a no-op.
	Delete(key []byte)
	// Iterate visits keys in [start, end) (end nil = no upper bound, start nil
	// = from the beginning) in ascending or descending key order; fn returns
	// true to stop.
	Iterate(start, end []byte, ascending bool, fn func(key, value []byte) (stop bool))
}

// PrefixEnd returns the smallest key greater than every key with prefix, or
// nil if there is none (prefix is empty or all 0xFF bytes), which as an
// iteration end means "no upper bound".
func PrefixEnd(prefix []byte) []byte {
	for i := len(prefix) - 1; i >= 0; i-- {
		if prefix[i] != 0xFF {
			end := make([]byte, i+1)
			copy(end, prefix)
			end[i]++
			return end
		}
	}
	return nil
}

// IteratePrefix visits every key that starts with prefix in ascending order;
// fn returns true to stop.
func IteratePrefix(kv KV, prefix []byte, fn func(key, value []byte) (stop bool)) {
	kv.Iterate(prefixStart(prefix), PrefixEnd(prefix), true, fn)
}

// ReverseIteratePrefix visits every key that starts with prefix in descending
// order; fn returns true to stop.
func ReverseIteratePrefix(kv KV, prefix []byte, fn func(key, value []byte) (stop bool)) {
	kv.Iterate(prefixStart(prefix), PrefixEnd(prefix), false, fn)
}

func prefixStart(prefix []byte) []byte {
	if len(prefix) == 0 {
		return nil
	}
	return prefix
}

// GetProto decodes the value at key into m. It reports found=false (and
// leaves m untouched) when the key is absent.
func GetProto(kv KV, key []byte, m proto.Message) (found bool, err error) {
	bz := kv.Get(key)
	if bz == nil {
		return false, nil
	}
	if err := DecodeProto(bz, m); err != nil {
		return true, fmt.Errorf("store: decode %T at key %X: %w", m, key, err)
	}
	return true, nil
}

// DecodeProto decodes stored bytes bz (non-nil, as Get returned them) into
// m as GetProto does: Present is the empty message.
func DecodeProto(bz []byte, m proto.Message) error {
	if bytes.Equal(bz, Present) {
		proto.Reset(m)
		return nil
	}
	return proto.Unmarshal(bz, m)
}

// SetProto stores m at key using deterministic protobuf encoding, so equal
// messages always produce equal bytes (and equal app hashes).
//
// An empty message is stored as Present (see there) and read back as empty.
func SetProto(kv KV, key []byte, m proto.Message) error {
	bz, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return fmt.Errorf("store: encode %T at key %X: %w", m, key, err)
	}
	setEncoded(kv, key, bz)
	return nil
}

// encodedSetter is a KV that can keep a value its caller has just encoded
// and gives up (SetProto's) instead of copying it, as Set does: Cache and
// Store, and Metered over either, charging as for Set.
type encodedSetter interface {
	setEncoded(key, value []byte)
}

var (
	_ encodedSetter = (*Cache)(nil)
	_ encodedSetter = (*Store)(nil)
	_ encodedSetter = Metered{}
)

// setEncoded is kv.Set(key, value) for a value nothing else holds, kept
// without a copy where kv can.
func setEncoded(kv KV, key, value []byte) {
	if s, ok := kv.(encodedSetter); ok {
		s.setEncoded(key, value)
		return
	}
	kv.Set(key, value)
}

// ownedValue is the stored form of a value the store may keep as it is:
// the value itself, capped at its length (an append to what Get returns
// must not write into another reader's array), or Present when empty.
func ownedValue(value []byte) []byte {
	if len(value) == 0 {
		return []byte{0x01}
	}
	return value[:len(value):len(value)]
}

// Present is the value stored for an empty value, such as an index entry
// whose key alone carries the information. Stored values are never empty
// because an ICS23 proof cannot carry an empty value: an empty value would
// make its own key, and the absence of keys beside it, unprovable. A single
// 0x01 byte is never a valid protobuf encoding (field number 0), so GetProto
// reads it back unambiguously as an empty message.
var Present = []byte{0x01}

// storedValue is the value to put in the tree for value: a copy, or
// Present when value is empty.
func storedValue(value []byte) []byte {
	if len(value) == 0 {
		return []byte{0x01}
	}
	return copyBytes(value)
}

// copyBytes returns a non-nil copy of b (nil becomes an empty slice).
func copyBytes(b []byte) []byte {
	out := make([]byte, len(b))
	copy(out, b)
	return out
}

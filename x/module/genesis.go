package module

import (
	"bytes"

	statev1 "github.com/tallyledger/tally/proto/tally/state/v1"
	"github.com/tallyledger/tally/store"
)

// ExportRecords returns every key under prefix with its stored value, in
// key order: a module's whole state (records, indexes, sequences,
// parameters) as `tallyd export` writes it into a genesis. Walking the
// keys rather than the typed records means nothing a module keeps can be
// left out of an export, and ImportRecords is its exact inverse.
func ExportRecords(kv store.KV, prefix []byte) []*statev1.Record {
	var out []*statev1.Record
	store.IteratePrefix(kv, prefix, func(k, v []byte) bool {
		out = append(out, &statev1.Record{Key: bytes.Clone(k), Value: bytes.Clone(v)})
		return false
	})
	return out
}

// ImportRecords writes an export's records back into kv. Every key must
// lie under prefix (the module's own part of state), the keys must be in
// strictly ascending order (as ExportRecords writes them, so none appears
// twice) and no value may be empty (stored values never are). section
// names the genesis section in messages; invalid is the module's coded
// genesis error. It checks the records' shape only: the app checks the
// whole imported state against every module's invariants afterwards.
func ImportRecords(kv store.KV, section string, prefix []byte, recs []*statev1.Record, invalid *Error) error {
	var last []byte
	for i, r := range recs {
		switch {
		case !bytes.HasPrefix(r.Key, prefix) || len(r.Key) == len(prefix):
			return invalid.Wrapf("%s record %d: key %q is not in this module's state (its keys start with %q); was the record moved from another section?", section, i, r.Key, prefix)
		case i > 0 && bytes.Compare(r.Key, last) <= 0:
			return invalid.Wrapf("%s record %d: key %q is not after the key before it (%q): an export lists keys once each, in order", section, i, r.Key, last)
		case len(r.Value) == 0:
			return invalid.Wrapf("%s record %d: key %q has an empty value; exported values are never empty", section, i, r.Key)
		}
		kv.Set(r.Key, r.Value)
		last = r.Key
	}
	return nil
}

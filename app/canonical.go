package app

import (
	"bytes"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// A transaction has exactly one valid byte form. Protobuf parsers accept
// many encodings of the same message (unknown fields, a field repeated so
// the last one wins, fields out of order, a zero value written out,
// over-long varints, unpacked repeated scalars), and the signature covers
// only body_bytes: without this rule anyone relaying a transaction could
// change its outer bytes, hence its hash, and get the altered copy
// included first, so the signer's own copy failed as a replay. The one
// form is what proto.MarshalOptions{Deterministic: true} writes, which is
// what client.BuildTx sends: fields in field-number order, defaults
// omitted, nothing unknown. TestCanonicalEncodingIsPinned pins those bytes
// so a protobuf library upgrade that changed them would be noticed before
// it split nodes replaying old blocks.

// canonicalMarshal is the one encoding a transaction's parts may have.
var canonicalMarshal = proto.MarshalOptions{Deterministic: true}

// parseCanonical parses raw into the empty message m, dropping unknown
// fields, and reports whether raw is exactly m's canonical encoding. Then
// raw holds no unknown field either (its bytes would be missing from the
// re-encoding), so m is what proto.Unmarshal gives and checkCanonical
// passes, without checkCanonical's reflective walk of every message for
// unknown fields. Otherwise m is reset and the caller parses and checks
// raw in full, for the error it reports.
func parseCanonical(raw []byte, m proto.Message) bool {
	if discardUnknown.Unmarshal(raw, m) == nil {
		if out, err := canonicalMarshal.Marshal(m); err == nil && bytes.Equal(out, raw) {
			return true
		}
	}
	proto.Reset(m)
	return false
}

var discardUnknown = proto.UnmarshalOptions{DiscardUnknown: true}

// checkCanonical returns an error naming what when raw, already parsed
// into m, is not the canonical encoding of m.
func checkCanonical(what string, raw []byte, m proto.Message) error {
	if path := unknownField(m.ProtoReflect(), what); path != "" {
		return ErrTxNotCanonical.Wrapf("%s carries fields this release does not define; send only the fields of the schema", path)
	}
	out, err := canonicalMarshal.Marshal(m)
	if err != nil {
		return ErrTxMalformed.Wrapf("%s cannot be re-encoded: %v", what, err)
	}
	if !bytes.Equal(out, raw) {
		return ErrTxNotCanonical.Wrapf("%s is %d bytes but its canonical protobuf encoding is %d bytes or differs; encode with deterministic marshaling, fields in order, no field twice, no default values, no unknown fields", what, len(raw), len(out))
	}
	return nil
}

// unknownField returns the path of the first message under m that holds
// unknown fields, or "" when there is none. Re-marshaling keeps unknown
// fields, so comparing bytes alone would not catch them.
func unknownField(m protoreflect.Message, path string) string {
	if len(m.GetUnknown()) > 0 {
		return path
	}
	found := ""
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Message() == nil {
			return true
		}
		sub := path + "." + string(fd.Name())
		switch {
		case fd.IsMap():
			if fd.MapValue().Message() != nil {
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					found = unknownField(mv.Message(), sub)
					return found == ""
				})
			}
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len() && found == ""; i++ {
				found = unknownField(l.Get(i).Message(), sub)
			}
		default:
			found = unknownField(v.Message(), sub)
		}
		return found == ""
	})
	return found
}

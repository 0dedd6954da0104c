package client

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// AmountFields are the record fields that hold money, in minor units
// (pence). RecordJSON writes each as a string of pence with the formatted
// value beside it ("amount": "25000", "amount_formatted": "£250.00").
var AmountFields = map[string]bool{
	"amount": true, "gross": true, "net": true, "net_before": true, "net_after": true, "refund": true, "refunded": true,
	"collected": true, "corrected_amount": true, "paid_total": true, "remaining": true, "appropriated": true,
	"revenue_credited": true, "revenue_debited": true, "settled": true, "sum_of_balances": true, "sum_of_open_tranches": true,
	"expected_balances": true, "recovered": true, "recovered_total": true, "outstanding_recovery": true,
	"annual_appropriation_limit": true, "max_receipt_amount": true, "ceiling": true, "used": true, "balance": true,
}

// Pounds formats minor units as pounds: 123456 → "£1,234.56".
func Pounds(pence uint64) string {
	s := strconv.FormatUint(pence/100, 10)
	var b strings.Builder
	b.WriteString("£")
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	b.WriteString("." + strconv.FormatUint(pence%100/10, 10) + strconv.FormatUint(pence%10, 10))
	return b.String()
}

// RecordJSON renders a record in the one JSON form the explorer's API and
// tallyd query share (docs/protocol.md, "JSON for people and programs"):
// proto field names; a value a program reads stays in its stable form under
// the field's name, and where a person reads it differently the words are
// beside it as "<field>_formatted":
//
//   - an enum keeps its value name as in the .proto ("ROLE_AUDITOR"), with
//     the words beside it ("auditor"); a list of enums gets a list of words;
//   - an amount is a string of pence ("25000") with pounds beside it
//     ("£250.00");
//   - bytes (addresses, hashes, pseudonymous references) are hex.
//
// Nested records and lists of records get the same treatment. As in
// protojson, a zero value is left out, except a yes/no field, which is
// always written so that a failing check reads "ok": false.
func RecordJSON(m proto.Message) map[string]any {
	b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		return map[string]any{"error": err.Error()}
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		return map[string]any{"error": err.Error()}
	}
	normalise(m.ProtoReflect(), v)
	return v
}

// normalise rewrites protojson's base64 bytes as hex, writes amounts in the
// one form, puts words beside enums and writes false yes/no fields,
// following the message's descriptor.
func normalise(m protoreflect.Message, v map[string]any) {
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		f := fields.Get(i)
		name := string(f.Name())
		val, ok := v[name]
		if !ok {
			// A false yes/no is written too; a field of a oneof only when
			// it is the one set.
			if f.Kind() == protoreflect.BoolKind && !f.IsList() && !f.HasPresence() && f.ContainingOneof() == nil {
				v[name] = false
			}
			continue
		}
		switch {
		case f.Kind() == protoreflect.BytesKind && !f.IsList():
			if s, ok := val.(string); ok {
				if b, err := base64.StdEncoding.DecodeString(s); err == nil {
					v[name] = hex.EncodeToString(b)
				}
			}
		case f.Kind() == protoreflect.BytesKind && f.IsList():
			if arr, ok := val.([]any); ok {
				for j, x := range arr {
					if s, ok := x.(string); ok {
						if b, err := base64.StdEncoding.DecodeString(s); err == nil {
							arr[j] = hex.EncodeToString(b)
						}
					}
				}
			}
		case f.Kind() == protoreflect.EnumKind && !f.IsList():
			v[name+"_formatted"] = enumValueWords(f.Enum(), val)
		case f.Kind() == protoreflect.EnumKind && f.IsList():
			if arr, ok := val.([]any); ok {
				words := make([]any, len(arr))
				for j, x := range arr {
					words[j] = enumValueWords(f.Enum(), x)
				}
				v[name+"_formatted"] = words
			}
		case f.Kind() == protoreflect.MessageKind && !f.IsList() && !f.IsMap():
			if sub, ok := val.(map[string]any); ok {
				normalise(m.Get(f).Message(), sub)
			}
		case f.Kind() == protoreflect.MessageKind && f.IsList():
			list := m.Get(f).List()
			if arr, ok := val.([]any); ok {
				for j := 0; j < list.Len() && j < len(arr); j++ {
					if sub, ok := arr[j].(map[string]any); ok {
						normalise(list.Get(j).Message(), sub)
					}
				}
			}
		case AmountFields[name] && !f.IsList() && isInteger(f.Kind()):
			n, err := strconv.ParseUint(strings.Trim(string(mustJSON(val)), `"`), 10, 64)
			if err == nil {
				v[name] = strconv.FormatUint(n, 10)
				v[name+"_formatted"] = Pounds(n)
			}
		}
	}
}

// EnumWords is an enum value's name as words a person reads: without its
// type's prefix (what the type's zero value, ..._UNSPECIFIED, has before
// UNSPECIFIED), in lower case, with spaces: ENROLMENT_STATUS_ACTIVE →
// "active", TAX_STATUS_PARTIALLY_REFUNDED → "partially refunded".
func EnumWords(e protoreflect.EnumDescriptor, name string) string {
	prefix := ""
	if vals := e.Values(); vals.Len() > 0 {
		prefix = strings.TrimSuffix(string(vals.Get(0).Name()), "UNSPECIFIED")
	}
	return strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(name, prefix), "_", " "))
}

// enumValueWords is EnumWords of a value as protojson wrote it: its name,
// or its number when the enum has no value of that number (written as the
// number).
func enumValueWords(e protoreflect.EnumDescriptor, val any) string {
	if s, ok := val.(string); ok {
		return EnumWords(e, s)
	}
	return strings.Trim(string(mustJSON(val)), `"`)
}

func isInteger(k protoreflect.Kind) bool {
	switch k {
	case protoreflect.Uint64Kind, protoreflect.Int64Kind, protoreflect.Uint32Kind, protoreflect.Int32Kind,
		protoreflect.Sint64Kind, protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind:
		return true
	}
	return false
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

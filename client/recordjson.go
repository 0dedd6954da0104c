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
// tallyd query share: proto field names, enum value names, bytes
// (addresses, hashes, pseudonymous references) as hex, and every amount as
// a string of pence with "<field>_formatted" in pounds beside it. Nested
// records and lists of records get the same treatment. As in protojson, a
// zero amount is left out.
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

// normalise rewrites protojson's base64 bytes as hex and writes amounts in
// the one form, following the message's descriptor.
func normalise(m protoreflect.Message, v map[string]any) {
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		f := fields.Get(i)
		name := string(f.Name())
		val, ok := v[name]
		if !ok {
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

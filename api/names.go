package api

import (
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// EnumName is an enum value's short lower-case name, the one events, the
// CLI, the explorer and error messages use: ROLE_TAX_COLLECTOR with prefix
// "ROLE_" → tax_collector. A number the enum does not define is written as
// the number. It is the one such helper (x/module.EnumName is it for the
// modules), so a client names a value as the chain's events do.
func EnumName(v protoreflect.Enum, prefix string) string {
	ev := v.Descriptor().Values().ByNumber(v.Number())
	if ev == nil {
		return strconv.Itoa(int(v.Number()))
	}
	return ShortName(ev.Name(), prefix)
}

// ShortName is an enum value name without its prefix, in lower case.
func ShortName(name protoreflect.Name, prefix string) string {
	return strings.ToLower(strings.TrimPrefix(string(name), prefix))
}

// enum is a generated protobuf enum type.
type enum interface {
	~int32
	protoreflect.Enum
}

// maxEnumNameBytes is longer than any enum value's short name.
const maxEnumNameBytes = 64

// ParseEnum reads a short name, as EnumName writes it (either case, '-'
// for '_'), into E. The zero value (unspecified) is never a name, so ok
// is false for it as for any name E does not define. It is the one
// reader of enum names: api's parsers (enums.go), the modules and the
// CLI call it.
func ParseEnum[E enum](name, prefix string) (E, bool) {
	var zero E
	if len(name) > maxEnumNameBytes { // no name is as long: refused without upper-casing it
		return 0, false
	}
	ev := zero.Descriptor().Values().ByName(protoreflect.Name(prefix + upperName(name)))
	if ev == nil || ev.Number() == 0 {
		return 0, false
	}
	return E(ev.Number()), true
}

// EnumNames lists the short names of v's enum, zero excluded, in the
// order the enum declares them, joined by ", ": what a refusal offers
// instead.
func EnumNames(v protoreflect.Enum, prefix string) string {
	values := v.Descriptor().Values()
	var names []string
	for i := 0; i < values.Len(); i++ {
		if values.Get(i).Number() != 0 {
			names = append(names, ShortName(values.Get(i).Name(), prefix))
		}
	}
	return strings.Join(names, ", ")
}

// upperName is a short name as its value's name spells it: ASCII letters
// upper case, '-' as '_', nothing else changed (so no other character
// can fold into a match).
func upperName(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z':
			b[i] = c - 'a' + 'A'
		case c == '-':
			b[i] = '_'
		}
	}
	return string(b)
}

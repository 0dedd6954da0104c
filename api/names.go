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

package module

import (
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/tallyledger/tally/api"
)

// Reason codes replace free text wherever a message says why something was
// done to a person or an account: free text is where a name, an identifier
// or "deceased" ends up, and the chain keeps every byte for ever.

// EnumName is an enum value's short lower-case name, the one events, the
// CLI and error messages use: ROLE_TAX_COLLECTOR with prefix "ROLE_" →
// tax_collector (api.EnumName, which clients use too). Every module's
// XName functions call it.
func EnumName(v protoreflect.Enum, prefix string) string { return api.EnumName(v, prefix) }

// CodeName is a reason code's short name: REASON_KEYING_ERROR →
// keying_error (EnumName).
func CodeName(v protoreflect.Enum, prefix string) string { return EnumName(v, prefix) }

// ValidCode checks that v is a defined, non-zero value of its enum, and
// lists the accepted short names otherwise. err is the module's coded
// error for an invalid reason.
func ValidCode(v protoreflect.Enum, prefix, field string, err *Error) error {
	values := v.Descriptor().Values()
	if v.Number() != 0 && values.ByNumber(v.Number()) != nil {
		return nil
	}
	return err.Wrapf("%s %d is not a reason code; use one of %s (free text is not kept on chain: details stay in the agency's own records)",
		field, v.Number(), CodeNames(v, prefix))
}

// CodeNames lists the short names of v's enum, zero excluded
// (api.EnumNames).
func CodeNames(v protoreflect.Enum, prefix string) string { return api.EnumNames(v, prefix) }

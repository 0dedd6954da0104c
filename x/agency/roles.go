package agency

import (
	"slices"

	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	"github.com/tallyledger/tally/x/module"
)

// kindRoles limits powers that only make sense in one kind of body: only a
// treasury creates money, only a bank confirms settlement, only a regulator
// accredits inspectors. Roles absent from this table may be held in any
// agency.
var kindRoles = map[agencyv1.Role][]agencyv1.Kind{
	agencyv1.Role_ROLE_TREASURY:        {agencyv1.Kind_KIND_TREASURY},
	agencyv1.Role_ROLE_SETTLEMENT_BANK: {agencyv1.Kind_KIND_BANK},
	agencyv1.Role_ROLE_INSPECTOR:       {agencyv1.Kind_KIND_REGULATOR},
	agencyv1.Role_ROLE_REGULATOR:       {agencyv1.Kind_KIND_REGULATOR},
	agencyv1.Role_ROLE_TAX_COLLECTOR:   {agencyv1.Kind_KIND_TAX_AUTHORITY, agencyv1.Kind_KIND_COUNCIL, agencyv1.Kind_KIND_BANK},
}

// RoleAllowed reports whether a member of an agency of this kind may hold role.
func RoleAllowed(kind agencyv1.Kind, role agencyv1.Role) bool {
	kinds, limited := kindRoles[role]
	return !limited || slices.Contains(kinds, kind)
}

// ValidRole reports whether role is one of the defined roles.
func ValidRole(role agencyv1.Role) bool {
	_, ok := agencyv1.Role_name[int32(role)]
	return ok && role != agencyv1.Role_ROLE_UNSPECIFIED
}

// HasRole reports whether the account holds role.
func HasRole(acc *agencyv1.Account, role agencyv1.Role) bool {
	return slices.Contains(acc.Roles, role)
}

// RoleName is the short lower-case name of a role, as the CLI and docs use it
// ("admin", "tax_collector").
func RoleName(role agencyv1.Role) string { return module.EnumName(role, "ROLE_") }

// KindName is the short lower-case name of an agency kind ("tax_authority").
func KindName(kind agencyv1.Kind) string { return module.EnumName(kind, "KIND_") }

// StatusName is the short lower-case name of a status ("active").
func StatusName(s agencyv1.Status) string { return module.EnumName(s, "STATUS_") }

// ParseRole reads a short role name as RoleName writes it.
func ParseRole(name string) (agencyv1.Role, error) {
	v, ok := agencyv1.Role_value["ROLE_"+upper(name)]
	if !ok || v == 0 {
		return 0, ErrInvalidRole.Wrapf("%q is not a role; roles are %s", name, roleList())
	}
	return agencyv1.Role(v), nil
}

// ParseKind reads a short kind name as KindName writes it.
func ParseKind(name string) (agencyv1.Kind, error) {
	v, ok := agencyv1.Kind_value["KIND_"+upper(name)]
	if !ok || v == 0 {
		return 0, ErrInvalidGenesis.Wrapf("%q is not an agency kind", name)
	}
	return agencyv1.Kind(v), nil
}

func roleList() string {
	out := ""
	for i := int32(1); ; i++ {
		if _, ok := agencyv1.Role_name[i]; !ok {
			return out
		}
		if out != "" {
			out += ", "
		}
		out += RoleName(agencyv1.Role(i))
	}
}

func upper(s string) string {
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

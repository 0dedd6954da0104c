package agency

import (
	"slices"

	"github.com/tallyledger/tally/api"
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
// ("admin", "tax_collector"): api.RoleName.
func RoleName(role agencyv1.Role) string { return api.RoleName(role) }

// KindName is the short lower-case name of an agency kind ("tax_authority"):
// api.AgencyKindName.
func KindName(kind agencyv1.Kind) string { return api.AgencyKindName(kind) }

// StatusName is the short lower-case name of a status ("active").
func StatusName(s agencyv1.Status) string { return module.EnumName(s, "STATUS_") }

// ParseRole reads a short role name as RoleName writes it (api.ParseRole),
// refusing another with ErrInvalidRole.
func ParseRole(name string) (agencyv1.Role, error) {
	r, err := api.ParseRole(name)
	if err != nil {
		return 0, ErrInvalidRole.Wrapf("%v", err)
	}
	return r, nil
}

// ParseKind reads a short kind name as KindName writes it
// (api.ParseAgencyKind), refusing another with ErrInvalidGenesis.
func ParseKind(name string) (agencyv1.Kind, error) {
	k, err := api.ParseAgencyKind(name)
	if err != nil {
		return 0, ErrInvalidGenesis.Wrapf("%v", err)
	}
	return k, nil
}

// roleList is every role's short name, for refusals.
func roleList() string { return api.EnumNames(agencyv1.Role(0), api.RolePrefix) }

package api

import (
	"errors"

	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
)

// The short names a client reads from people and shows them (EnumName,
// ParseEnum). Each parser's refusal wraps ErrName and says which names
// are accepted; the module that owns the enum gives it its code.

// ErrName is the kind of every refusal of a name here.
var ErrName = errors.New("not a name of the enum")

// Enum value prefixes: a value's short name is its name without these.
const (
	RolePrefix             = "ROLE_"
	AgencyKindPrefix       = "KIND_"
	SuspensionReasonPrefix = "SUSPENSION_REASON_"
	MandatePrefix          = "MANDATE_"
	VoteOptionPrefix       = "VOTE_OPTION_"
	MisbehaviourTypePrefix = "MISBEHAVIOUR_TYPE_"
	MisbehaviourActPrefix  = "MISBEHAVIOUR_ACTION_"
	TaxReasonPrefix        = "REASON_"
	PeriodKindPrefix       = "PERIOD_KIND_"
	EnrolmentReasonPrefix  = "ENROLMENT_REASON_"
	RecoveryReasonPrefix   = "RECOVERY_REASON_"
)

// RoleName is a role's short name ("tax_collector").
func RoleName(r agencyv1.Role) string { return EnumName(r, RolePrefix) }

// ParseRole reads a role's short name.
func ParseRole(name string) (agencyv1.Role, error) {
	if r, ok := ParseEnum[agencyv1.Role](name, RolePrefix); ok {
		return r, nil
	}
	return 0, refuse(ErrName, "%s is not a role; roles are %s", Quote(name), EnumNames(agencyv1.Role(0), RolePrefix))
}

// AgencyKindName is an agency kind's short name ("tax_authority").
func AgencyKindName(k agencyv1.Kind) string { return EnumName(k, AgencyKindPrefix) }

// ParseAgencyKind reads an agency kind's short name.
func ParseAgencyKind(name string) (agencyv1.Kind, error) {
	if k, ok := ParseEnum[agencyv1.Kind](name, AgencyKindPrefix); ok {
		return k, nil
	}
	return 0, refuse(ErrName, "%s is not an agency kind", Quote(name))
}

// ParseMandate reads a mandate's short name ("revenue").
func ParseMandate(name string) (govv1.Mandate, error) {
	if m, ok := ParseEnum[govv1.Mandate](name, MandatePrefix); ok {
		return m, nil
	}
	return 0, refuse(ErrName, "%s is not a mandate; mandates are %s", Quote(name), EnumNames(govv1.Mandate(0), MandatePrefix))
}

// ParseVoteOption reads a vote ("yes", "no", "abstain").
func ParseVoteOption(name string) (govv1.VoteOption, error) {
	if o, ok := ParseEnum[govv1.VoteOption](name, VoteOptionPrefix); ok {
		return o, nil
	}
	return 0, refuse(ErrName, "%s is not a vote; vote yes, no or abstain", Quote(name))
}

// MisbehaviourTypeName is an evidence type's short name ("duplicate_vote").
func MisbehaviourTypeName(t govv1.MisbehaviourType) string {
	return EnumName(t, MisbehaviourTypePrefix)
}

// MisbehaviourActionName is a misbehaviour action's short name ("proposed").
func MisbehaviourActionName(a govv1.MisbehaviourAction) string {
	return EnumName(a, MisbehaviourActPrefix)
}

// TaxReasonName is a tax reason code's short name ("keying_error").
func TaxReasonName(r taxv1.Reason) string { return EnumName(r, TaxReasonPrefix) }

// ParseTaxReason reads a tax reason code's short name.
func ParseTaxReason(name string) (taxv1.Reason, error) {
	if r, ok := ParseEnum[taxv1.Reason](name, TaxReasonPrefix); ok {
		return r, nil
	}
	return 0, refuse(ErrName, "%s is not a reason code; codes are %s", Quote(name), EnumNames(taxv1.Reason(0), TaxReasonPrefix))
}

// ParsePeriodKind reads a period kind's short name ("year", "quarter",
// "month"; PeriodKindName).
func ParsePeriodKind(name string) (taxv1.PeriodKind, error) {
	if k, ok := ParseEnum[taxv1.PeriodKind](name, PeriodKindPrefix); ok {
		return k, nil
	}
	return 0, refuse(ErrName, "%s is not a period kind; use year, quarter or month", Quote(name))
}

// ParseReasonCode reads the short name of a reason code of E (a
// suspension, enrolment or recovery reason).
func ParseReasonCode[E enum](name, prefix string) (E, error) {
	if c, ok := ParseEnum[E](name, prefix); ok {
		return c, nil
	}
	return 0, refuse(ErrName, "%s is not a reason code; use one of %s", Quote(name), EnumNames(E(0), prefix))
}

package module_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/gov"
	"github.com/tallyledger/tally/x/module"
)

// An enum value's short name drops the prefix and is lower case; a number
// the enum does not define is written as the number, by every module's
// name function alike (agency's panicked on short numbers, gov's kept
// them, tax's lower-cased them).
func TestEnumNameIsOneRuleForEveryEnum(t *testing.T) {
	require.Equal(t, "tax_collector", module.EnumName(agencyv1.Role_ROLE_TAX_COLLECTOR, "ROLE_"))
	require.Equal(t, "unspecified", module.EnumName(agencyv1.Role_ROLE_UNSPECIFIED, "ROLE_"))
	require.Equal(t, "99", module.EnumName(agencyv1.Role(99), "ROLE_"))
	require.Equal(t, "99", agency.RoleName(agencyv1.Role(99)))
	require.Equal(t, "99", gov.OptionName(govv1.VoteOption(99)))
	require.Equal(t, "abstain", gov.OptionName(govv1.VoteOption_VOTE_OPTION_ABSTAIN))
}

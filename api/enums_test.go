package api_test

import (
	"crypto/ed25519"
	"strings"
	"testing"

	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/api"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	benefitsv1 "github.com/tallyledger/tally/proto/tally/benefits/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
)

// ParseEnum reads back every short name EnumName writes, in either case
// and with '-' for '_', and nothing else: not the zero value, not a name
// of another enum, not a character that only folds into a letter.
func TestParseEnumReadsWhatEnumNameWrites(t *testing.T) {
	for n := range agencyv1.Role_name {
		r := agencyv1.Role(n)
		got, ok := api.ParseEnum[agencyv1.Role](api.RoleName(r), api.RolePrefix)
		require.Equal(t, n != 0, ok, r)
		if ok {
			require.Equal(t, r, got)
		}
	}
	r, ok := api.ParseEnum[agencyv1.Role]("TAX-collector", api.RolePrefix)
	require.True(t, ok)
	require.Equal(t, agencyv1.Role_ROLE_TAX_COLLECTOR, r)
	for _, bad := range []string{"", "unspecified", "tax collector", "ſtatistics", "treasury_", "99"} {
		_, ok := api.ParseEnum[govv1.Mandate](bad, api.MandatePrefix)
		require.False(t, ok, bad)
	}
}

// Each parser's refusal names what it accepts, in the words the modules
// used before the parsers moved here (the CLI shows them as they were).
func TestParsersSayWhatTheyAccept(t *testing.T) {
	_, err := api.ParseMandate("mayor")
	require.ErrorIs(t, err, api.ErrName)
	require.EqualError(t, err, `"mayor" is not a mandate; mandates are treasury, tax_authority, regulator, settlement_bank, benefits_payer, statistics, revenue`)
	_, err = api.ParseVoteOption("maybe")
	require.EqualError(t, err, `"maybe" is not a vote; vote yes, no or abstain`)
	_, err = api.ParseRole("king")
	require.ErrorContains(t, err, `"king" is not a role; roles are admin, treasury, tax_collector`)
	_, err = api.ParseAgencyKind("club")
	require.EqualError(t, err, `"club" is not an agency kind`)
	_, err = api.ParseTaxReason("whim")
	require.ErrorContains(t, err, `"whim" is not a reason code; codes are `)
	_, err = api.ParseReasonCode[benefitsv1.RecoveryReason]("whim", api.RecoveryReasonPrefix)
	require.ErrorContains(t, err, `"whim" is not a reason code; use one of `)

	k, err := api.ParseAgencyKind("tax_authority")
	require.NoError(t, err)
	require.Equal(t, agencyv1.Kind_KIND_TAX_AUTHORITY, k)
	require.Equal(t, "tax_authority", api.AgencyKindName(k))
	o, err := api.ParseVoteOption("abstain")
	require.NoError(t, err)
	require.Equal(t, govv1.VoteOption_VOTE_OPTION_ABSTAIN, o)
	reason, err := api.ParseTaxReason("keying-error")
	require.NoError(t, err)
	require.Equal(t, "keying_error", api.TaxReasonName(reason))
	require.Equal(t, taxv1.Reason_REASON_KEYING_ERROR, reason)
	s, err := api.ParseReasonCode[agencyv1.SuspensionReason]("under-review", api.SuspensionReasonPrefix)
	require.NoError(t, err)
	require.Equal(t, "under_review", api.EnumName(s, api.SuspensionReasonPrefix))
}

// The addresses api computes are CometBFT's, for accounts and validators
// alike.
func TestAddressesAreCometBFTs(t *testing.T) {
	pub := ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey)
	want := []byte(cmted25519.PubKey(pub).Address())
	require.Equal(t, want, api.AddressOf(pub))
	require.Equal(t, want, api.ConsensusAddress(pub))
	require.Len(t, want, api.AddressSize)
	require.Len(t, pub, api.PubKeySize)
}

// A memo is empty or a commitment as 64 lower-case hex characters; the
// node refuses anything else with tx/60 (app's checkMemo calls this), and
// tallyd commits to any other memo before sending.
func TestCheckMemoAcceptsOnlyACommitment(t *testing.T) {
	require.NoError(t, api.CheckMemo(""))
	require.NoError(t, api.CheckMemo(strings.Repeat("0a", 32)))
	for _, bad := range []string{"pay J Smith", strings.Repeat("0A", 32), strings.Repeat("a", 63), strings.Repeat("g", 64)} {
		err := api.CheckMemo(bad)
		require.ErrorIs(t, err, api.ErrMemo, bad)
		require.ErrorContains(t, err, "every block is public for ever", bad)
	}
}

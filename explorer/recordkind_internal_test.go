package explorer

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/api"
	benefitsv1 "github.com/tallyledger/tally/proto/tally/benefits/v1"
	fundsv1 "github.com/tallyledger/tally/proto/tally/funds/v1"
)

// TestPaymentTraceNamesRecoveriesByTheirStateKeys: a payment trace lists
// the payment's recoveries and their steps under the keys the state uses
// (bf/v/, bf/vs/). The explorer once labelled bf/r/ and bf/rs/, so every
// recovery in a trace showed as an unnamed, undecoded record.
func TestPaymentTraceNamesRecoveriesByTheirStateKeys(t *testing.T) {
	for _, tt := range []struct {
		key  []byte
		kind string
		want any
	}{
		{api.BenefitsRecoveryKey(7), "recovery", &benefitsv1.Recovery{}},
		{api.BenefitsRecoveryStepKey(7, 1), "recovery step", &benefitsv1.RecoveryStep{}},
		{api.BenefitsPaymentKey(7), "payment", &benefitsv1.Payment{}},
		{api.FundsRootTotalsKey(7), "root totals", &fundsv1.RootTotals{}},
		{api.FundsRootLegKey(7, 8, 0), "leg", &fundsv1.Leg{}},
	} {
		kind, m := recordKind(tt.key)
		require.Equal(t, tt.kind, kind, "key %q", tt.key)
		require.IsType(t, tt.want, m, "key %q", tt.key)
	}
}

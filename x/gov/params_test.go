package gov_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/gov"
)

func TestParseFraction(t *testing.T) {
	for _, tt := range []struct {
		in string
		ok bool
	}{
		{"2/3", true}, {"0/1", true}, {"1/1", true}, {"1/0", false}, {"4/3", false}, {"2", false},
		{"a/b", false}, {"-1/3", false}, {"1/1000001", false},
	} {
		_, err := gov.ParseFraction(tt.in)
		require.Equal(t, tt.ok, err == nil, tt.in)
	}
	two3 := gov.Fraction{Num: 2, Den: 3}
	require.False(t, two3.Exceeded(2, 3), "2 of 3 is not more than two thirds")
	require.True(t, two3.Exceeded(3, 4))
	require.True(t, two3.Reached(2, 3))
	require.False(t, two3.Exceeded(1<<62, 3<<61), "no overflow on large counts")
	require.True(t, (gov.Fraction{Num: 1, Den: 2}).Less(two3))
}

func TestRegistrySetValidatesWithTheOwnersRules(t *testing.T) {
	kv := store.NewMemory()
	reg := gov.NewRegistry(gov.OwnParams()...)
	v, err := reg.Get(kv, "gov.pass_threshold")
	require.NoError(t, err)
	require.Equal(t, "2/3", v)

	require.NoError(t, reg.Set(kv, "gov.min_validators", "5"))
	v, _ = reg.Get(kv, "gov.min_validators")
	require.Equal(t, "5", v)

	before := kv.WorkingHash()
	for name, value := range map[string]string{
		"gov.min_validators":        "3",
		"gov.pass_threshold":        "1/3",
		"gov.max_power_change":      "1/2",
		"gov.voting_period_seconds": "-5",
		"gov.max_validator_share":   "1/3",
	} {
		err := reg.Set(kv, name, value)
		require.True(t, errors.Is(err, gov.ErrInvalidParamValue), "%s=%s: %v", name, value, err)
	}
	require.True(t, errors.Is(reg.Set(kv, "gov.nope", "1"), gov.ErrUnknownParam))
	require.NoError(t, reg.Check(kv, "gov.min_validators", "7"))
	require.Equal(t, before, kv.WorkingHash(), "refused or checked changes write nothing")

	list, err := reg.List(kv)
	require.NoError(t, err)
	require.Len(t, list.Params, len(gov.OwnParams()))
	require.Equal(t, &govv1.ParamValue{Name: "gov.min_validators", Value: "5", Description: list.Params[4].Description}, list.Params[4])
}

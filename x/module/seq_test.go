package module_test

import (
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/module"
)

// NextSeq counts from 1, stores the number as 8 bytes big-endian (the
// bytes every module's counter wrote before it), refuses at the last
// number with tx/80 leaving the counter as it was, and treats a counter
// of another length as broken state rather than starting again at 1.
func TestNextSeqCountsStoresAndRefusesAtTheEnd(t *testing.T) {
	kv := store.NewMemory()
	key := []byte("x/seq")
	for want := uint64(1); want <= 3; want++ {
		n, err := module.NextSeq(kv, key, "thing")
		require.NoError(t, err)
		require.Equal(t, want, n)
		require.Equal(t, api.Uint64(want), kv.Get(key))
	}

	kv.Set(key, api.Uint64(math.MaxUint64-1))
	n, err := module.NextSeq(kv, key, "thing")
	require.NoError(t, err)
	require.Equal(t, uint64(math.MaxUint64), n)
	_, err = module.NextSeq(kv, key, "thing")
	require.True(t, errors.Is(err, module.ErrSequenceExhausted), "%v", err)
	require.Contains(t, err.Error(), "tx/80: sequence exhausted: every thing number")
	require.Equal(t, api.Uint64(math.MaxUint64), kv.Get(key), "a refusal leaves the counter as it was")

	kv.Set(key, []byte{1, 2, 3})
	_, err = module.NextSeq(kv, key, "thing")
	require.True(t, errors.Is(err, module.ErrInternal), "%v", err)
	require.Equal(t, []byte{1, 2, 3}, kv.Get(key))

	_, err = module.Next(uint64(math.MaxUint64), "entry")
	require.True(t, errors.Is(err, module.ErrSequenceExhausted))
	n32, err := module.Next(uint32(math.MaxUint32-1), "step")
	require.NoError(t, err)
	require.Equal(t, uint32(math.MaxUint32), n32)
	_, err = module.Next(n32, "step")
	require.True(t, errors.Is(err, module.ErrSequenceExhausted), "a 32-bit counter stops at its own last number, not 0")
}

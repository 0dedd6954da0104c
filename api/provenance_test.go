package api_test

import (
	"bytes"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/api"
)

// The offer-expiry scan visits [ProvenanceOfferExpiryPrefix,
// ProvenanceOfferExpiryDueEnd(now)): every offer expiring at or before now
// and none later, whatever its id, up to the largest block time.
func TestOfferExpiryDueEndCoversExactlyTheOffersDueAtNow(t *testing.T) {
	ids := []string{"", "a", "lgtin:05012345678900.DALE-MILK-001-A", string(bytes.Repeat([]byte{0xff}, 200))}
	inScan := func(k []byte, now int64) bool {
		return bytes.HasPrefix(k, api.ProvenanceOfferExpiryPrefix()) && bytes.Compare(k, api.ProvenanceOfferExpiryDueEnd(now)) < 0
	}
	for _, now := range []int64{0, 1, 1_767_225_600, math.MaxInt64 - 1, math.MaxInt64} {
		for _, id := range ids {
			require.True(t, inScan(api.ProvenanceOfferExpiryKey(now, id), now), "an offer expiring at %d is due at %d", now, now)
			if now > 0 {
				require.True(t, inScan(api.ProvenanceOfferExpiryKey(now-1, id), now))
				require.True(t, inScan(api.ProvenanceOfferExpiryKey(0, id), now))
			}
			if now < math.MaxInt64 {
				require.False(t, inScan(api.ProvenanceOfferExpiryKey(now+1, id), now), "an offer expiring at %d is not due at %d", now+1, now)
			}
		}
	}
	// The largest time does not wrap round to an end before the index.
	require.Equal(t, append(append([]byte(nil), api.ProvenanceOfferExpiryPrefix()...), 0x80, 0, 0, 0, 0, 0, 0, 0), api.ProvenanceOfferExpiryDueEnd(math.MaxInt64))
	// Before 1970 nothing is due.
	require.Equal(t, api.ProvenanceOfferExpiryPrefix(), api.ProvenanceOfferExpiryDueEnd(-1))
}

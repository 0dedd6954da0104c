package api_test

import (
	"bytes"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/api"
)

// The chain's time- and height-ordered scans iterate [prefix, end(now)):
// the offer-expiry scan (offers expiring at or before a block's time) and
// the nonce pruning (nonces of transactions timed out at or before a
// height). The end builders must cover exactly what is due, whatever the
// rest of the key, up to the largest time or height, where now+1 must not
// wrap round to an end before the index.
func TestScanEndsCoverExactlyWhatIsDue(t *testing.T) {
	tails := [][]byte{nil, []byte("a"), []byte("lgtin:05012345678900.DALE-MILK-001-A"), bytes.Repeat([]byte{0xff}, 200)}
	for _, sc := range []struct {
		name   string
		prefix []byte
		key    func(at int64, tail []byte) []byte
		end    func(now int64) []byte
	}{
		{"offer expiry", api.ProvenanceOfferExpiryPrefix(),
			func(at int64, tail []byte) []byte { return api.ProvenanceOfferExpiryKey(at, string(tail)) }, api.ProvenanceOfferExpiryDueEnd},
		{"nonce timeout", api.NoncesPrefix(),
			func(at int64, tail []byte) []byte { return api.NonceKey(uint64(at), tail, math.MaxUint64) }, api.NoncesExpiredEnd},
	} {
		t.Run(sc.name, func(t *testing.T) {
			inScan := func(k []byte, now int64) bool {
				return bytes.HasPrefix(k, sc.prefix) && bytes.Compare(k, sc.end(now)) < 0
			}
			for _, now := range []int64{0, 1, 1_767_225_600, math.MaxInt64 - 1, math.MaxInt64} {
				for _, tail := range tails {
					require.True(t, inScan(sc.key(now, tail), now), "due at %d, scanned at %d", now, now)
					if now > 0 {
						require.True(t, inScan(sc.key(now-1, tail), now))
						require.True(t, inScan(sc.key(0, tail), now))
					}
					if now < math.MaxInt64 {
						require.False(t, inScan(sc.key(now+1, tail), now), "due at %d, scanned at %d", now+1, now)
					}
				}
			}
			require.Equal(t, append(append([]byte(nil), sc.prefix...), 0x80, 0, 0, 0, 0, 0, 0, 0), sc.end(math.MaxInt64), "2^63, not a wrap to 0")
			require.Equal(t, sc.prefix, sc.end(-1), "before the first block nothing is due")
		})
	}
}

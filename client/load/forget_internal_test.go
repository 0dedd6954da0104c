package load

import (
	"crypto/sha256"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestTheLoadClientForgetsSettledTransactions: a 30-minute run at 1,200
// tx/s offered grew `tallyd load` to 1.8 GB because it kept every
// transaction it sent. A transaction refused, or found in a block, is now
// forgotten (its counts kept); only what may still be committed is held.
func TestTheLoadClientForgetsSettledTransactions(t *testing.T) {
	r := &runner{txs: map[[32]byte]*txRecord{}, rejected: map[codeKey]*CodeCount{}, failed: map[codeKey]*CodeCount{}, bcastErrs: map[string]int64{}}
	var hashes [4][32]byte
	var done [4]*bool
	for i := range hashes {
		hashes[i] = sha256.Sum256([]byte{byte(i)})
		ok := false
		done[i] = &ok
		d := done[i]
		r.txs[hashes[i]] = &txRecord{sent: time.Now(), job: &Job{done: func(committedOK bool) { *d = true }}}
	}
	// 0 is refused, 1 accepted and committed, 2 accepted and waiting,
	// 3 answered with a transport error (it may still be committed).
	r.answered(hashes[0], r.txs[hashes[0]], broadcastResult{Code: 85, Codespace: "tx"}, false, nil)
	r.answered(hashes[1], r.txs[hashes[1]], broadcastResult{}, false, nil)
	r.answered(hashes[2], r.txs[hashes[2]], broadcastResult{}, false, nil)
	r.answered(hashes[3], r.txs[hashes[3]], broadcastResult{}, false, errTimeout{})
	r.record(block{height: 5, seen: time.Now(), time: time.Now(), hashes: [][32]byte{hashes[1]}, results: []txResult{{}}})

	require.Len(t, r.txs, 2, "only the accepted and the unanswered transaction are held")
	require.Contains(t, r.txs, hashes[2])
	require.Contains(t, r.txs, hashes[3])
	require.True(t, *done[0], "the refused transaction's job is done")
	require.True(t, *done[1], "the committed transaction's job is done")
	require.False(t, *done[2])
	require.Equal(t, int64(2), r.accepted)
	require.Equal(t, int64(1), r.committed)
	require.Equal(t, int64(1), r.pending())
	require.Equal(t, int64(1), r.rejected[codeKey{"tx", 85}].Count)

	// The waiting one is committed later; the refused one, were it ever
	// seen, is not counted twice.
	r.record(block{height: 6, seen: time.Now(), time: time.Now(), hashes: [][32]byte{hashes[2], hashes[0]}, results: []txResult{{}, {}}})
	require.Len(t, r.txs, 1)
	require.Equal(t, int64(2), r.committed)
	require.Equal(t, int64(0), r.pending())
}

type errTimeout struct{}

func (errTimeout) Error() string { return "context deadline exceeded" }

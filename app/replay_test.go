package app_test

import (
	"testing"

	dbm "github.com/cosmos/cosmos-db"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/client"
	"github.com/tallyledger/tally/store"
)

// nonceGrowth runs blocks×perBlock transactions from one signer, each of
// which fails after spending its nonce (so only replay state grows), on
// goleveldb with the node's default store options, and returns how many
// bytes (keys plus values, every saved version) the run added to the
// database. The layout names how the transactions pick timeout heights:
// "shared", all the same one; "per-block", the same for one block's
// transactions (as clients sending timeout = height + k do); "scattered",
// each its own. No timeout expires during the run, so all remember the same
// nonces.
func nonceGrowth(tb testing.TB, blocks, perBlock int, layout string) int64 {
	tb.Helper()
	dir := tb.TempDir()
	st, err := store.Open(app.DefaultConfig().StoreOptions(dir))
	require.NoError(tb, err)
	c := openChain(tb, st, app.Options{})
	c.initChain(testGenesis())
	c.block()
	c.close()
	before := dbBytes(tb, dir)

	st, err = store.Open(app.DefaultConfig().StoreOptions(dir))
	require.NoError(tb, err)
	c = openChain(tb, st, app.Options{})
	first := uint64(c.height) + 1
	lastTimeout := first + app.DefaultParams().TimeoutWindow - 1
	nonce := uint64(0)
	for b := 0; b < blocks; b++ {
		txs := make([][]byte, perBlock)
		for i := range txs {
			nonce++
			var timeout uint64
			switch layout {
			case "shared":
				timeout = lastTimeout
			case "per-block":
				timeout = lastTimeout - uint64(blocks-b)
			case "scattered":
				timeout = lastTimeout - nonce%(app.DefaultParams().TimeoutWindow-uint64(blocks)-1)
			default:
				tb.Fatalf("unknown timeout layout %q", layout)
			}
			opts := client.TxOptions{ChainID: testChainID, Signer: treasuryAdmin.addr, Nonce: nonce, TimeoutHeight: timeout}
			txs[i] = signTx(tb, opts, treasuryAdmin, revokeRole(treasuryClerk.addr, roleAuditor))
		}
		for _, r := range c.block(txs...).TxResults {
			require.NotZero(tb, r.Code, "the transaction fails after spending its nonce")
			require.Equal(tb, "tx", r.Events[0].Type)
		}
	}
	c.close()
	return dbBytes(tb, dir) - before
}

// dbBytes sums the keys and values of a closed store's database: the
// logical size of the state with every version it keeps, independent of
// goleveldb's compaction.
func dbBytes(tb testing.TB, dir string) int64 {
	tb.Helper()
	db, err := dbm.NewDB("application", dbm.GoLevelDBBackend, dir)
	require.NoError(tb, err)
	defer db.Close()
	it, err := db.Iterator(nil, nil)
	require.NoError(tb, err)
	defer it.Close()
	var n int64
	for ; it.Valid(); it.Next() {
		n += int64(len(it.Key()) + len(it.Value()))
	}
	require.NoError(tb, it.Error())
	return n
}

// The state a transaction leaves for replay protection does not depend on
// how many other transactions share its timeout height: a signer sending
// everything with one timeout must not make each block rewrite a growing
// value.
func TestNonceStateGrowthDoesNotDependOnSharedTimeouts(t *testing.T) {
	const blocks, perBlock = 150, 8
	shared := nonceGrowth(t, blocks, perBlock, "shared")
	perBlockTimeouts := nonceGrowth(t, blocks, perBlock, "per-block")
	t.Logf("%d txs: one shared timeout %d bytes, a timeout per block %d bytes", blocks*perBlock, shared, perBlockTimeouts)
	require.LessOrEqual(t, shared, perBlockTimeouts*5/4, "sharing a timeout must not cost more state per transaction")
}

// BenchmarkNonceStateGrowth reports the state 12,000 transactions leave
// for replay protection, all sharing one timeout height against each with
// its own (issue 13):
//
//	go test ./app/ -run '^$' -bench BenchmarkNonceStateGrowth -benchtime 1x
func BenchmarkNonceStateGrowth(b *testing.B) {
	const blocks, perBlock = 120, 100
	for _, layout := range []string{"shared", "per-block", "scattered"} {
		b.Run("timeouts="+layout, func(b *testing.B) {
			var grown int64
			for i := 0; i < b.N; i++ {
				grown = nonceGrowth(b, blocks, perBlock, layout)
			}
			b.ReportMetric(float64(grown)/1e6, "MB")
			b.ReportMetric(float64(grown)/float64(blocks*perBlock), "bytes/tx")
		})
	}
}

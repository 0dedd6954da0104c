package app_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/client"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
)

// BenchmarkCheckTx measures CheckTx per transaction: "new" is a
// transaction the node has never seen (decode, state reads, signature),
// "recheck" is the mempool rechecking, after a block, transactions it
// admitted before (CheckTxType_Recheck), as CometBFT does after every block
// for everything still waiting. Passes of mempoolSize transactions are
// separated by empty blocks, as in a node.
func BenchmarkCheckTx(b *testing.B) {
	const mempoolSize = 1000
	signers := []testKey{treasuryAdmin, treasuryAdmin2, taxAdmin, regAdmin}
	build := func(c *chain, n int) [][]byte {
		txs := make([][]byte, n)
		for i := range txs {
			s := signers[i%len(signers)]
			c.nonce++
			opts := client.TxOptions{Signer: s.addr, Nonce: c.nonce, TimeoutHeight: uint64(c.height) + 500}
			txs[i] = signTx(b, opts, s, grantRole(regInspector.addr, roleAuditor))
		}
		return txs
	}
	for _, kind := range []abci.CheckTxType{abci.CheckTxType_New, abci.CheckTxType_Recheck} {
		name := "new"
		if kind == abci.CheckTxType_Recheck {
			name = "recheck"
		}
		b.Run(name, func(b *testing.B) {
			c := newChain(b)
			c.block()
			txs := build(c, mempoolSize)
			if kind == abci.CheckTxType_Recheck {
				for _, tx := range txs {
					require.Zero(b, c.checkTx(tx).Code)
				}
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if i > 0 && i%mempoolSize == 0 {
					b.StopTimer()
					c.block()
					if kind == abci.CheckTxType_New || c.height%400 == 0 {
						txs = build(c, mempoolSize) // fresh ones, or before these expire
						for _, tx := range txs {
							if kind == abci.CheckTxType_Recheck {
								require.Zero(b, c.checkTx(tx).Code)
							}
						}
						c.block()
					}
					b.StartTimer()
				}
				res, err := c.app.CheckTx(context.Background(), &abci.RequestCheckTx{Tx: txs[i%mempoolSize], Type: kind})
				if err != nil || res.Code != 0 {
					b.Fatalf("CheckTx: %v %s", err, res.GetLog())
				}
			}
		})
	}
}

// BenchmarkCheckTxPending measures CheckTx over the benchmark state of
// BenchmarkFinalizeCommit (100,000 accounts in goleveldb at the node's
// default config, or TALLY_BENCH_ACCOUNTS): a mempool of pendingTxs
// transactions, each from a different member account, as many agencies'
// clerks would send. "new" checks transactions the node has never seen;
// "recheck" rechecks the same pending transactions after each block, as
// CometBFT's mempool does. The blocks between passes (untimed) each grant
// a role in every department, rewriting state a check reads (the
// departments' records), as a real block does. cpu-µs/op is CPU time per
// check on all threads (GC included), steadier than ns/op on a shared
// machine.
func BenchmarkCheckTxPending(b *testing.B) {
	// Each department has per-1 members (and its admin). Members from 1 up
	// sign the pending transactions; the blocks grant roles to members from
	// per-1 down, and never to a pending transaction's signer (that would
	// rewrite its account). At least reserve members are kept for the
	// grants. The default state (5,000 accounts a department) has room for
	// 5,000 pending transactions (250 signers a department) and 4,749
	// blocks; a smaller TALLY_BENCH_ACCOUNTS gets fewer of each.
	const minReserve = 10
	per := benchAccountCount(b) / benchAgencies
	reserve := min(100, (per-1)/2)
	if reserve < minReserve {
		b.Fatalf("BenchmarkCheckTxPending needs TALLY_BENCH_ACCOUNTS >= %d (%d members a department: %d pending signers, %d for the blocks' grants), got %d",
			(2*minReserve+1)*benchAgencies, 2*minReserve, minReserve, minReserve, benchAccountCount(b))
	}
	pendingTxs := min(5000, (per-1-reserve)*benchAgencies)
	room := per - 1 - (pendingTxs+benchAgencies-1)/benchAgencies // members no pending transaction signs
	c := buildBenchState(b, b.TempDir())
	b.Logf("%d accounts, %d pending transactions, room for %d blocks", benchAccountCount(b), pendingTxs, room)
	build := func() [][]byte {
		txs := make([][]byte, pendingTxs)
		for i := range txs {
			k := benchMemberKey(i%benchAgencies, 1+i/benchAgencies)
			c.nonce++
			opts := client.TxOptions{Signer: k.addr, Nonce: c.nonce, TimeoutHeight: uint64(c.height) + 100}
			txs[i] = signTx(b, opts, k, accept(fmt.Sprintf("bench-check:%d", c.nonce)))
		}
		return txs
	}
	granted := 0
	block := func() { // rewrites every department's record
		granted++
		if granted > room {
			b.Fatalf("BenchmarkCheckTxPending ran out of members to grant roles to after %d blocks (TALLY_BENCH_ACCOUNTS=%d); raise TALLY_BENCH_ACCOUNTS or lower -benchtime", room, benchAccountCount(b))
		}
		var txs [][]byte
		for dept := 0; dept < benchAgencies; dept++ {
			txs = append(txs, c.tx(benchAdmin(dept), grantRole(benchMember(dept, per-granted), agencyv1.Role_ROLE_PRODUCER)))
		}
		runBenchBlock(b, c.app, c.height+1, txs)
		c.height++
	}
	check := func(tx []byte, kind abci.CheckTxType) {
		res, err := c.app.CheckTx(context.Background(), &abci.RequestCheckTx{Tx: tx, Type: kind})
		if err != nil || res.Code != 0 {
			b.Fatalf("CheckTx: %v %s", err, res.GetLog())
		}
	}
	for _, kind := range []abci.CheckTxType{abci.CheckTxType_New, abci.CheckTxType_Recheck} {
		name := "new"
		if kind == abci.CheckTxType_Recheck {
			name = "recheck"
		}
		b.Run(name, func(b *testing.B) {
			b.StopTimer()
			block()
			txs := build()
			if kind == abci.CheckTxType_Recheck {
				for _, tx := range txs {
					check(tx, abci.CheckTxType_New)
				}
				block()
			}
			b.ReportAllocs()
			var cpu time.Duration
			c0 := cpuTime()
			b.StartTimer()
			for i := 0; i < b.N; i++ {
				if i > 0 && i%pendingTxs == 0 {
					b.StopTimer()
					cpu += cpuTime() - c0
					block()
					if kind == abci.CheckTxType_New || granted%50 == 0 {
						txs = build() // fresh ones, or before these expire
						if kind == abci.CheckTxType_Recheck {
							for _, tx := range txs {
								check(tx, abci.CheckTxType_New)
							}
							block()
						}
					}
					c0 = cpuTime()
					b.StartTimer()
				}
				check(txs[i%pendingTxs], kind)
			}
			b.StopTimer()
			cpu += cpuTime() - c0
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

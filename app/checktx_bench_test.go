package app_test

import (
	"context"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/client"
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

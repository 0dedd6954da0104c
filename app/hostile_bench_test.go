package app_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/stretchr/testify/require"
)

// BenchmarkJunkProposal measures what a hostile proposer can put in a block
// (issue 13): a proposal of transactions no honest node would have
// accepted into its mempool, which the other validators are asked to
// accept in ProcessProposal. Two kinds of junk:
//
//   - unknown: signed by keys of no account (any signature: there is no
//     key to check it against);
//   - rotating: signed with garbage by a real account's address, next to a
//     rotate-key of that account (also with a garbage signature).
//
// It reports accepted=1 when ProcessProposal accepts the proposal (the
// junk is then in the chain for ever, each transaction failing in the
// block), 0 when it rejects it; junk_bytes is the proposal's size and
// finalize_ms the time FinalizeBlock takes on it when accepted. It is a
// benchmark, not a test, so it measures today's behaviour without failing
// on it; the scenario in testnet/faults cannot drive a proposer, so this
// is the app-level measure of that attack:
//
//	go test ./app/ -run XXX -bench BenchmarkJunkProposal -benchtime 1x
func BenchmarkJunkProposal(b *testing.B) {
	for _, kind := range []string{"unknown", "rotating"} {
		for _, n := range []int{1000, 5000} {
			b.Run(fmt.Sprintf("%s/txs=%d", kind, n), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					c := newChain(b)
					c.block()
					var txs [][]byte
					size := 0
					for k := 0; k < n; k++ {
						var tx []byte
						switch kind {
						case "unknown":
							junk := keyFor(fmt.Sprintf("junk/%d", k))
							tx = c.txWith(txArgs{signer: junk}, addMember(junk, roleAuditor))
						case "rotating":
							if k == 0 {
								bad := keyFor("junk/not-the-clerk")
								tx = c.txWith(txArgs{signer: treasuryClerk, signWith: &bad}, rotateKeyWithProof(keyFor("junk/new").pub, make([]byte, 64)))
							} else {
								bad := keyFor("junk/not-the-clerk")
								tx = c.txWith(txArgs{signer: treasuryClerk, signWith: &bad}, addMember(keyFor(fmt.Sprintf("junk/%d", k)), roleAuditor))
							}
						}
						txs = append(txs, tx)
						size += len(tx)
					}
					b.StartTimer()
					res, err := c.app.ProcessProposal(context.Background(), &abci.RequestProcessProposal{Txs: txs, Height: c.height + 1, Time: blockTime(c.height + 1)})
					require.NoError(b, err)
					accepted := 0.0
					var finalize time.Duration
					if res.Status == abci.ResponseProcessProposal_ACCEPT {
						accepted = 1
						t0 := time.Now()
						fin := c.finalize(txs...)
						finalize = time.Since(t0)
						c.commit()
						failedTxs := 0
						for _, r := range fin.TxResults {
							if r.Code != 0 {
								failedTxs++
							}
						}
						b.ReportMetric(float64(failedTxs), "failed_in_block")
					}
					b.ReportMetric(accepted, "accepted")
					b.ReportMetric(float64(size), "junk_bytes")
					b.ReportMetric(float64(finalize.Milliseconds()), "finalize_ms")
				}
			})
		}
	}
}

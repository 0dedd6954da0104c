package app

import (
	"sync"

	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
)

// DefaultMaxPendingPerSigner is the default of Params.MaxPendingPerSigner:
// far more than one signer sends between two blocks in normal use (a tax
// authority issuing receipts in parallel from one key), a fifth of
// CometBFT's default mempool of 5,000 transactions.
const DefaultMaxPendingPerSigner = 1000

// pendingCounts counts, per signer, the transactions CheckTx admitted to
// this node's mempool since the last Commit, so one signer cannot fill the
// mempool with transactions that cost every validator work and space.
//
// The count is node-local and affects only admission, never a block's
// result, so it need not agree between nodes. It follows CometBFT's
// mempool: Commit runs with the mempool locked, then the mempool drops the
// committed transactions and rechecks the rest (CheckTxType_Recheck) before
// it admits new ones. So Commit resets the counts and each recheck that
// passes counts again: after a block, a signer's count is its transactions
// still waiting. A transaction the mempool drops for its own reasons (full,
// evicted) stays counted until the next block, erring towards refusing.
// With recheck turned off in the node's config the count restarts at each
// block, which still bounds a signer per block.
type pendingCounts struct {
	mu    sync.Mutex // CheckTx and Commit may run on different ABCI connections
	n     map[string]uint32
	total int // the sum of n: every transaction waiting
}

func newPendingCounts() *pendingCounts { return &pendingCounts{n: map[string]uint32{}} }

// admit counts one more transaction of signer unless it already has limit.
func (p *pendingCounts) admit(signer []byte, limit uint32) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n[string(signer)] >= limit {
		return false
	}
	p.n[string(signer)]++
	p.total++
	return true
}

// full reports how many transactions are waiting, and whether that is
// limit or more (never, for limit 0).
func (p *pendingCounts) full(limit int) (int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.total, limit > 0 && p.total >= limit
}

// reset forgets every count, at Commit.
func (p *pendingCounts) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.n)
	p.total = 0
}

// maxPendingPerSigner is the limit params set; 0 (state written before
// the parameter existed) means the default.
func maxPendingPerSigner(params *appv1.Params) uint32 {
	if n := params.MaxPendingPerSigner; n > 0 {
		return n
	}
	return DefaultMaxPendingPerSigner
}

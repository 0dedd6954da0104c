package app

import (
	"fmt"
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
	n     map[string]signerPending
	total int // the sum of n's counts: every transaction waiting
	// units is what the waiting transactions count as against a block's
	// max_block_units (unitLimit): how many blocks of work wait.
	units uint64
}

// signerPending is what one signer has waiting: transactions and the units
// they count as.
type signerPending struct {
	count uint32
	units uint64
}

func newPendingCounts() *pendingCounts { return &pendingCounts{n: map[string]signerPending{}} }

// Why admit refused a transaction.
const (
	admitted = iota
	overCount
	overUnits
)

// admit counts one more transaction of signer, counting units, unless the
// signer already has limit transactions waiting (overCount) or they count
// as maxUnits or more (overUnits; 0: no bound), as the mempool's own
// bound counts (full): the transaction that crosses it is the last one.
func (p *pendingCounts) admit(signer []byte, limit uint32, units, maxUnits uint64) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.n[string(signer)]
	switch {
	case s.count >= limit:
		return overCount
	case maxUnits > 0 && s.units >= maxUnits:
		return overUnits
	}
	p.n[string(signer)] = signerPending{count: s.count + 1, units: addUnits(s.units, units)}
	p.total++
	p.units = addUnits(p.units, units)
	return admitted
}

// full reports how many transactions are waiting and the units they count
// as, and whether that is limit transactions or maxUnits units or more
// (neither bound applies when 0).
func (p *pendingCounts) full(limit int, maxUnits uint64) (n int, units uint64, full bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.total, p.units, (limit > 0 && p.total >= limit) || (maxUnits > 0 && p.units >= maxUnits)
}

// reset forgets every count, at Commit.
func (p *pendingCounts) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.n)
	p.total = 0
	p.units = 0
}

// maxPendingPerSigner is the limit params set; 0 (state written before
// the parameter existed) means the default.
func maxPendingPerSigner(params *appv1.Params) uint32 {
	if n := params.MaxPendingPerSigner; n > 0 {
		return n
	}
	return DefaultMaxPendingPerSigner
}

// mempoolUnits is the most units of transactions CheckTx lets wait
// (Options.MempoolBlocks blocks' worth under params); 0 is no limit.
func (a *App) mempoolUnits(params *appv1.Params) uint64 {
	if a.mempoolBlocks <= 0 {
		return 0
	}
	if params.MaxBlockUnits > ^uint64(0)/uint64(a.mempoolBlocks) {
		return ^uint64(0)
	}
	return uint64(a.mempoolBlocks) * params.MaxBlockUnits
}

// signerShare is the part of a resource one signer may take while others
// wait: a fifth of the mempool's work (signerUnits) and of a block
// (blockShare).
const signerShare = 5

// signerUnits is the most units one signer's waiting transactions may
// count as (0: no bound, when the mempool has none): a fifth of the
// mempool's work, like max_pending_per_signer's share of its count, and
// never less than one transaction at max_tx_units. Without it one signer
// declaring max_tx_units on a few cheap transactions would fill every
// node's mempool, and every other signer would be refused with tx/85.
func (a *App) signerUnits(params *appv1.Params) uint64 {
	total := a.mempoolUnits(params)
	if total == 0 {
		return 0
	}
	return max(total/signerShare, params.MaxTxUnits)
}

// blocksOfWork says how much work units are, for a refusal.
func blocksOfWork(units uint64, params *appv1.Params) string {
	return fmt.Sprintf("%d units of work; a block takes %d", units, params.MaxBlockUnits)
}

// MempoolFull reports whether CheckTx would now refuse a new transaction
// as the mempool being full (tx/85), by either of its limits, reading only
// the counts: the broadcast gate (node/broadcastgate.go) asks it before a
// broadcast waits for CheckTx.
func (a *App) MempoolFull() bool {
	c := a.committed.Load()
	if c == nil {
		return false
	}
	_, _, full := a.pending.full(a.mempoolLimit, a.mempoolUnits(c.params))
	return full
}

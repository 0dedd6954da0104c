package app

import (
	abci "github.com/cometbft/cometbft/abci/types"
	cmttypes "github.com/cometbft/cometbft/types"
)

// PrepareProposalWithoutShares is PrepareProposal as it was before
// signers' shares of a block (blockFill): the mempool's order alone
// decides. It is the "before" side of BenchmarkPrepareProposal, so both
// sides run in one invocation.
func (a *App) PrepareProposalWithoutShares(req *abci.RequestPrepareProposal) *abci.ResponsePrepareProposal {
	txs := make([][]byte, 0, min(len(req.Txs), proposalBatch))
	var size int64
	var units uint64
	sc := a.newScreener(req.Height)
	for start := 0; start < len(req.Txs); start += proposalBatch {
		for _, d := range sc.next(req.Txs[start:min(start+proposalBatch, len(req.Txs))], nil) {
			if d == nil {
				continue
			}
			if size += cmttypes.ComputeProtoSizeForTxs([]cmttypes.Tx{d.raw}); size > req.MaxTxBytes {
				return &abci.ResponsePrepareProposal{Txs: txs}
			}
			if units += unitLimit(a.params, d); units > a.params.MaxBlockUnits {
				return &abci.ResponsePrepareProposal{Txs: txs}
			}
			txs = append(txs, d.raw)
		}
	}
	return &abci.ResponsePrepareProposal{Txs: txs}
}

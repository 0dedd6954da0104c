package app_test

import (
	"context"
	"fmt"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/app"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/store"
)

// A signer who declares too low a unit limit (TxBody.max_units) pays for
// it alone: its transaction stops at the limit and fails with tx/30, its
// writes dropped and its nonce spent, and the transactions after it in the
// block run. (Before declared limits, every transaction ran up to
// max_tx_units whatever it was counted as.)
func TestADeclaredLimitTooLowFailsOnlyItsOwnTransaction(t *testing.T) {
	c := newChain(t)
	c.block()              // CheckTx reads the last committed block
	const declared = 5_000 // above its own base and bytes, below the ~10,000 an add_member uses
	low := c.txWith(txArgs{signer: treasuryAdmin, units: declared}, addMembers("low", 1)...)
	require.Zero(t, c.checkTx(low).Code, "a limit within bounds is admitted")
	honest := c.tx(treasuryAdmin, addMembers("honest", 1)...)

	res := c.block(low, honest)
	requireCode(t, app.ErrOutOfUnits, res.TxResults[0].Codespace, res.TxResults[0].Code, res.TxResults[0].Log, fmt.Sprintf("the limit is %d", declared))
	require.Equal(t, int64(declared), res.TxResults[0].GasWanted, "gas_wanted reports the declared limit")
	requireOK(t, res.TxResults[1])
	require.Len(t, c.members(agTreasury), 4, "only the honest transaction's member was added")
	r := c.checkTx(low)
	requireCode(t, app.ErrReplay, r.Codespace, r.Code, r.Log)
}

// A declared limit above max_tx_units, or below what the transaction is
// charged for its own base and bytes, is refused by CheckTx with its own
// code; a proposer leaves such a transaction out and validators reject a
// proposal that carries one.
func TestADeclaredLimitOutsideTheChainsBoundsIsRefusedBeforeABlock(t *testing.T) {
	c := newChain(t)
	c.block()
	above := c.txWith(txArgs{signer: treasuryAdmin, units: app.DefaultMaxTxUnits + 1}, addMembers("above", 1)...)
	r := c.checkTx(above)
	requireCode(t, app.ErrUnitsAboveMax, r.Codespace, r.Code, r.Log, fmt.Sprintf("max_units %d is above the chain's max_tx_units %d", app.DefaultMaxTxUnits+1, app.DefaultMaxTxUnits))
	below := c.txWith(txArgs{signer: treasuryAdmin, units: 100}, addMembers("below", 1)...)
	r = c.checkTx(below)
	requireCode(t, app.ErrUnitsBelowOwn, r.Codespace, r.Code, r.Log, fmt.Sprintf("below the %d units", api.TxOwnUnits(len(below))))

	require.Equal(t, abci.ResponseProcessProposal_REJECT, c.processProposal(above))
	require.Equal(t, abci.ResponseProcessProposal_REJECT, c.processProposal(below))
	atMax := c.txWith(txArgs{signer: treasuryAdmin, units: app.DefaultMaxTxUnits}, addMembers("at-max", 1)...)
	require.Equal(t, [][]byte{atMax}, c.prepareProposal(above, below, atMax))
	requireOK(t, c.block(atMax).TxResults[0])
}

// A proposer counts a transaction at its declared limit, not at its
// messages' route bounds: a proposal whose declared limits add up to more
// than max_block_units is rejected even when what its messages would be
// counted as fits, and small declared limits let a block hold more.
func TestAProposalCountsEachTransactionAtItsDeclaredLimit(t *testing.T) {
	const txUnits, blockUnits = 200_000, 300_000
	c := meterChain(t, txUnits, blockUnits)
	big := func(tag string) []byte {
		return c.txWith(txArgs{signer: treasuryAdmin, units: 160_000}, addMembers(tag, 1)...)
	}
	a, b := big("a"), big("b")
	require.Equal(t, abci.ResponseProcessProposal_REJECT, c.processProposal(a, b), "2 × 160,000 declared is over 300,000")
	require.Equal(t, [][]byte{a}, c.prepareProposal(a, b))

	// The same add_member, undeclared and declared at what it uses with a
	// margin: a block holds more of the declared ones.
	var undeclared, declared [][]byte
	for i := range 40 {
		undeclared = append(undeclared, c.tx(treasuryAdmin, addMembers(fmt.Sprintf("u%d", i), 1)...))
		declared = append(declared, c.txWith(txArgs{signer: treasuryAdmin, units: 11_000}, addMembers(fmt.Sprintf("d%d", i), 1)...))
	}
	nu, nd := len(c.prepareProposal(undeclared...)), len(c.prepareProposal(declared...))
	require.Greater(t, nd, nu)
	res := c.block(c.prepareProposal(declared...)...)
	for _, r := range res.TxResults {
		requireOK(t, r)
	}
}

// A transaction that declares no limit runs within the limit its messages'
// route bounds give, so a signer whose transaction meets a heavier state
// than the bounds foresee (an allocation walking 40 small tranches) cannot
// make its block do more work than it was counted as: the transaction
// fails alone with tx/30 and the honest transactions after it run, where
// before it ran on to max_tx_units and they failed as "block is full". The
// same allocation declaring the units it needs commits.
func TestAnUndeclaredTransactionOverItsRouteBoundFailsAlone(t *testing.T) {
	const txUnits, blockUnits = 1_000_000, 1_000_000
	g := moneyGenesis(0)
	g.Params.MaxTxUnits, g.Params.MaxBlockUnits = txUnits, blockUnits
	c := openChain(t, store.NewMemory(), app.Options{})
	c.initChain(g)
	// The Treasury's money in 40 tranches of 10.
	for round := range 4 {
		var msgs []*txv1.Msg
		for i := range 10 {
			msgs = append(msgs, msgAppropriate(fmt.Sprintf("SA/frag/%d/%d", round, i), 10))
		}
		requireOK(t, c.block(c.txWith(txArgs{signer: mOfficer, units: txUnits}, msgs...)).TxResults[0])
	}

	heavy := c.tx(mOfficer, msgAllocate(mBenefits, 400))
	var honest [][]byte
	for i := range 80 {
		honest = append(honest, c.tx(mTreasuryAdmin, addMember(keyFor(fmt.Sprintf("after-heavy/%d", i)), agencyv1.Role_ROLE_AUDITOR)))
	}
	proposal := c.prepareProposal(append([][]byte{heavy}, honest...)...)
	require.Len(t, proposal, 81, "counted at their limits, all fit")
	require.Equal(t, abci.ResponseProcessProposal_ACCEPT, c.processProposal(proposal...))
	res := c.blockUnbounded(proposal...)
	requireCode(t, app.ErrOutOfUnits, res.TxResults[0].Codespace, res.TxResults[0].Code, res.TxResults[0].Log)
	limit, declared := c.app.UnitLimit(heavy)
	require.False(t, declared)
	require.Less(t, limit, uint64(txUnits), "stopped at its route-given limit, not at max_tx_units")
	var used uint64
	for i, r := range res.TxResults {
		used += min(uint64(r.GasUsed), uint64(r.GasWanted))
		if i > 0 {
			requireOK(t, r)
		}
	}
	require.LessOrEqual(t, used, uint64(blockUnits))
	require.Zero(t, c.mBalance(api.AgencyHolder(mBenefits)), "the failed allocation moved nothing")

	// Declaring what it needs, the same allocation commits.
	requireOK(t, c.block(c.txWith(txArgs{signer: mOfficer, units: txUnits}, msgAllocate(mBenefits, 400))).TxResults[0])
	require.Equal(t, uint64(400), c.mBalance(api.AgencyHolder(mBenefits)))
}

// blockUnbounded runs and commits the next block like block, without the
// harness's check that each undeclared transaction fit the limit its route
// bounds give: for tests that build a state heavier than the bounds on
// purpose.
func (c *chain) blockUnbounded(txs ...[]byte) *abci.ResponseFinalizeBlock {
	c.tb.Helper()
	h := c.height + 1
	res, err := c.app.FinalizeBlock(context.Background(), &abci.RequestFinalizeBlock{Txs: txs, Height: h, Time: blockTime(h)})
	require.NoError(c.tb, err)
	_, err = c.app.Commit(context.Background(), &abci.RequestCommit{})
	require.NoError(c.tb, err)
	c.height++
	c.hashes[c.height] = res.AppHash
	return res
}

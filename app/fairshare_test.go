package app_test

import (
	"fmt"
	"slices"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/store"
)

// shareChain is a chain whose blocks take five max_tx_units transactions
// (max_tx_units 100,000, max_block_units 500,000: a signer's share of a
// block is 100,000) and whose mempool takes ten blocks of work, so one
// signer may have ten max_tx_units transactions waiting (a fifth).
func shareChain(t *testing.T) *chain {
	c := openChain(t, store.NewMemory(), app.Options{MempoolBlocks: 10})
	g := testGenesis()
	g.Params.MaxTxUnits, g.Params.MaxBlockUnits = 100_000, 500_000
	c.initChain(g)
	c.block()
	return c
}

// heavy is a transaction of signer declaring max_tx_units (100,000) for an
// add_member that uses about a tenth of it: a full block's worth of units
// for five of them, at no cost to the signer.
func (c *chain) heavy(signer testKey, agencyID, member string) []byte {
	return c.txWith(txArgs{signer: signer, units: 100_000}, addMemberTo(agencyID, keyFor(member), roleAuditor))
}

// One signer declaring max_tx_units on many cheap transactions at the
// head of the mempool gets a share of each block, not every block: every
// other signer's transaction is in the first block, and the heavy
// signer's transactions are left in the mempool (never dropped) and
// commit in the blocks after, all of them. Before shares, the first block
// was the heavy signer's five transactions and nobody else's.
func TestOneSignerGetsAShareOfTheBlockWhileOthersWait(t *testing.T) {
	c := shareChain(t)
	var hostile, honest [][]byte
	for i := range 10 {
		hostile = append(hostile, c.heavy(treasuryAdmin, agTreasury, fmt.Sprintf("share/hostile/%d", i)))
	}
	for i, k := range []testKey{taxAdmin, regAdmin, treasuryAdmin2} {
		ag := agencyOf(k.addr)
		honest = append(honest,
			c.tx(k, addMemberTo(ag, keyFor(fmt.Sprintf("share/honest/%d/a", i)), roleAuditor)),
			c.tx(k, addMemberTo(ag, keyFor(fmt.Sprintf("share/honest/%d/b", i)), roleAuditor)))
	}
	mempool := append(slices.Clone(hostile), honest...) // the heavy signer's first, as it would arrange
	for _, tx := range mempool {
		require.Zero(t, c.checkTx(tx).Code, "the mempool admits them all")
	}

	committed := map[string]int64{} // tx → height
	for len(mempool) > 0 {
		proposal := c.prepareProposal(mempool...)
		require.NotEmpty(t, proposal, "a block takes something while transactions wait")
		require.Equal(t, abci.ResponseProcessProposal_ACCEPT, c.processProposal(proposal...))
		res := c.block(proposal...)
		for i, tx := range proposal {
			requireOK(t, res.TxResults[i])
			committed[string(tx)] = c.height
		}
		mempool = slices.DeleteFunc(mempool, func(tx []byte) bool { _, ok := committed[string(tx)]; return ok })
		require.LessOrEqual(t, c.height, int64(6), "the backlog (1,000,000 units and a little) takes three blocks")
	}

	first := committed[string(hostile[0])]
	for i, tx := range honest {
		require.Equal(t, first, committed[string(tx)], "honest transaction %d is in the first block", i)
	}
	var later int
	for _, tx := range hostile {
		require.Contains(t, committed, string(tx), "every hostile transaction commits in the end")
		if committed[string(tx)] > first {
			later++
		}
	}
	// The first block holds the six honest transactions and as many heavy
	// ones as still fit after them (one a round): four of the ten.
	require.Equal(t, 6, later, "the heavy signer's transactions past what fits wait for later blocks")
	for i := range 10 {
		require.NotNil(t, c.account(keyFor(fmt.Sprintf("share/hostile/%d", i)).addr), "hostile add_member %d ran", i)
	}
}

// A signer alone in the mempool still fills the block: shares only order
// who goes first while others wait; they never leave room unused.
func TestASignerAloneStillFillsTheBlock(t *testing.T) {
	c := shareChain(t)
	var mempool [][]byte
	for i := range 7 {
		mempool = append(mempool, c.heavy(treasuryAdmin, agTreasury, fmt.Sprintf("alone/%d", i)))
	}
	require.Equal(t, mempool[:5], c.prepareProposal(mempool...), "five of 100,000 fill the 500,000 block, in their order")
}

// Shares are the proposer's policy, not a rule of validity: a block that
// gives one signer all of it (as a proposer without shares made) is
// accepted, and runs.
func TestAProposalThatIgnoresSharesIsAccepted(t *testing.T) {
	c := shareChain(t)
	var block [][]byte
	for i := range 5 {
		block = append(block, c.heavy(treasuryAdmin, agTreasury, fmt.Sprintf("policy/%d", i)))
	}
	waiting := c.tx(taxAdmin, addMemberTo(agTax, keyFor("policy/honest"), roleAuditor))
	require.Equal(t, waiting, c.prepareProposal(append(slices.Clone(block), waiting)...)[1], "this node's proposer would share")
	require.Equal(t, abci.ResponseProcessProposal_ACCEPT, c.processProposal(block...))
	for _, r := range c.block(block...).TxResults {
		requireOK(t, r)
	}
}

// A transaction left out for its signer's share does not count as in the
// block when the proposer screens those after it: a new member it would
// add has no account yet, so the new member's transaction is left out too
// (it would make every validator reject the proposal), and both wait in
// the mempool for the next block, where they commit.
func TestALeftOutTransactionsAccountChangesAreNotFollowed(t *testing.T) {
	c := openChain(t, store.NewMemory(), app.Options{MempoolBlocks: 10})
	g := testGenesis()
	g.Params.MaxTxUnits, g.Params.MaxBlockUnits = 100_000, 300_000 // three heavy transactions a block
	c.initChain(g)
	c.block()
	newcomer := keyFor("left/newcomer")
	first := c.heavy(treasuryAdmin, agTreasury, "left/first")
	adds := c.txWith(txArgs{signer: treasuryAdmin, units: 100_000}, addMember(newcomer, roleAdmin))
	byNewcomer := c.tx(newcomer, addMember(keyFor("left/by-newcomer"), roleAuditor))
	fill1 := c.heavy(taxAdmin, agTax, "left/fill1")
	fill2 := c.heavy(regAdmin, agRegulator, "left/fill2")

	mempool := [][]byte{first, adds, byNewcomer, fill1, fill2}
	proposal := c.prepareProposal(mempool...)
	require.Equal(t, [][]byte{first, fill1, fill2}, proposal, "the second heavy one waits, and so does the newcomer's")
	require.Equal(t, abci.ResponseProcessProposal_ACCEPT, c.processProposal(proposal...))
	for _, r := range c.block(proposal...).TxResults {
		requireOK(t, r)
	}

	next := c.prepareProposal(adds, byNewcomer)
	require.Equal(t, [][]byte{adds, byNewcomer}, next)
	require.Equal(t, abci.ResponseProcessProposal_ACCEPT, c.processProposal(next...))
	for _, r := range c.block(next...).TxResults {
		requireOK(t, r)
	}
	require.NotNil(t, c.account(keyFor("left/by-newcomer").addr))
}

// A signer's transactions stay in its order in the block even when shares
// leave some for a later round: once one is left, its later ones are too,
// even a small one that would fit the share, so a transaction that needs
// an earlier one of the same signer (a role granted to the member it adds)
// runs after it and succeeds.
func TestASignersTransactionsKeepTheirOrderAcrossRounds(t *testing.T) {
	c := shareChain(t) // a share is 100,000 units
	member := keyFor("order/member")
	first := c.txWith(txArgs{signer: treasuryAdmin, units: 60_000}, addMember(keyFor("order/first"), roleAuditor))
	adds := c.txWith(txArgs{signer: treasuryAdmin, units: 60_000}, addMember(member, roleAuditor)) // 120,000: past the share
	grants := c.txWith(txArgs{signer: treasuryAdmin, units: 30_000}, grantRole(member.addr, roleTreasury))
	other := c.tx(taxAdmin, addMemberTo(agTax, keyFor("order/other"), roleAuditor))

	proposal := c.prepareProposal(first, adds, grants, other)
	require.Equal(t, [][]byte{first, other, adds, grants}, proposal, "the grant (90,000 with the first: within the share) waits behind the add it needs")
	for _, r := range c.block(proposal...).TxResults {
		requireOK(t, r)
	}
	require.Contains(t, c.account(member.addr).Roles, roleTreasury)
}

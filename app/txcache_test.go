package app_test

import (
	"context"
	"fmt"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/api/keyproof"
	"github.com/tallyledger/tally/app"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/agency"
)

// recheck sends tx to CheckTx as CometBFT's mempool does after each block.
func (c *chain) recheck(tx []byte) *abci.ResponseCheckTx {
	c.tb.Helper()
	res, err := c.app.CheckTx(context.Background(), &abci.RequestCheckTx{Tx: tx, Type: abci.CheckTxType_Recheck})
	require.NoError(c.tb, err)
	return res
}

// A transaction the mempool holds is decoded and its signature verified
// once; its recheck after a block still reads state, so once another
// transaction of the same signer used its nonce, the recheck refuses it.
func TestRecheckRefusesATransactionWhoseNonceABlockUsed(t *testing.T) {
	c := newChain(t)
	c.block()
	first := c.txWith(txArgs{signer: treasuryAdmin, nonce: 77}, grantRole(treasuryClerk.addr, roleAuditor))
	second := c.txWith(txArgs{signer: treasuryAdmin, nonce: 77}, grantRole(taxCollector.addr, roleAuditor))
	for _, tx := range [][]byte{first, second} {
		require.Zero(t, c.checkTx(tx).Code)
	}
	requireOK(t, c.block(first).TxResults[0])

	res := c.recheck(second)
	requireCode(t, app.ErrReplay, res.Codespace, res.Code, res.Log, "nonce 77")
}

// A signature verdict is for one key: after the signer's key is rotated, a
// transaction CheckTx admitted under the old key fails its recheck and, in
// a block, fails exactly as on a node that never saw it (same code, same
// app hash); a proposal carrying it is rejected.
func TestKeyRotationInvalidatesCachedSignatureVerdicts(t *testing.T) {
	checked, fresh := newChain(t), newChain(t)
	checked.block()
	fresh.block()
	next := keyFor("clerk/next")
	rotate := checked.tx(treasuryClerk, rotateKey(treasuryClerk.addr, next))
	oldKey := checked.tx(treasuryClerk, rotateKey(treasuryClerk.addr, keyFor("clerk/other")))
	for _, tx := range [][]byte{rotate, oldKey} {
		require.Zero(t, checked.checkTx(tx).Code)
	}
	require.Equal(t, abci.ResponseProcessProposal_REJECT, checked.processProposal(rotate, oldKey))

	var results [2]*abci.ResponseFinalizeBlock
	for i, c := range []*chain{checked, fresh} {
		results[i] = c.block(rotate, oldKey)
		requireOK(t, results[i].TxResults[0])
		r := results[i].TxResults[1]
		requireCode(t, app.ErrBadSignature, r.Codespace, r.Code, r.Log)
	}
	require.Equal(t, results[1].AppHash, results[0].AppHash)
	require.Equal(t, results[1].TxResults, results[0].TxResults)

	later := checked.txWith(txArgs{signer: treasuryClerk, signWith: &next}, rotateKey(treasuryClerk.addr, keyFor("clerk/third")))
	require.Zero(t, checked.checkTx(later).Code) // verified under next, which the block below rotates away
	checked.block(checked.txWith(txArgs{signer: treasuryClerk, signWith: &next}, rotateKey(treasuryClerk.addr, keyFor("clerk/fourth"))))
	res := checked.recheck(later)
	requireCode(t, app.ErrBadSignature, res.Codespace, res.Code, res.Log)
}

// Signatures of a block are verified in batches; one bad signature among
// many is found and its transaction fails exactly as when it is verified
// alone: same codes, same results, same app hash.
func TestBadSignatureInABatchIsRefusedAsWhenVerifiedAlone(t *testing.T) {
	batched, alone := newChain(t), newChain(t)
	batched.block()
	alone.block()
	txs := adminTxs(batched, 40, 23, "batch")
	// alone has verified every good signature in CheckTx, so its block
	// verifies only the bad one, by itself; batched verifies all 40 at once.
	for i, tx := range txs {
		if i != 23 {
			require.Zero(t, alone.checkTx(tx).Code)
		}
	}
	require.Equal(t, abci.ResponseProcessProposal_REJECT, batched.processProposal(txs...))

	want := alone.block(txs...)
	got := batched.block(txs...)
	require.Equal(t, want.AppHash, got.AppHash)
	require.Equal(t, want.TxResults, got.TxResults)
	for i, r := range got.TxResults {
		if i == 23 {
			requireCode(t, app.ErrBadSignature, r.Codespace, r.Code, r.Log)
			continue
		}
		requireOK(t, r)
	}
}

// A node that rechecks its whole mempool after every block, with caches
// far smaller than the mempool (entries evicted and decoded again), agrees
// with one that never ran CheckTx.
func TestTinyCachesChangeNoResult(t *testing.T) {
	blocks := script(t, 12)
	ref := newChain(t)
	small := openChain(t, store.NewMemory(), app.Options{SignatureCacheSize: 3})
	small.initChain(testGenesis())
	for i, txs := range blocks {
		for _, tx := range txs {
			small.checkTx(tx)
		}
		for _, tx := range txs {
			small.recheck(tx)
		}
		want, got := ref.block(txs...), small.block(txs...)
		require.Equal(t, want.AppHash, got.AppHash, "height %d", i+1)
		require.Equal(t, want.TxResults, got.TxResults, "height %d", i+1)
	}
}

// The proofs of possession of a block's add_member messages are verified
// in one batch before it runs; bad ones among them fail exactly as when
// verified alone (agency/14, no account), and a node that screened the
// proposal first reaches the same results and app hash.
func TestBadProofsOfPossessionInABatchAreRefusedAsAlone(t *testing.T) {
	fresh, screened := newChain(t), newChain(t)
	fresh.block()
	screened.block()
	admins := []testKey{treasuryAdmin, treasuryAdmin2, taxAdmin, regAdmin}
	bad := map[int]bool{5: true, 17: true, 30: true}
	var txs [][]byte
	var members []testKey
	for i := 0; i < 40; i++ {
		a := admins[i%len(admins)]
		n := keyFor(fmt.Sprintf("proofbatch/%d", i))
		proof := keyProof(n, agencyOf(a.addr), n.addr, keyproof.AddMember)
		if bad[i] {
			proof = keyProof(n, "another-agency", n.addr, keyproof.AddMember)
		}
		txs = append(txs, fresh.tx(a, addMemberWithProof(n.pub, proof, roleAuditor)))
		members = append(members, n)
	}
	require.Equal(t, abci.ResponseProcessProposal_ACCEPT, screened.processProposal(txs...))
	want, got := fresh.block(txs...), screened.block(txs...)
	require.Equal(t, want.AppHash, got.AppHash)
	require.Equal(t, want.TxResults, got.TxResults)
	for i, r := range got.TxResults {
		if bad[i] {
			requireCode(t, agency.ErrBadKeyProof, r.Codespace, r.Code, r.Log)
			require.Nil(t, fresh.account(members[i].addr))
			continue
		}
		requireOK(t, r)
		require.NotNil(t, fresh.account(members[i].addr))
	}
}

// The decoded-transaction cache is bounded by the memory its entries take,
// not only by their count: a node told to keep 24 KiB of decoded
// transactions keeps at most that, the oldest evicted first, and gives
// every transaction the same answer as a node that keeps them all.
func TestDecodeCacheIsBoundedInBytes(t *testing.T) {
	const limit = 24 << 10
	small := openChain(t, store.NewMemory(), app.Options{DecodeCacheBytes: limit})
	ref := openChain(t, store.NewMemory(), app.Options{})
	for _, c := range []*chain{small, ref} {
		c.initChain(testGenesis())
		c.block()
	}
	var txs [][]byte
	for i := 0; i < 60; i++ {
		var msgs []*txv1.Msg
		for j := 0; j <= i%4; j++ { // one to four messages: entries of several sizes
			msgs = append(msgs, addMember(keyFor(fmt.Sprintf("decode-bytes/%d/%d", i, j)), roleAuditor))
		}
		txs = append(txs, small.tx(treasuryAdmin, msgs...))
	}

	for i, tx := range txs {
		got, want := small.checkTx(tx), ref.checkTx(tx)
		require.Equal(t, want.Code, got.Code, "tx %d: %s / %s", i, got.Log, want.Log)
		_, bytes := small.app.DecodeCacheUse()
		require.LessOrEqual(t, bytes, limit, "after tx %d", i)
	}
	entries, bytes := small.app.DecodeCacheUse()
	refEntries, refBytes := ref.app.DecodeCacheUse()
	t.Logf("bounded cache: %d entries, %d bytes counted; unbounded: %d entries, %d bytes counted", entries, bytes, refEntries, refBytes)
	require.Equal(t, len(txs), refEntries, "the reference node keeps every decoded transaction")
	require.Greater(t, refBytes, limit, "the transactions take more than the limit")
	require.Positive(t, entries)
	require.Less(t, entries, len(txs), "older entries were evicted")

	// Evicted or not, every transaction is answered the same on recheck
	// and runs to the same state in a block.
	for i, tx := range txs {
		got, want := small.recheck(tx), ref.recheck(tx)
		require.Equal(t, want.Code, got.Code, "recheck of tx %d", i)
	}
	small.block(txs...)
	ref.block(txs...)
	require.Equal(t, ref.lastHash(), small.lastHash())
}

// Transactions a node's peers gossiped are verified in one batch before
// CheckTx sees them (node/gossipbatch.go): the valid signatures' verdicts
// are then held, the forged one's is not, and every CheckTx answers exactly
// as on a node that verified each signature alone. Fewer than a batch's
// worth are left to CheckTx.
func TestGossipedSignaturesVerifiedInABatchGiveCheckTxsAnswers(t *testing.T) {
	batched, alone := newChain(t), newChain(t)
	batched.block()
	alone.block()
	txs := adminTxs(batched, 24, 11, "gossip")
	txs = append(txs, []byte("not a transaction"), txs[3]) // garbage and a duplicate are skipped

	batched.app.PreverifySignatures(txs[:5])
	for i, tx := range txs[:5] {
		require.False(t, app.SignatureVerdictHeld(batched.app, tx), "transaction %d: five are left to CheckTx", i)
	}
	batched.app.PreverifySignatures(txs)
	for i, tx := range txs[:24] {
		require.Equal(t, i != 11, app.SignatureVerdictHeld(batched.app, tx), "transaction %d", i)
	}
	for i, tx := range txs {
		want, got := alone.checkTx(tx), batched.checkTx(tx)
		require.Equal(t, want.Code, got.Code, "transaction %d", i)
		require.Equal(t, want.Codespace, got.Codespace, "transaction %d", i)
		require.Equal(t, want.Log, got.Log, "transaction %d", i)
	}
	res := batched.checkTx(txs[11])
	requireCode(t, app.ErrBadSignature, res.Codespace, res.Code, res.Log)
}

// adminTxs is n add_member transactions signed in turn by four agencies'
// admins, the one at bad signed by a stranger instead (a bad signature).
func adminTxs(c *chain, n, bad int, tag string) [][]byte {
	admins := []testKey{treasuryAdmin, treasuryAdmin2, taxAdmin, regAdmin}
	var txs [][]byte
	for i := 0; i < n; i++ {
		a := admins[i%len(admins)]
		o := txArgs{signer: a}
		if i == bad {
			o.signWith = &stranger
		}
		txs = append(txs, c.txWith(o, addMemberTo(agencyOf(a.addr), keyFor(fmt.Sprintf("%s/%d", tag, i)), roleAuditor)))
	}
	return txs
}

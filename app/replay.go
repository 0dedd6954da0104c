package app

import (
	"bytes"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/store"
)

// Replay protection.
//
// A strict per-account sequence would force one key to send one
// transaction at a time, in order; a tax authority issuing receipts from one
// key in parallel could not. Instead each transaction carries a nonce of the
// signer's choosing and a timeout height no more than Params.TimeoutWindow
// blocks ahead. A transaction is accepted once per (signer, timeout height,
// nonce): resending the same signed bytes is always refused while they
// could still be included, and afterwards they are refused as expired.
//
// Each used nonce is its own key:
//
//	tx/r/<timeout height 8 bytes><signer 20 bytes><nonce 8 bytes> → 0x01
//
// so a transaction costs one small write whatever other transactions share
// its signer and timeout. (An earlier layout kept one value per signer and
// timeout, rewritten whole every block: a signer sending everything with one
// timeout made each block write a value growing with all its earlier
// transactions, 5.97 MB of state for 12,000 transactions against 3.13 MB
// with varying timeouts.) Keys sort by timeout first, so the expired ones
// are a prefix range: at the end of block H nonces with timeout ≤ H are
// deleted, since their transactions can never be included again. Each
// deletion was paid for by the transaction that wrote the key; a block
// still deletes at most pruneLimit of them and leaves the rest, in key
// order, to the next blocks, so no block's work depends on how many
// transactions happened to pick the same timeout. A leftover nonce is
// harmless: its timeout has passed, so the timeout check refuses its
// transaction before the nonce is looked at. The remembered set is bounded
// by the transactions of the last TimeoutWindow blocks plus the backlog,
// which drains faster than it fills. The keys live in the Merkle tree, so
// every node agrees on them and they survive restarts. The layout is
// api.NonceKey.
//
// usedMark is the value of a used nonce's key: its presence is the fact.
var usedMark = api.IndexValue

// nonceUsed reports whether signer used nonce with this timeout height.
func nonceUsed(kv store.KV, signer []byte, nonce, timeout uint64) bool {
	return kv.Has(api.NonceKey(timeout, signer, nonce))
}

// spendNonce records that signer used nonce with this timeout height.
func spendNonce(kv store.KV, signer []byte, nonce, timeout uint64) {
	kv.Set(api.NonceKey(timeout, signer, nonce), usedMark)
}

// pruneBase is how many expired nonces a block may forget beyond twice its
// own transaction count. Every transaction adds at most one nonce, so a
// block forgetting 2×txs+pruneBase drains any backlog faster than blocks
// can refill it, while one block's deletions stay proportional to its own
// work.
const pruneBase = 1024

// pruneLimit is how many expired nonces a block of txs transactions forgets.
func pruneLimit(txs int) int { return pruneBase + 2*txs }

// pruneExpired forgets, in key order, up to limit nonces whose transactions
// timed out at or before height. It returns how many it deleted.
func pruneExpired(kv store.KV, height int64, limit int) int {
	end := api.NoncesExpiredEnd(height)
	var expired [][]byte
	kv.Iterate(api.NoncesPrefix(), end, true, func(key, _ []byte) bool {
		expired = append(expired, bytes.Clone(key))
		return len(expired) >= limit
	})
	for _, k := range expired {
		kv.Delete(k)
	}
	return len(expired)
}

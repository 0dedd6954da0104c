package app

import (
	"bytes"
	"encoding/binary"
	"slices"
	"sort"

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
// Used nonces are kept in buckets, one per (timeout height, signer):
//
//	tx/r/<timeout height 8 bytes><signer 20 bytes> → sorted nonces, 8 bytes each
//
// so a block's transactions cost one write per signer and timeout rather
// than one per transaction: a block's new nonces are gathered in memory and
// merged into their buckets once, in key order, at the end of the block. At
// the end of block H every bucket with timeout ≤ H is deleted: its
// transactions can never be included again, so forgetting them cannot let
// one be replayed. The remembered set is bounded by the transactions of the
// last TimeoutWindow blocks. Buckets live in the Merkle tree, so every node
// agrees on them and they survive restarts.
var prefixNonces = []byte("tx/r/")

const nonceSize = 8

// NonceBucketKey is the state key of the bucket holding signer's nonces
// for transactions with this timeout height.
func NonceBucketKey(timeout uint64, signer []byte) []byte {
	k := make([]byte, 0, len(prefixNonces)+8+len(signer))
	k = append(k, prefixNonces...)
	k = binary.BigEndian.AppendUint64(k, timeout)
	return append(k, signer...)
}

// bucketHas reports whether a bucket's sorted nonces contain nonce.
func bucketHas(bucket []byte, nonce uint64) bool {
	n := len(bucket) / nonceSize
	i := sort.Search(n, func(i int) bool { return binary.BigEndian.Uint64(bucket[i*nonceSize:]) >= nonce })
	return i < n && binary.BigEndian.Uint64(bucket[i*nonceSize:]) == nonce
}

// nonceBook gathers the nonces a block uses, for one write per bucket at
// the end of the block.
type nonceBook struct {
	pending map[string][]uint64 // bucket key → nonces added in this block
	seen    map[string]struct{} // bucket key + nonce, for membership
}

func newNonceBook() *nonceBook {
	return &nonceBook{pending: map[string][]uint64{}, seen: map[string]struct{}{}}
}

// used reports whether (signer, nonce, timeout) was used, in state or
// earlier in this block (book may be nil outside a block).
func (b *nonceBook) used(kv store.KV, signer []byte, nonce, timeout uint64) bool {
	key := NonceBucketKey(timeout, signer)
	if b != nil {
		if _, ok := b.seen[string(binary.BigEndian.AppendUint64(key, nonce))]; ok {
			return true
		}
	}
	return bucketHas(kv.Get(key), nonce)
}

func (b *nonceBook) add(signer []byte, nonce, timeout uint64) {
	key := NonceBucketKey(timeout, signer)
	b.pending[string(key)] = append(b.pending[string(key)], nonce)
	b.seen[string(binary.BigEndian.AppendUint64(key, nonce))] = struct{}{}
}

// flush merges the block's nonces into their buckets, in key order.
func (b *nonceBook) flush(kv store.KV) {
	keys := make([]string, 0, len(b.pending))
	for k := range b.pending {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		nonces := b.pending[k]
		old := kv.Get([]byte(k))
		for i := 0; i+nonceSize <= len(old); i += nonceSize {
			nonces = append(nonces, binary.BigEndian.Uint64(old[i:]))
		}
		slices.Sort(nonces)
		out := make([]byte, 0, len(nonces)*nonceSize)
		for _, n := range slices.Compact(nonces) {
			out = binary.BigEndian.AppendUint64(out, n)
		}
		kv.Set([]byte(k), out)
	}
	clear(b.pending)
	clear(b.seen)
}

// pruneExpired forgets every bucket whose transactions timed out at or
// before height. It returns how many buckets it deleted.
func pruneExpired(kv store.KV, height int64) int {
	end := binary.BigEndian.AppendUint64(bytes.Clone(prefixNonces), uint64(height)+1)
	var expired [][]byte
	kv.Iterate(prefixNonces, end, true, func(key, _ []byte) bool {
		expired = append(expired, bytes.Clone(key))
		return false
	})
	for _, k := range expired {
		kv.Delete(k)
	}
	return len(expired)
}

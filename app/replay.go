package app

import (
	"encoding/binary"

	"github.com/tallyledger/tally/store"
)

// Replay protection.
//
// A strict per-account sequence would force one key to send one
// transaction at a time, in order; a tax authority issuing receipts from one
// key in parallel could not. Instead each transaction carries a nonce of the
// signer's choosing and a timeout height no more than Params.TimeoutWindow
// blocks ahead. A (signer, nonce) pair is accepted once while any
// transaction using it could still be included, and remembered exactly
// that long:
//
//	tx/n/<signer><nonce>             → timeout height   (was this nonce used?)
//	tx/e/<timeout><signer><nonce>    → empty            (what expires when?)
//
// At the end of block H every entry with timeout ≤ H is deleted: a
// transaction with that timeout can never be included again, so forgetting
// its nonce cannot let it be replayed. The seen set holds at most the
// transactions of the last TimeoutWindow blocks. Both keys live in the
// Merkle tree, so every node agrees on them and they survive restarts.
var (
	prefixSeen   = []byte("tx/n/")
	prefixExpiry = []byte("tx/e/")
)

func seenKey(signer []byte, nonce uint64) []byte {
	k := make([]byte, 0, len(prefixSeen)+len(signer)+8)
	k = append(k, prefixSeen...)
	k = append(k, signer...)
	return binary.BigEndian.AppendUint64(k, nonce)
}

func expiryKey(timeout uint64, signer []byte, nonce uint64) []byte {
	k := make([]byte, 0, len(prefixExpiry)+8+len(signer)+8)
	k = append(k, prefixExpiry...)
	k = binary.BigEndian.AppendUint64(k, timeout)
	k = append(k, signer...)
	return binary.BigEndian.AppendUint64(k, nonce)
}

// markSeen records that signer used nonce, until timeout.
func markSeen(kv store.KV, signer []byte, nonce, timeout uint64) {
	kv.Set(seenKey(signer, nonce), binary.BigEndian.AppendUint64(nil, timeout))
	kv.Set(expiryKey(timeout, signer, nonce), []byte{})
}

// pruneExpired forgets every nonce whose transaction timed out at or
// before height. It returns how many it forgot.
func pruneExpired(kv store.KV, height int64) int {
	end := binary.BigEndian.AppendUint64(append([]byte{}, prefixExpiry...), uint64(height)+1)
	var expired [][]byte
	kv.Iterate(prefixExpiry, end, true, func(key, _ []byte) bool {
		expired = append(expired, append([]byte(nil), key...))
		return false
	})
	for _, k := range expired {
		rest := k[len(prefixExpiry)+8:]
		signer, nonce := rest[:len(rest)-8], binary.BigEndian.Uint64(rest[len(rest)-8:])
		kv.Delete(seenKey(signer, nonce))
		kv.Delete(k)
	}
	return len(expired)
}

package app

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/x/agency"
)

func signedTx(priv ed25519.PrivateKey, body string) *decodedTx {
	b := []byte(body)
	sig := ed25519.Sign(priv, b)
	return &decodedTx{hash: sha256.Sum256(append(append([]byte{}, b...), sig...)), tx: &txv1.Tx{BodyBytes: b, Signature: sig}}
}

// A node expands each signer's key once and verifies every later
// signature of that signer with it; verdicts stay VerifySignature's (a
// signature by another key, a tampered body and a key that is not a point
// are refused, and none of them is remembered as valid).
func TestSigCacheExpandsEachSignersKeyOnce(t *testing.T) {
	alice := ed25519.NewKeyFromSeed(make([]byte, 32))
	bob := ed25519.NewKeyFromSeed(append(make([]byte, 31), 1))
	alicePub := []byte(alice.Public().(ed25519.PublicKey))
	bobPub := []byte(bob.Public().(ed25519.PublicKey))
	c := newSigCache(100)

	for i, body := range []string{"one", "two", "three"} {
		d := signedTx(alice, body)
		require.True(t, agency.VerifySignature(alicePub, d.tx.BodyBytes, d.tx.Signature))
		require.True(t, c.verify(d, alicePub), "alice's transaction %d", i)
		require.True(t, c.known(d.hash, alicePub))
	}
	require.Len(t, c.keys.m, 1, "alice's key expanded once for her three transactions")

	forged := signedTx(bob, "four") // bob signs, alice is named the signer
	require.False(t, c.verify(forged, alicePub))
	require.False(t, c.known(forged.hash, alicePub))
	tampered := signedTx(alice, "five")
	tampered.tx.BodyBytes = []byte("six")
	require.False(t, c.verify(tampered, alicePub))
	require.False(t, c.known(tampered.hash, alicePub))
	require.True(t, c.verify(signedTx(bob, "seven"), bobPub))
	require.Len(t, c.keys.m, 2)

	notAPoint := make([]byte, 32)
	notAPoint[0] = 2 // y = 2 is not on the curve
	require.False(t, c.verify(signedTx(alice, "eight"), notAPoint))
	require.False(t, c.verify(signedTx(alice, "nine"), alicePub[:31]))
	require.Len(t, c.keys.m, 2, "no key kept for a key that is not one")
}

// The expanded keys are bounded by count: the oldest is dropped first.
func TestSigCacheKeepsAtMostExpandedKeys(t *testing.T) {
	c := newSigCache(10)
	for i := range expandedKeys + 10 {
		seed := make([]byte, 32)
		seed[0], seed[1] = byte(i), byte(i>>8)
		k := ed25519.NewKeyFromSeed(seed)
		require.True(t, c.verify(signedTx(k, "x"), []byte(k.Public().(ed25519.PublicKey))))
	}
	require.Len(t, c.keys.m, expandedKeys)
}

// README "Bounded memory" counts an expanded key at ~1.5 KiB (1,150–1,480
// bytes measured). The least of three measurements, so garbage another test's
// goroutines leave meanwhile does not count.
func TestExpandedKeySize(t *testing.T) {
	const n = 1000
	pubs := make([][]byte, n)
	for i := range pubs {
		seed := make([]byte, 32)
		seed[0], seed[1] = byte(i), byte(i>>8)
		pubs[i] = ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	}
	least := 0.0
	for try := range 3 {
		keys := make([]*agency.ExpandedKey, n)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i, p := range pubs {
			var ok bool
			keys[i], ok = agency.ExpandKey(p)
			require.True(t, ok)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(keys)
		per := (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / n
		if try == 0 || per < least {
			least = per
		}
	}
	t.Logf("%.0f bytes an expanded key", least)
	require.Less(t, least, 1.75*1024.0)
}

// BenchmarkSigCacheVerify is CheckTx's signature check of a transaction not
// seen before, from one of 256 signers (as under `tallyd load`, 50 accounts
// a party): "expanded" is the node's (signers' keys kept expanded),
// "plain" agency.VerifySignature on the same transactions.
//
//	go test ./app -run '^$' -bench BenchmarkSigCacheVerify -count 4
func BenchmarkSigCacheVerify(b *testing.B) {
	const signers, txs = 256, 4096
	keys := make([]ed25519.PrivateKey, signers)
	for i := range keys {
		seed := make([]byte, 32)
		seed[0] = byte(i)
		keys[i] = ed25519.NewKeyFromSeed(seed)
	}
	ds := make([]*decodedTx, txs)
	pubs := make([][]byte, txs)
	for i := range ds {
		k := keys[i%signers]
		ds[i] = signedTx(k, fmt.Sprintf("transaction %d of the load", i))
		pubs[i] = k.Public().(ed25519.PublicKey)
	}
	b.Run("expanded", func(b *testing.B) {
		c := newSigCache(txs)
		for i := 0; b.Loop(); i++ {
			d := ds[i%txs]
			if !c.check(pubs[i%txs], d.tx.BodyBytes, d.tx.Signature) {
				b.Fatal("refused")
			}
		}
	})
	b.Run("plain", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			d := ds[i%txs]
			if !agency.VerifySignature(pubs[i%txs], d.tx.BodyBytes, d.tx.Signature) {
				b.Fatal("refused")
			}
		}
	})
}

package client

import (
	"bytes"
	"fmt"
	"testing"

	ics23 "github.com/cosmos/ics23/go"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/store"
)

// realProof is a genuine answer: a proof of key (present with value, or
// absent when value is nil) against root.
type realProof struct {
	name              string
	root, key, value  []byte
	proof             []byte
	decoded, refusing string // the proof's own text, and why it was built
}

// realProofs commits a small state (records, index entries stored as
// store.Present, keys that share prefixes) and proves a present record, an
// index entry, absences between, before and after every key, so each kind
// of proof and each neighbour shape is covered.
func realProofs(tb testing.TB) []realProof {
	tb.Helper()
	s := store.NewMemory()
	state := map[string][]byte{"ag/a/1": []byte("agency one"), "ag/a/3": bytes.Repeat([]byte("x"), 300), "ix/a": store.Present, "ix/b": store.Present}
	for i := range 40 { // enough keys for proofs many steps deep
		state[fmt.Sprintf("tx/r/%02d", i)] = []byte{byte(i), 1}
	}
	for k, v := range state {
		s.Set([]byte(k), v)
	}
	version, root, err := s.Commit()
	require.NoError(tb, err)
	var out []realProof
	for _, k := range []string{"ag/a/1", "ag/a/2", "ag/a/3", "ix/a", "ix/ab", "a", "zz", "tx/r/20"} {
		value, p, err := s.Prove(version, []byte(k))
		require.NoError(tb, err)
		bz, err := p.Marshal()
		require.NoError(tb, err)
		require.NoError(tb, ProvenValue(root, []byte(k), value, bz), "the genuine proof of %s", k)
		out = append(out, realProof{name: k, root: root, key: []byte(k), value: value, proof: bz, decoded: p.String()})
	}
	return out
}

// checkTampered runs the one proof check on a changed proof. It must not
// panic (the call would fail the test), and it may accept only a proof
// that says exactly what the genuine one says: a change protobuf decoding
// ignores, never another value, key or path.
func checkTampered(t *testing.T, r realProof, tampered []byte) {
	t.Helper()
	errValue := ProvenValue(r.root, r.key, r.value, tampered)
	_, errRange := nextKeyFrom(r.root, "app hash", r.key, tampered)
	if errValue == nil || errRange == nil {
		var p ics23.CommitmentProof
		require.NoError(t, p.Unmarshal(tampered), "%s: an undecodable proof was accepted", r.name)
		require.Equal(t, r.decoded, p.String(), "%s: a changed proof was accepted (%x)", r.name, tampered)
	}
	if errValue != nil {
		_, ok := errValue.(*Refusal)
		require.True(t, ok, "%s: %v is not a refusal", r.name, errValue)
	}
}

// A proof changed in one bit (two of each byte), cut short at any byte, or grown past
// MaxProofBytes is refused by the one proof check, and never makes it
// panic: every proof a hostile node can send through the RPC reaches
// ics23 only through checkProof, which the CLI, the explorer, the light
// client and list completeness all use.
func TestTamperedProofsAreRefusedAndNeverPanic(t *testing.T) {
	checked := 0
	for _, r := range realProofs(t) {
		for i := range r.proof {
			for _, bit := range []int{i % 8, (i + 3) % 8} { // two bits of each byte; every bit over eight bytes
				tampered := bytes.Clone(r.proof)
				tampered[i] ^= 1 << bit
				checkTampered(t, r, tampered)
				checked++
			}
			checkTampered(t, r, r.proof[:i])
			checked++
		}
		huge := append(bytes.Clone(r.proof), make([]byte, MaxProofBytes)...)
		require.ErrorContains(t, ProvenValue(r.root, r.key, r.value, huge), "more than the 1048576 bytes")
		_, err := nextKeyFrom(r.root, "app hash", r.key, huge)
		require.ErrorContains(t, err, "more than the 1048576 bytes")
	}
	require.Greater(t, checked, 5_000)
}

// Decoded proofs ics23 would panic on (a nil step in a path, as a caller
// of VerifyProof can hand in) and proofs without a leaf are refusals.
func TestProofsThatPanicIcs23AreRefused(t *testing.T) {
	for _, r := range realProofs(t) {
		var p ics23.CommitmentProof
		require.NoError(t, p.Unmarshal(r.proof))
		for _, ep := range []*ics23.ExistenceProof{p.GetExist(), p.GetNonexist().GetLeft(), p.GetNonexist().GetRight()} {
			if ep == nil || len(ep.Path) == 0 {
				continue
			}
			saved := ep.Path[0]
			ep.Path[0] = nil // ics23 (and its Marshal) dereference it unchecked
			require.ErrorContains(t, VerifyProof(r.root, r.key, r.value, &p), "malformed", "%s: a nil step", r.name)
			ep.Path[0] = saved
			leaf := ep.Leaf
			ep.Leaf = nil
			require.Error(t, VerifyProof(r.root, r.key, r.value, &p), "%s: no leaf", r.name)
			ep.Leaf = leaf
		}
	}
}

// FuzzCheckProof changes real proofs at random: whatever the bytes, the
// check returns (never panics) and accepts only what the genuine proof
// says. Run with go test -run XXX -fuzz FuzzCheckProof ./client/.
func FuzzCheckProof(f *testing.F) {
	proofs := realProofs(f)
	for i, r := range proofs {
		f.Add(uint8(i), r.proof)
	}
	f.Fuzz(func(t *testing.T, which uint8, proof []byte) {
		checkTampered(t, proofs[int(which)%len(proofs)], proof)
	})
}

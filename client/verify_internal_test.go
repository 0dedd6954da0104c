package client

import (
	"testing"

	"github.com/cometbft/cometbft/types"
	ics23 "github.com/cosmos/ics23/go"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/store"
)

// proofOf commits kv to a fresh store and returns a header committing to
// it and the encoded proof of key.
func proofOf(t *testing.T, kv map[string]string, key string) (*types.LightBlock, []byte) {
	t.Helper()
	s := store.NewMemory()
	for k, v := range kv {
		s.Set([]byte(k), []byte(v))
	}
	version, root, err := s.Commit()
	require.NoError(t, err)
	_, p, err := s.Prove(version, []byte(key))
	require.NoError(t, err)
	bz, err := p.Marshal()
	require.NoError(t, err)
	return &types.LightBlock{SignedHeader: &types.SignedHeader{Header: &types.Header{Height: version + 1, AppHash: root}}}, bz
}

// Index entries are written with empty values, which the store keeps as
// store.Present so that ics23 (which refuses to hash an empty value) can
// prove them and the absences next to them; the client still refuses
// wrong answers.
func TestProofsOfEmptyValuesAndTheirNeighbours(t *testing.T) {
	kv := map[string]string{"ix/a": "", "ix/b": "", "rec/1": "one", "rec/3": "three"}

	lb, p := proofOf(t, kv, "ix/a")
	require.NoError(t, verifyProof(lb, []byte("ix/a"), store.Present, p))
	var cp ics23.CommitmentProof
	require.NoError(t, cp.Unmarshal(p))
	require.True(t, ics23.VerifyMembership(ics23.IavlSpec, ics23.CommitmentRoot(lb.AppHash), &cp, []byte("ix/a"), store.Present), "plain ics23 checks an index entry")
	require.Error(t, verifyProof(lb, []byte("ix/a"), []byte("x"), p), "a value the proof does not commit to")

	lb, p = proofOf(t, kv, "ix/c") // absent, between an index entry and a record
	require.NoError(t, verifyProof(lb, []byte("ix/c"), nil, p))
	require.Error(t, verifyProof(lb, []byte("ix/d"), nil, p), "a proof of another key's absence")

	lb, p = proofOf(t, kv, "rec/2")
	require.NoError(t, verifyProof(lb, []byte("rec/2"), nil, p))
	lb.AppHash = append([]byte{}, lb.AppHash...)
	lb.AppHash[0] ^= 1
	r := verifyProof(lb, []byte("rec/2"), nil, p)
	require.ErrorContains(t, r, "does not lead to app hash")

	lb, p = proofOf(t, kv, "rec/3")
	require.NoError(t, verifyProof(lb, []byte("rec/3"), []byte("three"), p))
	require.ErrorContains(t, verifyProof(lb, []byte("rec/3"), []byte("thrEe"), p), "not the value its proof commits to")
	require.ErrorContains(t, verifyProof(lb, []byte("rec/3"), nil, p), "no proof of absence")
	require.ErrorContains(t, verifyProof(lb, []byte("rec/3"), []byte("three"), []byte{0xff, 0x01}), "does not decode")
}

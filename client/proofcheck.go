package client

import (
	"bytes"
	"fmt"

	ics23 "github.com/cosmos/ics23/go"
)

// MaxProofBytes is the largest encoded proof the client checks. A genuine
// proof holds one key and value (an absence proof, its two neighbours')
// and at most 256 steps (ics23.IavlSpec's MaxDepth, which every proof is
// also checked against), each under 100 bytes; a record is a few
// transactions' worth of bytes at most (max_tx_bytes is 32 KiB by
// default). 1 MiB is far above any genuine proof, and it stops a hostile
// node from making a client decode and hash without limit.
const MaxProofBytes = 1 << 20

// checkSize refuses a proof larger than MaxProofBytes before it is decoded.
func checkSize(what string, key, proofBytes []byte) error {
	if len(proofBytes) > MaxProofBytes {
		return proofRefusal("the %s of key %s is %d bytes, more than the %d bytes any proof of this chain needs", what, fmtKey(key), len(proofBytes), MaxProofBytes)
	}
	return nil
}

// checkProof is the client's one ICS23 proof check: every verified read
// (ProvenValue, the light client's Get and List, and list completeness)
// goes through it. It checks proofBytes, a marshalled CommitmentProof from
// an untrusted node, for key with value, or for key's absence when value is
// nil, against root (described as rootName in refusals). It says in plain
// words which part failed. Malformed proofs are refusals, never panics:
// ics23 follows a proof's parts without checking them for nil, so a
// hostile proof can make it panic, and the recover turns that into a
// refusal. Proofs over MaxProofBytes are refused before they are decoded.
func checkProof(root []byte, rootName string, key, value, proofBytes []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = proofRefusal("the proof of key %s is malformed: %v", fmtKey(key), r)
		}
	}()
	if len(root) == 0 {
		return proofRefusal("the root hash to check the proof of key %s against is empty", fmtKey(key))
	}
	if err := checkSize("proof", key, proofBytes); err != nil {
		return err
	}
	var p ics23.CommitmentProof
	if err := p.Unmarshal(proofBytes); err != nil {
		return proofRefusal("the proof of key %s does not decode: %v", fmtKey(key), err)
	}
	if value == nil {
		np := p.GetNonexist()
		if np == nil {
			return proofRefusal("the primary said key %s is absent but sent no proof of absence", fmtKey(key))
		}
		return checkAbsence(root, rootName, key, np)
	}
	ep := p.GetExist()
	if ep == nil {
		return proofRefusal("the primary returned a value for key %s but no proof that it exists", fmtKey(key))
	}
	if !bytes.Equal(ep.Key, key) {
		return proofRefusal("the proof is for key %s, not the key asked for, %s", fmtKey(ep.Key), fmtKey(key))
	}
	if !bytes.Equal(ep.Value, value) {
		return proofRefusal("the value returned for key %s is not the value its proof commits to: the answer was altered", fmtKey(key))
	}
	return checkPresence(root, rootName, key, ep)
}

// VerifyProof is ProvenValue for a decoded proof (as store.Prove returns
// it): the same one check, on a copy, so p is left as it was.
func VerifyProof(root, key, value []byte, p *ics23.CommitmentProof) (err error) {
	if p == nil {
		return proofRefusal("there is no proof of key %s", fmtKey(key))
	}
	defer func() {
		if r := recover(); r != nil {
			err = proofRefusal("the proof of key %s is malformed: %v", fmtKey(key), r)
		}
	}()
	bz, err := p.Marshal()
	if err != nil {
		return proofRefusal("the proof of key %s does not encode: %v", fmtKey(key), err)
	}
	return ProvenValue(root, key, value, bz)
}

// checkPresence checks an existence proof of key (with the value it
// carries) against root.
func checkPresence(root []byte, rootName string, key []byte, ep *ics23.ExistenceProof) error {
	if !bytes.Equal(ep.Key, key) {
		return proofRefusal("the proof is for key %s, not the key asked for, %s", fmtKey(ep.Key), fmtKey(key))
	}
	if ep.Leaf == nil {
		return proofRefusal("the proof of key %s has no leaf", fmtKey(key))
	}
	if err := prehashLeaf(ep); err != nil {
		return proofRefusal("the proof of key %s: %v", fmtKey(key), err)
	}
	if err := ep.Verify(iavlPrehashedSpec, root, key, ep.Value); err != nil {
		return proofRefusal("the proof of key %s does not lead to %s (%v): the proof or the value was altered", fmtKey(key), rootName, err)
	}
	return nil
}

// checkAbsence checks a proof that key is absent against root: its left
// and right neighbours (either may be missing at an end of state) are
// proven present and adjacent.
func checkAbsence(root []byte, rootName string, key []byte, np *ics23.NonExistenceProof) error {
	if !bytes.Equal(np.Key, key) {
		return proofRefusal("the proof of absence is for key %s, not the key asked for, %s", fmtKey(np.Key), fmtKey(key))
	}
	for _, side := range []*ics23.ExistenceProof{np.Left, np.Right} {
		if side != nil && side.Leaf == nil {
			return proofRefusal("the proof of absence of key %s has a neighbour without a leaf", fmtKey(key))
		}
		if err := prehashLeaf(side); err != nil {
			return proofRefusal("the proof of absence of key %s: %v", fmtKey(key), err)
		}
	}
	if err := np.Verify(iavlPrehashedSpec, root, key); err != nil {
		return proofRefusal("the proof of absence of key %s does not lead to %s: %v", fmtKey(key), rootName, err)
	}
	return nil
}

// nextKeyFrom checks proofBytes, a proof at key (of its presence, or of
// its absence with its neighbours), and returns the first key in state at
// or after key: key itself when present, else the absence proof's right
// neighbour (nil when key is past the last key of state).
func nextKeyFrom(root []byte, rootName string, key, proofBytes []byte) (next []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			next, err = nil, proofRefusal("the range proof at key %s is malformed: %v", fmtKey(key), r)
		}
	}()
	if err := checkSize("range proof", key, proofBytes); err != nil {
		return nil, err
	}
	var p ics23.CommitmentProof
	if err := p.Unmarshal(proofBytes); err != nil {
		return nil, proofRefusal("the range proof at key %s does not decode: %v", fmtKey(key), err)
	}
	if ep := p.GetExist(); ep != nil {
		return key, checkPresence(root, rootName, key, ep)
	}
	np := p.GetNonexist()
	if np == nil {
		return nil, proofRefusal("the range proof at key %s proves neither presence nor absence", fmtKey(key))
	}
	if np.Right != nil {
		next = append([]byte(nil), np.Right.Key...) // before prehashLeaf rewrites the proof
	}
	if err := checkAbsence(root, rootName, key, np); err != nil {
		return nil, err
	}
	return next, nil
}

// proofRefusal is a refusal of a proof, in plain words.
func proofRefusal(format string, args ...any) error {
	return &Refusal{Check: CheckProof, Reason: fmt.Sprintf(format, args...)}
}

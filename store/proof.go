package store

import (
	"fmt"

	"github.com/cosmos/iavl"
	ics23 "github.com/cosmos/ics23/go"
)

// Prove returns the value of key at a saved version together with an ICS-23
// proof against that version's root hash: an existence proof if the key is
// present (value non-nil), a non-existence proof if it is absent (value nil).
// It fails if the version is not available or holds an empty tree (an empty
// tree has no leaves to prove anything against).
func (s *Store) Prove(version int64, key []byte) (value []byte, proof *ics23.CommitmentProof, err error) {
	return s.eng.prove(version, key)
}

// prove reads key in t with its proof. IAVL's proof builders dereference
// the node a failed walk returns (nil) when a node is missing, as when the
// version is pruned while being read (pruning does not wait for readers):
// that panic is turned into an error here, which Prove reports as the
// pruned version it is, instead of stopping the node answering a query.
func prove(t *iavl.ImmutableTree, key []byte) (value []byte, proof *ics23.CommitmentProof, err error) {
	defer func() {
		if r := recover(); r != nil {
			value, proof, err = nil, nil, fmt.Errorf("the tree walk failed: %v", r)
		}
	}()
	value, err = t.Get(key)
	if err != nil {
		return nil, nil, err
	}
	if value != nil {
		proof, err = t.GetMembershipProof(key)
	} else {
		proof, err = t.GetNonMembershipProof(key)
	}
	return value, proof, err
}

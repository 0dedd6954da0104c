package store

import (
	"errors"
	"fmt"

	ics23 "github.com/cosmos/ics23/go"
)

// Prove returns the value of key at a saved version together with an ICS-23
// proof against that version's root hash: an existence proof if the key is
// present (value non-nil), a non-existence proof if it is absent (value nil).
// It fails if the version is not available or holds an empty tree (an empty
// tree has no leaves to prove anything against).
func (s *Store) Prove(version int64, key []byte) (value []byte, proof *ics23.CommitmentProof, err error) {
	t, err := s.saved(version)
	if err != nil {
		return nil, nil, err
	}
	if t.Size() == 0 {
		return nil, nil, fmt.Errorf("store: prove %X at version %d: tree is empty", key, version)
	}
	value, err = t.Get(key)
	if err != nil {
		return nil, nil, s.readFailed(version, fmt.Errorf("store: prove %X at version %d: %w", key, version, err))
	}
	if value != nil {
		proof, err = t.GetMembershipProof(key)
	} else {
		proof, err = t.GetNonMembershipProof(key)
	}
	if err != nil {
		return nil, nil, s.readFailed(version, fmt.Errorf("store: prove %X at version %d: %w", key, version, err))
	}
	// As with IterateAt: nodes vanishing under a pruned version can leave a
	// read without an error but without its true answer. Pruning never
	// restores a version, so if it still exists the answer was whole.
	if s.pruned(version) {
		return nil, nil, fmt.Errorf("%w: %d was pruned while being read", ErrVersionUnavailable, version)
	}
	return value, proof, nil
}

// VerifyProof checks proof against root (an app hash). If value is nil it
// verifies that key is absent, else that key is present with exactly value.
// The error says which check failed. proof may come from an untrusted peer:
// malformed proofs yield an error, never a panic.
func VerifyProof(root, key, value []byte, proof *ics23.CommitmentProof) (err error) {
	// ics23 assumes well-formed messages (e.g. no nil path steps) and can
	// panic on hostile ones; report those as verification failures.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("store: malformed proof for key %X: %v", key, r)
		}
	}()
	if proof == nil {
		return errors.New("store: proof is nil")
	}
	if len(root) == 0 {
		return errors.New("store: root hash is empty")
	}
	if value == nil {
		np := proof.GetNonexist()
		if np == nil {
			return fmt.Errorf("store: want a non-existence proof for key %X, got %T", key, proof.GetProof())
		}
		if ics23.VerifyNonMembership(ics23.IavlSpec, root, proof, key) {
			return nil
		}
		return fmt.Errorf("store: non-existence of key %X not proven: %w", key, explain(np.Verify(ics23.IavlSpec, root, key)))
	}
	ep := proof.GetExist()
	if ep == nil {
		return fmt.Errorf("store: want an existence proof for key %X, got %T", key, proof.GetProof())
	}
	if ics23.VerifyMembership(ics23.IavlSpec, root, proof, key, value) {
		return nil
	}
	return fmt.Errorf("store: existence of key %X with the given value not proven: %w", key, explain(ep.Verify(ics23.IavlSpec, root, key, value)))
}

// explain returns ics23's reason for a failed check; ics23's boolean and
// error-returning checks agree, so err is nil only if they ever diverge.
func explain(err error) error {
	if err == nil {
		return errors.New("rejected by ics23")
	}
	return err
}

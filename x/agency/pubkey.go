package agency

import (
	"io"

	"github.com/oasisprotocol/curve25519-voi/curve"
	voied25519 "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/api/keyproof"
)

// Which ed25519 signatures Tally accepts, and which public keys.
//
// A 32-byte string is not yet a key. Eight points of the curve have small
// order (the identity, one of order 2, two of order 4, four of order 8); a
// "signature" by such a key with R = identity and S = 0 verifies for every
// message under the lax rules, so whoever registers one signs as that
// account with no private key at all. And a y coordinate of p or more (or a
// sign bit set on x = 0) is a second encoding of a point that has a
// canonical one, so one key could be registered twice. ValidatePubKey
// refuses all of these wherever a key enters state.
//
// Verification is strict too, with curve25519-voi (already CometBFT's
// ed25519): cofactored RFC 8032 verification that also refuses a
// small-order or non-canonical A or R and an S not below the group order.
// Among voi's presets, VerifyOptionsZIP_215 (CometBFT's choice for votes,
// whose keys are vetted elsewhere) accepts small-order and non-canonical A
// and R, so R = identity, S = 0 verifies under the identity key;
// VerifyOptionsStdLib accepts small-order and non-canonical A and is
// cofactorless, which batch verification cannot reproduce. The strict set
// refuses everything either of them would let a forger through, accepts
// every signature an honest ed25519 signer makes (R = rB with r a hash
// output is never small order; encoders always write canonical points),
// and gives the same verdict one by one and in a batch, so a node
// verifying in CheckTx and one verifying a block's batch cannot disagree.
var strictVerify = &voied25519.Options{Verify: &voied25519.VerifyOptions{}}

// SignatureSize is the size of an ed25519 signature.
const SignatureSize = voied25519.SignatureSize

// ValidatePubKey checks that pub is a 32-byte canonical encoding of an
// ed25519 point that is not of small order. what names the field in errors.
func ValidatePubKey(what string, pub []byte) error {
	if len(pub) != PubKeySize {
		return ErrInvalidKey.Wrapf("%s is %d bytes; an ed25519 public key is %d", what, len(pub), PubKeySize)
	}
	var c curve.CompressedEdwardsY
	if _, err := c.SetBytes(pub); err != nil {
		return ErrInvalidKey.Wrapf("%s: %v", what, err)
	}
	var p curve.EdwardsPoint
	if _, err := p.SetCompressedY(&c); err != nil {
		return ErrInvalidKey.Wrapf("%s %x is not a point of ed25519; copy the public key again", what, pub)
	}
	if !c.IsCanonicalVartime() {
		return ErrNonCanonicalKey.Wrapf("%s %x is a non-canonical encoding (y not below p, or the sign of x = 0 set); generate the key with a standard ed25519 library", what, pub)
	}
	if p.IsSmallOrder() {
		return ErrSmallOrderKey.Wrapf("%s %x is a point of small order, which anyone can sign for; generate a real key pair", what, pub)
	}
	return nil
}

// VerifySignature reports whether sig is pub's signature of msg under the
// strict rules above. A key or signature of the wrong size does not verify.
func VerifySignature(pub, msg, sig []byte) bool {
	if len(pub) != PubKeySize || len(sig) != SignatureSize {
		return false
	}
	return voied25519.VerifyWithOptions(pub, msg, sig, strictVerify)
}

// BatchVerifier checks many signatures at once under the same strict
// rules; its verdicts equal VerifySignature's.
type BatchVerifier struct{ bv *voied25519.BatchVerifier }

// NewBatchVerifier returns an empty batch.
func NewBatchVerifier() *BatchVerifier {
	return &BatchVerifier{bv: voied25519.NewBatchVerifier()}
}

// Add queues one signature; one of the wrong size is queued as invalid.
func (b *BatchVerifier) Add(pub, msg, sig []byte) {
	if len(pub) != PubKeySize {
		pub = make([]byte, PubKeySize) // the identity's y = 0 is not a point: refused
	}
	b.bv.AddWithOptions(pub, msg, sig, strictVerify)
}

// AddExpanded queues one signature by the key k was expanded from, under
// the same rules as Add, skipping the key's decompression.
func (b *BatchVerifier) AddExpanded(k *ExpandedKey, msg, sig []byte) {
	b.bv.AddExpandedWithOptions(k.k, msg, sig, strictVerify)
}

// Verify returns each queued signature's verdict, in order. rand only
// picks the batch's random coefficients; the verdicts do not depend on it.
func (b *BatchVerifier) Verify(rand io.Reader) []bool {
	_, oks := b.bv.Verify(rand)
	return oks
}

// CheckKeyProof checks that proof is pub's signature of the key-proof
// statement for chainID, agencyID, account and purpose.
func CheckKeyProof(what string, pub, proof []byte, chainID, agencyID string, account []byte, purpose keyproof.Purpose) error {
	return checkKeyProof(VerifySignature, what, pub, proof, chainID, agencyID, account, purpose)
}

// checkKeyProof is CheckKeyProof reusing the verdicts k.Verified knows.
func (k Keeper) checkKeyProof(what string, pub, proof []byte, chainID, agencyID string, account []byte, purpose keyproof.Purpose) error {
	verify := VerifySignature
	if k.Verified != nil {
		verify = func(pub, msg, sig []byte) bool { return k.Verified(pub, msg, sig) || VerifySignature(pub, msg, sig) }
	}
	return checkKeyProof(verify, what, pub, proof, chainID, agencyID, account, purpose)
}

func checkKeyProof(verify func(pub, msg, sig []byte) bool, what string, pub, proof []byte, chainID, agencyID string, account []byte, purpose keyproof.Purpose) error {
	if len(proof) == 0 {
		return ErrBadKeyProof.Wrapf("%s has no proof of possession; the new key's holder signs keyproof.Statement (tallyd keys prove)", what)
	}
	if !verify(pub, keyproof.Statement(chainID, agencyID, account, pub, purpose), proof) {
		return ErrBadKeyProof.Wrapf("%s's proof of possession does not verify for chain %s, agency %s, account %x, purpose %s; the new key's holder signs keyproof.Statement with exactly these", what, api.Quote(chainID), api.Quote(agencyID), account, purpose)
	}
	return nil
}

// ExpandedKey is a public key decompressed once, with the table its
// verification multiplies by precomputed (curve25519-voi's
// ExpandedPublicKey, about 1.5 KiB): verifying with it skips the point
// decompression and table building that VerifySignature repeats for every
// signature, about a quarter of its cost. A node that checks many
// transactions of the same signers keeps their keys expanded.
type ExpandedKey struct{ k *voied25519.ExpandedPublicKey }

// ExpandKey expands pub; false if pub is not 32 bytes or not a point (no
// signature verifies with it).
func ExpandKey(pub []byte) (*ExpandedKey, bool) {
	if len(pub) != PubKeySize {
		return nil, false
	}
	k, err := voied25519.NewExpandedPublicKey(pub)
	if err != nil {
		return nil, false
	}
	return &ExpandedKey{k: k}, true
}

// Verify is VerifySignature with the key k was expanded from: the same
// strict rules (a small-order or non-canonical key, R or S is refused),
// the same verdict.
func (k *ExpandedKey) Verify(msg, sig []byte) bool {
	if len(sig) != SignatureSize {
		return false
	}
	return voied25519.VerifyExpandedWithOptions(k.k, msg, sig, strictVerify)
}

package client

import (
	"crypto/ed25519"

	"github.com/tallyledger/tally/api/keyproof"
	"github.com/tallyledger/tally/client/keys"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
)

// KeyProof signs, with the new key's signer, its proof of possession: the
// statement naming chain, agency, account, key and purpose that the chain
// requires before the key enters state (api/keyproof).
func KeyProof(sign Signer, chainID, agencyID string, account, pub []byte, purpose keyproof.Purpose) ([]byte, error) {
	return sign(keyproof.Statement(chainID, agencyID, account, pub, purpose))
}

// AddMember is the message by which an admin of agencyID on chainID adds
// the account whose key newKey holds, with roles. The new key signs its
// proof of possession, so the caller must hold it (or build MsgAddMember
// with a proof the key's holder made).
func AddMember(chainID, agencyID string, newKey ed25519.PrivateKey, roles ...agencyv1.Role) *txv1.Msg {
	m, _ := AddMemberSigned(func(b []byte) ([]byte, error) { return ed25519.Sign(newKey, b), nil }, chainID, agencyID, newKey.Public().(ed25519.PublicKey), roles...)
	return m // signing with a private key in hand cannot fail
}

// AddMemberSigned is AddMember for a new key held elsewhere (a keyring, a
// device): sign is that key's signer, pub its public key.
func AddMemberSigned(sign Signer, chainID, agencyID string, pub []byte, roles ...agencyv1.Role) (*txv1.Msg, error) {
	proof, err := KeyProof(sign, chainID, agencyID, keys.AddressOf(pub), pub, keyproof.AddMember)
	if err != nil {
		return nil, err
	}
	return &txv1.Msg{Sum: &txv1.Msg_AddMember{AddMember: &agencyv1.MsgAddMember{PubKey: pub, Roles: roles, KeyProof: proof}}}, nil
}

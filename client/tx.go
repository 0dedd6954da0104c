// Package client is what a client application imports to talk to Tally:
// build and sign transactions, broadcast them, and read state. It depends
// only on the generated protobuf types and CometBFT's RPC client, never on
// the node's internals.
package client

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"google.golang.org/protobuf/proto"

	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
)

// Signer signs the exact bytes of a transaction body.
type Signer func(bodyBytes []byte) ([]byte, error)

// TxOptions are the envelope fields of a transaction.
type TxOptions struct {
	ChainID string
	Signer  []byte // 20-byte address
	// Nonce must be unique for the signer while the transaction can still
	// be included; zero picks a random one (RandomNonce).
	Nonce         uint64
	TimeoutHeight uint64
	Memo          string
}

// BuildTx serialises the body once, signs those bytes and returns the
// encoded Tx ready for broadcast_tx_sync.
func BuildTx(opts TxOptions, sign Signer, msgs ...*txv1.Msg) ([]byte, error) {
	nonce := opts.Nonce
	if nonce == 0 {
		nonce = RandomNonce()
	}
	body := &txv1.TxBody{
		ChainId:       opts.ChainID,
		Signer:        opts.Signer,
		Nonce:         nonce,
		TimeoutHeight: opts.TimeoutHeight,
		Memo:          opts.Memo,
		Messages:      msgs,
	}
	bodyBytes, err := proto.MarshalOptions{Deterministic: true}.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encoding tx body: %w", err)
	}
	sig, err := sign(bodyBytes)
	if err != nil {
		return nil, fmt.Errorf("signing tx: %w", err)
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(&txv1.Tx{BodyBytes: bodyBytes, Signature: sig})
}

// RandomNonce returns a random non-zero nonce. With 64 random bits, two
// transactions of one signer collide with negligible probability, so
// clients can send many at once without coordinating.
func RandomNonce() uint64 {
	var b [8]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			panic(fmt.Sprintf("crypto/rand failed: %v", err)) // the OS has no entropy: nothing sensible to do
		}
		if n := binary.BigEndian.Uint64(b[:]); n != 0 {
			return n
		}
	}
}

// CommitMemo is the memo a transaction may carry for a note: SHA-256 of a
// random salt and the note, as hex, with the salt that opens it. The chain
// accepts no other non-empty memo, because blocks are public for ever.
func CommitMemo(note string) (commitment, salt string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	h := sha256.Sum256(append(append([]byte("tally/memo/v1"), b...), note...))
	return hex.EncodeToString(h[:]), hex.EncodeToString(b), nil
}

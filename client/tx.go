// Package client is what a client application imports to talk to Tally:
// build and sign transactions, broadcast them, and read state. It depends
// only on the generated protobuf types and CometBFT's RPC client, never on
// the node's internals.
package client

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
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
	// Units declares the transaction's unit limit (TxBody.max_units): the
	// most meter units it may use, and what a proposer counts it as
	// against the block's max_block_units. 0 declares none: the chain then
	// uses the limit its messages' route bounds give, which covers the
	// heavy states a message may meet and so takes more room in a block
	// than a typical transaction uses.
	Units uint64
	// MessageUnits, when Units is 0, declares the transaction's own cost
	// (api.TxOwnUnits of its size as sent, the declaration included) plus
	// MessageUnits, what its messages are expected to use: the way to
	// declare a limit from per-message costs without counting bytes.
	MessageUnits uint64
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
		MaxUnits:      opts.Units,
	}
	bodyBytes, err := proto.MarshalOptions{Deterministic: true}.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encoding tx body: %w", err)
	}
	// The declared limit is part of the bytes it pays for: raise it until
	// it covers them (a varint grows a byte at a time, so this settles in a
	// step or two).
	for opts.Units == 0 && opts.MessageUnits > 0 {
		want := api.TxOwnUnits(signedSize(bodyBytes)) + opts.MessageUnits
		if want <= body.MaxUnits {
			break
		}
		body.MaxUnits = want
		if bodyBytes, err = (proto.MarshalOptions{Deterministic: true}).Marshal(body); err != nil {
			return nil, fmt.Errorf("encoding tx body: %w", err)
		}
	}
	sig, err := sign(bodyBytes)
	if err != nil {
		return nil, fmt.Errorf("signing tx: %w", err)
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(&txv1.Tx{BodyBytes: bodyBytes, Signature: sig})
}

// signedSize is the size of the Tx carrying bodyBytes and an ed25519
// signature.
func signedSize(bodyBytes []byte) int {
	return proto.Size(&txv1.Tx{BodyBytes: bodyBytes, Signature: make([]byte, ed25519.SignatureSize)})
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

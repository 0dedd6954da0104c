package app

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/module"
)

// signatureSize is the size of an ed25519 signature.
const signatureSize = 64

// decodedTx is a transaction parsed once and carried through the block.
type decodedTx struct {
	raw  []byte
	hash [32]byte
	tx   *txv1.Tx
	body *txv1.TxBody
	// msgUnits is what its messages' route bounds add up to (unitLimit).
	msgUnits uint64
	// routes are its messages' routes in the app's table, in order,
	// found once by decode: authenticate reads each message's role from
	// them instead of finding the route again for every check.
	routes []*module.Route
}

// decodedParts is a decodedTx with the messages it points to, in one
// allocation instead of three (every transaction is decoded once a node).
type decodedParts struct {
	d    decodedTx
	tx   txv1.Tx
	body txv1.TxBody
	// routes holds decodedTx.routes for up to four messages.
	routes [4]*module.Route
}

// rules are what authentication reads besides state: the chain id and the
// app's params, as of the block being finalized or, for CheckTx, the last
// committed block.
type rules struct {
	chainID string
	params  *appv1.Params
	// shared: the caller changes nothing of the signer's account it gets
	// back, so the account and agency may come decoded from
	// sharedRecords (every caller but deliver, whose signer reaches the
	// handlers).
	shared bool
}

// decode does every check that needs no state, under params: size,
// structure, each message's stateless validation and rotate_key proofs of
// possession (the transaction's own signature needs the signer's key from
// state, so it is checked in authenticate). Cheap failures first.
func (a *App) decode(params *appv1.Params, raw []byte) (*decodedTx, error) {
	if err := checkTxSize(params, len(raw)); err != nil {
		return nil, err
	}
	return a.decodeHashed(params, raw, sha256.Sum256(raw))
}

// decodeHashed is decode after the size check, of raw whose hash is known.
func (a *App) decodeHashed(params *appv1.Params, raw []byte, hash [32]byte) (*decodedTx, error) {
	parts := new(decodedParts)
	d := &parts.d
	*d = decodedTx{raw: raw, hash: hash, tx: &parts.tx, body: &parts.body, routes: parts.routes[:0]}
	if !parseCanonical(raw, d.tx) {
		if err := proto.Unmarshal(raw, d.tx); err != nil {
			return nil, ErrTxMalformed.Wrapf("not a tally.tx.v1.Tx: %v", err)
		}
		if err := checkCanonical("tx", raw, d.tx); err != nil {
			return nil, err
		}
	}
	if !parseCanonical(d.tx.BodyBytes, d.body) {
		if err := proto.Unmarshal(d.tx.BodyBytes, d.body); err != nil {
			return nil, ErrTxMalformed.Wrapf("body_bytes is not a tally.tx.v1.TxBody: %v", err)
		}
		if err := checkCanonical("body", d.tx.BodyBytes, d.body); err != nil {
			return nil, err
		}
	}
	if len(d.tx.Signature) != signatureSize {
		return nil, ErrTxMalformed.Wrapf("signature is %d bytes; an ed25519 signature is %d", len(d.tx.Signature), signatureSize)
	}
	if len(d.body.Signer) != agency.AddressSize {
		return nil, ErrTxMalformed.Wrapf("signer is %d bytes; an address is %d", len(d.body.Signer), agency.AddressSize)
	}
	if err := checkMemoSize(params, d.body.Memo); err != nil {
		return nil, err
	}
	if err := checkMemo(d.body.Memo); err != nil {
		return nil, err
	}
	if len(d.body.Messages) == 0 {
		return nil, ErrNoMessages.Wrapf("add at least one message")
	}
	if err := checkMessageCount(params, len(d.body.Messages)); err != nil {
		return nil, err
	}
	if err := checkMaxUnits(params, d.body.MaxUnits); err != nil {
		return nil, err
	}
	if own := api.TxOwnUnits(len(raw)); d.body.MaxUnits != 0 && d.body.MaxUnits < own {
		return nil, ErrUnitsBelowOwn.Wrapf("max_units %d is below the %d units the transaction is charged for its base and %d bytes before any message runs; declare more, or 0 for the limit its messages' routes give", d.body.MaxUnits, own, len(raw))
	}
	for i, m := range d.body.Messages {
		r, err := a.validateBasic(m)
		if err != nil {
			return nil, fmt.Errorf("message %d: %w", i, err)
		}
		d.msgUnits = addUnits(d.msgUnits, messageUnits(r, inner(m)))
		d.routes = append(d.routes, r)
		// A rotate_key's proof of possession needs no state: refused here,
		// a bad one never reaches the mempool or a block, so it cannot
		// spend the signer's nonce or the block's space.
		if r, ok := m.Sum.(*txv1.Msg_RotateKey); ok {
			if err := agency.VerifyKeyProof(d.body.ChainId, d.body.Signer, r.RotateKey); err != nil {
				return nil, fmt.Errorf("message %d: %w", i, err)
			}
		}
	}
	return d, nil
}

// The checks of decode that depend on params; decodeCached repeats them
// for a transaction decoded earlier under other params.

func checkTxSize(params *appv1.Params, n int) error {
	if max := params.MaxTxBytes; uint64(n) > max {
		return ErrTxTooLarge.Wrapf("transaction is %d bytes; the limit is %d", n, max)
	}
	return nil
}

func checkMemoSize(params *appv1.Params, memo string) error {
	if max := params.MaxMemoBytes; uint32(len(memo)) > max {
		return ErrMemoTooLarge.Wrapf("memo is %d bytes; the limit is %d", len(memo), max)
	}
	return nil
}

func checkMessageCount(params *appv1.Params, n int) error {
	if uint32(n) > params.MaxMessages {
		return ErrTooManyMessages.Wrapf("%d messages; the limit is %d", n, params.MaxMessages)
	}
	return nil
}

// checkMaxUnits refuses a declared unit limit above max_tx_units: no
// transaction may use more, and a proposer counting it higher would
// reserve block room it can never use.
func checkMaxUnits(params *appv1.Params, declared uint64) error {
	if declared > params.MaxTxUnits {
		return ErrUnitsAboveMax.Wrapf("max_units %d is above the chain's max_tx_units %d; declare at most that, or split the work into smaller transactions", declared, params.MaxTxUnits)
	}
	return nil
}

// authenticate checks a decoded transaction against state at height: chain,
// timeout window, signer, signature, replay and role, in that order. It
// reads state and never writes it.
func (a *App) authenticate(kv store.KV, r rules, d *decodedTx, height int64) (*agencyv1.Account, error) {
	b := d.body
	if b.ChainId != r.chainID {
		return nil, ErrWrongChain.Wrapf("transaction is for chain %s; this is %q", api.Quote(b.ChainId), r.chainID)
	}
	h := uint64(height)
	if b.TimeoutHeight < h {
		return nil, ErrTimeoutExpired.Wrapf("timeout_height %d is below the current height %d; rebuild the transaction with a later timeout", b.TimeoutHeight, h)
	}
	if b.TimeoutHeight > h+r.params.TimeoutWindow {
		return nil, ErrTimeoutTooFar.Wrapf("timeout_height %d is more than %d blocks above the current height %d", b.TimeoutHeight, r.params.TimeoutWindow, h)
	}
	account, agencyOf := a.agency.Account, a.agency.Agency
	if r.shared {
		account, agencyOf = a.sharedAccount, a.sharedAgency
	}
	acc, err := account(kv, b.Signer)
	if err != nil {
		return nil, ErrUnknownSigner.Wrapf("no account %s; an agency admin must add it first", hex.EncodeToString(b.Signer))
	}
	if acc.Status != agencyv1.Status_STATUS_ACTIVE {
		return nil, ErrInactiveSigner.Wrapf("account %s is %s", hex.EncodeToString(b.Signer), agency.StatusName(acc.Status))
	}
	ag, err := agencyOf(kv, acc.AgencyId)
	if err != nil {
		return nil, err
	}
	if ag.Status != agencyv1.Status_STATUS_ACTIVE {
		return nil, ErrInactiveSigner.Wrapf("account %s belongs to agency %q, which is %s", hex.EncodeToString(b.Signer), ag.Id, agency.StatusName(ag.Status))
	}
	if !a.sigs.verify(d, acc.PubKey) {
		return nil, ErrBadSignature.Wrapf("signature over body_bytes does not verify with the current key of account %s; check the key and chain id", hex.EncodeToString(b.Signer))
	}
	if nonceUsed(kv, b.Signer, b.Nonce, b.TimeoutHeight) {
		return nil, ErrReplay.Wrapf("account %s already used nonce %d with timeout height %d; this transaction was already included, or sign a new one with a fresh nonce", hex.EncodeToString(b.Signer), b.Nonce, b.TimeoutHeight)
	}
	for i, m := range b.Messages {
		role, ok := d.role(a.table, i)
		if !ok {
			return nil, ErrUnauthorized.Wrapf("message %d (%T) has no entry in the permission table", i, m.Sum)
		}
		if role != module.AnyActiveAccount && !agency.HasRole(acc, role) {
			return nil, ErrUnauthorized.Wrapf("message %d needs role %s; account %s does not hold it", i, agency.RoleName(role), hex.EncodeToString(b.Signer))
		}
	}
	return acc, nil
}

// role is the role message i of d needs (requiredRole), from the route
// decode found for it.
func (d *decodedTx) role(t *module.Table, i int) (agencyv1.Role, bool) {
	if i < len(d.routes) {
		return d.routes[i].Role, true
	}
	return requiredRole(t, d.body.Messages[i])
}

// checkMemo refuses a memo that is not empty or a 32-byte commitment in
// lower-case hex (api.CheckMemo, which a client checks before sending),
// with ErrMemoNotCommitment.
func checkMemo(memo string) error {
	if err := api.CheckMemo(memo); err != nil {
		return ErrMemoNotCommitment.Wrapf("%v", err)
	}
	return nil
}

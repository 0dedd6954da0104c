package app

import (
	"bytes"
	"slices"

	"github.com/tallyledger/tally/api"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/agency"
)

// screen decides, for PrepareProposal and ProcessProposal, which proposed
// transactions may be in block height: an entry is nil where the
// transaction must not be. A transaction must decode, its signer must have
// an account at its point of the block, and its signature must verify with
// that account's key at that point. Otherwise a proposer could fill blocks
// with transactions from made-up signers, which cost every node their
// bytes and a failed result.
//
// "At that point" counts accounts added and keys rotated by earlier
// transactions of the same proposal. screen follows them on a scratch cache
// over the committed state, never written back: in block order, each
// transaction that passes and authenticates as it would in FinalizeBlock
// (active signer, roles, unused nonce) has its nonce spent and its
// add_member and rotate_key messages applied to the scratch accounts. This
// reads a handful of keys per transaction and runs no handler, so it can
// be more lenient than the block (a transaction that will fail for
// another reason still counts), never stricter; and PrepareProposal drops
// exactly what it refuses, so the list an honest proposer sends passes
// every validator's screen.
func (a *App) screen(txs [][]byte, height int64) []*decodedTx {
	return a.newScreener(height).next(txs)
}

// screener is screen in steps: next screens the transactions that follow
// those it screened before, so PrepareProposal can stop once its block is
// full instead of screening the whole mempool (which CometBFT hands it
// whole, up to the block's max_bytes: several blocks' worth under load).
type screener struct {
	a      *App
	view   *store.Cache // scratch over the committed state: never written
	height int64
}

func (a *App) newScreener(height int64) *screener {
	return &screener{a: a, view: store.NewCache(a.store), height: height}
}

// next screens txs, which follow the transactions of earlier calls in the
// proposal; see screen.
func (s *screener) next(txs [][]byte) []*decodedTx {
	a, view := s.a, s.view
	decoded, errs := a.decodeAll(txs)
	a.preverify(decoded)
	for i, d := range decoded {
		if errs[i] != nil {
			decoded[i] = nil
			continue
		}
		acc, err := a.agency.Account(view, d.body.Signer)
		if err != nil || !a.sigs.verify(d, acc.PubKey) {
			decoded[i] = nil
			continue
		}
		if signer, err := a.authenticate(view, a.blockRules(), d, s.height); err == nil {
			spendNonce(view, d.body.Signer, d.body.Nonce, d.body.TimeoutHeight)
			a.followAccounts(view, signer, d.body.Messages)
		}
	}
	return decoded
}

// followAccounts applies, on screen's scratch view, the account changes a
// transaction's messages would make that decide who can sign later in the
// block: members added and the signer's key rotated. The checks are the
// handlers' cheap ones (no account at the address, key not in use).
func (a *App) followAccounts(view store.KV, signer *agencyv1.Account, msgs []*txv1.Msg) {
	for _, m := range msgs {
		switch m := m.Sum.(type) {
		case *txv1.Msg_AddMember:
			pub := m.AddMember.PubKey
			addr := agency.AddressOf(pub)
			if view.Has(api.AccountKey(addr)) || a.agency.KeyHolder(view, pub) != nil {
				continue
			}
			acc := &agencyv1.Account{Address: addr, PubKey: slices.Clone(pub), AgencyId: signer.AgencyId, Roles: m.AddMember.Roles, Status: agencyv1.Status_STATUS_ACTIVE}
			putAccount(view, acc, nil)
		case *txv1.Msg_RotateKey:
			pub := m.RotateKey.NewPubKey
			if a.agency.KeyHolder(view, pub) != nil {
				continue
			}
			acc, err := a.agency.Account(view, signer.Address)
			if err != nil || bytes.Equal(acc.PubKey, pub) {
				continue
			}
			old := acc.PubKey
			acc.PubKey = slices.Clone(pub)
			putAccount(view, acc, old)
		}
	}
}

// putAccount writes an account and its key index on screen's scratch view,
// dropping the index of the key it replaced.
func putAccount(view store.KV, acc *agencyv1.Account, oldKey []byte) {
	if err := store.SetProto(view, api.AccountKey(acc.Address), acc); err != nil {
		return // cannot happen for a well-formed account; the view is scratch anyway
	}
	if oldKey != nil {
		view.Delete(api.PubKeyKey(oldKey))
	}
	view.Set(api.PubKeyKey(acc.PubKey), acc.Address)
}

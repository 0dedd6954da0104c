package app

import (
	"bytes"
	"slices"

	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/tallyledger/tally/api"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
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
	return a.newScreener(height).next(txs, nil)
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

// pick is a proposer's choice about a transaction that passed the screen:
// put it in the block here, leave it out of the block, or leave it and
// every transaction after it out (the block is full).
type pick int

const (
	take pick = iota
	leave
	stop
)

// next screens txs, which follow the transactions of earlier calls in the
// proposal; see screen. With choose, each transaction that passes is
// offered to it in order, and only those it takes count as in the block:
// one it leaves out has its nonce and account changes not followed, so a
// later transaction that needs them (a new member's, one signed with a
// rotated key) fails the screen, as it would in every validator's. After a
// stop, next screens nothing more; the entries after it are unscreened.
func (s *screener) next(txs [][]byte, choose func(*decodedTx) pick) []*decodedTx {
	a, view := s.a, s.view
	decoded, errs := a.decodeAll(txs)
	a.preverify(decoded)
	for i, d := range decoded {
		if errs[i] != nil {
			decoded[i] = nil
			continue
		}
		acc, err := a.sharedAccount(view, d.body.Signer)
		if err != nil || !a.sigs.verify(d, acc.PubKey) {
			decoded[i] = nil
			continue
		}
		if choose != nil {
			switch choose(d) {
			case leave:
				continue
			case stop:
				return decoded
			}
		}
		r := a.blockRules()
		r.shared = true // followAccounts changes copies it reads itself
		if signer, err := a.authenticate(view, r, d, s.height); err == nil {
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

// blockFill is what a proposer puts in its block, and how: the mempool's
// transactions in order, each counted at its unit limit, in rounds. In
// each round a signer's transactions are taken while they count as at most
// the round's cap (share, 2·share, …: blockShare a round) for that signer
// in the block; the rest are left for the next round, which goes over
// them again in their order. Once one of a signer's transactions is left
// in a round, so are its later ones, even if smaller: a signer's
// transactions stay in its order in the block, so one that needs an
// earlier one of the same signer (an offer of the item it registered)
// never runs before it. So every signer waiting gets a share of the
// block before any signer gets a second one, and the block still fills
// when few signers wait: nothing is left out while room remains. A
// transaction that does not fit (bytes or units) ends the block, as it did
// before shares, whoever's it is: what is left, and what follows, stays in
// the mempool for later blocks, never dropped.
//
// Without shares, the mempool's order decides: about three signers
// declaring max_tx_units on cheap transactions (or one with many of them)
// at the head of every proposer's mempool fill every block at no cost
// (there are no fees), and everyone else waits. With them, one signer gets
// at most blockShare of a block while others wait.
//
// Rounds end: a transaction is left in round k only if its signer already
// has more than (k-1)·share in the block (it had when its first one was
// left), so with share at least a fifth of max_block_units no transaction
// is left after the fifth round, and each round only goes over what the
// one before left.
type blockFill struct {
	params   *appv1.Params
	maxBytes int64
	share    uint64 // blockShare
	cap      uint64 // what a signer may have in the block this round
	taken    map[string]uint64
	left     [][]byte            // left out this round, for the next
	leaving  map[string]struct{} // signers with a transaction left this round; nil until one is

	txs   [][]byte
	size  int64
	units uint64
	full  bool
}

func newBlockFill(params *appv1.Params, maxBytes int64, n int) *blockFill {
	share := blockShare(params)
	return &blockFill{params: params, maxBytes: maxBytes, share: share, cap: share, taken: map[string]uint64{}, txs: make([][]byte, 0, min(n, proposalBatch))}
}

// blockShare is what one signer's transactions may count as in a block
// while others' wait: a fifth of max_block_units, like the fifth of the
// mempool's work one signer may have waiting (signerUnits), and never less
// than one max_tx_units transaction, so that any transaction a signer may
// send gets in in its first round, however full the mempool is of others'.
// With the default limits that is 10,000,000 units, a third of a block:
// others always have two thirds.
func blockShare(params *appv1.Params) uint64 {
	return max(params.MaxBlockUnits/signerShare, params.MaxTxUnits)
}

// choose ends the block if d does not fit in it, leaves d for the next
// round if its signer's share of this round has no room for it, and takes
// it otherwise. The block's room is looked at first, as before shares, so
// that a proposer still screens only as far as its block reaches: one
// signer's many transactions are passed over (left) only while the block
// has room for them.
func (f *blockFill) choose(d *decodedTx) pick {
	units := unitLimit(f.params, d)
	size := f.size + cmttypes.ComputeProtoSizeForTxs([]cmttypes.Tx{d.raw}) // counted as CometBFT counts: with protobuf framing
	if size > f.maxBytes || addUnits(f.units, units) > f.params.MaxBlockUnits {
		f.full = true
		return stop
	}
	taken := addUnits(f.taken[string(d.body.Signer)], units) // m[string(b)] does not copy b
	_, leaving := f.leaving[string(d.body.Signer)]
	if taken > f.cap || leaving {
		if f.leaving == nil {
			f.leaving = map[string]struct{}{}
		}
		f.leaving[string(d.body.Signer)] = struct{}{}
		f.left = append(f.left, d.raw)
		return leave
	}
	f.size, f.units = size, addUnits(f.units, units)
	f.taken[string(d.body.Signer)] = taken
	f.txs = append(f.txs, d.raw)
	return take
}

// nextRound returns what this round left, raising the cap by a share.
func (f *blockFill) nextRound() [][]byte {
	left := f.left
	f.left, f.leaving = nil, nil
	f.cap = addUnits(f.cap, f.share)
	return left
}

package app

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	abci "github.com/cometbft/cometbft/abci/types"
	cmtcrypto "github.com/cometbft/cometbft/proto/tendermint/crypto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/module"
)

// Query answers reads of committed state, with Merkle proofs when asked.
func (a *App) Query(_ context.Context, req *abci.RequestQuery) (*abci.ResponseQuery, error) {
	if res, ok := a.filterPeer(req.Path); ok {
		return res, nil
	}
	ok, retry, done := a.queries.query()
	if !ok {
		space, code, log := module.CodeOf(BusyRetry(retry))
		return &abci.ResponseQuery{Code: code, Codespace: space, Log: log, Height: req.Height}, nil
	}
	res, err := a.query(req)
	done()
	if err != nil {
		space, code, log := module.CodeOf(err)
		return &abci.ResponseQuery{Code: code, Codespace: space, Log: log, Height: req.Height}, nil
	}
	return res, nil
}

func (a *App) query(req *abci.RequestQuery) (*abci.ResponseQuery, error) {
	height, _ := a.store.LastCommit()
	if req.Height > 0 {
		if req.Height > height {
			return nil, ErrInvalidQuery.Wrapf("height %d is not committed yet; the latest is %d", req.Height, height)
		}
		height = req.Height
	}
	if height == 0 {
		return nil, ErrNotReady.Wrapf("no state is committed yet; ask again after the first block")
	}
	q := Query{Path: req.Path, Data: req.Data, Height: height, Prove: req.Prove}
	if r, ok := api.RouteOf(req.Path); ok && r.Answer == api.Page {
		lr, err := api.ParseList(req.Data)
		if err != nil {
			return nil, ErrInvalidQuery.Wrapf("%s is a listing: %v", req.Path, err)
		}
		q.Data, q.After, q.Limit = lr.Arg, lr.After, api.PageLimit(lr.Limit)
	}
	switch req.Path {
	case api.PathKey:
		if len(req.Data) == 0 {
			return nil, ErrInvalidQuery.Wrapf("give the state key to read as the query data")
		}
		return a.single(req.Data, height, req.Prove)
	case api.PathParams:
		return a.single(api.ParamsKey(), height, req.Prove)
	case api.PathInvariants:
		return a.queryInvariants(q)
	}
	for _, r := range routes {
		if r.query != nil && strings.HasPrefix(req.Path, "/"+r.name+"/") {
			return r.query(a, q)
		}
	}
	return nil, ErrUnknownQuery.Wrapf("no query path %s; see the README's query section", api.Quote(req.Path))
}

// single answers a one-key read at height.
func (a *App) single(key []byte, height int64, prove bool) (*abci.ResponseQuery, error) {
	res := &abci.ResponseQuery{Key: key, Height: height}
	if !prove {
		v, err := a.store.GetAt(height, key)
		if err != nil {
			return nil, ErrInvalidQuery.Wrapf("height %d: %v", height, err)
		}
		res.Value = v
	} else {
		v, proof, err := a.proof(key, height)
		if err != nil {
			return nil, err
		}
		res.Value = v
		res.ProofOps = &cmtcrypto.ProofOps{Ops: []cmtcrypto.ProofOp{{Type: api.ProofOpType, Key: key, Data: proof}}}
	}
	if res.Value == nil {
		res.Code = ErrNotFound.Code
		res.Codespace = ErrNotFound.Codespace
		res.Log = ErrNotFound.Wrapf("no record at this key at height %d", height).Error()
	}
	return res, nil
}

func (a *App) proof(key []byte, height int64) ([]byte, []byte, error) {
	v, p, err := a.store.Prove(height, key)
	if err != nil {
		return nil, nil, ErrInvalidQuery.Wrapf("proving at height %d: %v", height, err)
	}
	bz, err := p.Marshal()
	if err != nil {
		return nil, nil, fmt.Errorf("encoding proof: %w", err)
	}
	return v, bz, nil
}

// list answers one page of the listing q names (q.Data is its arg; q.After,
// q.Limit), laid out as the contract's route table describes it
// (api.Route.Listing), the same description a client checks the page
// against: the records that the index keys under its prefix point at, each
// with its own proof when asked, after its head records (a listing's own
// record, if any). Every listing is paged the same way (api.Page): a page
// says whether it is the last (complete), and with proofs asked for, it
// also proves that it leaves no record out (rangeProofs). The route's
// handler has refused a malformed arg with its module's code first.
func (a *App) list(q Query) (*abci.ResponseQuery, error) {
	r, _ := api.RouteOf(q.Path)
	if r.Listing == nil {
		return nil, fmt.Errorf("%s is not a key-range listing in the contract's route table", q.Path)
	}
	l, ok := r.Listing(q.Data)
	if !ok {
		return nil, ErrInvalidQuery.Wrapf("the argument names no listing of %s", q.Path)
	}
	if len(q.After) > 0 && !bytes.HasPrefix(q.After, l.Prefix) {
		return nil, ErrInvalidQuery.Wrapf("the continuation key is not from this listing; give the next_key of the previous page of the same query")
	}
	p, err := a.pageKeys(l.Prefix, q.After, q.Height, q.Limit, l.Record)
	if err != nil {
		return nil, ErrInvalidQuery.Wrapf("height %d: %v", q.Height, err)
	}
	return a.answerPage(p, l.Head, q.Height, q.Prove)
}

// loadChainState reads the chain id and params saved at genesis.
func (a *App) loadChainState(kv store.KV) error {
	a.chainID = string(kv.Get(api.ChainIDKey()))
	p, err := module.Params(kv, api.ParamsKey(), DefaultParams)
	if err != nil {
		return err
	}
	a.params = p
	return nil
}

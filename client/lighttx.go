package client

import (
	"bytes"
	"context"
	"fmt"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	ctypes "github.com/cometbft/cometbft/rpc/core/types"
	"github.com/cometbft/cometbft/types"

	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
)

// DefaultTimeoutBlocks is how many blocks past the newest verified header
// Send lets a transaction wait for inclusion (the chain allows up to its
// timeout_window, 600 by default).
const DefaultTimeoutBlocks = 100

// VerifiedTx is a committed transaction whose inclusion and result code the
// light client checked: the transaction is in the data of verified header
// Height (a Merkle proof against its DataHash), and the block's results
// match the LastResultsHash of verified header Height+1.
type VerifiedTx struct {
	Hash   []byte
	Height int64
	Index  uint32
	// Code and Data are covered by LastResultsHash. Codespace, Log and
	// Events are not part of any header hash: they are as the primary
	// reported them.
	Code      uint32
	Data      []byte
	Codespace string
	Log       string
	Events    []abci.Event
	// BlockHash is header Height's hash; ResultsHeaderHash is header
	// Height+1's, whose LastResultsHash covers the result.
	BlockHash         []byte
	ResultsHeaderHash []byte
	Primary           string
	Witnesses         []string
}

// Send builds a transaction for this chain (chain id from the verified
// headers; TimeoutHeight, when zero, DefaultTimeoutBlocks past the newest
// verified header), signs it, broadcasts it and waits for its verified
// inclusion.
func (c *LightClient) Send(ctx context.Context, opts TxOptions, sign Signer, msgs ...*txv1.Msg) (*VerifiedTx, error) {
	opts.ChainID = c.chainID
	if opts.TimeoutHeight == 0 {
		lb, err := c.fresh(ctx)
		if err != nil {
			return nil, err
		}
		opts.TimeoutHeight = uint64(lb.Height) + DefaultTimeoutBlocks
	}
	tx, err := BuildTx(opts, sign, msgs...)
	if err != nil {
		return nil, err
	}
	return c.Broadcast(ctx, tx)
}

// Broadcast sends tx to the primary with broadcast_tx_sync and waits for
// its verified inclusion (see WaitTx). A CheckTx refusal is a *TxError
// without height; it says only that this node would not take the
// transaction (send it to another node if you suspect the node).
func (c *LightClient) Broadcast(ctx context.Context, tx []byte) (*VerifiedTx, error) {
	n := c.primaryNode()
	res, err := n.c.RPC.BroadcastTxSync(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("broadcast to %s: %w", n.addr, err)
	}
	if res.Code != abci.CodeTypeOK {
		return nil, &TxError{Codespace: res.Codespace, Code: res.Code, Log: res.Log}
	}
	return c.WaitTx(ctx, tx)
}

// WaitTx waits until tx is committed, then checks with verified headers
// that it is in its block and what its result code was. A transaction that
// failed in its block returns the VerifiedTx with a *TxError.
func (c *LightClient) WaitTx(ctx context.Context, tx []byte) (*VerifiedTx, error) {
	hash := TxHash(tx)
	var r *ctypes.ResultTx
	for {
		var err error
		if r, err = c.primaryNode().c.RPC.Tx(ctx, hash, true); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("transaction %X not committed before the deadline: %w", hash, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	hdr, err := c.Header(ctx, r.Height)
	if err != nil {
		return nil, err
	}
	if err := r.Proof.Validate(hdr.DataHash); err != nil || !bytes.Equal(r.Proof.Data, tx) || r.Proof.Proof.Index != int64(r.Index) {
		return nil, &Refusal{Check: CheckTxInclusion, Reason: fmt.Sprintf(
			"the primary says transaction %X is number %d of block %d, but its proof does not place it there in verified header %d (%v)",
			hash, r.Index, r.Height, r.Height, err)}
	}
	next, err := c.Header(ctx, r.Height+1)
	if err != nil {
		return nil, err
	}
	n := c.primaryNode()
	br, err := n.c.RPC.BlockResults(ctx, &r.Height)
	if err != nil {
		return nil, fmt.Errorf("results of block %d from %s: %w", r.Height, n.addr, err)
	}
	if got := types.NewResults(br.TxsResults).Hash(); !bytes.Equal(got, next.LastResultsHash) {
		return nil, &Refusal{Check: CheckTxResult, Reason: fmt.Sprintf(
			"the results of block %d from the primary hash to %X, but verified header %d commits to %X", r.Height, got, next.Height, next.LastResultsHash)}
	}
	if int(r.Index) >= len(br.TxsResults) {
		return nil, &Refusal{Check: CheckTxResult, Reason: fmt.Sprintf("block %d has %d results, none for index %d", r.Height, len(br.TxsResults), r.Index)}
	}
	res := br.TxsResults[r.Index]
	if res.Code != r.TxResult.Code {
		return nil, &Refusal{Check: CheckTxResult, Reason: fmt.Sprintf(
			"the primary reported code %d for the transaction, but the block's verified results say %d", r.TxResult.Code, res.Code)}
	}
	vt := &VerifiedTx{
		Hash: hash, Height: r.Height, Index: r.Index, Code: res.Code, Data: res.Data, Codespace: res.Codespace, Log: res.Log,
		Events: res.Events, BlockHash: hdr.Hash(), ResultsHeaderHash: next.Hash(), Primary: n.addr, Witnesses: c.Witnesses(),
	}
	if res.Code != abci.CodeTypeOK {
		return vt, &TxError{Codespace: res.Codespace, Code: res.Code, Log: res.Log, Height: r.Height}
	}
	return vt, nil
}

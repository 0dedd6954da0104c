package node

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	cmtbytes "github.com/cometbft/cometbft/libs/bytes"
	"github.com/cometbft/cometbft/rpc/core"
	rpcserver "github.com/cometbft/cometbft/rpc/jsonrpc/server"
	rpctypes "github.com/cometbft/cometbft/rpc/jsonrpc/types"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/x/module"
)

// BlockOutcomesRoute is the node's RPC method answering what became of each
// transaction of one block (BlockOutcomes): one call, where a client that
// follows its transactions into blocks otherwise asks `block` (for the
// transactions, to hash them) and `block_results` (for their results).
//
// It exists for the node's sake as much as the client's: CometBFT encodes
// every result of `block_results` with its events through gogoproto's
// reflective jsonpb, and a node serving each block's results to one
// watching client at 1,300 tx/s spent 3.0 s of its 20.5 s of CPU in 45 s
// on that encoding alone (README, "Measuring"). This answer leaves out the
// events and the transaction bytes, and is encoded by encoding/json.
//
// Its answer is at most MaxBlockOutcomesBytes of the chain's
// max_block_units long.
const BlockOutcomesRoute = "block_outcomes"

// MinTxBytes is the fewest bytes a transaction a block holds can have: a
// Tx's signature (64 bytes) and body_bytes, each with its field's tag and
// length, the body holding the signer's address (20 bytes) and at least
// one message (a Msg with its oneof set: at least its tag and length),
// each with tag and length. Shorter bytes do not decode (app's
// decodeHashed refuses a missing signature, signer or message), and
// ProcessProposal rejects a block with a transaction that does not decode.
const MinTxBytes = 94

// MaxBlockTxs is the most transactions a block can hold when the chain's
// max_block_units is maxBlockUnits. ProcessProposal rejects a block whose
// transactions' unit limits (app's unitLimit) add up to more, and a
// transaction's limit is at least its own units (api.TxOwnUnits: its base
// and bytes) or max_tx_units, whichever is less; max_tx_units is at least
// 100,000 (app.ValidateParams), above the own units of MinTxBytes (1,940).
// At the default max_block_units, 30,000,000: 15,463.
func MaxBlockTxs(maxBlockUnits uint64) uint64 {
	return maxBlockUnits / api.TxOwnUnits(MinTxBytes)
}

// maxCodespaceBytes bounds a result's codespace: the name a module
// registered its errors under (module.Register; the longest,
// "provenance", is 10).
const maxCodespaceBytes = 16

// MaxBlockOutcomesBytes is the longest answer BlockOutcomesRoute gives, with
// its JSON-RPC envelope for a numeric id, when the chain's max_block_units is
// maxBlockUnits: a header, and MaxBlockTxs transactions each at its
// longest. An entry is a 64-character hash, a code of at most 10 digits,
// a codespace of at most maxCodespaceBytes, a log of at most
// module.MaxLogBytes which JSON writes in at most six bytes a byte (<, >, &
// and control characters as \u00XX, a byte of broken UTF-8 as \ufffd), and
// units of at most 20 characters each. At the default max_block_units,
// 30,000,000, that is 98,159,264 bytes (94 MiB): a block of 15,463 of the
// smallest transactions, each failed with a log of 1,024 bytes of
// characters JSON escapes (TestBlockOutcomesAtTheLargestBlockAreWithin-
// TheirBound encodes such a block: 93,937,857 bytes). An honest full
// block's answer is far smaller (a failed transaction's log is a sentence,
// and a transaction that succeeds has none). The bound counts on every
// result's log coming from module.CodeOf, as app's failed makes them.
func MaxBlockOutcomesBytes(maxBlockUnits uint64) uint64 {
	const (
		envelope = len(`{"jsonrpc":"2.0","id":`) + 20 + len(`,"result":`) + len(`}`)
		header   = len(`{"height":"`) + 20 + len(`","time":"`) + len(time.RFC3339Nano) + len(`","txs":[`) + len(`]}`)
		entry    = len(`{"hash":"`) + 64 + len(`","code":`) + 10 + len(`,"codespace":"`) + maxCodespaceBytes +
			len(`","log":"`) + 6*module.MaxLogBytes + len(`","gas_wanted":"`) + 20 + len(`","gas_used":"`) + 20 + len(`"},`)
	)
	n, fixed, each := MaxBlockTxs(maxBlockUnits), uint64(envelope+header), uint64(entry)
	if n > (math.MaxUint64-fixed)/each {
		return math.MaxUint64
	}
	return fixed + n*each
}

// BlockOutcomes is BlockOutcomesRoute's answer: block Height's header time
// and, in block order, each transaction's hash and result.
type BlockOutcomes struct {
	Height int64       `json:"height,string"`
	Time   time.Time   `json:"time"`
	Txs    []TxOutcome `json:"txs"`
}

// TxOutcome is one transaction's hash (SHA-256 of its bytes, upper-case
// hex as CometBFT writes hashes) and its result as `block_results` reports
// it, without events.
type TxOutcome struct {
	Hash      string `json:"hash"`
	Code      uint32 `json:"code"`
	Codespace string `json:"codespace,omitempty"`
	Log       string `json:"log,omitempty"`
	GasWanted int64  `json:"gas_wanted,string"`
	GasUsed   int64  `json:"gas_used,string"`
}

// MarshalJSON encodes o with encoding/json. Without it CometBFT's RPC
// server would walk the answer with its own reflective encoder (the
// tags above, int64 as strings, are what that encoder writes too).
func (o *BlockOutcomes) MarshalJSON() ([]byte, error) {
	type plain BlockOutcomes
	return json.Marshal((*plain)(o))
}

// blockOutcomesRoute answers BlockOutcomesRoute from the node's block store
// and state store, with `block`'s and `block_results`'s rules for the
// height: none is the latest; one above the latest, or below the lowest
// the node keeps, is refused with the same message CometBFT gives.
func blockOutcomesRoute(env *core.Environment) *rpcserver.RPCFunc {
	return rpcserver.NewRPCFunc(func(_ *rpctypes.Context, heightPtr *int64) (*BlockOutcomes, error) {
		latest := env.BlockStore.Height()
		height := latest
		if heightPtr != nil {
			height = *heightPtr
			switch base := env.BlockStore.Base(); {
			case height <= 0:
				return nil, fmt.Errorf("height must be greater than 0, but got %d", height)
			case height > latest:
				return nil, fmt.Errorf("height %d must be less than or equal to the current blockchain height %d", height, latest)
			case height < base:
				return nil, fmt.Errorf("height %d is not available, lowest height is %d", height, base)
			}
		}
		block := env.BlockStore.LoadBlock(height)
		if block == nil {
			return nil, fmt.Errorf("block %d is not stored on this node", height)
		}
		results, err := env.StateStore.LoadFinalizeBlockResponse(height)
		if err != nil {
			return nil, fmt.Errorf("the results of block %d: %w", height, err)
		}
		if len(results.TxResults) != len(block.Txs) {
			return nil, fmt.Errorf("block %d has %d transactions but %d results", height, len(block.Txs), len(results.TxResults))
		}
		out := &BlockOutcomes{Height: height, Time: block.Time.UTC(), Txs: make([]TxOutcome, len(block.Txs))}
		for i, tx := range block.Txs {
			r := results.TxResults[i]
			out.Txs[i] = TxOutcome{
				Hash: cmtbytes.HexBytes(tx.Hash()).String(), Code: r.Code, Codespace: r.Codespace, Log: r.Log,
				GasWanted: r.GasWanted, GasUsed: r.GasUsed,
			}
		}
		return out, nil
	}, "height")
}

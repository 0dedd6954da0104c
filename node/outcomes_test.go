package node_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	rpcclient "github.com/cometbft/cometbft/rpc/jsonrpc/client"
	rpctypes "github.com/cometbft/cometbft/rpc/jsonrpc/types"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/client"
	"github.com/tallyledger/tally/node"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/x/module"
)

// block_outcomes answers one block's transactions with their hashes and
// results: the same as block and block_results for a committed
// transaction (the load's watcher test compares whole runs of blocks, with
// failed transactions), the latest block without a height, and the
// heights those methods refuse, refused with their messages.
func TestBlockOutcomesAnswersAsBlockAndBlockResults(t *testing.T) {
	_, adminKey, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	n, rpcAddr := startNode(t, t.TempDir(), adminKey)
	t.Cleanup(func() { require.NoError(t, n.Shutdown()) })
	c, err := client.Dial(rpcAddr)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	require.Eventually(t, func() bool { _, h, err := c.Status(ctx); return err == nil && h >= 2 }, 30*time.Second, 50*time.Millisecond)
	chainID, _, err := c.Status(ctx)
	require.NoError(t, err)

	tx := memberTx(ctx, t, c, chainID, adminKey)
	res, err := c.BroadcastAndWait(ctx, tx)
	require.NoError(t, err)
	rc, err := rpcclient.New(rpcAddr)
	require.NoError(t, err)
	var got node.BlockOutcomes
	_, err = rc.Call(ctx, node.BlockOutcomesRoute, map[string]any{"height": res.Height}, &got)
	require.NoError(t, err)
	block, err := c.RPC.Block(ctx, &res.Height)
	require.NoError(t, err)
	results, err := c.RPC.BlockResults(ctx, &res.Height)
	require.NoError(t, err)
	require.Equal(t, res.Height, got.Height)
	require.True(t, block.Block.Time.Equal(got.Time), "header time %s, block_outcomes %s", block.Block.Time, got.Time)
	require.Len(t, got.Txs, len(block.Block.Txs))
	require.Len(t, got.Txs, 1)
	want := results.TxsResults[0]
	require.Equal(t, node.TxOutcome{Hash: fmt.Sprintf("%X", block.Block.Txs[0].Hash()), Code: want.Code, Codespace: want.Codespace, Log: want.Log,
		GasWanted: want.GasWanted, GasUsed: want.GasUsed}, got.Txs[0])
	require.Equal(t, fmt.Sprintf("%X", client.TxHash(tx)), got.Txs[0].Hash)
	require.Zero(t, got.Txs[0].Code)
	require.Positive(t, got.Txs[0].GasUsed)

	// No height: the latest block.
	var latest node.BlockOutcomes
	_, err = rc.Call(ctx, node.BlockOutcomesRoute, map[string]any{}, &latest)
	require.NoError(t, err)
	require.GreaterOrEqual(t, latest.Height, res.Height)

	// Heights block_results refuses, refused with its messages.
	for h, want := range map[int64]string{
		0:                         "height must be greater than 0, but got 0",
		-1:                        "height must be greater than 0, but got -1",
		latest.Height + 1_000_000: "must be less than or equal to the current blockchain height",
	} {
		_, err := rc.Call(ctx, node.BlockOutcomesRoute, map[string]any{"height": h}, &got)
		require.ErrorContains(t, err, want, "height %d", h)
		_, err = c.RPC.BlockResults(ctx, &h)
		require.ErrorContains(t, err, want, "block_results at height %d", h)
	}
}

// block_outcomes's answer is at most MaxBlockOutcomesBytes, checked at the
// largest block of the default params: MaxBlockTxs of the smallest
// transactions (MinTxBytes: a signature, a signer and one empty message
// encode in 94 bytes), each with the longest codespace registered, the
// largest code and units, and the longest log module.CodeOf gives, made
// of the character JSON writes longest (< as \u003c), encoded as the node
// encodes it and wrapped as CometBFT's RPC server wraps it.
func TestBlockOutcomesAtTheLargestBlockAreWithinTheirBound(t *testing.T) {
	smallest, err := proto.Marshal(&txv1.TxBody{Signer: make([]byte, api.AddressSize),
		Messages: []*txv1.Msg{{Sum: &txv1.Msg_AddMember{AddMember: &agencyv1.MsgAddMember{}}}}})
	require.NoError(t, err)
	smallest, err = proto.Marshal(&txv1.Tx{BodyBytes: smallest, Signature: make([]byte, ed25519.SignatureSize)})
	require.NoError(t, err)
	require.Len(t, smallest, node.MinTxBytes)
	n := node.MaxBlockTxs(app.DefaultMaxBlockUnits)
	require.EqualValues(t, 15_463, n)
	require.Greater(t, api.TxOwnUnits(node.MinTxBytes)*(n+1), uint64(app.DefaultMaxBlockUnits), "one more would not fit")

	var codespace string
	for _, e := range module.Registered() {
		if len(e.Codespace) > len(codespace) {
			codespace = e.Codespace
		}
	}
	require.Equal(t, "provenance", codespace)
	_, _, log := module.CodeOf(errors.New(strings.Repeat("<", 100_000)))
	require.Len(t, log, module.MaxLogBytes)

	out := &node.BlockOutcomes{Height: math.MaxInt64, Time: time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC), Txs: make([]node.TxOutcome, n)}
	for i := range out.Txs {
		out.Txs[i] = node.TxOutcome{Hash: strings.Repeat("F", 64), Code: math.MaxUint32, Codespace: codespace, Log: log,
			GasWanted: math.MaxInt64, GasUsed: math.MaxInt64}
	}
	// As the RPC server answers (rpctypes.NewRPCSuccessResponse, then
	// json.Marshal of the response): shown on two entries, whose envelope
	// adds what it adds to any number of them; the whole answer is encoded
	// by the node's encoder once (98 MB; wrapping it again would copy it
	// twice more).
	rpcAnswer := func(o *node.BlockOutcomes) []byte {
		b, err := json.Marshal(rpctypes.NewRPCSuccessResponse(rpctypes.JSONRPCIntID(math.MaxInt64), o))
		require.NoError(t, err)
		return b
	}
	two := &node.BlockOutcomes{Height: out.Height, Time: out.Time, Txs: out.Txs[:2]}
	twoJSON, err := two.MarshalJSON()
	require.NoError(t, err)
	envelope := len(rpcAnswer(two)) - len(twoJSON)
	require.Positive(t, envelope)
	all, err := out.MarshalJSON()
	require.NoError(t, err)
	got := uint64(len(all) + envelope)
	bound := node.MaxBlockOutcomesBytes(app.DefaultMaxBlockUnits)
	t.Logf("the largest block's answer: %d bytes; the bound: %d", got, bound)
	require.LessOrEqual(t, got, bound)
	require.Greater(t, got, bound/10*9, "the bound is the largest answer, not far above it")

	require.Equal(t, uint64(math.MaxUint64), node.MaxBlockOutcomesBytes(math.MaxUint64), "saturates")
}

package load_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	coretypes "github.com/cometbft/cometbft/rpc/core/types"
	rpctypes "github.com/cometbft/cometbft/rpc/jsonrpc/types"
	"github.com/cometbft/cometbft/types"
	"github.com/stretchr/testify/require"

	_ "github.com/tallyledger/tally/app" // every module's errors registered
	"github.com/tallyledger/tally/client/load"
	"github.com/tallyledger/tally/node"
	"github.com/tallyledger/tally/x/module"
)

// The load's limits on what it reads of a node's answers lie above the
// largest answers a node gives. A broadcast's: CheckTx's longest log
// (module.MaxLogBytes, here of the character JSON writes longest), the
// largest code, the longest codespace registered and the hash, under 8 KiB
// as the limit's comment says, far below the limit. A block's:
// block_outcomes at the largest block (node.MaxBlockOutcomesBytes) of a
// max_block_units of 82,000,000, 2.7 times the default, and block at
// CometBFT's largest max_bytes in base64.
func TestTheLoadReadsTheLargestAnswers(t *testing.T) {
	var codespace string
	for _, e := range module.Registered() {
		if len(e.Codespace) > len(codespace) {
			codespace = e.Codespace
		}
	}
	_, _, log := module.CodeOf(errors.New(strings.Repeat("<", 100_000)))
	require.Len(t, log, module.MaxLogBytes)
	res := &coretypes.ResultBroadcastTx{Code: math.MaxUint32, Codespace: codespace, Log: log, Hash: make([]byte, 32)}
	b, err := json.Marshal(rpctypes.NewRPCSuccessResponse(rpctypes.JSONRPCIntID(math.MaxInt64), res))
	require.NoError(t, err)
	t.Logf("the largest answer to a broadcast: %d bytes", len(b))
	require.Less(t, len(b), 8<<10)
	require.Less(t, 100*len(b), load.MaxBroadcastAnswerBytes)

	require.LessOrEqual(t, node.MaxBlockOutcomesBytes(82_000_000), uint64(load.MaxBlockAnswerBytes))
	require.Less(t, base64.StdEncoding.EncodedLen(types.MaxBlockSizeBytes)+1<<20, load.MaxBlockAnswerBytes)
}

package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/client"
)

// A node's answer over the client's limit fails the call, read no further
// than one byte past the limit, instead of being read into memory whole
// (CometBFT's client reads a whole answer); an answer of exactly the limit
// is read. The limit is lowered here from MaxAnswerBytes (256 MiB, which
// client/load's TestTheLoadReadsTheLargestAnswers holds above the largest
// answers a node gives about a block).
func TestAnAnswerOverTheLimitFailsTheCall(t *testing.T) {
	const limit = 4096
	client.SetAnswerLimit(t, limit)
	var padTo atomic.Int64
	c, calls := stubNode(t, func(_ int64, id json.RawMessage) (int, string) {
		a := fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":{}}`, id)
		return http.StatusOK, a + strings.Repeat(" ", int(padTo.Load())-len(a)) // JSON allows the spaces
	})
	ctx := context.Background()
	padTo.Store(limit)
	_, err := c.RPC.Health(ctx)
	require.NoError(t, err)
	padTo.Store(limit + 1)
	_, err = c.RPC.Health(ctx)
	require.ErrorContains(t, err, "the node's answer is over 4096 bytes, more than any answer a node gives: not read further")
	require.ErrorIs(t, err, client.ErrAnswerTooLarge)
	require.EqualValues(t, 2, calls.Load())
}

package testnet_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/testnet"
)

// The demo runs on a network of a single validator too: the national
// agencies exist without validators of their own, and every step reaches
// a node that exists. (It once stopped at "no key named benefits-admin",
// then at an index out of range.)
func TestDemoRunsWithOneValidator(t *testing.T) {
	net := startNetwork(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	require.NoError(t, net.WaitHeight(ctx, "treasury", 1))
	require.NoError(t, testnet.SeedDemo(ctx, t.TempDir(), net.Manifest, t.Logf))
	res, _, err := rpc(t, net, "treasury").Query(ctx, app.PathProvenanceRecall, []byte("FSA-DEMO-001"), 0, false)
	require.NoError(t, err)
	require.NotEmpty(t, res.Value, "the demo's recall is on chain")
}

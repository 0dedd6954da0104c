package testnet_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/testnet"
)

// With filter_peers on, the validators (whose node ids genesis registers)
// connect to each other and the chain runs, while a node whose id no
// validator registered and no operator listed is refused by every one of
// them: it gets no peer and no block.
func TestPeerFilterAdmitsValidatorsAndRefusesUnknownNodes(t *testing.T) {
	net := startNetwork(t, 4, func(o *testnet.Options) { o.FilterPeers = true })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	require.NoError(t, net.WaitHeight(ctx, "treasury", 3))
	// Three validators of four make blocks, so the chain can be at height 3
	// before the last connection is up: wait for every node to see all three.
	for _, n := range net.Manifest.Nodes {
		require.Eventually(t, func() bool {
			info, err := rpc(t, net, n.Name).RPC.NetInfo(ctx)
			return err == nil && info.NPeers == 3
		}, time.Minute, 250*time.Millisecond, "%s connects to the other three validators", n.Name)
	}

	outsider, _, err := testnet.Join(net.Manifest, fileDir(net), "outsider", "bank", basePortAfter(net))
	require.NoError(t, err)
	require.NoError(t, net.Start(outsider.Name))
	// The outsider dials every validator at start; once the chain has
	// moved on well past that, none has let it in.
	h := maxHeight(ctx, net, "treasury")
	require.NoError(t, net.WaitHeight(ctx, "treasury", h+8))
	for _, n := range net.Manifest.Nodes[:4] {
		info, err := rpc(t, net, n.Name).RPC.NetInfo(ctx)
		require.NoError(t, err)
		require.Equal(t, 3, info.NPeers, "%s has only the validators as peers", n.Name)
		for _, p := range info.Peers {
			require.NotEqual(t, outsider.NodeID, string(p.NodeInfo.ID()), "%s admitted the outsider", n.Name)
		}
	}
	// The outsider keeps redialing its persistent peers, so for a moment
	// after each dial it may list a validator that is about to drop it; it
	// never keeps one.
	oc := rpc(t, net, outsider.Name)
	require.Eventually(t, func() bool {
		info, err := oc.RPC.NetInfo(ctx)
		return err == nil && info.NPeers == 0
	}, 20*time.Second, 50*time.Millisecond, "the outsider keeps no peer")
	_, oh, err := oc.Status(ctx)
	require.NoError(t, err)
	require.Zero(t, oh, "the outsider received no block")
}

package node_test

import (
	"context"
	"crypto/ed25519"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cometbft/cometbft/light"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/client"
	"github.com/tallyledger/tally/node"
)

// stallingProxy forwards connections to a node's RPC, except the first
// stall connections, which it accepts and never answers.
type stallingProxy struct {
	ln      net.Listener
	target  string
	mu      sync.Mutex
	stall   int
	stalled []net.Conn
}

func newStallingProxy(t *testing.T, target string, stall int) *stallingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &stallingProxy{ln: ln, target: strings.TrimPrefix(target, "tcp://"), stall: stall}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.stalled {
			c.Close()
		}
	})
	return p
}

func (p *stallingProxy) addr() string { return "tcp://" + p.ln.Addr().String() }

func (p *stallingProxy) stalls() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.stalled)
}

func (p *stallingProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if len(p.stalled) < p.stall {
			p.stalled = append(p.stalled, c)
			p.mu.Unlock()
			continue
		}
		p.mu.Unlock()
		go func() {
			defer c.Close()
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				return
			}
			defer up.Close()
			go func() { _, _ = io.Copy(up, c) }()
			_, _ = io.Copy(c, up)
		}()
	}
}

// A node joining by state sync reads the snapshot's app hash through RPC
// servers that do not answer at first (a validator busy for longer than
// one attempt): it asks again on a fresh connection and gets the node's
// real app hash. CometBFT's own set-up gave up after one 10 s try and
// stopped the node (CI, stop 27). An answer that fails verification (a
// wrong trusted hash) is not asked again, and servers that never answer
// give an error by the caller's deadline.
func TestStateSyncReadsAgainWhenTheServersDoNotAnswer(t *testing.T) {
	_, admin, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	dir := t.TempDir()
	n, rpcAddr := startNode(t, dir, admin)
	defer n.Shutdown()
	c, err := client.Dial(rpcAddr)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var trust node.Trust
	require.Eventually(t, func() bool {
		trust, err = node.StateSyncTrust(ctx, rpcAddr)
		return err == nil && trust.Height >= 3
	}, 30*time.Second, 50*time.Millisecond)
	h := trust.Height
	require.Eventually(t, func() bool {
		_, at, err := c.Status(ctx)
		return err == nil && at >= h+3
	}, 30*time.Second, 50*time.Millisecond)
	next := h + 1
	blk, err := c.RPC.Block(ctx, &next)
	require.NoError(t, err)
	genesisFile := dir + "/config/genesis.json"
	opts := light.TrustOptions{Period: time.Hour, Height: trust.Height, Hash: trust.Hash}
	const try, pause = 500 * time.Millisecond, 20 * time.Millisecond

	t.Run("stalled at first", func(t *testing.T) {
		proxy := newStallingProxy(t, rpcAddr, 2)
		sp, err := node.NewTestStateProvider(genesisFile, []string{proxy.addr(), proxy.addr()}, opts, try, pause)
		require.NoError(t, err)
		got, err := sp.AppHash(ctx, uint64(h))
		require.NoError(t, err)
		require.Equal(t, []byte(blk.Block.AppHash), got, "the app hash after height %d", h)
		require.Equal(t, 2, proxy.stalls(), "connections held unanswered")
		require.Greater(t, sp.Tries(), 1, "asked again after the servers' silence")
		st, err := sp.State(ctx, uint64(h))
		require.NoError(t, err)
		require.Equal(t, h, st.LastBlockHeight)
	})
	t.Run("a wrong trusted hash", func(t *testing.T) {
		bad := light.TrustOptions{Period: time.Hour, Height: trust.Height, Hash: make([]byte, 32)}
		sp, err := node.NewTestStateProvider(genesisFile, []string{rpcAddr, rpcAddr}, bad, try, pause)
		require.NoError(t, err)
		_, err = sp.AppHash(ctx, uint64(h))
		require.Error(t, err)
		require.Equal(t, 1, sp.Tries(), "an answer that fails verification is not asked again: %v", err)
	})
	t.Run("never answered", func(t *testing.T) {
		proxy := newStallingProxy(t, rpcAddr, 1000)
		sp, err := node.NewTestStateProvider(genesisFile, []string{proxy.addr(), proxy.addr()}, opts, try, pause)
		require.NoError(t, err)
		short, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err = sp.AppHash(short, uint64(h))
		require.Error(t, err)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.GreaterOrEqual(t, sp.Tries(), 2, "asked again until the deadline")
	})
}

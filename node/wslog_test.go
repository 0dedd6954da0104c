package node_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cometbft/cometbft/libs/log"
	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/client"
	"github.com/tallyledger/tally/node"
)

// lockedBuffer is a log the node writes from many goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// A node logging at info does not write a line for every websocket
// request (CometBFT's "WSJSONRPC"), as it writes none for every HTTP
// request: a websocket load wrote one per broadcast. The websocket's other
// info lines (a connection opened) are still written.
func TestWebsocketRequestsAreNotLoggedAtInfo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	_, adminKey, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	rpcAddr := initHome(t, dir, "tally-test", adminKey, nil)
	logs := &lockedBuffer{}
	n, err := node.NewNode(dir, log.NewFilter(log.NewTMLogger(logs), log.AllowInfo()), app.Options{})
	require.NoError(t, err)
	require.NoError(t, n.Start())
	t.Cleanup(func() { require.NoError(t, n.Shutdown()) })
	c, err := client.Dial(rpcAddr)
	require.NoError(t, err)
	require.Eventually(t, func() bool { _, h, err := c.Status(ctx); return err == nil && h >= 1 }, time.Minute, 50*time.Millisecond)

	ws, _, err := websocket.DefaultDialer.DialContext(ctx, strings.Replace(rpcAddr, "tcp://", "ws://", 1)+"/websocket", nil)
	require.NoError(t, err)
	defer ws.Close()
	for i := 0; i < 3; i++ {
		tx := memberTx(ctx, t, c, "tally-test", adminKey)
		require.NoError(t, ws.WriteJSON(map[string]any{"jsonrpc": "2.0", "id": i + 1, "method": "broadcast_tx_sync", "params": map[string]any{"tx": tx}}))
		require.NoError(t, ws.SetReadDeadline(time.Now().Add(time.Minute)))
		_, answer, err := ws.ReadMessage()
		require.NoError(t, err)
		require.Contains(t, string(answer), `"code":0`)
	}
	require.Contains(t, logs.String(), "New websocket connection", "the websocket's info lines are written")
	require.NotContains(t, logs.String(), "WSJSONRPC")
}

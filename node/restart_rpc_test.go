package node_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	cfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/libs/log"
	grpccore "github.com/cometbft/cometbft/rpc/grpc"
	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/client"
	"github.com/tallyledger/tally/node"
)

// A client that talked to a node before it restarted in the same process
// reaches the new node: Shutdown closes the RPC's kept-alive connections
// websockets and gRPC connections, not only its listeners. Before, the old server went on
// answering on them from the closed app ("tx/40 … leveldb: closed").
func TestAClientOfANodeRestartedInProcessReachesTheNewNode(t *testing.T) {
	dir := t.TempDir()
	_, adminKey, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	grpcAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	rpcAddr := initHome(t, dir, "tally-test", adminKey, func(comet *cfg.Config, _ *app.Config) {
		comet.Consensus.TimeoutCommit = 200 * time.Millisecond
		comet.RPC.GRPCListenAddress = "tcp://" + grpcAddr
	})
	n, err := node.NewNode(dir, log.NewNopLogger(), app.Options{})
	require.NoError(t, err)
	require.NoError(t, n.Start())
	running := true
	defer func() {
		if running {
			require.NoError(t, n.Shutdown())
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := client.Dial(rpcAddr)
	require.NoError(t, err)
	require.Eventually(t, func() bool { _, h, err := c.Status(ctx); return err == nil && h >= 2 }, time.Minute, 100*time.Millisecond)
	require.NoError(t, c.Broadcast(ctx, memberTx(ctx, t, c, "tally-test", adminKey)))
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, strings.Replace(rpcAddr, "tcp://", "ws://", 1)+"/websocket", nil)
	require.NoError(t, err)
	defer ws.Close()
	require.NoError(t, ws.WriteJSON(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "status"}))
	_, _, err = ws.ReadMessage()
	require.NoError(t, err)
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	broadcaster := grpccore.NewBroadcastAPIClient(conn)
	_, err = broadcaster.Ping(ctx, &grpccore.RequestPing{})
	require.NoError(t, err)

	require.NoError(t, n.Shutdown())
	running = false
	n, err = node.NewNode(dir, log.NewNopLogger(), app.Options{})
	require.NoError(t, err)
	require.NoError(t, n.Start())
	running = true

	// The old client's next broadcast is accepted by the new node; a
	// connection the restart closed may fail one attempt, cleanly.
	fresh, err := client.Dial(rpcAddr)
	require.NoError(t, err)
	tx := memberTx(ctx, t, fresh, "tally-test", adminKey)
	err = c.Broadcast(ctx, tx)
	var refused *client.TxError
	if err != nil && !errors.As(err, &refused) {
		t.Logf("first broadcast after the restart: %v; sending again", err)
		err = c.Broadcast(ctx, tx)
	}
	require.NoError(t, err, "the client kept alive across the restart was answered by the old node's closed app")

	// So is the old gRPC client's: its connection was closed, and it
	// connects again to the new node.
	tx = memberTx(ctx, t, fresh, "tally-test", adminKey)
	answer, err := broadcaster.BroadcastTx(ctx, &grpccore.RequestBroadcastTx{Tx: tx})
	if err != nil {
		t.Logf("first gRPC broadcast after the restart: %v; sending again", err)
		answer, err = broadcaster.BroadcastTx(ctx, &grpccore.RequestBroadcastTx{Tx: tx})
	}
	require.NoError(t, err)
	require.Zero(t, answer.CheckTx.Code, "the gRPC client kept across the restart was answered by the old node's closed app: %s", answer.CheckTx.Log)
	require.Zero(t, answer.TxResult.Code, answer.TxResult.Log)

	// The old websocket is closed: a broadcast over it gets no answer
	// from the closed app.
	require.NoError(t, ws.SetReadDeadline(time.Now().Add(time.Minute))) // an answer at all, not a speed
	if err := ws.WriteJSON(map[string]any{"jsonrpc": "2.0", "id": 2, "method": "broadcast_tx_sync", "params": map[string]any{"tx": memberTx(ctx, t, fresh, "tally-test", adminKey)}}); err == nil {
		_, answer, err := ws.ReadMessage()
		require.Error(t, err, "the websocket opened before the restart answered: %s", answer)
		var ne interface{ Timeout() bool }
		require.False(t, errors.As(err, &ne) && ne.Timeout(), "the old websocket stayed open: %v", err)
	}
}

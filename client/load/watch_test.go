package load_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/client"
	"github.com/tallyledger/tally/client/keys"
	"github.com/tallyledger/tally/client/load"
	"github.com/tallyledger/tally/node"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
)

// The load reads blocks and broadcasts with its own small JSON-RPC client
// (encoding/json into the few fields it uses) rather than CometBFT's. On a
// real node, with transactions that succeed and ones that fail in their
// block: the watcher finds every transaction of every block, with the
// hash, result code, codespace, log and units CometBFT's own client reads
// there, and the header time; a broadcast's verdict (accepted, refused by
// CheckTx with a code) and a node's JSON-RPC error read as CometBFT's client
// reads them, so a run's counts by code and by error class are unchanged.
func TestTheWatcherReadsBlocksAsCometBFTsClientDoes(t *testing.T) {
	_, adminPriv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	rpcAddr := startNode(t, adminPriv)
	c, err := client.Dial(rpcAddr)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// Height 2: CometBFT reports height 1 before the app has committed it,
	// and until then CheckTx answers tx/40, which load.Broadcast does not
	// retry (a run starts after its setup committed).
	waitHeight(ctx, t, c, 2)
	chainID, start, err := c.Status(ctx)
	require.NoError(t, err)

	// Each new member is added twice, by transactions with different
	// nonces: CheckTx passes both (it does not run messages), and the one
	// applied second fails in its block (the member exists).
	admin := keys.AddressOf(adminPriv.Public().(ed25519.PublicKey))
	sign := func(b []byte) ([]byte, error) { return ed25519.Sign(adminPriv, b), nil }
	var sent [][]byte
	const members = 6
	for i := 0; i < members; i++ {
		_, memberKey, err := ed25519.GenerateKey(nil)
		require.NoError(t, err)
		msg := client.AddMember(chainID, "treasury", memberKey, agencyv1.Role_ROLE_AUDITOR)
		for range 2 {
			tx, err := client.BuildTx(client.TxOptions{ChainID: chainID, Signer: admin, TimeoutHeight: uint64(start) + 100}, sign, msg)
			require.NoError(t, err)
			code, space, log, err := load.Broadcast(ctx, rpcAddr, tx)
			require.NoError(t, err)
			require.Zero(t, code, "%s/%d: %s", space, code, log)
			sent = append(sent, tx)
		}
	}
	var end int64
	for _, tx := range sent {
		res, err := c.WaitTx(ctx, client.TxHash(tx))
		if err != nil {
			var txErr *client.TxError
			require.ErrorAs(t, err, &txErr)
		}
		end = max(end, res.Height)
	}

	// Read by the watcher as it reads a node now (block_outcomes), and as
	// it reads a release without that method (block_results and block):
	// through a proxy answering block_outcomes as such a node does. Both
	// must read what CometBFT's client reads.
	watched, err := load.WatchBlocks(ctx, rpcAddr, start+1, end)
	require.NoError(t, err)
	require.Len(t, watched, int(end-start))
	old, outcomesAsked := olderNode(t, rpcAddr)
	watchedOld, err := load.WatchBlocks(ctx, old, start+1, end)
	require.NoError(t, err)
	require.Positive(t, outcomesAsked.Load(), "the watcher asked the older node for block_outcomes")
	require.Equal(t, watched, watchedOld)
	found := map[[32]byte]load.TxResult{}
	for i, w := range watched {
		h := start + 1 + int64(i)
		require.Equal(t, h, w.Height)
		b, err := c.RPC.Block(ctx, &h)
		require.NoError(t, err)
		res, err := c.RPC.BlockResults(ctx, &h)
		require.NoError(t, err)
		require.True(t, b.Block.Time.Equal(w.Time), "height %d: header time %s, watcher read %s", h, b.Block.Time, w.Time)
		require.Len(t, w.Hashes, len(b.Block.Txs), "height %d", h)
		require.Len(t, w.Results, len(res.TxsResults), "height %d", h)
		for j, tx := range b.Block.Txs {
			want := res.TxsResults[j]
			require.Equal(t, sha256.Sum256(tx), w.Hashes[j], "height %d tx %d", h, j)
			require.Equal(t, load.TxResult{Code: want.Code, Codespace: want.Codespace, Log: want.Log, GasWanted: want.GasWanted, GasUsed: want.GasUsed},
				w.Results[j], "height %d tx %d", h, j)
			found[w.Hashes[j]] = w.Results[j]
		}
	}
	// Every transaction sent was found; one of each pair failed, with a code.
	failed := 0
	for _, tx := range sent {
		r, ok := found[sha256.Sum256(tx)]
		require.True(t, ok, "a transaction sent was not found in heights %d-%d", start+1, end)
		if r.Code != 0 {
			failed++
			require.NotEmpty(t, r.Codespace)
			require.NotEmpty(t, r.Log)
		} else {
			require.Positive(t, r.GasUsed)
			require.GreaterOrEqual(t, r.GasWanted, r.GasUsed)
		}
	}
	require.Equal(t, members, failed)

	// An answer about a block over the watcher's limit (lowered here from
	// load.MaxBlockAnswerBytes, which TestTheLoadReadsTheLargestAnswers
	// holds to the largest answer a node gives) fails the read with an
	// error naming the limit, read no further and not asked again; one of
	// exactly the limit is read. The proxy pads the node's answers with
	// spaces, which JSON allows.
	const limit = 64 << 10
	load.SetBlockAnswerLimit(t, limit)
	padded, asked, padTo := paddedNode(t, rpcAddr)
	padTo.Store(limit)
	watchedPadded, err := load.WatchBlocks(ctx, padded, start+1, end)
	require.NoError(t, err)
	require.Equal(t, watched, watchedPadded)
	padTo.Store(limit + 1)
	asked.Store(0)
	_, err = load.WatchBlocks(ctx, padded, start+1, end)
	require.ErrorContains(t, err, fmt.Sprintf("reading block %d: error in json rpc client, with http response metadata: (Status: 200 OK, Protocol HTTP/1.1). answer over %d bytes, more than any answer a node gives: not read", start+1, limit))
	require.EqualValues(t, 1, asked.Load(), "asked once")

	// A refusal by CheckTx: the same code, codespace and log.
	garbage := []byte("not a transaction")
	code, space, log, err := load.Broadcast(ctx, rpcAddr, garbage)
	require.NoError(t, err)
	want, err := c.RPC.BroadcastTxSync(ctx, garbage)
	require.NoError(t, err)
	require.NotZero(t, want.Code)
	require.Equal(t, []any{want.Code, want.Codespace, want.Log}, []any{code, space, log})

	// A node's JSON-RPC error (a committed transaction sent again is in
	// the mempool's cache): the same error, so the same class.
	_, _, _, err = load.Broadcast(ctx, rpcAddr, sent[0])
	require.Error(t, err)
	_, wantErr := c.RPC.BroadcastTxSync(ctx, sent[0])
	require.Error(t, wantErr)
	require.Equal(t, wantErr.Error(), err.Error())
	require.Equal(t, load.ErrorClass(wantErr), load.ErrorClass(err))
	require.Contains(t, load.ErrorClass(err), "RPC error")
}

// The watcher counts a block committed once the node's app has committed
// it, so a client that reads state as soon as the load reports a
// transaction committed reads it. CometBFT serves a height's block and
// results a moment before: it stores the results, then calls the app's
// Commit. Here one block's Commit waits a second for the mempool's lock
// (taken by the test as the block's FinalizeBlock ends, before CometBFT
// stores its results), so that moment lasts a second: the watcher must
// not report the block in it. Each block it reports, the app has
// committed: abci_info and a query answer at its height or above.
func TestTheWatcherReportsABlockOnceTheAppCommittedIt(t *testing.T) {
	_, adminPriv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	var (
		n    *node.Node
		arm  atomic.Bool
		held atomic.Int32
	)
	opts := app.Options{OnStep: func(s app.Step) {
		if s != app.StepFinalized || !arm.CompareAndSwap(true, false) {
			return
		}
		n.Mempool().Lock() // CometBFT's Commit of this block takes it first
		held.Add(1)
		go func() {
			time.Sleep(time.Second)
			n.Mempool().Unlock()
		}()
	}}
	var rpcAddr string
	rpcAddr, n = startNodeWith(t, adminPriv, opts)
	c, err := client.Dial(rpcAddr)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	waitHeight(ctx, t, c, 2)
	_, start, err := c.Status(ctx)
	require.NoError(t, err)

	w, err := load.NewWatcher(rpcAddr, start)
	require.NoError(t, err)
	arm.Store(true)
	admin := keys.AddressOf(adminPriv.Public().(ed25519.PublicKey))
	var last int64
	for last < start+4 {
		blocks, err := w.Poll(ctx)
		require.NoError(t, err)
		for _, b := range blocks {
			info, err := c.RPC.ABCIInfo(ctx)
			require.NoError(t, err)
			require.GreaterOrEqual(t, info.Response.LastBlockHeight, b.Height, "the watcher reported block %d before the app committed it", b.Height)
			res, err := c.RPC.ABCIQuery(ctx, api.PathAccount, admin)
			require.NoError(t, err)
			require.Zero(t, res.Response.Code, res.Response.Log)
			require.GreaterOrEqual(t, res.Response.Height, b.Height, "a query after block %d was reported read height %d", b.Height, res.Response.Height)
			if last > 0 {
				require.Equal(t, last+1, b.Height, "blocks are reported in order, none left out")
			}
			last = b.Height
		}
		require.NoError(t, ctx.Err())
		time.Sleep(load.DefaultPollInterval)
	}
	require.EqualValues(t, 1, held.Load(), "one block's Commit was held")
}

// paddedNode is a proxy to rpcAddr that pads each answer to block_outcomes
// with spaces to the size padTo holds, and passes every other request on;
// it counts the block_outcomes asked.
func paddedNode(t *testing.T, rpcAddr string) (string, *atomic.Int32, *atomic.Int64) {
	t.Helper()
	node := strings.Replace(rpcAddr, "tcp://", "http://", 1)
	var asked atomic.Int32
	var padTo atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		res, err := http.Post(node, "application/json", bytes.NewReader(body))
		require.NoError(t, err)
		answer, err := io.ReadAll(res.Body)
		res.Body.Close()
		require.NoError(t, err)
		if bytes.Contains(body, []byte(`"block_outcomes"`)) {
			asked.Add(1)
			require.Less(t, int64(len(answer)), padTo.Load(), "an answer to pad")
			answer = append(answer, bytes.Repeat([]byte(" "), int(padTo.Load())-len(answer))...)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(res.StatusCode)
		_, _ = w.Write(answer)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &asked, &padTo
}

// olderNode is a proxy to rpcAddr that answers block_outcomes as a node of
// a release without it does (JSON-RPC "Method not found") and passes every
// other request on; it counts the block_outcomes asked.
func olderNode(t *testing.T, rpcAddr string) (string, *atomic.Int32) {
	t.Helper()
	target, err := url.Parse(strings.Replace(rpcAddr, "tcp://", "http://", 1))
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var asked atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		var req struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
		}
		if json.Unmarshal(body, &req) == nil && req.Method == "block_outcomes" {
			asked.Add(1)
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"error":{"code":-32601,"message":"Method not found"}}`, req.ID)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &asked
}

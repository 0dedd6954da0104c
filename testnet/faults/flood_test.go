package faults

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/client"
	"github.com/tallyledger/tally/client/keys"
	fundsv1 "github.com/tallyledger/tally/proto/tally/funds/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
)

// maxFloodDrop is the stated bound: under the flood, the valid workload's
// committed rate may fall by at most this fraction of its rate without it.
const maxFloodDrop = 0.25

// flooder sends invalid transactions of every kind a client can get wrong
// to every node, as fast as its workers manage, and remembers each one so
// the end checks can show none was committed.
type flooder struct {
	c      *Cluster
	signer ed25519.PrivateKey
	sent   atomic.Int64
	failed atomic.Int64
	byKind sync.Map // kind → *atomic.Int64

	mu        sync.Mutex
	forbidden [][]byte
}

var floodKinds = []string{"bad-signature", "wrong-chain", "expired", "garbage", "oversize", "replay"}

func (f *flooder) build(r *rand.Rand, kind string, height int64) []byte {
	sign := func(b []byte) ([]byte, error) { return ed25519.Sign(f.signer, b), nil }
	// The treasury officer's appropriation: valid but for what is wrong below.
	msg := &txv1.Msg{Sum: &txv1.Msg_Appropriate{Appropriate: &fundsv1.MsgAppropriate{
		Reference: fmt.Sprintf("Flood/%016x", r.Uint64()), Amount: 100 + r.Uint64N(10_000), Currency: "GBP"}}}
	opts := client.TxOptions{ChainID: f.c.M.ChainID, Signer: api.AddressOf(f.signer.Public().(ed25519.PublicKey)), TimeoutHeight: uint64(height) + 50}
	switch kind {
	case "bad-signature":
		raw, _ := client.BuildTx(opts, sign, msg)
		tx := &txv1.Tx{}
		_ = proto.Unmarshal(raw, tx)
		tx.Signature[r.IntN(len(tx.Signature))] ^= 0x40
		out, _ := proto.Marshal(tx)
		return out
	case "wrong-chain":
		opts.ChainID = "tally-elsewhere"
		raw, _ := client.BuildTx(opts, sign, msg)
		return raw
	case "expired":
		opts.TimeoutHeight = uint64(max(height-2, 1))
		raw, _ := client.BuildTx(opts, sign, msg)
		return raw
	case "garbage":
		b := make([]byte, 1+r.IntN(300))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	case "oversize":
		b := make([]byte, 40*1024) // the chain's max_tx_bytes is 32 KiB
		for i := 0; i < len(b); i += 8 {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	panic("flood: unknown kind " + kind) // replays are resent by run, not built
}

func (f *flooder) run(ctx context.Context, rate float64, workers int, replays [][]byte) {
	tokens := make(chan struct{}, workers)
	go func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		var owed float64
		for ctx.Err() == nil {
			<-tick.C
			for owed += rate / 1000; owed >= 1; owed-- {
				select {
				case tokens <- struct{}{}:
				default: // every worker busy: the flood runs below its target
				}
			}
		}
	}()
	// Clients that keep a connection per worker: the default RPC client
	// keeps two idle connections per node, so most calls would open a new one.
	var clients []*rpchttp.HTTP
	for _, n := range f.c.M.Nodes {
		hc := &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: workers}}
		cl, err := rpchttp.NewWithClient(n.RPC, "/websocket", hc)
		if err != nil {
			panic(err)
		}
		clients = append(clients, cl)
	}
	var wg sync.WaitGroup
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), uint64(time.Now().UnixNano())))
			height := f.c.MaxHeight(ctx)
			for n := 0; ctx.Err() == nil; n++ {
				select {
				case <-tokens:
				case <-ctx.Done():
					return
				}
				if n%200 == 0 {
					if h := f.c.MaxHeight(ctx); h > 0 {
						height = h
					}
				}
				kind := floodKinds[r.IntN(len(floodKinds))]
				var tx []byte
				if kind == "replay" {
					if len(replays) == 0 {
						continue
					}
					tx = replays[r.IntN(len(replays))]
				} else {
					tx = f.build(r, kind, height)
					f.mu.Lock()
					f.forbidden = append(f.forbidden, client.TxHash(tx))
					f.mu.Unlock()
				}
				i := r.IntN(len(f.c.Clients))
				cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				_, err := clients[i].BroadcastTxAsync(cctx, tx)
				cancel()
				f.sent.Add(1)
				if err != nil {
					f.failed.Add(1)
				}
				cnt, _ := f.byKind.LoadOrStore(kind, new(atomic.Int64))
				cnt.(*atomic.Int64).Add(1)
			}
		}()
	}
	wg.Wait()
}

// rssKB is a process's resident memory, from /proc.
func rssKB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			v, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return v
		}
	}
	return 0
}

// TestFlood sends thousands of invalid transactions per second (bad
// signatures, wrong chain, expired, garbage, oversize, replays) alongside
// the valid workload: the valid committed rate falls by at most
// maxFloodDrop, node memory stays bounded, and nothing invalid is
// committed.
func TestFlood(t *testing.T) {
	c := NewCluster(t, ClusterOptions{})
	s := NewScenario(t, "flood of invalid transactions")
	w, ctx := StartWorkload(t, c, 40)
	kr, err := keys.Open(c.M.KeyringDir, keys.BackendTest, nil)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := kr.PrivKey("treasury-officer")
	if err != nil {
		t.Fatal(err)
	}

	phase := 10 * time.Second
	if long {
		phase = 60 * time.Second
	}
	time.Sleep(3 * time.Second) // warm up
	h0 := c.MaxHeight(ctx)
	time.Sleep(phase)
	h1 := c.MaxHeight(ctx)

	f := &flooder{c: c, signer: priv}
	// The short version (CI, where other test packages share the CPU)
	// floods less; the long one asks for thousands a second and reports
	// what the machine delivered.
	floodRate := 300.0
	if long {
		floodRate = 3000
	}
	var replays [][]byte
	// Replays resend transactions the chain already committed.
	for h := h0 + 1; h <= h1 && len(replays) < 200; h++ {
		b, err := c.Clients[0].RPC.Block(ctx, &h)
		if err == nil {
			for _, tx := range b.Block.Txs {
				replays = append(replays, tx)
			}
		}
	}
	pids := map[string]int{}
	for _, n := range c.Names() {
		pids[n] = c.Net.Pid(n)
	}
	rssBefore := map[string]int64{}
	for n, p := range pids {
		rssBefore[n] = rssKB(p)
	}
	fctx, fstop := context.WithCancel(ctx)
	fdone := make(chan struct{})
	t0 := time.Now()
	go func() { f.run(fctx, floodRate, 48, replays); close(fdone) }()
	s.Fault("flood of invalid transactions at a target of %.0f/s from 48 workers to all 4 nodes for %s", floodRate, phase)
	time.Sleep(phase / 2)
	rssMid := map[string]int64{}
	for n, p := range pids {
		rssMid[n] = rssKB(p)
	}
	time.Sleep(phase / 2)
	h3 := c.MaxHeight(ctx)
	rssEnd := map[string]int64{}
	for n, p := range pids {
		rssEnd[n] = rssKB(p)
	}
	fstop()
	<-fdone
	elapsed := time.Since(t0)
	s.Note("flood: %d invalid transactions sent in %s (%.0f/s), %d broadcast errors", f.sent.Load(), elapsed.Round(time.Millisecond), float64(f.sent.Load())/elapsed.Seconds(), f.failed.Load())
	for _, k := range floodKinds {
		if v, ok := f.byKind.Load(k); ok {
			t.Logf("flood kind %s: %d", k, v.(*atomic.Int64).Load())
		}
	}
	time.Sleep(3 * time.Second)
	w.Stop()

	// Valid committed rate before and during the flood, over block time.
	rate := func(from, to int64) float64 {
		var n int
		for _, r := range w.Reported() {
			if r.Height > from && r.Height <= to {
				n++
			}
		}
		a, errA := c.Clients[0].RPC.Header(context.Background(), &from)
		b, errB := c.Clients[0].RPC.Header(context.Background(), &to)
		if errA != nil || errB != nil {
			t.Fatalf("headers %d, %d: %v %v", from, to, errA, errB)
		}
		return float64(n) / b.Header.Time.Sub(a.Header.Time).Seconds()
	}
	base, flooded := rate(h0, h1), rate(h1, h3)
	s.Note("valid committed rate: %.1f tx/s without the flood (heights %d..%d), %.1f tx/s during it (heights %d..%d), offered %.0f tx/s", base, h0, h1, flooded, h1, h3, w.Rate)
	if flooded < base*(1-maxFloodDrop) {
		t.Errorf("the flood cut the valid committed rate from %.1f to %.1f tx/s, more than the stated %.0f%%", base, flooded, 100*maxFloodDrop)
	}
	for n := range pids {
		s.Note("%s RSS: %d MiB before the flood, %d MiB halfway, %d MiB at the end", n, rssBefore[n]>>10, rssMid[n]>>10, rssEnd[n]>>10)
		// Bounded: the second half of the flood must not grow memory the
		// way the first half could (mempool and caches filling up).
		if rssEnd[n] > rssMid[n]*3/2+64<<10 {
			t.Errorf("%s memory kept growing under the flood: %d MiB halfway, %d MiB at the end", n, rssMid[n]>>10, rssEnd[n]>>10)
		}
	}
	f.mu.Lock()
	forbidden := f.forbidden
	f.mu.Unlock()
	s.Verify(context.Background(), c, w, forbidden)
}

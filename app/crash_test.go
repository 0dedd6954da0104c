package app_test

import (
	"fmt"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/store"
)

func openLevel(tb testing.TB, dir string) *store.Store {
	tb.Helper()
	st, err := store.Open(store.Options{Dir: dir, Backend: "goleveldb"})
	require.NoError(tb, err)
	return st
}

// crashes runs f and reports whether it panicked, as a crash hook makes it.
func crashes(f func()) (crashed bool) {
	defer func() { crashed = recover() != nil }()
	f()
	return false
}

// A node that stops at any point of a block restarts from its database,
// reports the last block it saved, and after CometBFT replays what it
// lacks reaches the same app hash as a node that never stopped.
func TestRestartAfterCrashReachesSameAppHash(t *testing.T) {
	const n = 8 // blocks saved before the crash
	blocks := script(t, n+2)
	ref := newChain(t)
	refResults := make([]*abci.ResponseFinalizeBlock, len(blocks))
	for i, txs := range blocks {
		refResults[i] = ref.block(txs...)
	}

	for _, tt := range []struct {
		name      string
		crashAt   app.Step // "" : no hook; FinalizeBlock returns and Commit is never called
		midSave   bool     // crash inside Commit instead, while the tree is written
		wantSaved int64
	}{
		{name: "FinalizeBlock done, Commit never called", wantSaved: n},
		{name: "crash at the end of FinalizeBlock", crashAt: app.StepFinalized, wantSaved: n},
		{name: "crash in the middle of saving the tree", midSave: true, wantSaved: n},
		{name: "crash right after Commit saved state", crashAt: app.StepCommitted, wantSaved: n + 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			armed := false
			opts := app.Options{OnStep: func(s app.Step) {
				if armed && s == tt.crashAt {
					panic("crash at " + string(s))
				}
			}}
			so := store.Options{Dir: dir, Backend: "goleveldb"}
			if tt.midSave {
				// A 1-byte threshold makes IAVL cut every save into
				// chunks; the probe fires as it hands over the last one.
				so.FlushThreshold = 1
				so.Probe = func(at store.ProbePoint, v int64) {
					if armed && at == store.ProbeMidSave {
						panic(fmt.Sprintf("crash in the middle of saving version %d", v))
					}
				}
			}
			st, err := store.Open(so)
			require.NoError(t, err)
			c := openChain(t, st, opts)
			c.initChain(testGenesis())
			for _, txs := range blocks[:n] {
				c.block(txs...)
			}
			require.Equal(t, ref.hashes[n], c.lastHash())

			armed = true
			if tt.crashAt == "" && !tt.midSave {
				require.Equal(t, ref.hashes[n+1], c.finalize(blocks[n]...).AppHash)
			} else {
				require.True(t, crashes(func() {
					c.finalize(blocks[n]...)
					c.commit()
				}), "the hook did not crash the app")
			}
			c.close()

			c = openChain(t, openLevel(t, dir), app.Options{})
			info := c.info()
			require.Equal(t, tt.wantSaved, info.LastBlockHeight)
			require.Equal(t, ref.hashes[tt.wantSaved], info.LastBlockAppHash)
			require.Equal(t, tt.wantSaved, c.height)

			// CometBFT's handshake replays the blocks the app lacks; the
			// chain then goes on. Chain id and params come back from state.
			for h := c.height + 1; h <= n+2; h++ {
				res := c.block(blocks[h-1]...)
				require.Equal(t, refResults[h-1].TxResults, res.TxResults, "height %d", h)
				require.Equal(t, ref.hashes[h], res.AppHash, "height %d", h)
			}
			require.Equal(t, ref.view(), c.view())
		})
	}
}

// A node that stops after InitChain but before its first Commit has saved
// nothing: it reports height 0, CometBFT calls InitChain again, and the
// chain starts as if the first attempt never happened.
func TestRestartBeforeFirstCommitRunsInitChainAgain(t *testing.T) {
	dir := t.TempDir()
	ref := newChain(t)
	first := ref.block()

	c := openChain(t, openLevel(t, dir), app.Options{})
	genesisHash := c.initChain(testGenesis()).AppHash
	c.finalize()
	c.close()

	c = openChain(t, openLevel(t, dir), app.Options{})
	info := c.info()
	require.Zero(t, info.LastBlockHeight)
	require.Empty(t, info.LastBlockAppHash)
	require.Equal(t, genesisHash, c.initChain(testGenesis()).AppHash)
	require.Equal(t, first.AppHash, c.block().AppHash)

	tx := c.tx(treasuryAdmin, grantRole(treasuryClerk.addr, roleAuditor))
	require.Zero(t, c.checkTx(tx).Code)
	requireOK(t, c.block(tx).TxResults[0])
}

// InitChain starts from a clean slate even if an earlier InitChain in the
// same process wrote a different genesis and was never committed.
func TestInitChainDiscardsUncommittedEarlierGenesis(t *testing.T) {
	ref := newChain(t)
	other := testGenesis()
	other.Agency.Agencies[0].Name = "Another Treasury"
	c := openChain(t, store.NewMemory(), app.Options{})
	c.initChain(other)
	c.initChain(testGenesis())
	require.Equal(t, ref.block().AppHash, c.block().AppHash)
	require.Equal(t, "National Treasury", c.agency(agTreasury).Name)
}

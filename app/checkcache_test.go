package app_test

import (
	"context"
	"fmt"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/app"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/module"
)

// CheckTx reads committed state through a cache kept across blocks
// (Options.CheckCacheBytes). Three nodes run the same blocks: one with the
// default cache, one with a cache of a few entries (evicting all the time),
// one without. Pending transactions are checked, then rechecked after each
// block while the blocks suspend and reinstate their signer, rotate its
// key, revoke its role, spend its nonce, create it, and let timeouts pass.
// Every verdict must be the same on the three nodes and the one the state
// calls for: a cache that kept a value a block wrote would admit what the
// tree refuses (or the reverse).
func TestCheckTxCacheGivesTheTreesVerdicts(t *testing.T) {
	nodes := map[string]*chain{}
	for name, bytes := range map[string]int{"cached": 0, "tiny": 1000, "uncached": -1} {
		c := openChain(t, store.NewMemory(), app.Options{CheckCacheBytes: bytes})
		c.initChain(testGenesis())
		c.block()
		nodes[name] = c
	}
	newbie, rotated := keyFor("checkcache/newbie"), keyFor("checkcache/rotated")

	// Every node builds identical transactions: the same nonces, keys and
	// heights give the same bytes.
	type pending struct {
		name string
		tx   func(c *chain) []byte
	}
	const timeout = 20
	const spentNonce = 77
	txs := []pending{
		{"control", func(c *chain) []byte {
			return c.txWith(txArgs{signer: treasuryAdmin, timeout: timeout}, grantRole(treasuryClerk.addr, roleAuditor))
		}},
		{"suspended then reinstated", func(c *chain) []byte {
			return c.txWith(txArgs{signer: regInspector, timeout: timeout}, attest("lot:checkcache"))
		}},
		{"key rotated", func(c *chain) []byte {
			return c.txWith(txArgs{signer: taxCollector, timeout: timeout}, taxIssue("VAT", taxPayerRef("checkcache"), "2026-Q1", 10, "BANK-checkcache"))
		}},
		{"role revoked", func(c *chain) []byte {
			return c.txWith(txArgs{signer: treasuryClerk, timeout: timeout}, msgAppropriate("SA/checkcache", 1))
		}},
		{"nonce spent", func(c *chain) []byte {
			return c.txWith(txArgs{signer: treasuryAdmin2, nonce: spentNonce, timeout: timeout}, grantRole(treasuryClerk.addr, roleAuditor))
		}},
		{"signer created", func(c *chain) []byte {
			return c.txWith(txArgs{signer: newbie, timeout: timeout}, accept("lot:checkcache"))
		}},
		{"times out", func(c *chain) []byte {
			return c.txWith(txArgs{signer: taxAdmin, timeout: 4}, grantRole(taxCollector.addr, roleAuditor))
		}},
	}
	raw := map[string][][]byte{}
	for name, c := range nodes {
		for _, p := range txs {
			raw[name] = append(raw[name], p.tx(c))
		}
	}
	for _, name := range []string{"tiny", "uncached"} {
		require.Equal(t, raw["cached"], raw[name])
	}

	ok := (*module.Error)(nil)
	// verdicts checks every pending transaction on every node, as kind, and
	// compares with want (by pending name; absent: ok).
	verdicts := func(step string, kind abci.CheckTxType, want map[string]*module.Error) {
		t.Helper()
		for i, p := range txs {
			var first *abci.ResponseCheckTx
			for _, name := range []string{"uncached", "cached", "tiny"} {
				res, err := nodes[name].app.CheckTx(context.Background(), &abci.RequestCheckTx{Tx: raw[name][i], Type: kind})
				require.NoError(t, err)
				if first == nil {
					first = res
					w := want[p.name]
					if w == ok {
						assert.Zero(t, res.Code, "%s: %q: %s", step, p.name, res.Log)
					} else {
						assert.True(t, isCode(res.Codespace, res.Code, w), "%s: %q: got %s/%d %q, want %s", step, p.name, res.Codespace, res.Code, res.Log, w.Error())
					}
					continue
				}
				assert.Equal(t, []any{first.Codespace, first.Code, first.Log}, []any{res.Codespace, res.Code, res.Log}, "%s: %q on the %s node", step, p.name, name)
			}
		}
	}
	// block runs the same block on every node; each builds the
	// transactions from its own chain, identically.
	block := func(build func(c *chain) [][]byte) {
		t.Helper()
		var hash []byte
		for _, name := range []string{"uncached", "cached", "tiny"} {
			c := nodes[name]
			for _, r := range c.block(build(c)...).TxResults {
				requireOK(t, r)
			}
			if hash == nil {
				hash = c.lastHash()
			}
			require.Equal(t, hash, c.lastHash(), "the %s node's app hash", name)
		}
	}

	verdicts("height 2, new", abci.CheckTxType_New, map[string]*module.Error{"signer created": app.ErrUnknownSigner})
	verdicts("height 2, recheck", abci.CheckTxType_Recheck, map[string]*module.Error{"signer created": app.ErrUnknownSigner})

	block(func(c *chain) [][]byte {
		return [][]byte{
			c.tx(regAdmin, suspendAccount(regInspector.addr, "")),
			c.tx(taxCollector, rotateKey(taxCollector.addr, rotated)),
			c.tx(treasuryAdmin, revokeRole(treasuryClerk.addr, agencyv1.Role_ROLE_TREASURY)),
			c.txWith(txArgs{signer: treasuryAdmin2, nonce: spentNonce, timeout: timeout}, grantRole(treasuryClerk.addr, agencyv1.Role_ROLE_PRODUCER)),
			c.tx(treasuryAdmin, addMember(newbie, roleAuditor)),
		}
	})
	afterChanges := map[string]*module.Error{
		"suspended then reinstated": app.ErrInactiveSigner,
		"key rotated":               app.ErrBadSignature,
		"role revoked":              app.ErrUnauthorized,
		"nonce spent":               app.ErrReplay,
	}
	verdicts("height 3, recheck", abci.CheckTxType_Recheck, afterChanges)
	verdicts("height 3, new", abci.CheckTxType_New, afterChanges)

	block(func(c *chain) [][]byte { return nil })
	verdicts("height 4, recheck", abci.CheckTxType_Recheck, afterChanges)

	block(func(c *chain) [][]byte {
		return [][]byte{c.tx(regAdmin, reinstateAccount(regInspector.addr))}
	})
	delete(afterChanges, "suspended then reinstated")
	afterChanges["times out"] = app.ErrTimeoutExpired
	verdicts("height 5, recheck", abci.CheckTxType_Recheck, afterChanges)

	hits := nodes["cached"].st.ReadCacheStats().Hits
	require.NotZero(t, hits, "the cached node never answered from its cache: this test would not see a stale entry")
	require.Zero(t, nodes["uncached"].st.ReadCacheStats().Hits)
	t.Logf("cached node: %+v; tiny: %+v", nodes["cached"].st.ReadCacheStats(), nodes["tiny"].st.ReadCacheStats())
	require.LessOrEqual(t, nodes["tiny"].st.ReadCacheStats().Bytes, 1000)
}

// Rechecks run while blocks commit, as CometBFT's mempool connection runs
// beside the consensus connection: block k carries pending transaction k,
// spending its nonce. A recheck that read a state before block k must admit
// it, one that read a state after must refuse it as a replay; the height
// each call read lies between the last commit before it (less one: Commit
// saves before it publishes) and the last commit after it. A cache that kept
// a nonce a block wrote, or stored a value read at an older version as the
// newer one's, would admit a transaction long after its block. Run with
// -race by make test.
func TestConcurrentRechecksSeeEachBlocksNonces(t *testing.T) {
	c := newChain(t)
	c.block()
	const blocks = 12
	txs := make([][]byte, blocks)
	for i := range txs {
		msg := grantRole(treasuryClerk.addr, roleAuditor) // granted and revoked in turn, so every block's succeeds
		if i%2 == 1 {
			msg = revokeRole(treasuryClerk.addr, roleAuditor)
		}
		txs[i] = c.txWith(txArgs{signer: treasuryAdmin, timeout: blocks + 20}, msg)
		require.Zero(t, c.checkTx(txs[i]).Code)
	}
	spentAt := func(i int) int64 { return int64(i) + 2 } // block height carrying txs[i]

	stop := make(chan struct{})
	errs := make(chan error, 1)
	done := make(chan struct{})
	checked := make(chan struct{}, 1)
	go func() {
		defer close(done)
		for {
			for i, tx := range txs {
				select {
				case <-stop:
					return
				default:
				}
				before, _ := c.st.LastCommit()
				res, err := c.app.CheckTx(context.Background(), &abci.RequestCheckTx{Tx: tx, Type: abci.CheckTxType_Recheck})
				after, _ := c.st.LastCommit()
				// tx/50 (the signer's pending count, which rounds of
				// rechecks between two blocks fill) comes after every state
				// check passed: the state admitted it.
				admitted := err == nil && (res.Code == 0 || isCode(res.Codespace, res.Code, app.ErrTooManyPending))
				switch {
				case err != nil:
				case admitted && before-1 >= spentAt(i):
					err = fmt.Errorf("transaction %d admitted at height %d or later; block %d spent its nonce", i, before-1, spentAt(i))
				case admitted:
				case !isCode(res.Codespace, res.Code, app.ErrReplay):
					err = fmt.Errorf("transaction %d: %s", i, res.Log)
				case after < spentAt(i):
					err = fmt.Errorf("transaction %d refused as a replay at height %d or before; block %d spends its nonce", i, after, spentAt(i))
				}
				if err != nil {
					errs <- err
					return
				}
			}
			select {
			case checked <- struct{}{}:
			default:
			}
		}
	}()
	for i := range blocks {
		requireOK(t, c.block(txs[i]).TxResults[0])
		select { // every block overlaps at least one round of rechecks
		case <-checked:
		case err := <-errs:
			require.NoError(t, err)
		}
	}
	close(stop)
	<-done
	close(errs)
	require.NoError(t, <-errs)
	require.NotZero(t, c.st.ReadCacheStats().Hits)
}

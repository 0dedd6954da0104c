package app_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/client"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/store"
)

// scriptAdmins are the admins the script acts through, with the roles it
// tries to hand out (some not allowed for the agency's kind, on purpose).
var scriptAdmins = []testKey{treasuryAdmin, taxAdmin, regAdmin}

// script builds blocks 1..n of mixed valid and invalid transactions. It
// depends on nothing but its seed and the heights, never on results, so
// every App instance is fed identical bytes.
func script(tb testing.TB, n int) [][][]byte {
	tb.Helper()
	rng := rand.New(rand.NewPCG(2030, 1))
	type member struct {
		addr  []byte
		key   testKey // current key, as the script expects it to be
		admin int     // index in scriptAdmins
	}
	var members []member
	var nonce uint64
	env := func(h int, signer []byte) client.TxOptions {
		nonce++
		return client.TxOptions{Signer: signer, Nonce: nonce, TimeoutHeight: uint64(h) + 3}
	}
	role := func() agencyv1.Role { return agencyv1.Role(1 + rng.IntN(10)) }
	blocks := make([][][]byte, n)
	var last [][]byte
	for h := 1; h <= n; h++ {
		var txs [][]byte
		add := func(raw []byte) { txs = append(txs, raw) }

		for i := 0; i < 3; i++ { // new members, some with roles their agency may not hold
			ai := rng.IntN(len(scriptAdmins))
			m := keyFor(fmt.Sprintf("script/%d/%d", h, i))
			add(signTx(tb, env(h, scriptAdmins[ai].addr), scriptAdmins[ai], addMemberTo(agencyOf(scriptAdmins[ai].addr), m, role())))
			members = append(members, member{m.addr, m, ai})
		}
		for i := 0; i < 5; i++ { // admin work, now and then by the wrong agency's admin
			m := members[rng.IntN(len(members))]
			ai := m.admin
			if rng.IntN(6) == 0 {
				ai = rng.IntN(len(scriptAdmins))
			}
			var msg *txv1.Msg
			switch rng.IntN(7) {
			case 0, 1:
				msg = grantRole(m.addr, role())
			case 2:
				msg = revokeRole(m.addr, role())
			case 3:
				msg = suspendAccount(m.addr, fmt.Sprintf("case %d", h))
			case 4:
				msg = reinstateAccount(m.addr)
			case 5:
				msg = removeMember(m.addr)
			case 6:
				msg = grantRole(m.addr, agencyv1.Role_ROLE_ADMIN)
			}
			add(signTx(tb, env(h, scriptAdmins[ai].addr), scriptAdmins[ai], msg))
		}
		{ // a member rotates its key, or tries admin work it has no role for
			mi := rng.IntN(len(members))
			m := members[mi]
			if rng.IntN(2) == 0 {
				next := keyFor(fmt.Sprintf("script/%d/rotated", h))
				add(signTx(tb, env(h, m.addr), m.key, rotateKey(m.addr, next)))
				members[mi].key = next
			} else {
				add(signTx(tb, env(h, m.addr), m.key, grantRole(m.addr, agencyv1.Role_ROLE_AUDITOR)))
			}
		}
		// Two messages, all or nothing.
		a, b := members[rng.IntN(len(members))], members[rng.IntN(len(members))]
		add(signTx(tb, env(h, scriptAdmins[a.admin].addr), scriptAdmins[a.admin], grantRole(a.addr, role()), revokeRole(b.addr, role())))

		// Refusals of every kind.
		add([]byte(fmt.Sprintf("garbage %d", h)))
		add(signTx(tb, env(h, treasuryAdmin.addr), taxAdmin, grantRole(treasuryClerk.addr, role())))
		add(signTx(tb, env(h, stranger.addr), stranger, rotateKey(stranger.addr, keyFor("s"))))
		wrongChain := env(h, taxAdmin.addr)
		wrongChain.ChainID = "elsewhere"
		add(signTx(tb, wrongChain, taxAdmin, grantRole(taxCollector.addr, role())))
		expired := env(h, regAdmin.addr)
		expired.TimeoutHeight = uint64(h) - 1
		add(signTx(tb, expired, regAdmin, grantRole(regInspector.addr, role())))
		if len(last) > 0 {
			add(last[rng.IntN(len(last))]) // replay from the block before
		}
		dup := env(h, treasuryAdmin2.addr)
		add(signTx(tb, dup, treasuryAdmin2, grantRole(treasuryClerk.addr, role())))
		add(signTx(tb, dup, treasuryAdmin2, revokeRole(treasuryClerk.addr, role()))) // same nonce

		rng.Shuffle(len(txs), func(i, j int) { txs[i], txs[j] = txs[j], txs[i] })
		blocks[h-1], last = txs, txs
	}
	return blocks
}

// Independent nodes fed the same blocks reach the same app hash and the
// same results at every height, whatever their database, pruning, cache
// size, or which transactions they saw in CheckTx first.
func TestIndependentNodesAgreeOnEveryBlock(t *testing.T) {
	blocks := script(t, 30)
	level, err := store.Open(store.Options{Dir: t.TempDir(), Backend: "goleveldb", KeepRecent: 3})
	require.NoError(t, err)

	ref := newChain(t)                                                          // memdb, defaults
	warm := openChain(t, store.NewMemory(), app.Options{SignatureCacheSize: 8}) // CheckTx first, tiny cache
	warm.initChain(testGenesis())
	disk := openChain(t, level, app.Options{}) // goleveldb, pruned
	disk.initChain(testGenesis())

	codes := map[string]int{}
	hashes := map[string]bool{}
	for i, txs := range blocks {
		h := int64(i + 1)
		for _, tx := range txs {
			warm.checkTx(tx)
		}
		processProposal(t, warm, h, txs)

		want := ref.block(txs...)
		for _, c := range []*chain{warm, disk} {
			got := c.block(txs...)
			require.Equal(t, want.AppHash, got.AppHash, "height %d", h)
			require.Equal(t, want.TxResults, got.TxResults, "height %d", h)
		}
		for _, r := range want.TxResults {
			codes[fmt.Sprintf("%s/%d", r.Codespace, r.Code)]++
		}
		hashes[string(want.AppHash)] = true
	}

	// The script must exercise both outcomes broadly, or agreement proves little.
	t.Logf("result codes over %d blocks: %v", len(blocks), codes)
	require.Greater(t, codes["/0"], 80, "successful transactions")
	require.GreaterOrEqual(t, len(codes), 12, "distinct result codes")
	require.Len(t, hashes, len(blocks), "every block changed state")
}

func processProposal(tb testing.TB, c *chain, h int64, txs [][]byte) abci.ResponseProcessProposal_ProposalStatus {
	tb.Helper()
	res, err := c.app.ProcessProposal(context.Background(), &abci.RequestProcessProposal{Txs: txs, Height: h, Time: blockTime(h)})
	require.NoError(tb, err)
	return res.Status
}

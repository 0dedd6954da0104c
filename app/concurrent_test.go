package app_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	ics23 "github.com/cosmos/ics23/go"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/client"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	"github.com/tallyledger/tally/x/module"
)

// proved is one answer a reader got, kept to be checked against the app
// hash of its height once the blocks are done.
type proved struct {
	height     int64
	key, value []byte
	proof      []byte
}

// CometBFT calls Query and CheckTx on their own connections while the
// consensus connection runs FinalizeBlock and Commit (home.NewNode uses one
// lock per connection). Readers hammer both while blocks add members, and
// every answer must be exactly some committed version: each proof verifies
// against the app hash of the height it names, each member list is as long
// as that height's membership, and CheckTx gives the verdicts of committed
// state. Run with -race (make test does), it also proves the app has no
// data race between the connections.
func TestConcurrentQueryAndCheckTxDuringBlocks(t *testing.T) {
	c := newChain(t)
	c.block()
	const blocks = 12
	replayed := c.txWith(txArgs{signer: treasuryAdmin, timeout: blocks + 10}, addMember(keyFor("concurrent/first"), agencyv1.Role_ROLE_TREASURY))
	requireOK(t, c.block(replayed).TxResults[0])
	base := len(c.members(agTreasury)) // members at height 2; one more each block
	// Admitted at every height of the run, never delivered.
	valid := c.txWith(txArgs{signer: treasuryAdmin, timeout: blocks + 10}, grantRole(treasuryClerk.addr, agencyv1.Role_ROLE_ADMIN))
	forged := c.txWith(txArgs{signer: treasuryAdmin, signWith: &stranger, timeout: blocks + 10}, grantRole(treasuryClerk.addr, agencyv1.Role_ROLE_ADMIN))

	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		answers []proved
		members = map[int64]int{} // height → members listed
		stop    = make(chan struct{})
		fail    = make(chan error, 8)
		// Each reader ticks after every round, so every block overlaps reads.
		queried, checked = make(chan struct{}, 1), make(chan struct{}, 1)
		// committed ticks after each block's Commit. The CheckTx reader
		// admits valid once a round, and each admission counts toward the
		// signer's transactions waiting until the next Commit
		// (max_pending_per_signer, 1,000): so it runs at most
		// checksPerBlock rounds, then waits for the next block, however
		// fast CheckTx is against the blocks (it once ran ~1,000 rounds
		// between two blocks and was refused tx/50).
		committed = make(chan struct{}, 1)
	)
	const checksPerBlock = app.DefaultMaxPendingPerSigner / 10
	tick := func(ch chan struct{}) {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	report := func(err error) {
		select {
		case fail <- err:
		default:
		}
	}
	ctx := context.Background()
	for range 2 { // queries
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				res, err := c.app.Query(ctx, &abci.RequestQuery{Path: api.PathAccount, Data: treasuryClerk.addr, Prove: true})
				if err != nil || res.Code != 0 || res.ProofOps == nil {
					report(fmt.Errorf("account query: %v %+v", err, res))
					return
				}
				list, err := c.app.Query(ctx, &abci.RequestQuery{Path: api.PathMembers, Data: listData(agTreasury), Prove: true})
				if err != nil || list.Code != 0 {
					report(fmt.Errorf("members query: %v %+v", err, list))
					return
				}
				l := &appv1.ProvedList{}
				if err := proto.Unmarshal(list.Value, l); err != nil {
					report(err)
					return
				}
				mu.Lock()
				answers = append(answers, proved{res.Height, res.Key, res.Value, res.ProofOps.Ops[0].Data})
				for _, e := range l.Entries {
					answers = append(answers, proved{list.Height, e.Key, e.Value, e.Proof})
				}
				members[list.Height] = len(l.Entries)
				mu.Unlock()
				tick(queried)
			}
		}()
	}
	wg.Add(1)
	go func() { // CheckTx, as the mempool calls it
		defer wg.Done()
		for round := 0; ; round++ {
			if round == checksPerBlock {
				round = 0
				select { // until the next block restarts the signer's count
				case <-stop:
					return
				case <-committed:
				}
			}
			select {
			case <-stop:
				return
			case <-committed:
				round = 0
			default:
			}
			for _, tc := range []struct {
				tx   []byte
				want *module.Error
			}{{valid, nil}, {replayed, app.ErrReplay}, {forged, app.ErrBadSignature}} {
				res, err := c.app.CheckTx(ctx, &abci.RequestCheckTx{Tx: tc.tx, Type: abci.CheckTxType_New})
				switch {
				case err != nil:
					report(err)
					return
				case tc.want == nil && res.Code != 0:
					report(fmt.Errorf("CheckTx refused a valid transaction: %s", res.Log))
					return
				case tc.want != nil && !isCode(res.Codespace, res.Code, tc.want):
					report(fmt.Errorf("CheckTx answered %s/%d %q, want %s", res.Codespace, res.Code, res.Log, tc.want.Error()))
					return
				}
			}
			tick(checked)
		}
	}()

	for i := range blocks {
		res := c.finalize(c.tx(treasuryAdmin, addMember(keyFor(fmt.Sprintf("concurrent/%d", i)), agencyv1.Role_ROLE_TREASURY)))
		requireOK(t, res.TxResults[0])
		c.commit()
		tick(committed)
		for _, ch := range []chan struct{}{queried, checked} {
			select {
			case <-ch:
			case err := <-fail:
				require.NoError(t, err)
			}
		}
	}
	close(stop)
	wg.Wait()
	close(fail)
	require.NoError(t, <-fail)

	require.NotEmpty(t, answers)
	for _, a := range answers {
		hash, ok := c.hashes[a.height]
		require.True(t, ok, "an answer names height %d, which was never committed", a.height)
		p := &ics23.CommitmentProof{}
		require.NoError(t, p.Unmarshal(a.proof))
		require.NoError(t, client.VerifyProof(hash, a.key, a.value, p), "answer at height %d", a.height)
	}
	for h, n := range members {
		require.Equal(t, base+int(h-2), n, "members listed at height %d", h)
	}
}

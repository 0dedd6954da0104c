package app_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/store"
)

// engines are the state engines a node may run; state sync works between
// any two.
var engines = []string{store.EngineIAVL, store.EngineMemiavl}

// engineStore is an empty state on engine: IAVL in memory, or memiavl in
// a temporary directory.
func engineStore(t *testing.T, engine string) *store.Store {
	t.Helper()
	if engine == store.EngineIAVL {
		return store.NewMemory()
	}
	st, err := store.Open(store.Options{Engine: engine, Dir: t.TempDir()})
	require.NoError(t, err)
	return st
}

// snapshotChain is the test chain on engine taking a snapshot every 6
// blocks, in chunks of 512 bytes so that its state spans many chunks.
func snapshotChain(t *testing.T, engine string) *chain {
	t.Helper()
	c := openChain(t, engineStore(t, engine), app.Options{Snapshots: app.SnapshotOptions{Dir: t.TempDir(), Interval: 6, KeepRecent: 2, ChunkSize: 512}})
	c.initChain(testGenesis())
	for i := 0; i < 5; i++ {
		requireOK(t, c.block(c.tx(treasuryAdmin, addMember(keyFor(fmt.Sprintf("snap/%d", i))))).TxResults[0])
	}
	c.block()
	return c
}

// latestSnapshot waits for the snapshot of height h (taken in the
// background) and returns it with its chunks.
func latestSnapshot(t *testing.T, c *chain, h uint64) (*abci.Snapshot, [][]byte) {
	t.Helper()
	var sn *abci.Snapshot
	require.Eventually(t, func() bool {
		res, err := c.app.ListSnapshots(context.Background(), &abci.RequestListSnapshots{})
		require.NoError(t, err)
		if len(res.Snapshots) > 0 && res.Snapshots[0].Height == h {
			sn = res.Snapshots[0]
		}
		return sn != nil
	}, 30*time.Second, 10*time.Millisecond, "snapshot of height %d", h)
	var chunks [][]byte
	for i := uint32(0); i < sn.Chunks; i++ {
		res, err := c.app.LoadSnapshotChunk(context.Background(), &abci.RequestLoadSnapshotChunk{Height: sn.Height, Format: sn.Format, Chunk: i})
		require.NoError(t, err)
		require.NotEmpty(t, res.Chunk)
		chunks = append(chunks, res.Chunk)
	}
	return sn, chunks
}

// freshNode is an app with an empty state on engine, ready to state-sync.
func freshNode(t *testing.T, engine string) *chain {
	t.Helper()
	return openChain(t, engineStore(t, engine), app.Options{Snapshots: app.SnapshotOptions{Dir: t.TempDir()}})
}

func offerSnapshot(t *testing.T, c *chain, sn *abci.Snapshot, appHash []byte) abci.ResponseOfferSnapshot_Result {
	t.Helper()
	res, err := c.app.OfferSnapshot(context.Background(), &abci.RequestOfferSnapshot{Snapshot: sn, AppHash: appHash})
	require.NoError(t, err)
	return res.Result
}

func applyChunk(t *testing.T, c *chain, i uint32, chunk []byte, sender string) *abci.ResponseApplySnapshotChunk {
	t.Helper()
	res, err := c.app.ApplySnapshotChunk(context.Background(), &abci.RequestApplySnapshotChunk{Index: i, Chunk: chunk, Sender: sender})
	require.NoError(t, err)
	return res
}

// A node restores another's snapshot of height 6 chunk by chunk: it then
// reports height 6 with the other's app hash at 6, answers queries from the
// restored state, and runs the next block to the same app hash. Chunks
// that are corrupt, truncated or from another place in the snapshot are
// refused on the way, each asked for again with its sender rejected. On
// either engine, from a snapshot taken on either.
func TestStateSyncRestoresTheSnapshotAndRefusesBadChunks(t *testing.T) {
	for _, from := range engines {
		for _, to := range engines {
			t.Run(from+"_to_"+to, func(t *testing.T) { testStateSyncRestores(t, from, to) })
		}
	}
}

func testStateSyncRestores(t *testing.T, from, to string) {
	src := snapshotChain(t, from)
	sn, chunks := latestSnapshot(t, src, 6)
	require.Greater(t, len(chunks), 3, "the test wants a snapshot of several chunks")

	dst := freshNode(t, to)
	require.Equal(t, abci.ResponseOfferSnapshot_ACCEPT, offerSnapshot(t, dst, sn, src.hashes[6]))
	corrupt := append([]byte{}, chunks[1]...)
	corrupt[len(corrupt)/2] ^= 0x40
	for i, chunk := range chunks {
		if i == 1 {
			for name, bad := range map[string][]byte{"corrupt": corrupt, "truncated": chunks[1][:len(chunks[1])-7], "foreign": chunks[2], "empty": nil} {
				res := applyChunk(t, dst, 1, bad, "peer-"+name)
				require.Equal(t, abci.ResponseApplySnapshotChunk_RETRY, res.Result, name)
				require.Equal(t, []uint32{1}, res.RefetchChunks, name)
				require.Equal(t, []string{"peer-" + name}, res.RejectSenders, name)
			}
		}
		res := applyChunk(t, dst, uint32(i), chunk, "peer-good")
		require.Equal(t, abci.ResponseApplySnapshotChunk_ACCEPT, res.Result, "chunk %d", i)
		require.Empty(t, res.RejectSenders)
	}
	info := dst.info()
	require.Equal(t, int64(6), info.LastBlockHeight)
	require.Equal(t, src.hashes[6], info.LastBlockAppHash)
	require.NotNil(t, dst.account(keyFor("snap/4").addr), "the restored state answers queries")

	// The restored node goes on in step with the chain (src is at 6 too).
	dst.height = 6
	tx := src.tx(treasuryAdmin, addMember(keyFor("after-sync")))
	requireOK(t, src.block(tx).TxResults[0])
	requireOK(t, dst.block(tx).TxResults[0])
	require.Equal(t, src.hashes[7], dst.hashes[7])
}

// A snapshot whose chunks all match its metadata but whose state is not
// the one the light client trusts (a peer made it up, or it is another
// chain's) is rejected at its last chunk, and the state is left empty: the
// node then restores a true snapshot. A chunk that matches its hash but is
// not a tree encoding rejects the snapshot at once, with its sender. On
// either engine.
func TestStateSyncRejectsFalseSnapshots(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) { testStateSyncRejectsFalseSnapshots(t, engine) })
	}
}

func testStateSyncRejectsFalseSnapshots(t *testing.T, engine string) {
	src := snapshotChain(t, store.EngineIAVL)
	sn, chunks := latestSnapshot(t, src, 6)
	dst := freshNode(t, engine)

	// Every chunk consistent with the metadata, one value changed.
	forged := make([][]byte, len(chunks))
	var hashes []byte
	for i, c := range chunks {
		forged[i] = append([]byte{}, c...)
		if i == len(chunks)-2 {
			forged[i][len(c)-3] ^= 0x01 // a leaf value's byte (the chunk ends with leaves and inner nodes)
		}
		h := sha256.Sum256(forged[i])
		hashes = append(hashes, h[:]...)
	}
	forgedSn := &abci.Snapshot{Height: sn.Height, Format: sn.Format, Chunks: sn.Chunks, Metadata: hashes}
	hh := sha256.Sum256(hashes)
	forgedSn.Hash = hh[:]

	require.Equal(t, abci.ResponseOfferSnapshot_ACCEPT, offerSnapshot(t, dst, forgedSn, src.hashes[6]))
	var last *abci.ResponseApplySnapshotChunk
	for i, c := range forged {
		last = applyChunk(t, dst, uint32(i), c, "peer-forger")
		if last.Result != abci.ResponseApplySnapshotChunk_ACCEPT {
			break
		}
	}
	require.Equal(t, abci.ResponseApplySnapshotChunk_REJECT_SNAPSHOT, last.Result)
	require.Equal(t, int64(0), dst.info().LastBlockHeight, "a rejected snapshot leaves no state")

	// Garbage with a matching hash: rejected at that chunk, sender too.
	garbage := []byte{0x05, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}
	gh := sha256.Sum256(garbage)
	garbageMeta := append(append([]byte{}, gh[:]...), sn.Metadata[32:]...)
	gs := sha256.Sum256(garbageMeta)
	require.Equal(t, abci.ResponseOfferSnapshot_ACCEPT, offerSnapshot(t, dst, &abci.Snapshot{Height: sn.Height, Format: sn.Format, Chunks: sn.Chunks, Metadata: garbageMeta, Hash: gs[:]}, src.hashes[6]))
	res := applyChunk(t, dst, 0, garbage, "peer-garbage")
	require.Equal(t, abci.ResponseApplySnapshotChunk_REJECT_SNAPSHOT, res.Result)
	require.Equal(t, []string{"peer-garbage"}, res.RejectSenders)
	require.Equal(t, int64(0), dst.info().LastBlockHeight)

	// The true snapshot, but another app hash trusted (another chain's).
	require.NotEqual(t, src.hashes[4], src.hashes[6])
	require.Equal(t, abci.ResponseOfferSnapshot_ACCEPT, offerSnapshot(t, dst, sn, src.hashes[4]))
	for i, c := range chunks {
		last = applyChunk(t, dst, uint32(i), c, "peer-other-chain")
	}
	require.Equal(t, abci.ResponseApplySnapshotChunk_REJECT_SNAPSHOT, last.Result)
	require.Equal(t, int64(0), dst.info().LastBlockHeight)

	// The true snapshot restores after all that.
	require.Equal(t, abci.ResponseOfferSnapshot_ACCEPT, offerSnapshot(t, dst, sn, src.hashes[6]))
	for i, c := range chunks {
		require.Equal(t, abci.ResponseApplySnapshotChunk_ACCEPT, applyChunk(t, dst, uint32(i), c, "peer-good").Result)
	}
	require.Equal(t, src.hashes[6], dst.info().LastBlockAppHash)
}

// Offers that cannot be a snapshot this binary reads are refused before
// anything is restored.
func TestStateSyncRefusesInconsistentOffers(t *testing.T) {
	src := snapshotChain(t, store.EngineIAVL)
	sn, _ := latestSnapshot(t, src, 6)
	dst := freshNode(t, store.EngineIAVL)
	edit := func(f func(s *abci.Snapshot)) *abci.Snapshot {
		s := *sn
		f(&s)
		return &s
	}
	require.Equal(t, abci.ResponseOfferSnapshot_REJECT_FORMAT, offerSnapshot(t, dst, edit(func(s *abci.Snapshot) { s.Format = 2 }), src.hashes[6]))
	require.Equal(t, abci.ResponseOfferSnapshot_REJECT, offerSnapshot(t, dst, edit(func(s *abci.Snapshot) { s.Chunks++ }), src.hashes[6]))
	require.Equal(t, abci.ResponseOfferSnapshot_REJECT, offerSnapshot(t, dst, edit(func(s *abci.Snapshot) { s.Hash = s.Metadata[:32] }), src.hashes[6]))
	require.Equal(t, abci.ResponseOfferSnapshot_REJECT, offerSnapshot(t, dst, edit(func(s *abci.Snapshot) { s.Height = 0 }), src.hashes[6]))
	require.Equal(t, abci.ResponseOfferSnapshot_REJECT, offerSnapshot(t, dst, nil, src.hashes[6]))
	// A node with state of its own never restores over it.
	require.Equal(t, abci.ResponseOfferSnapshot_ABORT, offerSnapshot(t, src, sn, src.hashes[6]))
	require.Equal(t, int64(0), dst.info().LastBlockHeight)
}

// Commit asks CometBFT to keep retain_blocks blocks, and never fewer than
// the kept snapshots span (interval x kept, plus the blocks after the
// oldest that state sync reads).
func TestCommitRetainHeightKeepsWhatSnapshotsNeed(t *testing.T) {
	for _, tt := range []struct {
		retain, interval uint64
		keep             uint32
		at, want         int64
	}{
		{retain: 0, interval: 2, keep: 2, at: 20, want: 0},  // 0 keeps all blocks
		{retain: 5, interval: 0, keep: 2, at: 20, want: 15}, // no snapshots
		{retain: 5, interval: 2, keep: 3, at: 20, want: 11}, // 2*3+3 = 9 blocks kept
		{retain: 12, interval: 2, keep: 3, at: 20, want: 8},
		{retain: 12, interval: 2, keep: 3, at: 12, want: 0},
	} {
		c := openChain(t, store.NewMemory(), app.Options{RetainBlocks: tt.retain, Snapshots: app.SnapshotOptions{Dir: t.TempDir(), Interval: tt.interval, KeepRecent: tt.keep}})
		c.initChain(testGenesis())
		for c.height < tt.at-1 {
			c.block()
		}
		_, err := c.app.FinalizeBlock(context.Background(), &abci.RequestFinalizeBlock{Height: tt.at, Time: blockTime(tt.at)})
		require.NoError(t, err)
		res, err := c.app.Commit(context.Background(), &abci.RequestCommit{})
		require.NoError(t, err)
		require.Equal(t, tt.want, res.RetainHeight, "%+v", tt)
		c.close()
	}
}

// Two nodes that ran the same blocks take the same snapshot, byte for
// byte, so a restoring node can fetch its chunks from either: whatever
// state engine each runs.
func TestSnapshotsOfOneHeightAreIdenticalAcrossNodes(t *testing.T) {
	for _, other := range engines {
		a, b := snapshotChain(t, store.EngineIAVL), snapshotChain(t, other)
		require.Equal(t, a.hashes[6], b.hashes[6])
		snA, chunksA := latestSnapshot(t, a, 6)
		snB, chunksB := latestSnapshot(t, b, 6)
		require.Equal(t, snA, snB, other)
		require.Equal(t, chunksA, chunksB, other)
	}
}

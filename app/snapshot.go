package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/libs/log"

	"github.com/tallyledger/tally/store"
)

// SnapshotOptions say where and how often a node takes state-sync
// snapshots (app.toml snapshot_interval and snapshot_keep_recent). They
// are node-local: they change what a node can serve, not what state a block
// produces.
type SnapshotOptions struct {
	// Dir holds the snapshots, one folder per height; empty turns
	// snapshots off (none taken, none served, none restored).
	Dir string
	// Interval: a snapshot is taken after every block whose height is a
	// multiple of it; 0 takes none (the node can still restore one).
	Interval uint64
	// KeepRecent is how many of the newest snapshots are kept (at least 1).
	KeepRecent uint32
	// ChunkSize overrides the chunk size (tests make many small chunks).
	// Nodes serving one snapshot must use the same size; 0 is the default.
	ChunkSize int
}

// snapshots takes, keeps and serves this node's snapshots, and holds the
// restore in progress. Taking runs on a goroutine of its own, from a saved
// version read apart from the working tree (IAVL's reader tree, or a
// read-only memiavl database: store.Store.Export), so it never holds up
// the consensus connection; CometBFT calls the four snapshot methods on
// its snapshot connection, one at a time.
type snapshots struct {
	opts   SnapshotOptions
	logger log.Logger
	taking atomic.Bool
	wg     sync.WaitGroup

	statsMu sync.Mutex
	stats   SnapshotStats

	restore *restoring // the snapshot connection's; nil when none is under way
}

// restoring is a state sync under way: the snapshot offered, the app hash
// the light client trusts for its height, and the next chunk expected.
type restoring struct {
	snapshot *abci.Snapshot
	appHash  []byte
	r        *store.Restore
	next     uint32
}

func newSnapshots(opts SnapshotOptions, logger log.Logger) (*snapshots, error) {
	if opts.ChunkSize <= 0 {
		opts.ChunkSize = snapshotChunkSize
	}
	opts.KeepRecent = max(opts.KeepRecent, 1)
	s := &snapshots{opts: opts, logger: logger}
	if opts.Dir == "" {
		return s, nil
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("snapshots folder: %w", err)
	}
	// A snapshot cut short by a crash never got its final name.
	tmp, _ := filepath.Glob(filepath.Join(opts.Dir, "*.tmp"))
	for _, d := range tmp {
		if err := os.RemoveAll(d); err != nil {
			return nil, fmt.Errorf("removing unfinished snapshot: %w", err)
		}
	}
	return s, nil
}

// afterCommit starts a snapshot of version if it is due and none is being
// taken. The version is held from pruning before Commit returns.
func (s *snapshots) afterCommit(st *store.Store, version int64) {
	if s.opts.Dir == "" || s.opts.Interval == 0 || uint64(version)%s.opts.Interval != 0 {
		return
	}
	if !s.taking.CompareAndSwap(false, true) {
		s.logger.Info("skipping a snapshot: the previous one is still being taken", "height", version)
		s.note(func(st *SnapshotStats) { st.Skipped++ })
		return
	}
	release, err := st.Hold(version)
	if err != nil {
		s.taking.Store(false)
		s.logger.Error("cannot snapshot", "height", version, "err", err)
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer s.taking.Store(false)
		defer release()
		start := time.Now()
		if err := s.take(st, version); err != nil {
			s.logger.Error("snapshot failed", "height", version, "err", err)
			s.note(func(st *SnapshotStats) { st.Failed++ })
			return
		}
		took := time.Since(start)
		s.logger.Info("snapshot taken", "height", version, "took", took.Round(time.Millisecond))
		s.note(func(st *SnapshotStats) { st.Height, st.Duration, st.Taken = version, took, time.Now() })
		if err := s.prune(); err != nil {
			s.logger.Error("removing old snapshots", "err", err)
		}
	}()
}

// SnapshotStats is what this process's snapshot taking has done since the
// node started (App.SnapshotStats; node metrics tally_snapshot_*).
type SnapshotStats struct {
	// Height of the last snapshot taken (0: none yet), how long it took
	// and when it was finished.
	Height   int64
	Duration time.Duration
	Taken    time.Time
	// Failed snapshots, and due ones skipped because the previous one was
	// still being taken.
	Failed, Skipped uint64
}

func (s *snapshots) note(f func(*SnapshotStats)) {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	f(&s.stats)
}

// SnapshotStats reports the snapshots this node has taken since it started.
func (a *App) SnapshotStats() SnapshotStats {
	a.snaps.statsMu.Lock()
	defer a.snaps.statsMu.Unlock()
	return a.snaps.stats
}

// take writes the snapshot of version into Dir/<version>: one file per
// chunk (0, 1, ...) and the metadata; the folder gets its name only when
// whole.
func (s *snapshots) take(st *store.Store, version int64) error {
	final := filepath.Join(s.opts.Dir, strconv.FormatInt(version, 10))
	if _, err := os.Stat(final); err == nil {
		return nil // taken before a restart
	}
	tmp := final + ".tmp"
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return err
	}
	var hashes [][32]byte
	w := &chunkWriter{size: s.opts.ChunkSize, flush: func(chunk []byte) error {
		hashes = append(hashes, sha256.Sum256(chunk))
		return os.WriteFile(filepath.Join(tmp, strconv.Itoa(len(hashes)-1)), chunk, 0o600)
	}}
	err := st.Export(version, w.add)
	if err == nil {
		err = w.end()
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(tmp, "metadata"), snapshotMetadata(hashes), 0o600)
	}
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err != nil {
		return errors.Join(err, os.RemoveAll(tmp))
	}
	return nil
}

// heights lists the heights of the complete snapshots on disk, newest first.
func (s *snapshots) heights() ([]uint64, error) {
	if s.opts.Dir == "" {
		return nil, nil
	}
	entries, err := os.ReadDir(s.opts.Dir)
	if err != nil {
		return nil, err
	}
	var out []uint64
	for _, e := range entries {
		if h, err := strconv.ParseUint(e.Name(), 10, 63); err == nil && e.IsDir() {
			out = append(out, h)
		}
	}
	slices.Sort(out)
	slices.Reverse(out)
	return out, nil
}

// prune removes all but the newest KeepRecent snapshots.
func (s *snapshots) prune() error {
	hs, err := s.heights()
	if err != nil {
		return err
	}
	for _, h := range hs[min(len(hs), int(s.opts.KeepRecent)):] {
		if err := os.RemoveAll(filepath.Join(s.opts.Dir, strconv.FormatUint(h, 10))); err != nil {
			return err
		}
	}
	return nil
}

// list returns the snapshots this node can serve, newest first.
func (s *snapshots) list() ([]*abci.Snapshot, error) {
	hs, err := s.heights()
	if err != nil {
		return nil, err
	}
	var out []*abci.Snapshot
	for _, h := range hs {
		md, err := os.ReadFile(filepath.Join(s.opts.Dir, strconv.FormatUint(h, 10), "metadata"))
		if err != nil || len(md) == 0 || len(md)%sha256.Size != 0 {
			continue // removed meanwhile, or damaged: not offered
		}
		out = append(out, &abci.Snapshot{Height: h, Format: SnapshotFormat, Chunks: uint32(len(md) / sha256.Size), Hash: snapshotHash(md), Metadata: md})
	}
	return out, nil
}

// wait waits for a snapshot being taken.
func (s *snapshots) wait() { s.wg.Wait() }

// ListSnapshots offers this node's snapshots to peers that state-sync.
func (a *App) ListSnapshots(context.Context, *abci.RequestListSnapshots) (*abci.ResponseListSnapshots, error) {
	list, err := a.snaps.list()
	if err != nil {
		return nil, fmt.Errorf("listing snapshots: %w", err)
	}
	return &abci.ResponseListSnapshots{Snapshots: list}, nil
}

// LoadSnapshotChunk serves one chunk of a snapshot; an empty answer means
// this node does not have it.
func (a *App) LoadSnapshotChunk(_ context.Context, req *abci.RequestLoadSnapshotChunk) (*abci.ResponseLoadSnapshotChunk, error) {
	if a.snaps.opts.Dir == "" || req.Format != SnapshotFormat {
		return &abci.ResponseLoadSnapshotChunk{}, nil
	}
	b, err := os.ReadFile(filepath.Join(a.snaps.opts.Dir, strconv.FormatUint(req.Height, 10), strconv.FormatUint(uint64(req.Chunk), 10)))
	if err != nil {
		return &abci.ResponseLoadSnapshotChunk{}, nil //nolint:nilerr // pruned meanwhile or never had it: the peer asks another node
	}
	return &abci.ResponseLoadSnapshotChunk{Chunk: b}, nil
}

// OfferSnapshot accepts a snapshot offered by a peer if it is in a format
// this binary reads and its metadata is consistent, and starts restoring it
// into the empty state. appHash is the app hash at the snapshot's height
// that CometBFT's light client verified: the restored state must have it.
func (a *App) OfferSnapshot(_ context.Context, req *abci.RequestOfferSnapshot) (*abci.ResponseOfferSnapshot, error) {
	if err := a.dropRestore(); err != nil {
		return nil, err
	}
	if a.snaps.opts.Dir == "" {
		return &abci.ResponseOfferSnapshot{Result: abci.ResponseOfferSnapshot_ABORT}, nil
	}
	sn := req.Snapshot
	switch {
	case sn == nil:
		return &abci.ResponseOfferSnapshot{Result: abci.ResponseOfferSnapshot_REJECT}, nil
	case sn.Format != SnapshotFormat:
		a.logger.Info("refusing a snapshot in an unknown format", "height", sn.Height, "format", sn.Format)
		return &abci.ResponseOfferSnapshot{Result: abci.ResponseOfferSnapshot_REJECT_FORMAT}, nil
	case sn.Height == 0 || sn.Height > 1<<62 || sn.Chunks == 0 || sn.Chunks > maxSnapshotChunks ||
		len(sn.Metadata) != sha256.Size*int(sn.Chunks) || !bytes.Equal(sn.Hash, snapshotHash(sn.Metadata)) || len(req.AppHash) != sha256.Size:
		a.logger.Info("refusing an inconsistent snapshot", "height", sn.Height, "chunks", sn.Chunks, "metadata_bytes", len(sn.Metadata))
		return &abci.ResponseOfferSnapshot{Result: abci.ResponseOfferSnapshot_REJECT}, nil
	}
	if v, _ := a.store.LastCommit(); v > 0 {
		a.logger.Error("refusing to restore a snapshot over existing state", "state_height", v, "snapshot_height", sn.Height)
		return &abci.ResponseOfferSnapshot{Result: abci.ResponseOfferSnapshot_ABORT}, nil
	}
	r, err := a.store.BeginRestore(int64(sn.Height))
	if err != nil {
		return nil, fmt.Errorf("starting to restore the snapshot of height %d: %w", sn.Height, err)
	}
	a.snaps.restore = &restoring{snapshot: sn, appHash: bytes.Clone(req.AppHash), r: r}
	a.logger.Info("restoring snapshot", "height", sn.Height, "chunks", sn.Chunks)
	return &abci.ResponseOfferSnapshot{Result: abci.ResponseOfferSnapshot_ACCEPT}, nil
}

// ApplySnapshotChunk adds the next chunk of the snapshot being restored.
// A chunk that does not match the snapshot's metadata (corrupt, truncated,
// from another snapshot) is refused and asked for again from another peer,
// its sender rejected. A chunk that matches but cannot be part of a tree,
// or a last chunk after which the state's hash is not the trusted app
// hash, rejects the whole snapshot: the state is emptied again and
// CometBFT tries another snapshot.
func (a *App) ApplySnapshotChunk(_ context.Context, req *abci.RequestApplySnapshotChunk) (*abci.ResponseApplySnapshotChunk, error) {
	rs := a.snaps.restore
	if rs == nil {
		return &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_ABORT}, nil
	}
	if req.Index != rs.next {
		if req.Index < rs.next {
			return &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_ACCEPT}, nil // applied already
		}
		return &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_RETRY_SNAPSHOT}, nil
	}
	want := rs.snapshot.Metadata[sha256.Size*int(req.Index) : sha256.Size*int(req.Index+1)]
	if got := sha256.Sum256(req.Chunk); !bytes.Equal(got[:], want) {
		a.logger.Info("refusing a snapshot chunk that does not match its hash; asking another peer", "height", rs.snapshot.Height, "chunk", req.Index, "sender", req.Sender, "bytes", len(req.Chunk))
		return &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_RETRY, RefetchChunks: []uint32{req.Index}, RejectSenders: senders(req.Sender)}, nil
	}
	reject := func(err error) (*abci.ResponseApplySnapshotChunk, error) {
		a.logger.Error("rejecting snapshot", "height", rs.snapshot.Height, "chunk", req.Index, "sender", req.Sender, "err", err)
		if err := a.dropRestore(); err != nil {
			return nil, err
		}
		return &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_REJECT_SNAPSHOT, RejectSenders: senders(req.Sender)}, nil
	}
	if err := decodeChunk(req.Chunk, rs.r.Add); err != nil {
		if errors.Is(err, errBadChunk) || errors.Is(err, store.ErrRestoreRefused) {
			return reject(err)
		}
		return nil, fmt.Errorf("restoring chunk %d of the snapshot of height %d: %w", req.Index, rs.snapshot.Height, err)
	}
	rs.next++
	if rs.next < rs.snapshot.Chunks {
		return &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_ACCEPT}, nil
	}
	a.snaps.restore = nil
	if err := rs.r.Finish(rs.appHash); err != nil {
		if !errors.Is(err, store.ErrRestoreRefused) {
			return nil, fmt.Errorf("finishing the restore of height %d: %w", rs.snapshot.Height, err)
		}
		// Every chunk matched the metadata, so the snapshot itself is
		// false: CometBFT drops it (and any peer offering only it).
		a.logger.Error("rejecting snapshot: restored state does not have the trusted app hash", "height", rs.snapshot.Height, "err", err)
		return &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_REJECT_SNAPSHOT}, nil
	}
	if err := a.afterRestore(); err != nil {
		return nil, err
	}
	a.logger.Info("snapshot restored", "height", rs.snapshot.Height)
	return &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_ACCEPT}, nil
}

// afterRestore loads what the app keeps in memory from the restored state,
// as New does for a state on disk.
func (a *App) afterRestore() error {
	v, _ := a.store.LastCommit()
	if err := a.loadChainState(a.store); err != nil {
		return err
	}
	if err := a.refreshPeers(a.store); err != nil {
		return err
	}
	a.publishCommitted(v)
	return nil
}

// dropRestore abandons the restore under way, if any, emptying the state.
func (a *App) dropRestore() error {
	rs := a.snaps.restore
	if rs == nil {
		return nil
	}
	a.snaps.restore = nil
	if err := rs.r.Abort(); err != nil {
		return fmt.Errorf("abandoning the restore of height %d: %w", rs.snapshot.Height, err)
	}
	return nil
}

func senders(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	return []string{s}
}

// retainHeight is the oldest block CometBFT must keep after committing
// version (0: keep all). It keeps RetainBlocks blocks, and never fewer than
// the snapshots kept span: a node that state-syncs from the oldest
// snapshot verifies its height with the light client and then fetches
// every later block from its peers. (The node adds the evidence floor to
// RetainBlocks: see node.NewNode.)
func (a *App) retainHeight(version int64) int64 {
	if a.retainBlocks == 0 {
		return 0
	}
	keep := a.retainBlocks
	if o := a.snaps.opts; o.Dir != "" && o.Interval > 0 {
		keep = max(keep, o.Interval*uint64(o.KeepRecent)+retainMargin)
	}
	if uint64(version) <= keep {
		return 0
	}
	return version - int64(keep)
}

// retainMargin covers the blocks after a snapshot that state sync reads
// over RPC: the light client verifies height+1, and the validator sets of
// height+1 and height+2 are fetched.
const retainMargin = 3

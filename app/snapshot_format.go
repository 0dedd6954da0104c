package app

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/tallyledger/tally/store"
)

// State-sync snapshot format 1.
//
// A snapshot of height H is the saved tree version H in IAVL's export order
// (store.Node), cut into chunks. A chunk holds whole nodes; a new chunk
// starts once the current one has reached the chunk size. Each node is
//
//	height   1 byte (0 for a leaf)
//	version  uvarint (the version that last wrote the node)
//	key      uvarint length, bytes
//	value    uvarint length, bytes (leaves only)
//
// The snapshot's metadata is the SHA-256 of every chunk, in order, 32 bytes
// each, and its hash (abci.Snapshot.Hash) is the SHA-256 of the metadata.
// A restoring node checks every chunk against the metadata before it reads
// it, so a peer serving a corrupt, truncated or foreign chunk is caught at
// that chunk, and checks the rebuilt tree's root against the app hash the
// light client verified, so a peer offering a whole consistent but false
// snapshot is caught at the end. The content is a function of the tree
// alone (and the chunk size, a constant), so every node that snapshots
// height H makes the same snapshot and a restoring node can fetch its
// chunks from any of them.
const SnapshotFormat uint32 = 1

// snapshotChunkSize is where a chunk is cut (it may end up to one node
// larger). CometBFT carries a chunk in one p2p message of at most 16 MB.
const snapshotChunkSize = 4 << 20

// maxSnapshotChunks bounds a snapshot's chunk count (40 GB of state at the
// chunk size): an offer claiming more is refused before anything is
// allocated for it.
const maxSnapshotChunks = 10_000

// chunkWriter cuts exported nodes into chunks.
type chunkWriter struct {
	size  int
	cur   []byte
	flush func(chunk []byte) error
}

func (w *chunkWriter) add(n *store.Node) error {
	w.cur = append(w.cur, byte(n.Height))
	w.cur = binary.AppendUvarint(w.cur, uint64(n.Version))
	w.cur = binary.AppendUvarint(w.cur, uint64(len(n.Key)))
	w.cur = append(w.cur, n.Key...)
	if n.Height == 0 {
		w.cur = binary.AppendUvarint(w.cur, uint64(len(n.Value)))
		w.cur = append(w.cur, n.Value...)
	}
	if len(w.cur) >= w.size {
		return w.end()
	}
	return nil
}

// end flushes the last, partly filled chunk.
func (w *chunkWriter) end() error {
	if len(w.cur) == 0 {
		return nil
	}
	chunk := w.cur
	w.cur = nil
	return w.flush(chunk)
}

// errBadChunk is a chunk that matches its hash but does not decode: the
// snapshot itself is bad.
var errBadChunk = errors.New("malformed snapshot chunk")

// decodeChunk calls fn with each node of a chunk.
func decodeChunk(chunk []byte, fn func(*store.Node) error) error {
	for i := 0; len(chunk) > 0; i++ {
		n := &store.Node{Height: int8(chunk[0])}
		if chunk[0] > 127 {
			return fmt.Errorf("%w: node %d has height %d", errBadChunk, i, chunk[0])
		}
		chunk = chunk[1:]
		v, k := binary.Uvarint(chunk)
		if k <= 0 || v > 1<<62 {
			return fmt.Errorf("%w: node %d: bad version", errBadChunk, i)
		}
		n.Version, chunk = int64(v), chunk[k:]
		var err error
		if n.Key, chunk, err = lengthPrefixed(chunk); err != nil {
			return fmt.Errorf("%w: node %d key: %v", errBadChunk, i, err)
		}
		if n.Height == 0 {
			if n.Value, chunk, err = lengthPrefixed(chunk); err != nil {
				return fmt.Errorf("%w: node %d value: %v", errBadChunk, i, err)
			}
		}
		if err := fn(n); err != nil {
			return err
		}
	}
	return nil
}

// lengthPrefixed splits a uvarint-length-prefixed field (never nil, even
// when empty) from the rest of b.
func lengthPrefixed(b []byte) (field, rest []byte, err error) {
	l, k := binary.Uvarint(b)
	if k <= 0 {
		return nil, nil, errors.New("bad length")
	}
	if l > uint64(len(b)-k) {
		return nil, nil, fmt.Errorf("length %d runs past the chunk's end", l)
	}
	end := k + int(l)
	return append([]byte{}, b[k:end]...), b[end:], nil
}

// snapshotMetadata is the metadata of chunks with these hashes.
func snapshotMetadata(chunkHashes [][32]byte) []byte {
	out := make([]byte, 0, 32*len(chunkHashes))
	for _, h := range chunkHashes {
		out = append(out, h[:]...)
	}
	return out
}

// snapshotHash is a snapshot's hash: that of its metadata.
func snapshotHash(metadata []byte) []byte {
	h := sha256.Sum256(metadata)
	return h[:]
}

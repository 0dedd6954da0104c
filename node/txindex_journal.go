package node

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sort"

	dbm "github.com/cometbft/cometbft-db"
	"github.com/cometbft/cometbft/types"
	"github.com/google/orderedcode"
	"github.com/syndtr/goleveldb/leveldb"
)

// CometBFT's block indexer keys a block's events by attribute first
// (block_events + orderedcode(<type>.<key>, <value>, h, <seq>)), so the
// keys of one height are spread over the whole key space and nothing in
// CometBFT lists them again (the block's results, which hold its events,
// are pruned with the block). Finding them by walking every block-event
// key costs O(index) per pruning pass. Instead the node journals, as the
// indexer writes them, the keys of each height's block events under
// blockEventsJournal + height + digest; the pruner reads the journal of
// the heights it prunes, so a pass costs O(pruned).

// blockEventsJournal prefixes the journal entries: keys no CometBFT query
// or hash lookup can reach (hashes are 32 bytes and these 25; every key
// CometBFT searches has a '/' after its tag, and these have none).
var blockEventsJournal = []byte("tally-be:")

// blockEventsJournaled marks an index whose every block-event key is in
// the journal: set by journalOlderBlockEvents, once per index.
var blockEventsJournaled = []byte("tally-be-complete")

// journalKey is blockEventsJournal + big-endian height + the first 8 bytes
// of the SHA-256 of the entry's keys: one entry per distinct indexing of a
// height (the node indexes its latest blocks again at every start, under
// new event sequence numbers), and writing the same keys twice writes the
// same entry.
func journalKey(h int64, keys []byte) []byte {
	sum := sha256.Sum256(keys)
	k := append(bytes.Clone(blockEventsJournal), make([]byte, 16)...)
	binary.BigEndian.PutUint64(k[len(blockEventsJournal):], uint64(h))
	copy(k[len(blockEventsJournal)+8:], sum[:8])
	return k
}

// journalHeight is the height of the journal key k.
func journalHeight(k []byte) (int64, bool) {
	if len(k) != len(blockEventsJournal)+16 || !bytes.HasPrefix(k, blockEventsJournal) {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(k[len(blockEventsJournal):])), true
}

// journalBound is the first journal key of height h.
func journalBound(h int64) []byte {
	k := append(bytes.Clone(blockEventsJournal), make([]byte, 8)...)
	binary.BigEndian.PutUint64(k[len(blockEventsJournal):], uint64(max(h, 0)))
	return k
}

// blockEventHeight parses a block-event key (with its block_events prefix)
// and says its height and whether it is an event key (false: the height
// key block.height/h). ok is false for a key this code does not know.
func blockEventHeight(k []byte) (h int64, event, ok bool) {
	if !bytes.HasPrefix(k, blockEventsPrefix) {
		return 0, false, false
	}
	sub := string(k[len(blockEventsPrefix):])
	var tag, value string
	var seq int64
	if rest, err := orderedcode.Parse(sub, &tag, &h); err == nil && rest == "" && tag == types.BlockHeightKey {
		return h, false, true
	}
	if rest, err := orderedcode.Parse(sub, &tag, &value, &h, &seq); err == nil && rest == "" {
		return h, true, true
	}
	return 0, false, false
}

// journalDB is the transaction index's database as the node opens it: its
// batches journal the block-event keys they write (see above).
type journalDB struct {
	dbm.DB
	// level is the goleveldb database under DB (nil for another
	// backend), whose batches reuse spare's buffers (levelbatch.go).
	level *leveldb.DB
	spare batchSpare
}

func newJournalDB(db dbm.DB) *journalDB {
	return &journalDB{DB: db, level: goLevelDB(db), spare: batchSpare{max: maxReusedBatchBytes}}
}

// NewBatch returns a batch that journals the block-event keys set in it.
func (d *journalDB) NewBatch() dbm.Batch {
	var b dbm.Batch
	if d.level != nil {
		b = &reusedBatch{db: d.level, batch: d.spare.take(), spare: &d.spare}
	} else {
		b = d.DB.NewBatch()
	}
	return &journalBatch{Batch: b, db: d, keys: map[int64][]byte{}}
}

type journalBatch struct {
	dbm.Batch
	db   *journalDB
	keys map[int64][]byte // height → uvarint-length-prefixed event keys (without the prefix)
}

// Set writes the key and, for a block-event key, notes it in the journal.
func (b *journalBatch) Set(key, value []byte) error {
	if h, event, ok := blockEventHeight(key); ok && event {
		k := key[len(blockEventsPrefix):]
		b.keys[h] = append(binary.AppendUvarint(b.keys[h], uint64(len(k))), k...)
	}
	return b.Batch.Set(key, value)
}

// Write writes the batch with its journal entries.
func (b *journalBatch) Write() error { return b.write(b.Batch.Write) }

// WriteSync writes the batch with its journal entries, synced.
func (b *journalBatch) WriteSync() error { return b.write(b.Batch.WriteSync) }

func (b *journalBatch) write(commit func() error) error {
	heights := make([]int64, 0, len(b.keys))
	for h := range b.keys {
		heights = append(heights, h)
	}
	sort.Slice(heights, func(i, j int) bool { return heights[i] < heights[j] })
	for _, h := range heights {
		if err := b.Batch.Set(journalKey(h, b.keys[h]), b.keys[h]); err != nil {
			return fmt.Errorf("journaling the block events of height %d: %w", h, err)
		}
	}
	return commit()
}

// journalOlderBlockEvents puts in the journal every block-event key already
// in the index (written by a tallyd without the journal, or before this
// database was opened through journalDB) and marks the index journaled:
// one walk over the block events, once per index. A key written meanwhile
// through journalDB is journaled by its batch; journaling one twice is
// harmless.
func journalOlderBlockEvents(db dbm.DB) error {
	done, err := db.Has(blockEventsJournaled)
	if err != nil || done {
		return err
	}
	it, err := db.Iterator(blockEventsPrefix, prefixEnd(blockEventsPrefix))
	if err != nil {
		return err
	}
	defer it.Close()
	batch := db.NewBatch()
	defer func() { batch.Close() }()
	n := 0
	for ; it.Valid(); it.Next() {
		h, event, ok := blockEventHeight(it.Key())
		if !ok || !event {
			continue
		}
		k := it.Key()[len(blockEventsPrefix):]
		entry := append(binary.AppendUvarint(nil, uint64(len(k))), k...)
		if err := batch.Set(journalKey(h, entry), entry); err != nil {
			return err
		}
		if n++; n%txIndexPruneBatch == 0 {
			if err := batch.Write(); err != nil {
				return fmt.Errorf("journaling older block events: %w", err)
			}
			batch.Close()
			batch = db.NewBatch()
		}
	}
	if err := it.Error(); err != nil {
		return err
	}
	if err := batch.Set(blockEventsJournaled, []byte{1}); err != nil {
		return err
	}
	if err := batch.WriteSync(); err != nil {
		return fmt.Errorf("journaling older block events: %w", err)
	}
	return nil
}

// forEachJournaled calls fn with each block-event key (with its prefix)
// journaled for heights in [from, to), and with each journal key.
func forEachJournaled(db dbm.DB, from, to int64, fn func(key []byte) error) error {
	it, err := db.Iterator(journalBound(from), journalBound(to))
	if err != nil {
		return err
	}
	defer it.Close()
	for ; it.Valid(); it.Next() {
		if _, ok := journalHeight(it.Key()); !ok {
			continue
		}
		v := it.Value()
		for len(v) > 0 {
			n, w := binary.Uvarint(v)
			if w <= 0 || uint64(len(v)-w) < n {
				return fmt.Errorf("block-event journal entry %X is damaged", it.Key())
			}
			if err := fn(append(bytes.Clone(blockEventsPrefix), v[w:w+int(n)]...)); err != nil {
				return err
			}
			v = v[w+int(n):]
		}
		if err := fn(bytes.Clone(it.Key())); err != nil {
			return err
		}
	}
	return it.Error()
}

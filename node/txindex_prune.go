package node

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	dbm "github.com/cometbft/cometbft-db"
	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/types"
	"github.com/google/orderedcode"
)

// CometBFT v0.40 never prunes its transaction index (data/tx_index.db):
// retain_height deletes blocks and their results, but every transaction's
// result, its height key and the keys of its indexed event attributes stay
// (about 740 bytes per transaction). The index pruner deletes, for every
// height below the block store's base (the oldest block kept, which
// retain_blocks and the app's retain height move), what the kv indexer
// wrote for it, so the index holds the same heights as the blocks: /tx and
// tx_search then answer for exactly the blocks the node still serves.
//
// The kv indexer's layout (state/txindex/kv, state/indexer/block/kv):
//
//	<tx hash>                                  → TxResult
//	tx.height/<h>/<h>/<index>$es$0              → tx hash
//	<type>.<key>/<value>/<h>/<index>$es$<seq>   → tx hash   (attributes with index: true)
//	block_events + orderedcode(block.height, h) → …
//	block_events + orderedcode(<type>.<key>, <value>, h, <seq>) → …
//
// A transaction's keys are found from its stored result (its events say
// which attributes were indexed), so pruning a height costs what indexing
// it did. Block events (end-of-block payments, executed proposals) are
// keyed by attribute first; their keys are found from the journal the
// node writes beside them as they are indexed (txindex_journal.go), so a
// pass over n heights reads what those n heights indexed, however long
// the index is. Keys an older tallyd indexed without the journal are put
// in it by one walk, the first time a node prunes its index.

// txIndexPrunedKey records the height below which the index is pruned. A
// key no CometBFT query or hash lookup can reach: hashes are 32 bytes,
// every other key contains '/' after its tag.
var txIndexPrunedKey = []byte("tally-txindex-pruned-below")

// blockEventsPrefix is the block indexer's key space in tx_index.db.
var blockEventsPrefix = []byte("block_events")

// txIndexPruneBatch bounds the heights one pass prunes, so a node that
// turns pruning on with a long history catches up over several passes
// instead of holding the database busy for one long one.
const txIndexPruneBatch = 10_000

// PruneTxIndex deletes the transaction index entries and block events of
// every height below `below` (at most txIndexPruneBatch heights a call)
// and returns the height below which the index is now pruned. A node
// calls it on its own with the block store's base (Start); it is exported
// for tests and tools.
func PruneTxIndex(db dbm.DB, below int64) (int64, error) {
	from, err := prunedBelow(db)
	if err != nil {
		return 0, err
	}
	if err := journalOlderBlockEvents(db); err != nil {
		return from, fmt.Errorf("journaling the block events already indexed: %w", err)
	}
	if below <= from {
		return from, nil
	}
	to := min(below, from+txIndexPruneBatch)
	batch := db.NewBatch()
	defer batch.Close()
	for h := max(from, 1); h < to; h++ {
		if err := pruneTxHeight(db, batch, h); err != nil {
			return from, err
		}
	}
	if err := pruneBlockEvents(db, batch, from, to); err != nil {
		return from, err
	}
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], uint64(to))
	if err := batch.Set(txIndexPrunedKey, buf[:]); err != nil {
		return from, err
	}
	if err := batch.WriteSync(); err != nil {
		return from, fmt.Errorf("pruning the transaction index below height %d: %w", to, err)
	}
	return to, nil
}

func prunedBelow(db dbm.DB) (int64, error) {
	v, err := db.Get(txIndexPrunedKey)
	if err != nil {
		return 0, fmt.Errorf("reading the transaction index's pruned height: %w", err)
	}
	if len(v) != 8 {
		return 0, nil
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

// pruneTxHeight deletes the keys of every transaction indexed at height h.
func pruneTxHeight(db dbm.DB, batch dbm.Batch, h int64) error {
	prefix := []byte(fmt.Sprintf("%s/%d/%d/", types.TxHeightKey, h, h))
	keys, hashes, err := scan(db, prefix)
	if err != nil {
		return err
	}
	for i, hash := range hashes {
		if err := batch.Delete(keys[i]); err != nil {
			return err
		}
		raw, err := db.Get(hash)
		if err != nil || raw == nil {
			continue // already gone
		}
		res := &abci.TxResult{}
		if err := res.Unmarshal(raw); err != nil {
			return fmt.Errorf("transaction index: result of %X: %w", hash, err)
		}
		if res.Height != h {
			continue // the hash's result is a later inclusion's: kept with it
		}
		for _, ev := range res.Result.Events {
			for _, at := range ev.Attributes {
				if !at.Index || ev.Type == "" || at.Key == "" {
					continue
				}
				key := fmt.Sprintf("%s.%s/%s/%d/%d", ev.Type, at.Key, at.Value, h, res.Index)
				if err := batch.Delete([]byte(key)); err != nil { // written before event sequence numbers
					return err
				}
				seqKeys, _, err := scan(db, []byte(key+"$es$"))
				if err != nil {
					return err
				}
				for _, k := range seqKeys {
					if err := batch.Delete(k); err != nil {
						return err
					}
				}
			}
		}
		if err := batch.Delete(hash); err != nil {
			return err
		}
	}
	return nil
}

// pruneBlockEvents deletes the block indexer's keys of heights in
// [from, below): its height keys (block.height, h), a range, and its event
// keys (composite key, value, h, sequence), read from the journal.
func pruneBlockEvents(db dbm.DB, batch dbm.Batch, from, below int64) error {
	lo, err := orderedcode.Append(bytes.Clone(blockEventsPrefix), types.BlockHeightKey, max(from, 0))
	if err != nil {
		return err
	}
	hi, err := orderedcode.Append(bytes.Clone(blockEventsPrefix), types.BlockHeightKey, below)
	if err != nil {
		return err
	}
	heightKeys, err := keysIn(db, lo, hi)
	if err != nil {
		return err
	}
	for _, k := range heightKeys {
		if err := batch.Delete(k); err != nil {
			return err
		}
	}
	return forEachJournaled(db, from, below, batch.Delete)
}

// keysIn returns the keys in [lo, hi).
func keysIn(db dbm.DB, lo, hi []byte) ([][]byte, error) {
	it, err := db.Iterator(lo, hi)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var keys [][]byte
	for ; it.Valid(); it.Next() {
		keys = append(keys, bytes.Clone(it.Key()))
	}
	return keys, it.Error()
}

// prefixEnd is the first key after every key starting with p (p has no
// 0xff byte).
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	end[len(end)-1]++
	return end
}

// scan returns the keys and values under prefix.
func scan(db dbm.DB, prefix []byte) (keys, values [][]byte, err error) {
	it, err := dbm.IteratePrefix(db, prefix)
	if err != nil {
		return nil, nil, err
	}
	defer it.Close()
	for ; it.Valid(); it.Next() {
		keys = append(keys, bytes.Clone(it.Key()))
		values = append(values, bytes.Clone(it.Value()))
	}
	return keys, values, it.Error()
}

// txIndexPruneEvery is how often a node prunes its transaction index.
const txIndexPruneEvery = time.Minute

// pruneTxIndexLoop prunes the index below the block store's base when the
// node starts and then every txIndexPruneEvery, until stop closes.
func pruneTxIndexLoop(db dbm.DB, base func() int64, logger log.Logger, stop <-chan struct{}) {
	t := time.NewTicker(txIndexPruneEvery)
	defer t.Stop()
	for {
		if !pruneTxIndexTo(db, base(), logger, stop) {
			return
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// pruneTxIndexTo prunes below `below` a batch at a time; false when stop
// closed or the index cannot be read.
func pruneTxIndexTo(db dbm.DB, below int64, logger log.Logger, stop <-chan struct{}) bool {
	for {
		prev, err := prunedBelow(db)
		if err != nil {
			logger.Error("transaction index pruning stopped", "err", err)
			return false
		}
		got, err := PruneTxIndex(db, below)
		if err != nil {
			logger.Error("pruning the transaction index", "below", below, "err", err)
			return true
		}
		if got > prev {
			logger.Info("pruned the transaction index", "below", got)
		}
		if got >= below {
			return true
		}
		select { // a long backlog: one batch at a time, stoppable
		case <-stop:
			return false
		default:
		}
	}
}

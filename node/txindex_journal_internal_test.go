package node

import (
	"context"
	"fmt"
	"testing"

	dbm "github.com/cometbft/cometbft-db"
	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/libs/pubsub/query"
	blockidx "github.com/cometbft/cometbft/state/indexer/block/kv"
	"github.com/cometbft/cometbft/types"
	"github.com/stretchr/testify/require"
)

// countingDB counts the keys its readers are given: each Get and each
// key an iterator stops at.
type countingDB struct {
	dbm.DB
	reads int
}

func (d *countingDB) Get(k []byte) ([]byte, error) { d.reads++; return d.DB.Get(k) }

func (d *countingDB) Iterator(lo, hi []byte) (dbm.Iterator, error) {
	it, err := d.DB.Iterator(lo, hi)
	return &countingIterator{Iterator: it, db: d}, err
}

type countingIterator struct {
	dbm.Iterator
	db *countingDB
}

func (it *countingIterator) Valid() bool {
	ok := it.Iterator.Valid()
	if ok {
		it.db.reads++
	}
	return ok
}

// blockEvents are a block's end-of-block events as the app emits them:
// one with a value shared by every block and two with values of their
// own (a payment's programme and recipient), all indexed.
func blockEvents(h int64) []abci.Event {
	return []abci.Event{
		{Type: "benefits.payment_made", Attributes: []abci.EventAttribute{
			{Key: "programme", Value: fmt.Sprintf("P%d", h), Index: true},
			{Key: "recipient", Value: fmt.Sprintf("R%d", h), Index: true},
			{Key: "amount", Value: "100"}, // not indexed
		}},
		{Type: "gov.proposal_executed", Attributes: []abci.EventAttribute{{Key: "agency", Value: "treasury", Index: true}}},
	}
}

// blockEventKeys lists the block_events keys of the index by height.
func blockEventKeys(t *testing.T, db dbm.DB) map[int64]int {
	t.Helper()
	out := map[int64]int{}
	keys, err := keysIn(db, blockEventsPrefix, prefixEnd(blockEventsPrefix))
	require.NoError(t, err)
	for _, k := range keys {
		h, _, ok := blockEventHeight(k)
		require.True(t, ok, "unknown key %q", k)
		out[h]++
	}
	return out
}

// A pruning pass reads what the heights it prunes indexed, not the whole
// index: pruning the first 10 of 200 or of 2,000 indexed heights reads
// the same number of keys. Before the journal, every pass walked every
// block-event key (O(index): 10 times the reads at 2,000 heights). The
// pruned heights' keys (height keys, event keys, the journal) are all
// gone, including a height indexed twice (a node indexes its latest
// blocks again when it starts) and heights an older tallyd indexed without
// the journal; the kept heights are still found by the block indexer's
// search.
func TestTxIndexPruningReadsOnlyWhatItPrunes(t *testing.T) {
	reads := map[int64]int{}
	for _, n := range []int64{200, 2000} {
		counted := &countingDB{DB: dbm.NewMemDB()}
		// Heights 1..5 indexed by an older tallyd: no journal.
		older := blockidx.New(dbm.NewPrefixDB(counted, blockEventsPrefix))
		for h := int64(1); h <= 5; h++ {
			require.NoError(t, older.Index(types.EventDataNewBlockEvents{Height: h, Events: blockEvents(h)}))
		}
		db := &journalDB{DB: counted}
		_, err := PruneTxIndex(db, 1) // the first pass journals what the older tallyd wrote
		require.NoError(t, err)
		idx := blockidx.New(dbm.NewPrefixDB(db, blockEventsPrefix))
		for h := int64(4); h <= n; h++ { // 4 and 5 indexed again, under new sequence numbers
			require.NoError(t, idx.Index(types.EventDataNewBlockEvents{Height: h, Events: blockEvents(h)}))
		}
		require.NoError(t, idx.Index(types.EventDataNewBlockEvents{Height: 7, Events: blockEvents(7)})) // and 7 twice
		before := blockEventKeys(t, db)
		require.Equal(t, 1+2*3, before[4], "height 4: one height key and its three event keys twice")

		counted.reads = 0
		got, err := PruneTxIndex(db, 11)
		require.NoError(t, err)
		require.Equal(t, int64(11), got)
		reads[n] = counted.reads

		after := blockEventKeys(t, db)
		for h := int64(1); h <= n; h++ {
			if h < 11 {
				require.Zero(t, after[h], "height %d is pruned but %d of its block-event keys are left", h, after[h])
			} else {
				require.Equal(t, before[h], after[h], "height %d is kept", h)
			}
		}
		left, err := keysIn(db, journalBound(0), journalBound(11))
		require.NoError(t, err)
		require.Empty(t, left, "journal entries of pruned heights")
		kept, err := keysIn(db, journalBound(11), journalBound(n+1))
		require.NoError(t, err)
		require.Len(t, kept, int(n-10))

		for q, want := range map[string][]int64{
			"benefits.payment_made.programme = 'P150'": {150},
			"benefits.payment_made.programme = 'P5'":   {},
			"benefits.payment_made.recipient = 'R7'":   {},
		} {
			heights, err := idx.Search(context.Background(), query.MustCompile(q))
			require.NoError(t, err)
			require.ElementsMatch(t, want, heights, q)
		}
	}
	require.Positive(t, reads[200])
	require.Equal(t, reads[200], reads[2000], "keys read to prune heights 1..10 with 200 and 2,000 heights indexed")
}

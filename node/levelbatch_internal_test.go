package node

import (
	"fmt"
	"runtime"
	"testing"

	dbm "github.com/cometbft/cometbft-db"
	"github.com/stretchr/testify/require"
)

// The transaction index's batches (one a block) write what cometbft-db's
// goleveldb batch writes, refuse what it refuses with its errors, and,
// after the first, fill buffers a written batch left instead of growing
// new ones: filling a second block's batch of 20,000 records allocates a
// small part of what it holds (without the reuse: several times it, as
// goleveldb grows a batch a few thousand records at a time).
func TestTheIndexBatchesReuseTheirBuffers(t *testing.T) {
	gl, err := dbm.NewGoLevelDB("tx_index", t.TempDir())
	require.NoError(t, err)
	db := newJournalDB(&afterCloseDB{DB: gl})
	defer db.Close()
	require.NotNil(t, db.level, "goleveldb found under the node's wrapper")

	const records = 20_000
	keys, values := make([][]byte, records), make([][]byte, records)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "tx.hash/%064d", i)
		values[i] = fmt.Appendf(nil, "result of transaction %d, %0100d", i, i)
	}
	block := func(round int) uint64 {
		b := db.NewBatch()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for i := range keys {
			require.NoError(t, b.Set(keys[i], values[i]))
		}
		runtime.ReadMemStats(&after)
		require.NoError(t, b.Delete(keys[round]))
		require.NoError(t, b.WriteSync())
		require.NoError(t, b.Close())
		return after.TotalAlloc - before.TotalAlloc
	}
	first := block(0)
	second := block(1)
	held := uint64(records * (len(keys[0]) + len(values[0])))
	t.Logf("bytes allocated filling a batch of %d records (%d bytes of keys and values): first %d, second %d", records, held, first, second)
	require.Less(t, second, held/4, "the second batch grew buffers of its own")

	for i := range keys {
		v, err := db.Get(keys[i])
		require.NoError(t, err)
		if i == 1 {
			require.Nil(t, v, "deleted in the second batch")
			continue
		}
		require.Equal(t, values[i], v, "key %d", i)
	}

	// cometbft-db's checks and errors.
	plain := gl.NewBatch()
	b := db.NewBatch()
	for _, c := range []struct {
		name        string
		theirs, our error
	}{
		{"empty key", plain.Set(nil, []byte("v")), b.Set(nil, []byte("v"))},
		{"nil value", plain.Set([]byte("k"), nil), b.Set([]byte("k"), nil)},
		{"empty key deleted", plain.Delete(nil), b.Delete(nil)},
	} {
		require.Error(t, c.our, c.name)
		require.EqualError(t, c.our, c.theirs.Error(), c.name)
	}
	require.NoError(t, plain.Close())
	require.NoError(t, b.Close())
	require.NoError(t, b.Close(), "Close twice")
	require.EqualError(t, b.Set([]byte("k"), []byte("v")), plain.Set([]byte("k"), []byte("v")).Error(), "set after close")
	require.EqualError(t, b.Write(), plain.Write().Error(), "write after close")

	// A batch that held more than the spare's bound is not kept.
	db.spare.max = 10
	big := db.NewBatch()
	require.NoError(t, big.Set([]byte("k"), []byte("a value longer than ten bytes")))
	require.NoError(t, big.Write())
	require.Nil(t, db.spare.batch, "a batch over the bound is dropped")
}

package node

import (
	"testing"

	dbm "github.com/cometbft/cometbft-db"
	"github.com/cometbft/cometbft/store"
	"github.com/stretchr/testify/require"
)

// A block store read after its database was closed (what CometBFT's
// consensus reactor does from a peer's goroutine while a node stops) finds
// nothing instead of panicking the process.
func TestBlockStoreReadAfterCloseDoesNotPanic(t *testing.T) {
	db, err := dbm.NewGoLevelDB("blockstore", t.TempDir())
	require.NoError(t, err)
	bs := store.NewBlockStore(&afterCloseDB{DB: db})
	require.NoError(t, bs.Close())
	require.NotPanics(t, func() { require.Nil(t, bs.LoadSeenCommit(9)) })

	raw, err := dbm.NewGoLevelDB("raw", t.TempDir())
	require.NoError(t, err)
	unwrapped := store.NewBlockStore(raw)
	require.NoError(t, unwrapped.Close())
	require.Panics(t, func() { unwrapped.LoadSeenCommit(9) }, "CometBFT's own store panics on a closed database")
}

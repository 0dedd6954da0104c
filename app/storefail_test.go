package app_test

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	dbm "github.com/cosmos/cosmos-db"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/app"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	"github.com/tallyledger/tally/store"
)

// errDisk is the error a failing database returns.
var errDisk = errors.New("input/output error")

// failingDB is a real database whose reads fail once failing is set, as a
// dying disk's would. With bad set, the disk dies at the first read of the
// database record holding that state key (IAVL keeps each latest value
// under 'f' + key) and every read fails from then on, so a test can make
// the disk fail in the middle of a transaction.
type failingDB struct {
	dbm.DB
	failing *atomic.Bool
	dead    *atomic.Bool
	bad     []byte
}

func (d failingDB) fails(key []byte) bool {
	if !d.failing.Load() {
		return false
	}
	if d.bad == nil || key != nil && bytes.Equal(key, append([]byte("f"), d.bad...)) {
		d.dead.Store(true)
	}
	return d.dead.Load()
}

func (d failingDB) Get(key []byte) ([]byte, error) {
	if d.fails(key) {
		return nil, errDisk
	}
	return d.DB.Get(key)
}

func (d failingDB) Has(key []byte) (bool, error) {
	if d.fails(key) {
		return false, errDisk
	}
	return d.DB.Has(key)
}

func (d failingDB) Iterator(start, end []byte) (dbm.Iterator, error) {
	if d.fails(nil) {
		return nil, errDisk
	}
	return d.DB.Iterator(start, end)
}

func (d failingDB) ReverseIterator(start, end []byte) (dbm.Iterator, error) {
	if d.fails(nil) {
		return nil, errDisk
	}
	return d.DB.ReverseIterator(start, end)
}

// A disk that fails while a block runs stops the node: FinalizeBlock
// returns an error (CometBFT then halts this node) instead of recording the
// failure as a transaction's result, which no healthy node would record.
// The disk fails in the middle of the transaction (reading the account its
// message acts on) and, separately, before any transaction runs.
func TestStorageFailureStopsTheNodeInsteadOfFailingTheTransaction(t *testing.T) {
	for _, tt := range []struct {
		name string
		bad  []byte // the state key whose read fails; nil: every read
	}{
		{"inside a transaction", api.AccountKey(treasuryClerk.addr)},
		{"every read", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			st, err := store.Open(app.DefaultConfig().StoreOptions(dir))
			require.NoError(t, err)
			c := openChain(t, st, app.Options{})
			c.initChain(testGenesis())
			c.block()
			c.close()

			var failing, dead atomic.Bool
			opts := app.DefaultConfig().StoreOptions(dir)
			opts.CacheSize = 1    // read tree nodes from the database, not memory
			opts.FastIndex = true // its keys name the state key, so one read can be made to fail
			opts.WrapDB = func(db dbm.DB) dbm.DB { return failingDB{DB: db, failing: &failing, dead: &dead, bad: tt.bad} }
			st, err = store.Open(opts)
			require.NoError(t, err)
			c = openChain(t, st, app.Options{})
			tx := c.tx(treasuryAdmin, grantRole(treasuryClerk.addr, roleAuditor))
			hash := c.lastHash()

			failing.Store(true)
			res, err := c.app.FinalizeBlock(context.Background(), &abci.RequestFinalizeBlock{Txs: [][]byte{tx}, Height: c.height + 1, Time: blockTime(c.height + 1)})
			require.ErrorContains(t, err, "state storage failed")
			require.ErrorContains(t, err, errDisk.Error())
			require.Nil(t, res, "no transaction result is recorded")

			// The disk comes back: the node restarts from its last saved
			// block and runs the block as every healthy node does.
			failing.Store(false)
			dead.Store(false)
			require.Equal(t, hash, c.lastHash())
			requireOK(t, c.block(tx).TxResults[0])
			require.Equal(t, []agencyv1.Role{roleTreasury, roleAuditor}, c.account(treasuryClerk.addr).Roles)
		})
	}
}

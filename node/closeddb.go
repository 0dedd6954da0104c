package node

import (
	"sync/atomic"

	dbm "github.com/cometbft/cometbft-db"
)

// afterCloseDB is a database CometBFT opened, which answers a read made
// after it was closed with "absent" instead of an error.
//
// CometBFT v0.40 closes the block store in Node.OnStop while goroutines it
// started for peers may still run: consensus.Reactor.queryMaj23Routine
// checks that the reactor is running only at the top of its loop, then
// sleeps and calls BlockStore.LoadSeenCommit, which panics on any read
// error ("panic: leveldb: closed"). That crashes the whole process during
// a stop (seen in cmd/tallyd's in-process ceremony test). A stopping node
// has nothing more to say to a peer, so "absent" is the right answer.
type afterCloseDB struct {
	dbm.DB
	closed atomic.Bool
}

// Get is the wrapped database's Get, or (nil, nil) once closed.
func (d *afterCloseDB) Get(key []byte) ([]byte, error) {
	if d.closed.Load() {
		return nil, nil
	}
	v, err := d.DB.Get(key)
	if err != nil && d.closed.Load() {
		return nil, nil // closed while reading
	}
	return v, err
}

// Has is the wrapped database's Has, or false once closed.
func (d *afterCloseDB) Has(key []byte) (bool, error) {
	if d.closed.Load() {
		return false, nil
	}
	ok, err := d.DB.Has(key)
	if err != nil && d.closed.Load() {
		return false, nil
	}
	return ok, err
}

// Close marks the database closed before closing it, so that a read racing
// the close is answered "absent".
func (d *afterCloseDB) Close() error {
	d.closed.Store(true)
	return d.DB.Close()
}

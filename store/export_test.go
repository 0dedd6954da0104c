package store

import "github.com/crypto-org-chain/cronos/memiavl"

// For BenchmarkTreeEngines (package store_test, which may import app for
// the node's config).

// MemTree is memiavl behind the Store's write-behind log (memiavl_test.go).
type MemTree = memTree

// OpenMemTree opens a memiavl database in dir; see openMemTree. Interval 0
// writes no snapshot of its own.
func OpenMemTree(dir string, interval uint32, syncWAL bool) (*MemTree, error) {
	if interval == 0 {
		interval = 1<<32 - 1 // never
	}
	return openMemTree(dir, interval, 0, syncWAL)
}

// DB is the memiavl database.
func (m *memTree) DB() *memiavl.DB { return m.db }

package app

import "github.com/tallyledger/tally/store"

// Config is the node-local application configuration (app.toml). Nothing in
// it may change what state a block produces: two nodes with different
// configs must reach the same app hash.
type Config struct {
	// DBBackend is the state database: "goleveldb" (default) or "pebbledb".
	DBBackend string `mapstructure:"db_backend"`
	// PruningKeepRecent keeps this many recent state versions; 0 keeps all.
	PruningKeepRecent uint64 `mapstructure:"pruning_keep_recent"`
	// PruningKeepEvery also keeps every version that is a multiple of it.
	PruningKeepEvery uint64 `mapstructure:"pruning_keep_every"`
	// IAVLCacheSize is the number of tree nodes kept in memory.
	IAVLCacheSize int `mapstructure:"iavl_cache_size"`
	// IAVLFastIndex keeps IAVL's fast index of latest values (see
	// store.Options.FastIndex); off, the write path is about half.
	IAVLFastIndex bool `mapstructure:"iavl_fast_index"`
	// SignatureCacheSize is how many verified signatures are remembered
	// between CheckTx and FinalizeBlock.
	SignatureCacheSize int `mapstructure:"signature_cache_size"`
	// AllowedPeers are node ids this node admits besides the validators'
	// when CometBFT's filter_peers is on (see peers.go): full nodes,
	// sentries, a validator-to-be catching up before its vote.
	AllowedPeers []string `mapstructure:"allowed_peers"`
	// OperatorQueries serves /invariants and /funds/invariants, which walk
	// all of state, over this node's RPC. Turn it on only where the RPC is
	// reachable by the operator alone (local networks do).
	OperatorQueries bool `mapstructure:"operator_queries"`
	// SnapshotInterval takes a state-sync snapshot after every block whose
	// height is a multiple of it; 0 takes none.
	SnapshotInterval uint64 `mapstructure:"snapshot_interval"`
	// SnapshotKeepRecent is how many of the newest snapshots are kept.
	SnapshotKeepRecent uint32 `mapstructure:"snapshot_keep_recent"`
	// RetainBlocks is how many recent blocks the node keeps; older ones
	// are deleted (never fewer than evidence and the kept snapshots need).
	// 0 keeps every block.
	RetainBlocks uint64 `mapstructure:"retain_blocks"`
	// QueryBudgetPercent is the share of one core the node spends on RPC
	// readers (node/rpc.go's reader lane, app/querybudget.go); past it
	// readers wait, then are refused as busy. 100 or more: no limit.
	QueryBudgetPercent int `mapstructure:"query_budget_percent"`
}

// DefaultConfig is what `tallyd init` writes.
func DefaultConfig() Config {
	return Config{
		DBBackend:          "goleveldb",
		PruningKeepRecent:  100_000,
		PruningKeepEvery:   10_000,
		IAVLCacheSize:      1_000_000,
		SignatureCacheSize: 200_000,
		SnapshotInterval:   1000,
		SnapshotKeepRecent: 2,
		RetainBlocks:       100_000,
		QueryBudgetPercent: DefaultQueryBudgetPercent,
	}
}

// StoreOptions turns the config into store options for the database in dir.
func (c Config) StoreOptions(dir string) store.Options {
	return store.Options{
		Dir:        dir,
		Backend:    c.DBBackend,
		KeepRecent: c.PruningKeepRecent,
		KeepEvery:  c.PruningKeepEvery,
		CacheSize:  c.IAVLCacheSize,
		FastIndex:  c.IAVLFastIndex,
	}
}

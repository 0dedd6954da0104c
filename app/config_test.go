package app_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/store"
)

// The IAVL node cache follows the memory limit unless iavl_cache_size sets
// it: 5% of the limit for both trees at about 800 bytes a node, the old
// million nodes without any limit, and never fewer than 10,000 nodes.
func TestNodeCacheSizeFollowsTheMemoryLimit(t *testing.T) {
	def := app.DefaultConfig()
	require.Zero(t, def.IAVLCacheSize, "the default sizes the cache from the limit")
	require.Equal(t, 23_488, def.NodeCacheSize(def.MemoryLimitMiB<<20))
	require.InDelta(t, 2*23_488, def.NodeCacheSize(2*def.MemoryLimitMiB<<20), 1, "twice the limit, twice the cache")
	require.Equal(t, 1_000_000, def.NodeCacheSize(0), "no limit")
	require.Equal(t, 1_000_000, def.NodeCacheSize(64<<30), "a limit above what a million nodes need")
	require.Equal(t, 10_000, def.NodeCacheSize(8<<20), "a tiny limit")
	set := def
	set.IAVLCacheSize = 250_000
	require.Equal(t, 250_000, set.NodeCacheSize(def.MemoryLimitMiB<<20), "iavl_cache_size wins")
}

// state_engine: iavl by default; memiavl with or without state-sync
// snapshots; anything else refused. The store options carry the engine.
func TestStateEngineConfig(t *testing.T) {
	def := app.DefaultConfig()
	require.Equal(t, store.EngineIAVL, def.StateEngine)
	require.NoError(t, def.Validate())
	require.Equal(t, store.EngineIAVL, def.StoreOptions("/x").Engine)

	mem := def
	mem.StateEngine = store.EngineMemiavl
	require.NotZero(t, mem.SnapshotInterval)
	require.NoError(t, mem.Validate(), "memiavl takes state-sync snapshots")
	mem.SnapshotInterval = 0
	require.NoError(t, mem.Validate())
	require.Equal(t, store.EngineMemiavl, mem.StoreOptions("/x").Engine)

	bad := def
	bad.StateEngine = "rocksdb"
	require.ErrorContains(t, bad.Validate(), `state_engine is "rocksdb"`)
}

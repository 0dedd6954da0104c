package app

import (
	"fmt"
	"time"

	"github.com/tallyledger/tally/store"
)

// Config is the node-local application configuration (app.toml). Nothing in
// it may change what state a block produces: two nodes with different
// configs must reach the same app hash.
type Config struct {
	// DBBackend is the state database: "goleveldb" (default) or "pebbledb".
	DBBackend string `mapstructure:"db_backend"`
	// StateEngine is the tree the state is kept in: "iavl" (IAVL v1, the
	// default) or "memiavl", a prototype that builds the same app hash and
	// proofs but answers queries at the last three heights only
	// (store/memiavl.go). Both take and restore the same state-sync
	// snapshots. A data directory holds one engine's state; the other
	// refuses to open it.
	StateEngine string `mapstructure:"state_engine"`
	// MemiavlSnapshotEvery is how many versions the memiavl engine logs
	// between two full snapshots of its tree (0: its default,
	// store.DefaultMemiavlSnapshotInterval). Nodes changed since the last
	// snapshot are held in the Go heap: fewer versions between snapshots
	// hold less, and rewrite the snapshot more often. Ignored by iavl.
	MemiavlSnapshotEvery uint32 `mapstructure:"memiavl_snapshot_every"`
	// PruningKeepRecent keeps this many recent state versions; 0 keeps all.
	PruningKeepRecent uint64 `mapstructure:"pruning_keep_recent"`
	// PruningKeepEvery also keeps every version that is a multiple of it.
	PruningKeepEvery uint64 `mapstructure:"pruning_keep_every"`
	// MemoryLimitMiB is the soft limit, in MiB, on the memory the Go
	// runtime of a node process (tallyd start) uses: near it the collector
	// runs more often rather than let the heap grow (debug.SetMemoryLimit).
	// 0: no limit. GOMEMLIMIT in the node's environment overrides it.
	MemoryLimitMiB int64 `mapstructure:"memory_limit_mib"`
	// IAVLCacheSize is the number of tree nodes kept in memory by the
	// consensus tree (the query tree keeps a quarter as many); 0 sizes it
	// from the memory limit (NodeCacheSize).
	IAVLCacheSize int `mapstructure:"iavl_cache_size"`
	// DBCacheMiB is the state database's block cache (goleveldb), in MiB:
	// the database file's blocks kept decoded in memory, where the tree
	// nodes the node cache does not hold are read from; 0 is goleveldb's
	// default, 8 MiB.
	DBCacheMiB int `mapstructure:"db_cache_mib"`
	// DBNoCompression writes the state database's tables uncompressed:
	// cheaper reads of nodes no cache holds, a database about 1.5 times
	// larger (README "Bounded memory").
	DBNoCompression bool `mapstructure:"db_no_compression"`
	// IAVLFastIndex keeps IAVL's fast index of latest values (see
	// store.Options.FastIndex); off, the write path is about half.
	IAVLFastIndex bool `mapstructure:"iavl_fast_index"`
	// DecodeCacheMiB bounds the memory of decoded transactions the node
	// keeps for rechecks and proposals (app.Options.DecodeCacheBytes); 0 is
	// DefaultDecodeCacheBytes.
	DecodeCacheMiB int `mapstructure:"decode_cache_mib"`
	// CheckCacheMiB bounds the memory of committed state CheckTx keeps
	// read across blocks (app.Options.CheckCacheBytes); 0 is
	// DefaultCheckCacheBytes, less than 0 turns the cache off.
	CheckCacheMiB int `mapstructure:"check_cache_mib"`
	// SignatureCacheSize is how many verified signatures are remembered
	// between CheckTx and FinalizeBlock.
	SignatureCacheSize int `mapstructure:"signature_cache_size"`
	// MempoolBlocks is how many blocks of work the node's mempool takes
	// (app.Options.MempoolBlocks); 0 is DefaultMempoolBlocks.
	MempoolBlocks int `mapstructure:"mempool_blocks"`
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
	// QueryBudgetPercent is the share of this node's CPU its RPC readers
	// may use (node/rpc.go's reader lane, app/querybudget.go); past it
	// readers wait, then are refused as busy. 100 or more: no limit.
	QueryBudgetPercent int `mapstructure:"query_budget_percent"`
	// PeerSilentAfter drops a peer this node kept sending to but heard
	// nothing from for this long, so that a connection a silent partition
	// left open is dialled again (node/peerwatch.go); 0: never.
	PeerSilentAfter time.Duration `mapstructure:"peer_silent_after"`
	// PeerRedialEvery dials every disconnected persistent peer this often,
	// besides CometBFT's own reconnection (5-8 s apart); 0: only CometBFT's.
	PeerRedialEvery time.Duration `mapstructure:"peer_redial_every"`
	// InvariantCheckEvery runs every module's invariants over the
	// committed state this often on a node with metrics on (a whole-state
	// walk; tally_invariant_checks_failing); 0: never.
	InvariantCheckEvery time.Duration `mapstructure:"invariant_check_every"`
	// BroadcastMaxWaiting is the most transaction broadcasts the node's
	// broadcast gate (node/broadcastgate.go) lets wait for CheckTx at once;
	// the next is refused at once with tx/85. 0: no limit.
	BroadcastMaxWaiting int `mapstructure:"broadcast_max_waiting"`
	// BroadcastSlowMaxWaiting is the most broadcasts the gate lets wait
	// while recent ones took longer than BroadcastSlowAnswer to be
	// answered (a node short of CPU); at least 1, at most
	// BroadcastMaxWaiting.
	BroadcastSlowMaxWaiting int `mapstructure:"broadcast_slow_max_waiting"`
	// BroadcastSlowAnswer is the answer time past which the gate counts
	// the node as slow and applies BroadcastSlowMaxWaiting; 0: never.
	BroadcastSlowAnswer time.Duration `mapstructure:"broadcast_slow_answer"`
}

// Defaults of the node's watches (app.toml): measured in the fault suite's
// partition scenario (README "Fault tolerance").
const (
	DefaultPeerSilentAfter     = 10 * time.Second
	DefaultPeerRedialEvery     = time.Second
	DefaultInvariantCheckEvery = 10 * time.Minute
)

// Defaults of the broadcast gate (app.toml; node/broadcastgate.go).
// DefaultBroadcastMaxWaiting is a tenth of the app's limit at CometBFT's
// default mempool of 5,000 (node.MempoolLimit: 4,500), roughly what one
// node's CheckTx clears in well under a second on an idle machine, so an
// admitted broadcast is answered soon and the rest are told at once to
// come back. DefaultBroadcastSlowMaxWaiting is above what the fault
// suite's honest workload and flood send one node together (8 + 48 in
// flight), so only a client overload meets it.
const (
	DefaultBroadcastMaxWaiting     = 450
	DefaultBroadcastSlowMaxWaiting = 64
	DefaultBroadcastSlowAnswer     = time.Second
)

// Validate refuses settings no node can run with.
func (c Config) Validate() error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"peer_silent_after", c.PeerSilentAfter}, {"peer_redial_every", c.PeerRedialEvery}, {"invariant_check_every", c.InvariantCheckEvery}, {"broadcast_slow_answer", c.BroadcastSlowAnswer}} {
		if d.v < 0 {
			return fmt.Errorf("app.toml: %s is %s; it must be a duration of 0 (off) or more, such as \"10s\"", d.name, d.v)
		}
	}
	switch c.StateEngine {
	case "", store.EngineIAVL, store.EngineMemiavl:
	default:
		return fmt.Errorf("app.toml: state_engine is %q; it must be %q (the default) or %q", c.StateEngine, store.EngineIAVL, store.EngineMemiavl)
	}
	if c.MempoolBlocks < 0 {
		return fmt.Errorf("app.toml: mempool_blocks is %d; it must be 1 or more (0: the default, %d)", c.MempoolBlocks, DefaultMempoolBlocks)
	}
	return c.validateBroadcastGate()
}

// validateBroadcastGate refuses gate limits that would refuse every
// broadcast or contradict each other.
func (c Config) validateBroadcastGate() error {
	switch {
	case c.BroadcastMaxWaiting < 0:
		return fmt.Errorf("app.toml: broadcast_max_waiting is %d; it must be 0 (no limit) or more (default %d)", c.BroadcastMaxWaiting, DefaultBroadcastMaxWaiting)
	case c.BroadcastSlowAnswer > 0 && c.BroadcastSlowMaxWaiting < 1:
		// With none admitted while slow, no answer would ever show the
		// node fast again: it would refuse every broadcast for good.
		return fmt.Errorf("app.toml: broadcast_slow_max_waiting is %d; it must be 1 or more (default %d), or broadcast_slow_answer \"0s\" to turn the slow-answer limit off", c.BroadcastSlowMaxWaiting, DefaultBroadcastSlowMaxWaiting)
	case c.BroadcastSlowAnswer > 0 && c.BroadcastMaxWaiting > 0 && c.BroadcastSlowMaxWaiting > c.BroadcastMaxWaiting:
		return fmt.Errorf("app.toml: broadcast_slow_max_waiting (%d) is more than broadcast_max_waiting (%d); the limit while answers are slow must be the smaller one", c.BroadcastSlowMaxWaiting, c.BroadcastMaxWaiting)
	}
	return nil
}

// DefaultConfig is what `tallyd init` writes.
func DefaultConfig() Config {
	return Config{
		DBBackend:          "goleveldb",
		StateEngine:        store.EngineIAVL,
		PruningKeepRecent:  100_000,
		PruningKeepEvery:   10_000,
		MemoryLimitMiB:     DefaultMemoryLimitMiB,
		DBCacheMiB:         DefaultDBCacheMiB,
		DecodeCacheMiB:     DefaultDecodeCacheBytes >> 20,
		CheckCacheMiB:      DefaultCheckCacheBytes >> 20,
		SignatureCacheSize: DefaultSignatureCacheSize,
		MempoolBlocks:      DefaultMempoolBlocks,
		SnapshotInterval:   1000,
		SnapshotKeepRecent: 2,
		RetainBlocks:       100_000,
		QueryBudgetPercent: DefaultQueryBudgetPercent,

		PeerSilentAfter:     DefaultPeerSilentAfter,
		PeerRedialEvery:     DefaultPeerRedialEvery,
		InvariantCheckEvery: DefaultInvariantCheckEvery,

		BroadcastMaxWaiting:     DefaultBroadcastMaxWaiting,
		BroadcastSlowMaxWaiting: DefaultBroadcastSlowMaxWaiting,
		BroadcastSlowAnswer:     DefaultBroadcastSlowAnswer,
	}
}

// DefaultDBCacheMiB is the state database's block cache at the default
// config: 32 MiB, four times goleveldb's own default, paid for in the
// memory budget by the smaller signature cache. A cached block is read
// without the disk or decompression; see README "Bounded memory" for what
// it gains in BenchmarkFinalizeCommit.
const DefaultDBCacheMiB = 32

// DefaultMempoolBlocks is how many blocks of work a node's mempool takes
// by default: two, so a proposer under overload always has a full block
// and the rest waits for the next one, while each block leaves at most a
// block's worth to recheck. CometBFT's mempool of 5,000 held about four
// blocks of the load mix; under overload every node spent its CPU
// checking, rechecking and screening transactions the next blocks could
// not take, and the blocks came later (README, "Under overload").
const DefaultMempoolBlocks = 2

// DefaultSignatureCacheSize is how many signature verdicts a node keeps:
// four times CometBFT's default mempool of 5,000, like the decode cache, so
// every transaction waiting in the mempool keeps its verdict until a block
// runs it. An entry takes about 180 bytes (tx hash, key, map and order
// slots): ~3.4 MiB. (It was 200,000, ~31 MiB, which the memory budget in the
// README needs for the database's block cache.)
const DefaultSignatureCacheSize = 20_000

// DefaultMemoryLimitMiB keeps a validator under 512 MiB resident: the Go
// runtime's soft limit covers its heap, stacks and metadata but not the
// binary's own pages (about 40 MiB resident), and leaves a margin for the
// moments the live heap passes the limit. Measured in the README
// ("Bounded memory").
const DefaultMemoryLimitMiB = 448

// cachedNodeBytes is what one IAVL node held in a node cache costs the
// heap, measured: a tree of 100,000 keys of 25 bytes and values of 90
// bytes, read whole through a cache that held it, took 151 MiB more than
// through a 1,000-node cache, i.e. about 790 bytes for each of its
// 200,000 nodes (the node, its key, value, hash and child keys, and the
// cache's map entry and list element).
const cachedNodeBytes = 800

// nodeCacheSharePercent is the share of the memory limit the two trees'
// node caches (consensus + query, 1.25x the consensus tree's) may fill.
// The rest is for the mempool, the decode and signature caches, the
// databases' memtables and caches, the block being run and, above all,
// room for garbage between collections: with a live heap near the limit
// the collector runs without pause. At 35% (164,416 nodes) blocks ran 2
// to 10 collections each under the 448 MiB limit and a third to a quarter
// of the transactions per CPU-second they ran without it; at 10% (46,976
// nodes) they ran 0 to 6 and 1.3 to 3 times as many transactions, and at
// 5% (23,488 nodes) 0 to 4 and another 1.1 to 1.3 times for most kinds:
// every collection marks the whole cache, and a block's ~200,000 new
// nodes replace most of it anyway (README "Node cache against
// collections", BenchmarkFinalizeCommit with TALLY_BENCH_VARIANTS).
const nodeCacheSharePercent = 5

// unlimitedNodeCache is the consensus tree's node cache when neither
// iavl_cache_size nor any memory limit is set (the size before the limit
// existed).
const unlimitedNodeCache = 1_000_000

// minNodeCache keeps a tiny memory limit from leaving the trees without a
// cache for even the top levels every block walks.
const minNodeCache = 10_000

// NodeCacheSize is the consensus tree's node cache, in nodes: IAVLCacheSize
// when set, else nodeCacheSharePercent of limitBytes (the memory limit the
// process runs under; 0 or less: none) at cachedNodeBytes a node, counting
// the query tree's quarter. At the default 448 MiB that is 23,488 nodes.
func (c Config) NodeCacheSize(limitBytes int64) int {
	if c.IAVLCacheSize > 0 {
		return c.IAVLCacheSize
	}
	if limitBytes <= 0 || limitBytes >= unlimitedNodeCache*cachedNodeBytes*5/4*100/nodeCacheSharePercent {
		return unlimitedNodeCache
	}
	nodes := limitBytes / 100 * nodeCacheSharePercent / cachedNodeBytes * 4 / 5
	return max(int(nodes), minNodeCache)
}

// NodeCacheBytes is what the node caches of both trees take at most, in
// bytes, when the consensus tree caches nodes nodes (the query tree a
// quarter as many), at cachedNodeBytes a node.
func NodeCacheBytes(nodes int) int64 {
	return int64(nodes) * 5 / 4 * cachedNodeBytes
}

// StoreOptions turns the config into store options for the database in dir.
func (c Config) StoreOptions(dir string) store.Options {
	return store.Options{
		Engine: c.StateEngine,
		// memiavl's snapshots of its own tree, not state-sync snapshots.
		SnapshotInterval: c.MemiavlSnapshotEvery,
		Dir:              dir,
		Backend:          c.DBBackend,
		KeepRecent:       c.PruningKeepRecent,
		KeepEvery:        c.PruningKeepEvery,
		CacheSize:        c.NodeCacheSize(c.MemoryLimitMiB << 20),
		FastIndex:        c.IAVLFastIndex,

		DBCacheBytes:    c.DBCacheMiB << 20,
		DBNoCompression: c.DBNoCompression,
	}
}

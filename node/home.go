// Package home lays out and runs a Tally node's home directory:
//
//	<home>/config/config.toml    CometBFT's configuration
//	<home>/config/app.toml       Tally's node-local configuration (app.Config)
//	<home>/config/genesis.json   the chain's genesis
//	<home>/config/node_key.json  p2p identity
//	<home>/config/priv_validator_key.json  consensus key (keep secret)
//	<home>/data/                 CometBFT's block store and state
//	<home>/data/tally/           the application's IAVL state
//	<home>/keyring-<backend>/    account keys (see client/keys)
package node

import (
	"bytes"
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/template"
	"time"

	dbm "github.com/cometbft/cometbft-db"
	abci "github.com/cometbft/cometbft/abci/types"
	cfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/light"
	cmtnode "github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/proxy"
	"github.com/cometbft/cometbft/types"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/viper"

	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/store"
)

// AppConfigFile is the path of app.toml inside a home.
func AppConfigFile(home string) string { return filepath.Join(home, "config", "app.toml") }

// StateDir is where the application's IAVL database lives inside a home.
func StateDir(home string) string { return filepath.Join(home, "data", "tally") }

// SnapshotDir is where the node keeps its state-sync snapshots.
func SnapshotDir(home string) string { return filepath.Join(home, "data", "snapshots") }

// evidenceAge is the genesis evidence max_age_num_blocks: evidence of a
// misbehaviour that old is still valid, and checking it needs the block, so
// no node may delete blocks younger than that.
func evidenceAge(genesisFile string) (uint64, error) {
	doc, err := types.GenesisDocFromFile(genesisFile)
	if err != nil {
		return 0, fmt.Errorf("reading genesis for the evidence age: %w", err)
	}
	return uint64(max(doc.ConsensusParams.Evidence.MaxAgeNumBlocks, 0)), nil
}

// KeyringDir is where account keys of a backend live inside a home.
func KeyringDir(home, backend string) string { return filepath.Join(home, "keyring-"+backend) }

// DefaultCometConfig is CometBFT's default configuration with Tally's
// choices: the kv indexer (clients look transactions up by hash), and no
// peer exchange — on a network of known agencies each node connects to
// the peers its operator configured (persistent_peers, set by the genesis
// ceremony), not to addresses gossiped by others. (PEX's address book is
// also saved by a goroutine CometBFT does not wait for on Stop.)
func DefaultCometConfig(home string) *cfg.Config {
	c := cfg.DefaultConfig()
	c.SetRoot(home)
	c.TxIndex.Indexer = "kv"
	c.P2P.PexReactor = false
	c.Instrumentation.PrometheusListenAddr = DefaultMetricsAddr
	c.Mempool.MaxTxsBytes = DefaultMempoolMaxTxsBytes
	return c
}

// DefaultMempoolMaxTxsBytes bounds the bytes of the transactions a node's
// mempool holds ([mempool] max_txs_bytes), in place of CometBFT's 1 GB,
// which no validator under memory_limit_mib could hold: 32 MiB fits the
// memory budget (README "Bounded memory") and holds the 5,000 transactions
// of [mempool] size at up to 6.5 KiB each, above any transaction of the
// load mix (a few hundred bytes; 32 messages in one, about 4 KiB).
const DefaultMempoolMaxTxsBytes = 32 << 20

// DefaultMetricsAddr is where a node serves its Prometheus metrics
// (CometBFT's and Tally's) when [instrumentation] prometheus is on: loopback
// only, for a Prometheus on the same machine or a proxy the operator
// chooses. tallyd init and testnet init turn metrics on.
const DefaultMetricsAddr = "127.0.0.1:26660"

// EnableMetrics turns on the node's Prometheus endpoint at addr
// (host:port). Only one node per process can export metrics (Prometheus'
// default registry is per process), so in-process test networks leave it
// off.
func EnableMetrics(c *cfg.Config, addr string) {
	c.Instrumentation.Prometheus = true
	c.Instrumentation.PrometheusListenAddr = addr
	c.Instrumentation.Namespace = "cometbft"
}

// WriteConfigs writes config.toml and app.toml into home, creating its
// folders. It overwrites existing files.
func WriteConfigs(home string, comet *cfg.Config, appCfg app.Config) error {
	cfg.EnsureRoot(home)
	if err := os.MkdirAll(filepath.Join(home, "data"), 0o700); err != nil {
		return err
	}
	cfg.WriteConfigFile(filepath.Join(home, "config", "config.toml"), comet)
	var buf bytes.Buffer
	if err := appTOML.Execute(&buf, appCfg); err != nil {
		return err
	}
	return os.WriteFile(AppConfigFile(home), buf.Bytes(), 0o600)
}

var appTOML = template.Must(template.New("app").Parse(`# Tally node configuration. Nothing here changes what state a block
# produces; nodes with different settings reach the same app hash.

# State database: "goleveldb" or "pebbledb".
db_backend = "{{.DBBackend}}"

# The tree the state is kept in: "iavl" (IAVL v1) or "memiavl", a prototype
# that builds the same app hash and proofs with far less work a block, but
# answers queries at the last three heights only. Both take and restore the
# same state-sync snapshots. A data directory holds one engine's state:
# switching needs a new data directory (state sync fills one).
state_engine = "{{.StateEngine}}"
# memiavl only: versions logged between two full snapshots of its tree (0:
# its default). The nodes changed since the last one are held in memory.
memiavl_snapshot_every = {{.MemiavlSnapshotEvery}}

# Pruning of old state versions. Keep the last pruning_keep_recent versions
# (0 keeps everything) and every version that is a multiple of
# pruning_keep_every. Queries and proofs work only at kept heights.
pruning_keep_recent = {{.PruningKeepRecent}}
pruning_keep_every = {{.PruningKeepEvery}}

# Soft limit on the node process's memory, in MiB (Go's runtime memory
# limit): near it the garbage collector runs more often instead of growing
# the heap. 0: no limit. GOMEMLIMIT in the node's environment overrides it.
# The default keeps a validator under 512 MiB resident at saturation.
memory_limit_mib = {{.MemoryLimitMiB}}

# Tree nodes kept in memory by the consensus tree (the query tree keeps a
# quarter as many); about 800 bytes of heap each. 0 sizes the cache from
# the memory limit: 5% of it for both trees (23,488 nodes at 448 MiB;
# 1,000,000 with no limit). A cache smaller than the tree makes blocks read
# nodes back from disk.
iavl_cache_size = {{.IAVLCacheSize}}

# The state database's block cache (goleveldb), in MiB: blocks of the
# database kept decoded in memory, where the tree nodes the node cache does
# not hold are read from. 0: goleveldb's default, 8 MiB.
db_cache_mib = {{.DBCacheMiB}}

# Write the state database's tables without snappy compression: reading a
# tree node the caches do not hold skips decompressing its block, for a
# database about 1.5 times larger on disk.
db_no_compression = {{.DBNoCompression}}

# IAVL's fast index of latest values. Off, each block writes about half as
# much and reads walk the cached tree; turning it on rebuilds it at start.
iavl_fast_index = {{.IAVLFastIndex}}

# Memory for decoded transactions, in MiB: the mempool's transactions stay
# decoded across rechecks and proposals up to this (and 20,000 of them),
# the oldest evicted first; a transaction evicted is decoded again when
# needed. 0: 32 MiB.
decode_cache_mib = {{.DecodeCacheMiB}}

# Memory for committed state CheckTx has read, in MiB: the accounts,
# agencies and nonces of the mempool's signers stay in memory across
# blocks (what a block writes is dropped at its commit), so the mempool's
# rechecks after every block read no state from the tree. The oldest are
# evicted first. 0: 8 MiB; -1: no cache.
check_cache_mib = {{.CheckCacheMiB}}

# Verified signatures remembered between CheckTx and FinalizeBlock, so a
# node checks each signature once.
signature_cache_size = {{.SignatureCacheSize}}

# How many blocks of work this node's mempool takes: once the transactions
# waiting count as this many times the block's max_block_units, new ones
# are refused at once (tx/85, "node's mempool is full"; the broadcast gate
# answers HTTP 503) until the next block. Every waiting transaction costs
# each node a check when gossiped, a recheck after every block and a
# proposer's screening, so a mempool far larger than the next blocks only
# slows them under overload. 0: the default, 2.
mempool_blocks = {{.MempoolBlocks}}

# Peer admission, when filter_peers is on in config.toml: this node connects
# only to nodes registered for a validator in the current set (the node id
# of an add-validator proposal's node address, or of a genesis operator)
# and to the node ids listed here (full nodes, sentries, a validator-to-be
# catching up before its vote), e.g. ["3f2a...c9"].
allowed_peers = [{{range $i, $p := .AllowedPeers}}{{if $i}}, {{end}}"{{$p}}"{{end}}]

# Whole-state queries (/invariants, /funds/invariants: every record read)
# are answered only when this is true. Turn it on only on a node whose RPC
# only the operator can reach; local networks do.
operator_queries = {{.OperatorQueries}}

# State-sync snapshots: one after every block whose height is a multiple of
# snapshot_interval (0: none), of the saved state, taken in the background;
# the newest snapshot_keep_recent are kept in data/snapshots/ and served to
# nodes that join by state sync.
snapshot_interval = {{.SnapshotInterval}}
snapshot_keep_recent = {{.SnapshotKeepRecent}}

# Block retention: keep the last retain_blocks blocks and delete older ones
# (0 keeps every block). The node never keeps fewer than evidence needs (the
# genesis evidence max_age_num_blocks) nor than the kept snapshots span.
retain_blocks = {{.RetainBlocks}}

# The share (in percent) of this node's CPU that its RPC readers may use:
# every request but a transaction broadcast, whole (decoding, queries,
# encoding the answer), one at a time, each charged the CPU time its thread
# ran. "This node's CPU" is the larger of what the node's process used and
# what a thread of it could have had (a whole core on an idle machine), so
# on an idle machine readers get this share of a core and on a saturated one
# this share of what the node gets. Past it, a reader waits for its turn (up
# to 2 s) and is then refused as busy (HTTP 503, tx/70, try again), so
# readers cannot take the CPU that blocks need. Raise it on a node that
# serves many readers; 100 removes the limit (and the one-at-a-time lane).
query_budget_percent = {{.QueryBudgetPercent}}

# Peer watch, for fast recovery after a silent partition (a cut that drops
# packets leaves CometBFT's connections open for a minute): drop a peer in
# consensus this node kept sending to but heard nothing from for
# peer_silent_after (a node still syncing is never dropped for silence), and
# dial every disconnected persistent peer every peer_redial_every besides
# CometBFT's own reconnection (5-8 s apart). "0s" turns either off.
peer_silent_after = "{{.PeerSilentAfter}}"
peer_redial_every = "{{.PeerRedialEvery}}"

# With metrics on, run every module's invariants over the committed state
# this often (a whole-state walk; tally_invariant_checks_failing). A walk
# longer than a twentieth of this puts the next off to twenty times its
# length, so a large state is walked at most a twentieth of the time.
# "0s": never.
invariant_check_every = "{{.InvariantCheckEvery}}"

# The broadcast gate: a transaction broadcast (over HTTP, the websocket or
# gRPC) that the node could not take soon is refused at once with tx/85
# ("mempool is full", HTTP 503 and Retry-After over HTTP) instead of
# waiting behind others for CheckTx. It is refused when the mempool and the
# broadcasts waiting for CheckTx would pass the mempool limit, when
# broadcast_max_waiting are already waiting (0: no limit), or when
# broadcast_slow_max_waiting are waiting while recent broadcasts took longer
# than broadcast_slow_answer to be answered (a node short of CPU checks far
# fewer a second than the first limit assumes; "0s" turns this rule off).
broadcast_max_waiting = {{.BroadcastMaxWaiting}}
broadcast_slow_max_waiting = {{.BroadcastSlowMaxWaiting}}
broadcast_slow_answer = "{{.BroadcastSlowAnswer}}"
`))

// LoadConfigs reads config.toml and app.toml from home.
func LoadConfigs(home string) (*cfg.Config, app.Config, error) {
	comet := DefaultCometConfig(home)
	v := viper.New()
	v.SetConfigFile(filepath.Join(home, "config", "config.toml"))
	if err := v.ReadInConfig(); err != nil {
		return nil, app.Config{}, fmt.Errorf("reading %s: %w (run `tallyd init` first)", v.ConfigFileUsed(), err)
	}
	if err := v.Unmarshal(comet); err != nil {
		return nil, app.Config{}, fmt.Errorf("parsing config.toml: %w", err)
	}
	comet.SetRoot(home)
	if err := comet.ValidateBasic(); err != nil {
		return nil, app.Config{}, fmt.Errorf("config.toml: %w", err)
	}
	appCfg := app.DefaultConfig()
	av := viper.New()
	av.SetConfigFile(AppConfigFile(home))
	if err := av.ReadInConfig(); err != nil {
		return nil, app.Config{}, fmt.Errorf("reading %s: %w", AppConfigFile(home), err)
	}
	if err := av.Unmarshal(&appCfg); err != nil {
		return nil, app.Config{}, fmt.Errorf("parsing app.toml: %w", err)
	}
	if err := appCfg.Validate(); err != nil {
		return nil, app.Config{}, err
	}
	return comet, appCfg, nil
}

// Node is a running Tally node: CometBFT with the app in-process.
type Node struct {
	*cmtnode.Node
	App *app.App
	dbs *openDBs
	// stopWatch ends the peer watch (peerwatch.go) and the invariant
	// watch (figures.go) Start began.
	stopWatch  chan struct{}
	invariants *invariantWatch
	// peerSilentAfter and peerRedialEvery are the peer watch's app.toml
	// settings.
	peerSilentAfter, peerRedialEvery time.Duration
	// pruned closes when the transaction index pruner (txindex_prune.go)
	// has returned, so Shutdown closes its database after it.
	pruned chan struct{}
	// rpcAddr is [rpc] laddr: Start serves the RPC there itself (rpc.go),
	// so CometBFT's config holds none while CometBFT starts.
	rpcAddr string
	// rpc is what serveRPC started, for Shutdown to close.
	rpc rpcServers
	// CacheSize is the consensus tree's IAVL node cache, in nodes, as
	// sized from app.toml and the memory limit (app.Config.NodeCacheSize).
	CacheSize int
	// gate is the broadcast gate every RPC transport's broadcasts pass
	// (broadcastgate.go).
	gate *broadcastGate
	// signer watches the remote signer's connection (signerwatch.go);
	// nil without priv_validator_laddr.
	signer *signerWatch
}

// openDBs records every database CometBFT opens. CometBFT v0.40's node
// does not close its transaction-index database on Stop, which keeps the
// directory locked; Shutdown closes whatever is still open so the same
// process can start the node again (tests, testnet supervisors).
type openDBs struct {
	mu  sync.Mutex
	dbs []dbm.DB
	// txIndex is the transaction index's database, which the node prunes.
	txIndex dbm.DB
}

func (o *openDBs) provider(ctx *cfg.DBContext) (dbm.DB, error) {
	db, err := cfg.DefaultDBProvider(ctx)
	if err == nil {
		db = &afterCloseDB{DB: db}
		if ctx.ID == "tx_index" {
			db = newJournalDB(db) // so the pruner finds a height's block events
		}
		o.mu.Lock()
		o.dbs = append(o.dbs, db)
		if ctx.ID == "tx_index" {
			o.txIndex = db
		}
		o.mu.Unlock()
	}
	return db, err
}

func (o *openDBs) closeAll() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, db := range o.dbs {
		_ = db.Close() // already-closed databases report an error; nothing to do
	}
	o.dbs = nil
}

// NewNode opens the state in home and builds (but does not start) a
// CometBFT node running the app in-process. Each of storeOpts, if any,
// adjusts the state's options from app.toml before it is opened (tallyd's
// TALLY_CRASH_AT uses this).
func NewNode(home string, logger log.Logger, opts app.Options, storeOpts ...func(*store.Options)) (*Node, error) {
	comet, appCfg, err := LoadConfigs(home)
	if err != nil {
		return nil, err
	}
	so := appCfg.StoreOptions(StateDir(home))
	limit, _ := MemoryLimit(appCfg)
	so.CacheSize = appCfg.NodeCacheSize(limit)
	for _, f := range storeOpts {
		f(&so)
	}
	st, err := store.Open(so)
	if err != nil {
		return nil, fmt.Errorf("opening state in %s: %w", StateDir(home), err)
	}
	if opts.Logger == nil {
		opts.Logger = logger.With("module", "tally")
	}
	if opts.SignatureCacheSize == 0 {
		opts.SignatureCacheSize = appCfg.SignatureCacheSize
	}
	if opts.DecodeCacheBytes == 0 {
		opts.DecodeCacheBytes = appCfg.DecodeCacheMiB << 20
	}
	if opts.CheckCacheBytes == 0 {
		opts.CheckCacheBytes = appCfg.CheckCacheMiB << 20
	}
	opts.OperatorQueries = opts.OperatorQueries || appCfg.OperatorQueries
	if opts.Snapshots.Dir == "" {
		opts.Snapshots = app.SnapshotOptions{Dir: SnapshotDir(home), Interval: appCfg.SnapshotInterval, KeepRecent: appCfg.SnapshotKeepRecent}
	}
	if opts.RetainBlocks == 0 && appCfg.RetainBlocks > 0 {
		floor, err := evidenceAge(comet.GenesisFile())
		if err != nil {
			st.Close()
			return nil, err
		}
		opts.RetainBlocks = max(appCfg.RetainBlocks, floor)
	}
	if opts.QueryBudgetPercent == 0 {
		opts.QueryBudgetPercent = appCfg.QueryBudgetPercent
	}
	if opts.QueryBudgetPercent == 0 { // an app.toml from before the setting
		opts.QueryBudgetPercent = app.DefaultQueryBudgetPercent
	}
	if opts.AllowedPeers == nil {
		opts.AllowedPeers = appCfg.AllowedPeers
	}
	if opts.MempoolLimit == 0 {
		opts.MempoolLimit = MempoolLimit(comet.Mempool.Size)
	}
	if opts.MempoolBlocks == 0 {
		opts.MempoolBlocks = appCfg.MempoolBlocks
	}
	if opts.MempoolBlocks == 0 { // an app.toml from before the setting
		opts.MempoolBlocks = app.DefaultMempoolBlocks
	}
	a, err := app.New(st, opts)
	if err != nil {
		st.Close()
		return nil, err
	}
	nodeKey, err := p2p.LoadNodeKey(comet.NodeKeyFile())
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("loading node key: %w", err)
	}
	// With priv_validator_laddr set the key is not here: CometBFT waits
	// for a remote signer (tallyd signer) to connect there instead.
	var pv types.PrivValidator
	if comet.PrivValidatorListenAddr == "" {
		pv = privval.LoadFilePV(comet.PrivValidatorKeyFile(), comet.PrivValidatorStateFile())
	} else {
		removeStaleSignerSocket(comet.PrivValidatorListenAddr)
	}
	dbs := &openDBs{}
	var application abci.Application = a
	var invariants *invariantWatch
	if comet.Instrumentation.Prometheus {
		application = meteredApp{Application: a, m: newMetrics(prometheus.DefaultRegisterer, comet.DBDir(), StateDir(home))}
		watchQueues(prometheus.DefaultRegisterer, a)
		invariants = newInvariantWatch(prometheus.DefaultRegisterer, a, appCfg.InvariantCheckEvery, logger.With("module", "invariants"))
	}
	var nodeOpts []cmtnode.Option
	if ss := comet.StateSync; ss.Enable {
		// Used only if the node starts with no state (stateprovider.go).
		sp, err := newPatientStateProvider(comet.GenesisFile(), ss.RPCServers,
			light.TrustOptions{Period: ss.TrustPeriod, Height: ss.TrustHeight, Hash: ss.TrustHashBytes()},
			logger.With("module", "light"))
		if err != nil {
			a.Close()
			return nil, fmt.Errorf("state sync: %w", err)
		}
		nodeOpts = append(nodeOpts, cmtnode.StateProvider(sp))
	}
	n, err := cmtnode.NewNode(comet, pv, nodeKey,
		ClientCreator(application),
		cmtnode.DefaultGenesisDocProviderFunc(comet),
		dbs.provider,
		cmtnode.DefaultMetricsProvider(comet.Instrumentation),
		logger, nodeOpts...)
	if err != nil {
		dbs.closeAll()
		a.Close()
		if comet.PrivValidatorListenAddr != "" && strings.Contains(err.Error(), "private validator") {
			return nil, fmt.Errorf("creating node: no remote signer answered at priv_validator_laddr %s (start `tallyd signer --connect %s` with this validator's key, or empty priv_validator_laddr to use the key file in config/): %w",
				comet.PrivValidatorListenAddr, comet.PrivValidatorListenAddr, err)
		}
		return nil, fmt.Errorf("creating node: %w", err)
	}
	// Gossiped transactions' signatures are verified in batches
	// (gossipbatch.go).
	batchGossip(n.Switch(), a.PreverifySignatures)
	// The node serves the RPC itself, with the reader lane in front
	// (rpc.go): CometBFT starts none when its laddr is empty.
	rpcAddr := comet.RPC.ListenAddress
	comet.RPC.ListenAddress = ""
	gate := newBroadcastGate(n.Mempool().Size, newGateLimits(opts.MempoolLimit, appCfg))
	if comet.Instrumentation.Prometheus {
		watchGate(prometheus.DefaultRegisterer, gate)
		watchMempool(prometheus.DefaultRegisterer, cmp.Or(opts.MempoolLimit, comet.Mempool.Size))
	}
	gate.full = a.MempoolFull
	// A remote signer's connection is watched while the node runs
	// (signerwatch.go).
	var signer *signerWatch
	if cs, ok := n.PrivValidator().(connectedSigner); ok && comet.PrivValidatorListenAddr != "" {
		var reg prometheus.Registerer
		if comet.Instrumentation.Prometheus {
			reg = prometheus.DefaultRegisterer
		}
		signer = newSignerWatch(comet.PrivValidatorListenAddr, cs, reg, logger.With("module", "signerwatch"))
	}
	return &Node{Node: n, App: a, dbs: dbs, invariants: invariants, rpcAddr: rpcAddr, CacheSize: so.CacheSize, gate: gate,
		peerSilentAfter: appCfg.PeerSilentAfter, peerRedialEvery: appCfg.PeerRedialEvery, signer: signer}, nil
}

// ClientCreator connects CometBFT to the app in-process with one lock per
// ABCI connection, not one for all: Query and CheckTx read committed state
// only (app.App's committed view and the store's reader tree), so they need
// not wait for, and must not hold up, FinalizeBlock and Commit on the
// consensus connection.
func ClientCreator(a abci.Application) proxy.ClientCreator {
	return proxy.NewConnSyncLocalClientCreator(a)
}

// Shutdown stops the node if it is running and closes the app's state.
func (n *Node) Shutdown() error {
	var err error
	if n.stopWatch != nil {
		close(n.stopWatch)
		n.stopWatch = nil
		if n.pruned != nil {
			<-n.pruned
			n.pruned = nil
		}
	}
	n.closeRPC()
	if n.IsRunning() {
		err = n.Stop()
		n.Wait()
	}
	n.dbs.closeAll()
	if cerr := n.App.Close(); err == nil {
		err = cerr
	}
	return err
}

// MempoolLimit is the app's limit on transactions waiting in a node whose
// CometBFT mempool holds size (app.Options.MempoolLimit): a tenth less, so
// that the app's coded refusal (tx/85) comes first. The margin covers what
// the app cannot count exactly: transactions CheckTx passed that are still
// on their way into the mempool when the next ones arrive.
func MempoolLimit(size int) int {
	if size <= 0 {
		return 0
	}
	return max(size-size/10, 1)
}

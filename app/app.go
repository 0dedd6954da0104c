// Package app is the Tally ABCI application: the only code that speaks
// ABCI. It decodes and authenticates transactions, routes messages to the
// modules, runs the block lifecycle, loads genesis and answers queries with
// Merkle proofs. This file reads top to bottom in the order CometBFT calls
// it: Info, InitChain, CheckTx, PrepareProposal, ProcessProposal,
// FinalizeBlock, Commit, Query.
package app

import (
	"context"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/libs/log"

	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/api/keyproof"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/benefits"
	"github.com/tallyledger/tally/x/funds"
	"github.com/tallyledger/tally/x/gov"
	"github.com/tallyledger/tally/x/module"
	"github.com/tallyledger/tally/x/provenance"
	"github.com/tallyledger/tally/x/tax"
)

// ProtocolVersion is the app version CometBFT records in block headers. It
// changes when the state machine changes incompatibly.
const ProtocolVersion uint64 = 1

// Version is the software version, set at build time with -ldflags.
var Version = "dev"

// App is the Tally state machine.
type App struct {
	abci.BaseApplication

	store  *store.Store
	logger log.Logger
	sigs   *sigCache
	proofs *proofCache
	// shared holds signers' accounts and agencies decoded, for the
	// readers that change nothing they get (records.go).
	shared *sharedRecords
	// decoded holds transactions this node has decoded, by hash, so that
	// rechecks and proposals do not decode them again (txcache.go).
	decoded *hashCache[*decodedTx]
	// pending counts each signer's transactions in this node's mempool.
	pending *pendingCounts
	// mempoolLimit is Options.MempoolLimit.
	mempoolLimit int
	// mempoolBlocks is Options.MempoolBlocks.
	mempoolBlocks int
	step          func(Step)

	chainID string
	params  *appv1.Params

	agency     agency.Keeper
	funds      funds.Keeper
	benefits   benefits.Keeper
	tax        tax.Keeper
	provenance provenance.Keeper
	gov        gov.Keeper

	// table routes each message to its module's row (x/module.Table).
	table *module.Table

	// govUpdates are the validator changes governance executed in the
	// block being finalized; upgrades are the migrations this binary has.
	govUpdates []gov.ValidatorUpdate
	upgrades   map[string]UpgradeHandler

	// blockUnits is what the transactions of the block being finalized
	// have used of its max_block_units (see deliver).
	blockUnits uint64

	// lastBlock holds the hashes of the transactions FinalizeBlock ran, so
	// Commit can drop their signature verdicts.
	lastBlock [][32]byte

	// peers are the node ids peer filtering admits (peers.go).
	peers *peers

	// snaps takes, serves and restores state-sync snapshots (snapshot.go);
	// retainBlocks is how many recent blocks Commit asks CometBFT to keep.
	snaps        *snapshots
	retainBlocks uint64

	// operatorQueries serves /invariants and /funds/invariants (Options);
	// walking holds the one whole-state walk allowed at a time
	// (startWalk); walkStarted is when the running one started (Unix
	// nanoseconds) and lastWalk how long the last one took, for the
	// retry a refusal names.
	operatorQueries bool
	walking         chan struct{}
	walkStarted     atomic.Int64
	lastWalk        atomic.Int64
	// queries paces the time spent answering queries (querybudget.go).
	queries *queryBudget

	// carried counts blocks whose end-of-block work a module left
	// partly for later (figures.go); read by the node's metrics.
	carried map[string]*atomic.Uint64

	// committed is what CheckTx reads besides state: the last committed
	// version, with the chain id and params as of that version. CometBFT
	// calls CheckTx and Query on their own connections, concurrently with
	// FinalizeBlock and Commit (see home.NewNode), so they must not read
	// the fields above, which the consensus connection changes. Commit
	// publishes a new value; readers load it once per request.
	committed atomic.Pointer[committedView]
}

// committedView is the app's own configuration at a committed version.
// Its params are never changed in place: a parameter change replaces
// a.params with a new value, so sharing the pointer is safe.
type committedView struct {
	version int64
	chainID string
	params  *appv1.Params
}

// Step names a point in the block lifecycle, for crash tests.
type Step string

// Lifecycle steps reported to Options.OnStep.
const (
	StepFinalized Step = "finalized" // FinalizeBlock done, before Commit
	StepCommitted Step = "committed" // state saved, before CometBFT records the commit
)

// Options configures an App.
type Options struct {
	Logger             log.Logger
	SignatureCacheSize int
	// OnStep, when set, is called at each lifecycle step. Tests use it to
	// stop the app at a chosen point; production leaves it nil.
	OnStep func(Step)
	// Upgrades are the migrations this binary runs for scheduled upgrades,
	// by upgrade name.
	Upgrades map[string]UpgradeHandler
	// AllowedPeers are node ids the operator admits besides the
	// validators' (app.toml allowed_peers; see peers.go).
	AllowedPeers []string
	// Modules are modules this binary runs besides the built-in ones
	// (builtinModules), after them: a tally-based application's own, or
	// a test's. Their messages must have entries in the Msg envelope.
	Modules []module.Module
	// OperatorQueries serves the whole-state walks (/invariants,
	// /funds/invariants) over Query (app.toml operator_queries). Off, they
	// are refused: an ABCI query does not say who asks, and a walk of all
	// state is the operator's tool, not every RPC client's.
	OperatorQueries bool
	// Snapshots configures state-sync snapshots (app.toml snapshot_*).
	Snapshots SnapshotOptions
	// DecodeCacheBytes bounds the memory of the node's decoded
	// transactions (app.toml decode_cache_mib); 0 is
	// DefaultDecodeCacheBytes.
	DecodeCacheBytes int
	// CheckCacheBytes bounds the memory of the committed state CheckTx
	// keeps read (app.toml check_cache_mib; store.EnableReadCache): the
	// accounts, agencies and nonces of the mempool's signers, kept across
	// blocks except what each block writes. 0 is DefaultCheckCacheBytes;
	// less than 0 turns the cache off.
	CheckCacheBytes int
	// MempoolLimit is how many transactions CheckTx lets wait in this
	// node's mempool (those it admitted since the last block plus those the
	// mempool rechecked); more new ones are refused with tx/85 until the
	// next block. 0 is no limit. The node sets it below CometBFT's mempool
	// size (node.MempoolLimit), so under overload a client gets a coded,
	// immediate refusal instead of CometBFT's uncoded "mempool is full"
	// error or, for a transaction that passed CheckTx while the mempool
	// filled up, no answer at all.
	MempoolLimit int
	// MempoolBlocks is how many blocks of work CheckTx lets wait in this
	// node's mempool: new transactions are refused with tx/85 once those
	// waiting count as this many times max_block_units (each as a
	// proposer counts it). 0 is no such limit. A mempool that holds far
	// more than the next blocks can take only costs: every node checks
	// every transaction gossiped to it, rechecks all that wait after each
	// block, and a proposer screens them, work that grows with the
	// offered load while the blocks cannot (app.toml mempool_blocks).
	MempoolBlocks int
	// RetainBlocks is how many recent blocks CometBFT keeps (Commit's
	// retain_height); 0 keeps every block. See retainHeight for the floor
	// that snapshots add.
	RetainBlocks uint64
	// QueryBudgetPercent is the share of this node's CPU its readers may
	// use (app.toml query_budget_percent; the node passes
	// DefaultQueryBudgetPercent when it is unset). 0, or 100 and more,
	// mean no limit.
	QueryBudgetPercent int
}

// New returns an App over st, which it owns and closes.
func New(st *store.Store, opts Options) (*App, error) {
	a := &App{operatorQueries: opts.OperatorQueries, walking: make(chan struct{}, 1), queries: newQueryBudget(opts.QueryBudgetPercent), store: st, logger: opts.Logger, step: opts.OnStep, params: DefaultParams()}
	a.proofs = newProofCache(decodeCacheSize)
	a.shared = newSharedRecords()
	a.wireKeepers()
	table, err := module.NewTable(append(a.builtinModules(), opts.Modules...)...)
	if err != nil {
		return nil, fmt.Errorf("wiring modules: %w", err)
	}
	a.table = table
	a.carried = newCarried(table.Modules())
	a.upgrades = opts.Upgrades
	a.peers = newPeers(opts.AllowedPeers)
	if a.logger == nil {
		a.logger = log.NewNopLogger()
	}
	if a.step == nil {
		a.step = func(Step) {}
	}
	size := opts.SignatureCacheSize
	if size <= 0 {
		size = DefaultConfig().SignatureCacheSize
	}
	a.sigs = newSigCache(size)
	decodeBytes := opts.DecodeCacheBytes
	if decodeBytes <= 0 {
		decodeBytes = DefaultDecodeCacheBytes
	}
	a.decoded = newHashCache(decodeCacheSize, decodeBytes, decodedBytes)
	checkBytes := opts.CheckCacheBytes
	if checkBytes == 0 {
		checkBytes = DefaultCheckCacheBytes
	}
	st.EnableReadCache(checkBytes)
	a.pending = newPendingCounts()
	a.mempoolLimit = opts.MempoolLimit
	a.mempoolBlocks = opts.MempoolBlocks
	a.retainBlocks = opts.RetainBlocks
	snaps, err := newSnapshots(opts.Snapshots, a.logger)
	if err != nil {
		return nil, err
	}
	a.snaps = snaps
	if v, _ := st.LastCommit(); v > 0 {
		if err := a.loadChainState(st); err != nil {
			return nil, err
		}
		if err := a.refreshPeers(st); err != nil {
			return nil, err
		}
		a.publishCommitted(v)
	}
	return a, nil
}

// wireKeepers makes each module's keeper from the keepers it calls.
func (a *App) wireKeepers() {
	a.agency = agency.Keeper{Verified: a.proofs.known}
	// Governance grants the mandates the other modules require for acts
	// that create or move public money or bind other agencies.
	a.gov = gov.NewKeeper(a.agency, paramRegistry())
	a.funds = funds.Keeper{Agency: a.agency, Mandates: a.gov}
	a.benefits = benefits.Keeper{Agency: a.agency, Funds: a.funds, Mandates: a.gov}
	a.tax = tax.NewKeeper(a.funds, api.AgencyHolder).WithGovernance(a.gov)
	a.provenance = provenance.NewKeeper(a.agency).WithMandates(a.gov)
}

// builtinModules are the modules every Tally node runs, each with its
// route table (x/<module>/routes.go), in the order they are wired.
// Registering a module is one line here.
func (a *App) builtinModules() []module.Module {
	return []module.Module{
		a.agency.Module(),
		a.funds.Module(),
		a.benefits.Module(),
		a.tax.Module(),
		a.provenance.Module(),
		a.govModule(),
	}
}

// Close waits for a snapshot being taken, then closes the state database.
func (a *App) Close() error {
	a.snaps.wait()
	return a.store.Close()
}

// Info tells CometBFT the last saved height and app hash, so its handshake
// replays exactly the blocks the app has not saved.
func (a *App) Info(context.Context, *abci.RequestInfo) (*abci.ResponseInfo, error) {
	v, h := a.store.LastCommit()
	if v == 0 {
		h = nil
	}
	return &abci.ResponseInfo{
		Data:             "tally",
		Version:          Version,
		AppVersion:       ProtocolVersion,
		LastBlockHeight:  v,
		LastBlockAppHash: h,
	}, nil
}

// InitChain loads the genesis app state. It is saved with block 1.
func (a *App) InitChain(_ context.Context, req *abci.RequestInitChain) (*abci.ResponseInitChain, error) {
	g, err := ParseGenesis(req.AppStateBytes)
	if err != nil {
		return nil, err
	}
	if req.InitialHeight > 1 && g.ExportedFrom == nil {
		return nil, fmt.Errorf("genesis initial_height %d: tally chains start at height 1 (only a restart from tallyd export starts higher)", req.InitialHeight)
	}
	if err := checkExport(g, req.ChainId, req.InitialHeight); err != nil {
		return nil, fmt.Errorf("genesis: %w", err)
	}
	a.store.Rollback() // a crashed earlier InitChain may have left writes behind
	if g.ExportedFrom != nil {
		if err := a.store.SetInitialVersion(req.InitialHeight); err != nil {
			return nil, err
		}
	}
	a.chainID, a.params = req.ChainId, g.Params
	if err := store.SetProto(a.store, api.ParamsKey(), g.Params); err != nil {
		return nil, err
	}
	a.store.Set(api.ChainIDKey(), []byte(req.ChainId))
	if err := importAppRecords(a.store, g); err != nil {
		a.store.Rollback()
		return nil, fmt.Errorf("genesis: %w", err)
	}
	err = agency.CheckGenesisKeyProofs(g.Agency, req.ChainId)
	if err == nil {
		err = a.agency.InitGenesis(a.store, g.Agency, 0)
	}
	if err != nil {
		a.store.Rollback()
		return nil, fmt.Errorf("genesis: %w", err)
	}
	if err := a.funds.InitGenesis(a.store, g.Funds); err != nil {
		a.store.Rollback()
		return nil, fmt.Errorf("genesis funds: %w", err)
	}
	if err := a.benefits.InitGenesis(a.store, g.Benefits); err != nil {
		a.store.Rollback()
		return nil, fmt.Errorf("genesis benefits: %w", err)
	}
	if err := a.tax.InitGenesis(a.store, g.Tax); err != nil {
		a.store.Rollback()
		return nil, fmt.Errorf("genesis tax: %w", err)
	}
	if err := a.provenance.InitGenesis(a.store, g.Provenance); err != nil {
		a.store.Rollback()
		return nil, fmt.Errorf("genesis provenance: %w", err)
	}
	vals, err := genesisValidators(req.Validators)
	if err == nil {
		err = a.gov.InitGenesis(a.store, g.Gov, vals)
	}
	if err != nil {
		a.store.Rollback()
		return nil, fmt.Errorf("genesis gov: %w", err)
	}
	if g.ExportedFrom != nil {
		if err := a.checkRestored(a.store); err != nil {
			a.store.Rollback()
			return nil, fmt.Errorf("genesis: %w", err)
		}
	}
	if err := a.refreshPeers(a.store); err != nil {
		return nil, err
	}
	return &abci.ResponseInitChain{AppHash: a.store.WorkingHash()}, nil
}

// CheckTx admits a transaction to the mempool if it is well formed, signed
// by an active account holding the roles its messages need, within its
// timeout window, and its nonce is unused. It does not run the messages.
// It reads the last committed state only, never the block being finalized,
// so it may run while FinalizeBlock does.
func (a *App) CheckTx(_ context.Context, req *abci.RequestCheckTx) (*abci.ResponseCheckTx, error) {
	var err error
	c := a.committed.Load()
	if c == nil {
		err = ErrNotReady.Wrapf("no block is committed yet; send the transaction again after the first block")
	}
	// A full mempool refuses a new transaction before anything else is
	// done with it (decoding, the signature check), so an overloaded node
	// answers at once and spends nothing on the transactions its peers
	// keep gossiping to it; one that does not decode is told so when sent
	// again.
	if err == nil && req.Type == abci.CheckTxType_New {
		if n, units, full := a.pending.full(a.mempoolLimit, a.mempoolUnits(c.params)); full {
			err = ErrMempoolFull.Wrapf("this node's mempool holds %d transactions (%s), as many as it takes; send again after the next block, or to another node", n, blocksOfWork(units, c.params))
		}
	}
	var d *decodedTx
	if err == nil {
		d, err = a.decodeCached(c.params, req.Tx)
	}
	if err == nil {
		view := &stateAt{s: a.store, height: c.version, cached: true}
		_, err = a.authenticate(view, rules{chainID: c.chainID, params: c.params, shared: true}, d, c.version+1)
		if view.err != nil {
			err = ErrNotReady.Wrapf("reading state at height %d: %v; send the transaction again", c.version, view.err)
		}
	}
	if err == nil {
		units := unitLimit(c.params, d)
		switch a.pending.admit(d.body.Signer, maxPendingPerSigner(c.params), units, a.signerUnits(c.params)) {
		case overCount:
			err = ErrTooManyPending.Wrapf("account %s already has %d transactions waiting in this node's mempool; send more after the next block", hex.EncodeToString(d.body.Signer), maxPendingPerSigner(c.params))
		case overUnits:
			err = ErrTooManyPending.Wrapf("account %s already has transactions waiting in this node's mempool that count as %d units of work or more, as much as one signer may have waiting (a fifth of what the mempool takes); send more after the next block, and declare unit limits (max_units) near what the transactions use", hex.EncodeToString(d.body.Signer), a.signerUnits(c.params))
		}
	}
	if err != nil {
		space, code, log := module.CodeOf(err)
		return &abci.ResponseCheckTx{Code: code, Codespace: space, Log: log}, nil
	}
	return &abci.ResponseCheckTx{Code: abci.CodeTypeOK}, nil
}

// PrepareProposal proposes the mempool's transactions, dropping any that
// ProcessProposal would reject (see screen), within the block's limits,
// taking each signer's transactions only up to a share of the block at a
// time (see blockFill): a signer's transactions past its share are left
// in the mempool, for this block's later rounds if room remains, or for
// later blocks. It screens them a batch at a time and stops at the first
// that does not fit: what follows is never looked at.
func (a *App) PrepareProposal(_ context.Context, req *abci.RequestPrepareProposal) (*abci.ResponsePrepareProposal, error) {
	f := newBlockFill(a.params, req.MaxTxBytes, len(req.Txs))
	sc := a.newScreener(req.Height)
	for round := req.Txs; len(round) > 0 && !f.full; round = f.nextRound() {
		for start := 0; start < len(round) && !f.full; start += proposalBatch {
			sc.next(round[start:min(start+proposalBatch, len(round))], f.choose)
		}
	}
	return &abci.ResponsePrepareProposal{Txs: f.txs}, nil
}

// proposalBatch is how many transactions PrepareProposal screens at a
// time: enough for preverify's parallel signature checks, a fraction of a
// full block, so a proposer screens little past the block's end.
const proposalBatch = 256

// ProcessProposal rejects a block carrying a transaction that cannot be
// decoded, whose signer has no account at that point of the block, or whose
// signature does not verify with the signer's key at that point (screen
// follows accounts added and keys rotated earlier in the block). Other
// failures that depend on state (a reused nonce, a missing role) are not
// reasons to reject: those transactions fail with their code inside the
// block.
//
// Nor is a signer's share of the block (blockFill) a reason to reject: it
// is the proposer's policy, not a rule of validity. Proposers may differ in
// it (another release, another order of their mempools), and the bound
// that protects every node, max_block_units, holds whoever fills the block.
func (a *App) ProcessProposal(_ context.Context, req *abci.RequestProcessProposal) (*abci.ResponseProcessProposal, error) {
	var units uint64
	for _, d := range a.screen(req.Txs, req.Height) {
		if d == nil {
			return &abci.ResponseProcessProposal{Status: abci.ResponseProcessProposal_REJECT}, nil
		}
		if units += unitLimit(a.params, d); units > a.params.MaxBlockUnits {
			return &abci.ResponseProcessProposal{Status: abci.ResponseProcessProposal_REJECT}, nil // more than any block may use
		}
	}
	return &abci.ResponseProcessProposal{Status: abci.ResponseProcessProposal_ACCEPT}, nil
}

// FinalizeBlock runs the block's transactions in order, each on its own
// branch of state, then the end-of-block work. The app hash is the tree's
// root after the block.
func (a *App) FinalizeBlock(_ context.Context, req *abci.RequestFinalizeBlock) (_ *abci.ResponseFinalizeBlock, err error) {
	defer a.stopOnStoreFailure(req.Height, &err)
	upgradeEvents, err := a.applyUpgrade(req)
	if err != nil {
		return nil, err
	}
	decoded, errs := a.decodeAll(req.Txs)
	a.preverify(decoded)
	results := make([]*abci.ExecTxResult, len(req.Txs))
	a.lastBlock = a.lastBlock[:0]
	a.blockUnits = 0
	for i := range req.Txs {
		if errs[i] != nil {
			results[i] = failed(errs[i])
			continue
		}
		a.lastBlock = append(a.lastBlock, decoded[i].hash)
		results[i] = a.deliver(req.Height, req, decoded[i])
	}
	// The block's writes go into the tree here, before anything else
	// reads it: on IAVL v1 that is most of the block's reads from disk
	// (each Set copies its path and loads both children of every node on
	// it). pruneExpired's Iterate would do it otherwise, and a profile
	// would put the whole block's writes under forgetting nonces.
	a.store.Flush()
	pruneExpired(a.store, req.Height, pruneLimit(len(req.Txs)))
	events := append(upgradeEvents, a.endBlock(req)...)
	events = append(events, a.misbehaviour(req)...) // evidence CometBFT committed: recorded, acted on by gov
	valUpdates, err := a.validatorUpdates()
	if err != nil {
		return nil, err
	}
	a.step(StepFinalized)
	return &abci.ResponseFinalizeBlock{TxResults: results, Events: events, ValidatorUpdates: valUpdates, AppHash: a.store.WorkingHash()}, nil
}

// Commit saves the block's state as a new tree version. After it returns,
// the block survives a crash. A state-sync snapshot of the version starts
// in the background when one is due, and CometBFT may drop blocks older
// than the retain height.
func (a *App) Commit(context.Context, *abci.RequestCommit) (*abci.ResponseCommit, error) {
	version, _, err := a.store.Commit()
	if err != nil {
		return nil, fmt.Errorf("saving state: %w", err)
	}
	a.snaps.afterCommit(a.store, version)
	a.publishCommitted(version)
	a.sigs.forget(a.lastBlock)
	a.decoded.drop(a.lastBlock)
	// The set changes rarely and is small; reading it after every block
	// keeps the admitted node ids exactly the committed set's.
	if err := a.refreshPeers(a.store); err != nil {
		return nil, err
	}
	a.pending.reset() // the mempool rechecks what is left, counting it again
	a.step(StepCommitted)
	return &abci.ResponseCommit{RetainHeight: a.retainHeight(version)}, nil
}

// deliver authenticates and runs one transaction. The nonce is spent even
// when a message fails, so a failed transaction cannot be replayed later;
// the messages' writes land only if all of them succeed.
//
// Every transaction runs on a meter (store/meter.go) limited to its unit
// limit (unitLimit: what the proposer counted it as): its handlers see
// state through store.Metered, so each read, write and iteration step is
// charged, and they charge the work they do beyond state access through
// module.Context.Charge. A transaction that passes its limit stops there
// and fails with its writes dropped and its nonce spent: whoever signed
// the limit pays for it being too low, not the transactions after it.
// Because no transaction uses more than it was counted as, a block that
// passed ProcessProposal cannot use more than max_block_units; the check
// that fails later transactions as "block is full" (without spending their
// nonce, so the same signed transaction may be sent again) only guards
// blocks run without that check.
func (a *App) deliver(height int64, req *abci.RequestFinalizeBlock, d *decodedTx) (res *abci.ExecTxResult) {
	signer, err := a.authenticate(a.store, a.blockRules(), d, height)
	if err != nil {
		return failed(err)
	}
	if a.blockUnits >= a.params.MaxBlockUnits {
		return failed(ErrBlockFull.Wrapf("the block's transactions have used %d units; the block limit is %d: send the transaction again", a.blockUnits, a.params.MaxBlockUnits))
	}
	spendNonce(a.store, d.body.Signer, d.body.Nonce, d.body.TimeoutHeight)
	txEvent := abci.Event{Type: "tx", Attributes: []abci.EventAttribute{
		{Key: "signer", Value: hexString(d.body.Signer), Index: true},
		{Key: "nonce", Value: strconv.FormatUint(d.body.Nonce, 10)},
	}}

	meter := store.NewMeter(unitLimit(a.params, d))
	defer func() {
		// A transaction stopped over its limit may have computed a charge
		// far beyond it (a programme's periods are charged in one step);
		// the block is charged at most the limit, so one failing
		// transaction cannot fill the block and fail the honest ones after
		// it with "block is full".
		a.blockUnits = addUnits(a.blockUnits, min(meter.Used(), meter.Limit()))
		if res != nil { // nil while a storage failure unwinds to FinalizeBlock
			res.GasWanted, res.GasUsed = unitsInt64(meter.Limit()), unitsInt64(meter.Used())
		}
	}()
	msgs := store.NewCache(a.store)
	var events []module.Event
	ctx := module.NewContext(store.NewMetered(msgs, meter), height, req.Time, a.chainID, &events).WithMeter(meter)
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if f, ok := r.(*store.Failure); ok {
			// A storage failure is not the transaction's doing and would
			// not happen on a healthy node: it goes on up to FinalizeBlock.
			panic(f)
		}
		if over, ok := r.(store.OutOfUnits); ok {
			res = failed(ErrOutOfUnits.Wrapf("transaction %s; split it into smaller transactions", over))
		} else {
			// A handler panic is a bug, but it must not stop the chain: the
			// transaction fails, its writes are dropped, its nonce stays spent.
			a.logger.Error("message handler panicked", "tx", hex.EncodeToString(d.hash[:]), "panic", r)
			res = failed(module.ErrInternal.Wrapf("handler panicked: %v", r))
		}
		res.Events = []abci.Event{txEvent}
	}()
	meter.Charge(store.TxBase, 1)
	meter.Charge(store.TxByte, uint64(len(d.raw)))
	for i, m := range d.body.Messages {
		if err := a.route(ctx, signer, m); err != nil {
			res = failed(fmt.Errorf("message %d: %w", i, err))
			res.Events = []abci.Event{txEvent}
			return res
		}
	}
	msgs.Write()
	out := make([]abci.Event, 1, 1+len(events))
	out[0] = txEvent
	// Events are outside the results hash, but a block's results hold
	// them: at most EventBytesPerUnit a unit used (capEvents).
	return &abci.ExecTxResult{Code: abci.CodeTypeOK, Events: capEvents(appendABCI(out, events), EventBytesPerUnit*meter.Used())}
}

// stopOnStoreFailure turns a storage failure anywhere in FinalizeBlock into
// FinalizeBlock's error, which makes CometBFT stop this node: the block's
// results would otherwise depend on this node's disk. The block's writes
// are discarded; after the disk is repaired the node restarts from its
// last saved block and replays this one. Any other panic is left alone.
func (a *App) stopOnStoreFailure(height int64, err *error) {
	r := recover()
	if r == nil {
		return
	}
	f, ok := r.(*store.Failure)
	if !ok {
		panic(r)
	}
	a.logger.Error("state storage failed; stopping this node", "height", height, "err", f)
	a.store.Rollback()
	*err = fmt.Errorf("block %d: state storage failed, so this node stops rather than record a result no healthy node would: %w; repair or restore the data directory and restart", height, f)
}

// endBlock runs each module's end-of-block work, in module order, each on
// its own cache. A failure is a bug, not user input: it is logged and the
// module's writes for this block are dropped — identically on every node.
//
// The work is bounded by end_block_units, shared equally by the modules
// that have end-of-block work so that none can starve another: each runs
// on a soft meter (store.NewBudget) that charges its state access and the
// steps it charges itself, and stops when ctx.Exhausted reports its share
// spent; what is left stays queued in state for the next block.
func (a *App) endBlock(req *abci.RequestFinalizeBlock) []abci.Event {
	n := uint64(0)
	for _, m := range a.table.Modules() {
		if m.EndBlock != nil {
			n++
		}
	}
	var all []abci.Event
	for _, m := range a.table.Modules() {
		if m.EndBlock == nil {
			continue
		}
		cache := store.NewCache(a.store)
		budget := store.NewBudget(a.params.EndBlockUnits / n)
		var events []module.Event
		ctx := module.NewContext(store.NewMetered(cache, budget), req.Height, req.Time, a.chainID, &events).WithMeter(budget)
		if err := m.EndBlock(ctx); err != nil {
			a.logger.Error("end-of-block work failed", "module", m.Name, "height", req.Height, "err", err)
			continue
		}
		if budget.Exhausted() {
			a.carried[m.Name].Add(1)
		}
		cache.Write()
		// Events are outside the results hash, but the block's results
		// hold them: a module's weigh at most EventBytesPerUnit a unit its
		// work used, as a transaction's do (capEvents, docs/protocol.md).
		all = append(all, capEvents(appendABCI(nil, events), EventBytesPerUnit*budget.Used())...)
	}
	return all
}

// unitLimit is a transaction's unit limit: the most its meter lets it use
// (deliver) and what a proposer counts it as against max_block_units. It
// is the limit the signer declared (TxBody.max_units, which decode keeps
// within max_tx_units) or, when none is declared, its base, its bytes and
// each message's bound from its route (messageUnits, summed by decode),
// never more than max_tx_units. It needs no state, so PrepareProposal and
// ProcessProposal agree on it, and since a transaction is stopped at it,
// a block whose limits fit max_block_units does at most that much work
// whatever its signers do: one that uses more than its limit fails alone
// (tx/30) and the block's later transactions run.
//
// A declared limit is how a client trades the route bounds, which cover
// the heavy states a message may meet (a funds movement walking many
// tranches), for what its transaction needs: a lower one lets more
// transactions into a block, a higher one lets a heavy transaction run.
func unitLimit(params *appv1.Params, d *decodedTx) uint64 {
	if d.body.MaxUnits != 0 {
		return d.body.MaxUnits
	}
	return min(addUnits(api.TxOwnUnits(len(d.raw)), d.msgUnits), params.MaxTxUnits)
}

// smallMessageUnits bounds a message whose route names no bound
// (module.Route.Units 0): a few reads and one small record written.
const smallMessageUnits = 7_000

// messageUnits is what a proposer counts one message m of route r as
// using: the route's bound, its own bytes as if written once to state (a
// message's free text and lists end up in records), and what grows with
// its content (module.Route.UnitsFor).
func messageUnits(r *module.Route, m proto.Message) uint64 {
	n := r.Units
	if n == 0 {
		n = smallMessageUnits
	}
	n = addUnits(n, store.Cost(store.WriteByte)*uint64(proto.Size(m)))
	if r.UnitsFor != nil {
		n = addUnits(n, r.UnitsFor(m))
	}
	return n
}

// addUnits adds meter units, saturating.
func addUnits(a, b uint64) uint64 {
	if s := a + b; s >= a {
		return s
	}
	return ^uint64(0)
}

// unitsInt64 reports units in ExecTxResult's signed gas fields.
func unitsInt64(u uint64) int64 { return int64(min(u, uint64(1<<63-1))) }

// decodeAll decodes a block's transactions, reusing what CheckTx or an
// earlier proposal of the same transactions decoded.
func (a *App) decodeAll(txs [][]byte) ([]*decodedTx, []error) {
	decoded, errs := make([]*decodedTx, len(txs)), make([]error, len(txs))
	for i, raw := range txs {
		decoded[i], errs[i] = a.decodeCached(a.params, raw)
	}
	return decoded, errs
}

// preverify checks, in parallel batches, the signatures of decoded
// transactions not already verified, against their signers' current keys,
// and the proofs of possession of the members they add, for the signer's
// agency as it stands. Keys and agencies that change earlier in the block
// only make a verdict go unused: the handler verifies again.
func (a *App) preverify(decoded []*decodedTx) {
	jobs := make([]sigJob, 0, len(decoded)) // and more if members are added
	for _, d := range decoded {
		if d == nil {
			continue
		}
		acc, err := a.sharedAccount(a.store, d.body.Signer)
		if err != nil {
			continue
		}
		if !a.sigs.known(d.hash, acc.PubKey) {
			jobs = append(jobs, a.sigs.txJob(d, acc.PubKey))
		}
		for _, m := range d.body.Messages {
			add, ok := m.Sum.(*txv1.Msg_AddMember)
			if !ok {
				continue
			}
			pub := add.AddMember.PubKey
			stmt := keyproof.Statement(a.chainID, acc.AgencyId, agency.AddressOf(pub), pub, keyproof.AddMember)
			if j, ok := a.proofs.job(pub, stmt, add.AddMember.KeyProof); ok {
				jobs = append(jobs, j)
			}
		}
	}
	verifyBatch(jobs)
}

// publishCommitted makes version, and the chain id and params as they
// stand after it, what CheckTx reads.
func (a *App) publishCommitted(version int64) {
	a.committed.Store(&committedView{version: version, chainID: a.chainID, params: a.params})
}

// blockRules are the chain id and params of the block being finalized.
func (a *App) blockRules() rules {
	return rules{chainID: a.chainID, params: a.params}
}

func failed(err error) *abci.ExecTxResult {
	space, code, log := module.CodeOf(err)
	return &abci.ExecTxResult{Code: code, Codespace: space, Log: log}
}

// hexString is hex.EncodeToString(b) in one allocation instead of two.
func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	var s strings.Builder
	s.Grow(hex.EncodedLen(len(b)))
	for _, c := range b {
		s.WriteByte(digits[c>>4])
		s.WriteByte(digits[c&0x0f])
	}
	return s.String()
}

func toABCI(events []module.Event) []abci.Event {
	return appendABCI(make([]abci.Event, 0, len(events)), events)
}

// appendABCI appends events to out in ABCI's form, all their attributes
// in one array (each event's slice of it capped at its own length).
func appendABCI(out []abci.Event, events []module.Event) []abci.Event {
	n := 0
	for _, e := range events {
		n += len(e.Attributes)
	}
	attrs := make([]abci.EventAttribute, 0, n)
	for _, e := range events {
		from := len(attrs)
		for _, at := range e.Attributes {
			attrs = append(attrs, abci.EventAttribute{Key: at.Key, Value: at.Value, Index: at.Index})
		}
		out = append(out, abci.Event{Type: e.Type, Attributes: attrs[from:len(attrs):len(attrs)]})
	}
	return out
}

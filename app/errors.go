package app

import "github.com/tallyledger/tally/x/module"

// Codespace is the error namespace of transaction authentication, which
// happens in one place for every message: here.
const Codespace = "tx"

// Authentication errors, checked cheapest first. Each leaves state untouched.
var (
	ErrTxTooLarge      = module.Register(Codespace, 2, "transaction too large")
	ErrTxMalformed     = module.Register(Codespace, 3, "malformed transaction")
	ErrNoMessages      = module.Register(Codespace, 4, "transaction has no messages")
	ErrTooManyMessages = module.Register(Codespace, 5, "transaction has too many messages")
	ErrInvalidMessage  = module.Register(Codespace, 6, "invalid message")
	ErrWrongChain      = module.Register(Codespace, 7, "wrong chain id")
	ErrTimeoutExpired  = module.Register(Codespace, 8, "transaction timeout height has passed")
	ErrTimeoutTooFar   = module.Register(Codespace, 9, "transaction timeout height too far ahead")
	ErrUnknownSigner   = module.Register(Codespace, 10, "unknown signer")
	ErrInactiveSigner  = module.Register(Codespace, 11, "signer is not active")
	ErrBadSignature    = module.Register(Codespace, 12, "signature does not verify")
	ErrReplay          = module.Register(Codespace, 13, "nonce already used")
	ErrUnauthorized    = module.Register(Codespace, 14, "signer lacks the role this message needs")
	ErrMemoTooLarge    = module.Register(Codespace, 15, "memo too large")
	ErrUnknownQuery    = module.Register(Codespace, 16, "unknown query path")
	ErrInvalidQuery    = module.Register(Codespace, 17, "invalid query")
	ErrNotFound        = module.Register(Codespace, 18, "not found")
	ErrTxNotCanonical  = module.Register(Codespace, 19, "transaction is not in its one canonical encoding")
	// Resource meter (store/meter.go): numbered apart from the rest so
	// codes added above do not collide.
	ErrOutOfUnits = module.Register(Codespace, 30, "transaction over its resource limit")
	ErrBlockFull  = module.Register(Codespace, 31, "block is full")
	// A declared unit limit (TxBody.max_units) the chain refuses before
	// the transaction reaches a block: numbered 150-154.
	ErrUnitsAboveMax = module.Register(Codespace, 150, "declared unit limit above max_tx_units")
	ErrUnitsBelowOwn = module.Register(Codespace, 151, "declared unit limit below the transaction's own cost")
	// ErrNotReady: the node has no committed state to check against yet,
	// or lost the version it was reading to pruning; retrying succeeds.
	ErrNotReady = module.Register(Codespace, 40, "node not ready")
	// ErrOperatorOnly: a whole-state query this node serves only when its
	// operator turned operator_queries on. Asking again does not help; a
	// walk refused because another is running is ErrBusy.
	ErrOperatorOnly = module.Register(Codespace, 41, "query served only to the node's operator")
	// ErrTooManyPending is mempool admission only (CheckTx), never a
	// block result.
	ErrTooManyPending = module.Register(Codespace, 50, "signer has too many transactions waiting")
	// ErrMempoolFull: the node's mempool is nearly full, so CheckTx refuses
	// new transactions with a code (CometBFT's own "mempool is full" is an
	// RPC error, and a transaction that passed CheckTx while the mempool
	// filled is dropped silently). See Options.MempoolLimit.
	ErrMempoolFull = module.Register(Codespace, 85, "node's mempool is full")
	// ErrBusy: the node has spent its share of CPU on queries (app.toml
	// query_budget_percent), or is already running the one whole-state
	// walk it runs at a time (startWalk); asking again later succeeds, and
	// the message says when ("try again in N ms"). Codes 70-74 are the
	// listing and query-pacing range.
	ErrBusy = module.Register(Codespace, 70, "node busy answering queries")
	// tx/80-84 are the shared state helpers every module uses, so they are
	// registered beside them in x/module: module.ErrSequenceExhausted
	// (tx/80, a sequence has handed out its last number).
	// Privacy rules: numbered apart as well.
	ErrMemoNotCommitment = module.Register(Codespace, 60, "memo is not a commitment")
)

// Export and restore (tallyd export): numbered 100-104.
var (
	// ErrInvalidExport: an exported app_state that cannot be restored as
	// it stands (damaged, edited, from another chain or height).
	ErrInvalidExport = module.Register(Codespace, 100, "invalid export")
	// ErrExportUnavailable: the state asked for cannot be exported (the
	// height is not kept, or the state holds keys no module owns).
	ErrExportUnavailable = module.Register(Codespace, 101, "state cannot be exported")
)

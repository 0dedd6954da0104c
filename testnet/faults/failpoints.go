package faults

// Crash points for the "crash at every commit step" scenario.
//
// Two mechanisms stop a real tallyd process at a chosen step of committing
// a block; restart it without the variable and it must recover by itself
// and reach the same app hash as the others.
//
// CometBFT's fail points. CometBFT v0.40.0 calls libs/fail.Fail() at 11
// places (consensus/state.go and state/execution.go). With FAIL_TEST_INDEX=N
// in its environment the process counts those calls from its start, 0
// first, and at call N prints "*** fail-test N ***" to standard OUTPUT and
// exits with status 1 (os.Exit: no cleanup). Without the variable the calls
// do nothing and count nothing. CometFailPoints lists them in the order one
// height meets them when a validator decides it in consensus in one round
// (measured on a 1-validator network, FAIL_TEST_INDEX=0..12: index 11 is
// height 2's prevote).
//
// The index counts calls since the process started, not steps of a height:
//
//   - A validator meets the 11 calls at the first height consensus decides
//     after the start, then 11 more at the next one: index k stops it at step
//     k%11 of the (k/11+1)-th height it decides — but only while every height
//     takes one round. Each extra round adds 2 (its prevote and precommit,
//     nil votes included), so past the first height the step an index lands
//     on is not known in advance; read the node's log (the last "finalizing
//     commit", "finalized block", "committed state" lines) to see where it
//     stopped. A node that is not a validator signs no votes: it meets only
//     indices 2..10's calls, 9 per height. Nor does a validator that joins
//     consensus at a height the others have already decided: a validator of
//     4 restarted level with its peers, run with FAIL_TEST_INDEX=6, signed
//     nothing at its first height and stopped at index 8's call (its
//     handshake then found app, block store and state all at that height).
//   - Blocks a node applies outside consensus meet only the 4 calls of
//     state/execution.go (indices 5..8 below): the block it replays in its
//     handshake after a crash with the real or the mock app (see the
//     Recovery notes), and every block it fetches with block sync. A
//     validator of a multi-validator network starts in block sync; a node
//     restarted behind its peers therefore spends its first indices on
//     synced blocks, 4 per block, before consensus' 11 per height begin.
//     Blocks the handshake replays with ExecCommitBlock (when the app is
//     more than one block behind) meet none.
//   - So set FAIL_TEST_INDEX only on a run that starts from a known state
//     (a fresh network, or a node level with its peers), use small indices,
//     and restart without it: a restart with the same index would stop the
//     node again, possibly inside its own recovery.
//
// Tally's own crash points, TALLY_CRASH_AT=<point>[@<height>] (read by
// `tallyd start`, cmd/tallyd/node.go; for tests only): at the first block at
// or above height (without one, the first block the process handles, handshake
// replay included) it prints "*** tally crash point <point> at height <h> ***"
// to standard error and exits with status 3 (os.Exit). TallyCrashPoints lists
// them and where they fall between CometBFT's.
//
// Recovery, by where a process stopped in height H (CometBFT's handshake
// compares the block store, its state and the app's Info):
//
//   - indices 0..2: H is not in the block store; the node replays its WAL and
//     decides H in consensus again (its own signed votes come back from the WAL).
//   - indices 3..6 and finalized, mid-save: block store at H, CometBFT state
//     and app at H-1 ("Replay last block using real app"): the handshake runs
//     H through FinalizeBlock and Commit again.
//   - index 7 and committed: app and block store at H, CometBFT state at H-1
//     ("Replay last block using mock app"): CometBFT rebuilds its state from
//     the saved FinalizeBlock response; the app is not called.
//   - indices 8..10: everything at H; nothing to replay.

// FailPoint is one call of CometBFT's libs/fail.Fail().
type FailPoint struct {
	// Index is the FAIL_TEST_INDEX that stops the process at this call in
	// the first height it decides in consensus, if that takes one round.
	Index int
	// Where says what has been done and what not when the process stops.
	Where string
}

// CometFailPoints are CometBFT v0.40.0's fail points, in the order one
// height meets them; see the comment at the top of this file.
var CometFailPoints = []FailPoint{
	{Index: 0, Where: "consensus/state.go receiveRoutine: own prevote signed and written to the WAL (fsync), not yet counted or broadcast"},
	{Index: 1, Where: "consensus/state.go receiveRoutine: own precommit signed and written to the WAL, not yet counted or broadcast"},
	{Index: 2, Where: "consensus/state.go finalizeCommit: +2/3 precommits for the block, block not yet saved to the block store"},
	{Index: 3, Where: "consensus/state.go finalizeCommit: block saved to the block store, #ENDHEIGHT not yet in the WAL"},
	{Index: 4, Where: "consensus/state.go finalizeCommit: #ENDHEIGHT written to the WAL (fsync), FinalizeBlock not yet called"},
	{Index: 5, Where: "state/execution.go applyBlock: FinalizeBlock returned (app state in memory only), its response not yet saved"},
	{Index: 6, Where: "state/execution.go applyBlock: FinalizeBlock response saved to the state store, app Commit not yet called"},
	{Index: 7, Where: "state/execution.go applyBlock: app Commit returned (app state saved), mempool update started, evidence pool updated; CometBFT state not yet saved"},
	{Index: 8, Where: "state/execution.go applyBlock: CometBFT state saved (height H recorded), blocks not yet pruned, events not yet fired"},
	{Index: 9, Where: "consensus/state.go finalizeCommit: block applied and events fired, consensus not yet moved to H+1"},
	{Index: 10, Where: "consensus/state.go finalizeCommit: consensus moved to H+1 (updateToState), its first round not yet scheduled"},
}

// CometFailPointsPerHeight is how many fail points a validator meets in a
// height decided in one round.
const CometFailPointsPerHeight = 11

// CrashAtEnv is the environment variable for Tally's own crash points.
const CrashAtEnv = "TALLY_CRASH_AT"

// CrashPoint is one of Tally's own crash points.
type CrashPoint struct {
	Point string // the value of TALLY_CRASH_AT, before any @height
	Where string
}

// TallyCrashPoints are the points TALLY_CRASH_AT accepts, in block order.
var TallyCrashPoints = []CrashPoint{
	{Point: "finalized", Where: "inside FinalizeBlock, after the block ran and before it returns (between CometBFT's 4 and 5): nothing of H saved by the app or by CometBFT's state store"},
	{Point: "mid-save", Where: "inside Commit, while the tree version is being written (between 6 and 7): IAVL has cut it into chunks and handed over all but the last; the store writes a version in one batch, so none of it is on disk"},
	{Point: "committed", Where: "inside Commit, after the version is saved (and pruned), before Commit returns (between 6 and 7): app at H, CometBFT's state at H-1"},
}

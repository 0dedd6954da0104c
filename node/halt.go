package node

import (
	"fmt"
	"sync"

	"github.com/cometbft/cometbft/libs/log"
)

// consensusFailure is the message CometBFT's consensus logs when it
// recovers a panic in its receive routine (consensus/state.go). After it,
// consensus has stopped for good, but the rest of the node — RPC, p2p —
// runs on: a validator that looks alive and never signs again.
const consensusFailure = "CONSENSUS FAILURE!!!"

// HaltWatch wraps a logger and notices CometBFT's consensus failure, so
// that `tallyd start` can stop the whole node with a clear error instead
// of leaving that zombie behind. The usual causes are outside the
// software: a data directory that became full or read-only, which makes
// the consensus WAL or a database write fail.
type HaltWatch struct {
	log.Logger
	w *haltState
}

type haltState struct {
	once sync.Once
	ch   chan string
}

// NewHaltWatch wraps logger.
func NewHaltWatch(logger log.Logger) *HaltWatch {
	return &HaltWatch{Logger: logger, w: &haltState{ch: make(chan string, 1)}}
}

// Halted receives one description of the failure, the first time
// consensus fails.
func (h *HaltWatch) Halted() <-chan string { return h.w.ch }

func (h *HaltWatch) Error(msg string, keyvals ...any) {
	h.Logger.Error(msg, keyvals...)
	if msg != consensusFailure {
		return
	}
	reason := "unknown"
	for i := 0; i+1 < len(keyvals); i += 2 {
		if k, _ := keyvals[i].(string); k == "err" {
			reason = fmt.Sprint(keyvals[i+1])
		}
	}
	h.w.once.Do(func() { h.w.ch <- reason })
}

// With keeps the watch on loggers derived from this one (CometBFT gives
// each module its own).
func (h *HaltWatch) With(keyvals ...any) log.Logger {
	return &HaltWatch{Logger: h.Logger.With(keyvals...), w: h.w}
}

package node

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/cometbft/cometbft/libs/log"

	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/module"
)

// Version is the software version (set at build time with -ldflags on
// app.Version) and ProtocolVersion the app version CometBFT records in
// block headers: what `tallyd version` prints.
func Version() (software string, protocol uint64) { return app.Version, app.ProtocolVersion }

// RunOptions are what `tallyd start` passes to Run besides the home.
type RunOptions struct {
	// CrashAt is TALLY_CRASH_AT's value (CrashAtEnv), "" when unset.
	CrashAt string
	// RehearsalUpgrade names a scheduled upgrade this binary handles with
	// a migration that changes nothing, so operators can rehearse an
	// upgrade on a test network ("" for none).
	RehearsalUpgrade string
}

// Run runs the node at home in the foreground until SIGINT or SIGTERM,
// then stops consensus and closes the state database cleanly. It returns
// an error when the node cannot start, or when consensus stopped on a
// failure it cannot recover from (the node shuts down rather than look
// alive and never sign). At a scheduled upgrade's planned halt it stays
// up until stopped.
func Run(home string, logger log.Logger, o RunOptions) error {
	crash, err := parseCrashAt(o.CrashAt)
	if err != nil {
		return err
	}
	if os.Getenv("GOGC") == "" {
		// The IAVL node cache is a large, long-lived heap; at Go's
		// default GOGC=100 the collector re-marks it so often that it
		// takes a quarter of the CPU under load.
		debug.SetGCPercent(200)
	}
	_, appCfg, err := LoadConfigs(home)
	if err != nil {
		return err
	}
	memLimit, memFrom, err := ApplyMemoryLimit(appCfg)
	if err != nil {
		return err
	}
	watch := NewHaltWatch(logger)
	logger = watch
	opts := app.Options{Upgrades: upgrades(o.RehearsalUpgrade)}
	var storeOpts []func(*store.Options)
	if crash != nil {
		logger.Error("fault injection armed: this node will kill itself; for tests only", CrashAtEnv, o.CrashAt)
		storeOpts = append(storeOpts, crash.arm(&opts))
	}
	n, err := NewNode(home, logger, opts, storeOpts...)
	if err != nil {
		return err
	}
	if err := n.Start(); err != nil {
		n.App.Close()
		return fmt.Errorf("starting node: %w", err)
	}
	logger.Info("tally node started", "home", home, "rpc", n.Config().RPC.ListenAddress, "version", app.Version,
		"memory_limit_mib", memLimit>>20, "memory_limit_from", memFrom, "iavl_cache_size", n.CacheSize)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	for halted := watch.Halted(); ; {
		select {
		case s := <-sig:
			logger.Info("stopping on signal", "signal", s.String())
			return n.Shutdown()
		case <-n.Quit():
			logger.Error("node stopped by itself")
			return n.Shutdown()
		case reason := <-halted:
			if app.IsUpgradeHalt(reason) {
				// The planned halt at a scheduled upgrade: stay up, so
				// peers still behind can fetch the last block and the
				// operator can query the node, until they stop it to
				// install the new release.
				logger.Error("halted for a scheduled upgrade; stop this node and start the new release on the same home", "reason", reason)
				halted = nil
				continue
			}
			// CometBFT stops consensus after a failure it cannot
			// recover from but leaves RPC and p2p running: a
			// validator that looks alive and never signs. Stop the
			// whole node.
			msg := fmt.Sprintf("consensus stopped: %s. The node is shutting down. Nothing past the last committed block was saved; "+
				"if the data directory is full or read-only, free space or restore write access, then start the node again: it resumes from its last saved block", reason)
			logger.Error(msg)
			_ = n.Shutdown()
			return errors.New(msg)
		}
	}
}

// upgrades are the migrations this release runs, by upgrade name. A release
// that changes state incompatibly adds its handler here; the chain halts at
// the scheduled height until nodes run a binary that has it (see the
// README's "Upgrades" steps). rehearsal, when set, is handled with a
// migration that changes nothing.
func upgrades(rehearsal string) map[string]app.UpgradeHandler {
	m := map[string]app.UpgradeHandler{}
	if rehearsal != "" {
		m[rehearsal] = func(module.Context) error { return nil }
	}
	return m
}

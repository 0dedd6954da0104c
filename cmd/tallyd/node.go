package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cometbft/cometbft/libs/log"
	"github.com/spf13/cobra"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/client/keys"
	"github.com/tallyledger/tally/node"
	"github.com/tallyledger/tally/node/genesis"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/testnet"
	"github.com/tallyledger/tally/x/agency"
)

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the software and protocol versions",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Printf("tallyd %s (protocol %d)\n", app.Version, app.ProtocolVersion)
		},
	}
}

func errorsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "errors",
		Short: "List every error code a transaction or query can return",
		Long: `Every refusal carries a codespace and a code (for example tx/13, nonce
already used; agency/9, last admin). This lists them all.`,
		Args: cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			for _, e := range api.Codes() {
				fmt.Printf("%-10s %3d  %s\n", e.Codespace, e.Code, e.Desc)
			}
		},
	}
}

func initCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a node home: configs, node key, validator key and a one-agency genesis",
		Long: `init creates a node home with CometBFT's config.toml, Tally's app.toml, a
p2p node key and a validator (consensus) key.

With --single (the default) it also writes a genesis for a one-validator
chain owned by one agency, whose admin account key is created in the
keyring (--keyring-backend test keeps it unencrypted, for demos only).
For a network of several agencies use 'tallyd testnet init' for a local
demonstration, or the genesis ceremony described in the README.

Example:
  tallyd init --chain-id tally-demo --agency treasury --agency-name "HM Treasury" \
      --agency-kind treasury --keyring-backend test`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			h := homeFlag(cmd)
			f := cmd.Flags()
			moniker, _ := f.GetString("moniker")
			chainID, _ := f.GetString("chain-id")
			agencyID, _ := f.GetString("agency")
			name, _ := f.GetString("agency-name")
			kindName, _ := f.GetString("agency-kind")
			keyName, _ := f.GetString("admin-key")
			kind, err := agency.ParseKind(kindName)
			if err != nil {
				return err
			}
			if err := agency.ValidateAgencyID(agencyID); err != nil {
				return err
			}
			p2pAddr, _ := f.GetString("p2p-laddr")
			rpcAddr, _ := f.GetString("rpc-laddr")
			for _, a := range [][2]string{{"--p2p-laddr", p2pAddr}, {"--rpc-laddr", rpcAddr}} {
				if err := checkListenAddr(a[1]); err != nil {
					return fmt.Errorf("%s %q: %w", a[0], a[1], err)
				}
			}
			id, err := node.InitNode(h, moniker)
			if err != nil {
				return err
			}
			comet, appCfg, err := node.LoadConfigs(h)
			if err != nil {
				return err
			}
			comet.P2P.ListenAddress, comet.RPC.ListenAddress = p2pAddr, rpcAddr
			metricsAddr, _ := f.GetString("metrics-addr")
			if metricsAddr != "" {
				node.EnableMetrics(comet, metricsAddr)
			}
			if err := node.WriteConfigs(h, comet, appCfg); err != nil {
				return err
			}
			kr, err := openKeyring(cmd)
			if err != nil {
				return err
			}
			info, err := kr.Show(keyName)
			if err != nil {
				if info, err = kr.Add(keyName); err != nil {
					return fmt.Errorf("creating admin key %q: %w", keyName, err)
				}
			}
			pub, err := base64.StdEncoding.DecodeString(info.PubKey)
			if err != nil {
				return err
			}
			state, err := genesis.SingleAgencyState(chainID, agencyID, name, kind, pub, func(msg []byte) ([]byte, error) { return kr.Sign(keyName, msg) })
			if err != nil {
				return err
			}
			vals := []genesis.Validator{{Name: moniker, PubKey: id.ConsensusPK, Power: genesis.DefaultPower}}
			if _, err := genesis.WriteGenesis(comet.GenesisFile(), chainID, time.Now().UTC(), vals, state); err != nil {
				return err
			}
			fmt.Printf("Initialised %s\n  chain id:     %s\n  node id:      %s\n  agency:       %s (%s)\n  admin key:    %s  address %s  (keyring %s)\n  p2p:          %s\n  rpc:          %s\n\nStart the node with: %s start --home %s\n",
				h, chainID, id.NodeID, agencyID, agency.KindName(kind), keyName, info.Address, kr.Backend(), p2pAddr, rpcAddr, testnet.Invocation(), h)
			return nil
		},
	}
	f := cmd.Flags()
	f.String("moniker", "tally-node", "node name shown to peers")
	f.String("chain-id", "tally-local", "chain id of the new chain")
	f.String("agency", "treasury", "id of the agency that runs this validator (a-z, 0-9, - _ .)")
	f.String("agency-name", "Treasury", "human name of the agency")
	f.String("agency-kind", "treasury", "kind: treasury, tax_authority, benefits, regulator, council, bank, department, business")
	f.String("admin-key", "admin", "keyring name of the agency's admin account key (created if missing)")
	f.String("p2p-laddr", "tcp://0.0.0.0:26656", "where the node listens for peers; all interfaces by default so validators on other machines can connect (tcp://127.0.0.1:26656 keeps it on this machine)")
	f.String("metrics-addr", node.DefaultMetricsAddr, "where the node serves Prometheus metrics (CometBFT's and Tally's); loopback by default; empty turns them off")
	f.String("rpc-laddr", "tcp://127.0.0.1:26657", "where the node serves its RPC to clients; loopback by default (put a proxy in front to serve others)")
	addKeyringFlags(cmd)
	return cmd
}

// checkListenAddr accepts tcp://host:port, the form CometBFT listens on.
func checkListenAddr(addr string) error {
	hostPort, ok := strings.CutPrefix(addr, "tcp://")
	if !ok {
		return errors.New("want tcp://HOST:PORT, for example tcp://127.0.0.1:26656")
	}
	_, port, err := net.SplitHostPort(hostPort)
	if err != nil {
		return fmt.Errorf("want tcp://HOST:PORT: %w", err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %q is not 1 to 65535", port)
	}
	return nil
}

func startCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "start",
		Short: "Run the node: CometBFT consensus with the Tally application in-process",
		Long: `start runs the validator node in the foreground until SIGINT or SIGTERM,
then stops consensus and closes the state database cleanly.

State is saved at every block commit; a node killed without warning
restarts, replays the blocks it had not saved, and continues.

Logs go to standard error. Endpoints (from config.toml): RPC on
rpc.laddr (default tcp://127.0.0.1:26657), p2p on p2p.laddr.

For fault tests only: TALLY_CRASH_AT=<point>[@<height>], point finalized,
mid-save or committed, makes the node kill itself (exit status 3) at that
step of the first block at or above height (see the README, "Fault
injection"). Never set it on a real validator.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			h := homeFlag(cmd)
			crash, err := parseCrashAt(os.Getenv(crashAtEnv))
			if err != nil {
				return err
			}
			if os.Getenv("GOGC") == "" {
				// The IAVL node cache is a large, long-lived heap; at Go's
				// default GOGC=100 the collector re-marks it so often that it
				// takes a quarter of the CPU under load.
				debug.SetGCPercent(200)
			}
			_, appCfg, err := node.LoadConfigs(h)
			if err != nil {
				return err
			}
			memLimit, memFrom, err := node.ApplyMemoryLimit(appCfg)
			if err != nil {
				return err
			}
			level, _ := cmd.Flags().GetString("log-level")
			base, err := newLogger(level)
			if err != nil {
				return err
			}
			watch := node.NewHaltWatch(base)
			var logger log.Logger = watch
			opts := app.Options{Upgrades: upgrades()}
			var storeOpts []func(*store.Options)
			if crash != nil {
				logger.Error("fault injection armed: this node will kill itself; for tests only", crashAtEnv, os.Getenv(crashAtEnv))
				storeOpts = append(storeOpts, crash.arm(&opts))
			}
			n, err := node.NewNode(h, logger, opts, storeOpts...)
			if err != nil {
				return err
			}
			if err := n.Start(); err != nil {
				n.App.Close()
				return fmt.Errorf("starting node: %w", err)
			}
			logger.Info("tally node started", "home", h, "rpc", n.Config().RPC.ListenAddress, "version", app.Version,
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
		},
	}
	cmd.Flags().String("log-level", "info", "log level: debug, info or error")
	return cmd
}

// crashAtEnv makes `tallyd start` kill itself at a step of committing a
// block, so that fault tests can check a node restarts from there without
// repair. Value: <point>[@<height>], a point of crashPoints.
const crashAtEnv = "TALLY_CRASH_AT"

// crashPoints are the points TALLY_CRASH_AT accepts, in block order:
//
//	finalized  FinalizeBlock has run, Commit has not (app.StepFinalized);
//	           CometBFT has not yet saved the block's results.
//	mid-save   inside Commit, while the new tree version is being written:
//	           IAVL has cut it into chunks (the threshold is 1 byte while
//	           armed, so every save is cut) and handed over all but the last,
//	           none of which is on disk (store.ProbeMidSave, store/save.go).
//	committed  the version is saved and Commit is about to return
//	           (app.StepCommitted); CometBFT has not recorded the commit.
var crashPoints = []string{"finalized", "mid-save", "committed"}

// crashPlan is a parsed TALLY_CRASH_AT: kill the process at point in the
// first block at or above height (0: the first block processed after
// start, including blocks the handshake replays).
type crashPlan struct {
	point  string
	height int64
	saved  atomic.Int64 // the last saved height, as the store reports it
	out    io.Writer    // os.Stderr
	exit   func(code int)
}

func parseCrashAt(v string) (*crashPlan, error) {
	if v == "" {
		return nil, nil
	}
	point, at, hasHeight := strings.Cut(v, "@")
	if !slices.Contains(crashPoints, point) {
		return nil, fmt.Errorf("%s=%q: unknown crash point %q; want one of %s, optionally followed by @HEIGHT",
			crashAtEnv, v, point, strings.Join(crashPoints, ", "))
	}
	c := &crashPlan{point: point, out: os.Stderr, exit: os.Exit}
	if hasHeight {
		h, err := strconv.ParseInt(at, 10, 64)
		if err != nil || h < 1 {
			return nil, fmt.Errorf("%s=%q: height %q must be a block height, a whole number from 1", crashAtEnv, v, at)
		}
		c.height = h
	}
	return c, nil
}

// arm sets the app's and the store's hooks to reach the plan's point. The
// store reports the height it loaded and each height it saved, which
// gives the app's steps their heights.
func (c *crashPlan) arm(opts *app.Options) func(*store.Options) {
	opts.OnStep = func(s app.Step) {
		switch {
		case s == app.StepFinalized && c.point == "finalized":
			c.reached(c.saved.Load() + 1)
		case s == app.StepCommitted && c.point == "committed":
			c.reached(c.saved.Load())
		}
	}
	return func(o *store.Options) {
		if c.point == "mid-save" {
			o.FlushThreshold = 1
		}
		o.Probe = func(at store.ProbePoint, version int64) {
			switch at {
			case store.ProbeOpened, store.ProbeSaved:
				c.saved.Store(version)
			case store.ProbeMidSave:
				if c.point == "mid-save" {
					c.reached(version)
				}
			}
		}
	}
}

// reached kills the process if height is the plan's: at once, with no
// deferred cleanup and nothing flushed, as a power cut would.
func (c *crashPlan) reached(height int64) {
	if height >= c.height {
		fmt.Fprintf(c.out, "*** tally crash point %s at height %d ***\n", c.point, height)
		c.exit(3)
	}
}

func newLogger(level string) (log.Logger, error) {
	logger := log.NewTMLogger(log.NewSyncWriter(os.Stderr))
	var opt log.Option
	switch level {
	case "debug":
		opt = log.AllowDebug()
	case "info":
		opt = log.AllowInfo()
	case "error":
		opt = log.AllowError()
	default:
		return nil, fmt.Errorf("log level %q: use debug, info or error", level)
	}
	return log.NewFilter(logger, opt), nil
}

func addKeyringFlags(cmd *cobra.Command) {
	cmd.Flags().String("keyring-backend", keys.BackendFile, "keyring backend: file (encrypted under a passphrase) or test (UNENCRYPTED, demos only)")
	cmd.Flags().String("keyring-dir", "", "keyring directory (default <home>/keyring-<backend>)")
}

func openKeyring(cmd *cobra.Command) (*keys.Keyring, error) {
	backend, _ := cmd.Flags().GetString("keyring-backend")
	dir, _ := cmd.Flags().GetString("keyring-dir")
	if dir == "" {
		dir = node.KeyringDir(homeFlag(cmd), backend)
	}
	var pass keys.PassphraseFunc
	if os.Getenv("TALLY_KEYRING_PASSPHRASE") != "" {
		pass = keys.PassphraseFromEnv("TALLY_KEYRING_PASSPHRASE")
	} else {
		pass = keys.PassphraseFromTerminal(os.Stdin, os.Stderr)
	}
	kr, err := keys.Open(dir, backend, pass)
	if err != nil {
		return nil, err
	}
	for _, w := range kr.Warnings() {
		fmt.Fprintln(os.Stderr, "warning:", w)
	}
	return kr, nil
}

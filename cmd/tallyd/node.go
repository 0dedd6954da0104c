package main

import (
	"encoding/base64"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/cometbft/cometbft/libs/log"
	"github.com/spf13/cobra"

	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/client/keys"
	"github.com/tallyledger/tally/cmd/tallyd/home"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/module"
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
			for _, e := range module.Registered() {
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
			id, err := home.InitNode(h, moniker)
			if err != nil {
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
			state := home.SingleAgencyState(agencyID, name, kind, pub)
			vals := []home.Validator{{Name: moniker, PubKey: id.ConsensusPK, Power: home.DefaultPower}}
			comet := home.DefaultCometConfig(h)
			if _, err := home.WriteGenesis(comet.GenesisFile(), chainID, time.Now().UTC(), vals, state); err != nil {
				return err
			}
			fmt.Printf("Initialised %s\n  chain id:     %s\n  node id:      %s\n  agency:       %s (%s)\n  admin key:    %s  address %s  (keyring %s)\n\nStart the node with: tallyd start --home %s\n",
				h, chainID, id.NodeID, agencyID, agency.KindName(kind), keyName, info.Address, kr.Backend(), h)
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
	addKeyringFlags(cmd)
	return cmd
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
rpc.laddr (default tcp://127.0.0.1:26657), p2p on p2p.laddr.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			h := homeFlag(cmd)
			if os.Getenv("GOGC") == "" {
				// The IAVL node cache is a large, long-lived heap; at Go's
				// default GOGC=100 the collector re-marks it so often that it
				// takes a quarter of the CPU under load.
				debug.SetGCPercent(200)
			}
			level, _ := cmd.Flags().GetString("log-level")
			logger, err := newLogger(level)
			if err != nil {
				return err
			}
			n, err := home.NewNode(h, logger, app.Options{Upgrades: upgrades()})
			if err != nil {
				return err
			}
			if err := n.Start(); err != nil {
				n.App.Close()
				return fmt.Errorf("starting node: %w", err)
			}
			logger.Info("tally node started", "home", h, "rpc", n.Config().RPC.ListenAddress, "version", app.Version)
			sig := make(chan os.Signal, 1)
			signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
			select {
			case s := <-sig:
				logger.Info("stopping on signal", "signal", s.String())
			case <-n.Quit():
				logger.Error("node stopped by itself")
			}
			return n.Shutdown()
		},
	}
	cmd.Flags().String("log-level", "info", "log level: debug, info or error")
	return cmd
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
		dir = home.KeyringDir(homeFlag(cmd), backend)
	}
	var pass keys.PassphraseFunc
	if os.Getenv("TALLY_KEYRING_PASSPHRASE") != "" {
		pass = keys.PassphraseFromEnv("TALLY_KEYRING_PASSPHRASE")
	} else {
		pass = keys.PassphraseFromTerminal(os.Stdin, os.Stderr)
	}
	return keys.Open(dir, backend, pass)
}

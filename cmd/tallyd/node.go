package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cometbft/cometbft/libs/log"
	"github.com/spf13/cobra"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/client/keys"
	"github.com/tallyledger/tally/node"
	"github.com/tallyledger/tally/node/genesis"
	"github.com/tallyledger/tally/testnet"
)

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the software and protocol versions",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			software, protocol := node.Version()
			fmt.Printf("tallyd %s (protocol %d)\n", software, protocol)
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
			kind, err := api.ParseAgencyKind(kindName)
			if err != nil {
				return err
			}
			if err := api.CheckAgencyID(agencyID); err != nil {
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
				h, chainID, id.NodeID, agencyID, api.AgencyKindName(kind), keyName, info.Address, kr.Backend(), p2pAddr, rpcAddr, testnet.Invocation(), h)
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
			level, _ := cmd.Flags().GetString("log-level")
			logger, err := newLogger(level)
			if err != nil {
				return err
			}
			return node.Run(homeFlag(cmd), logger, node.RunOptions{CrashAt: os.Getenv(node.CrashAtEnv), RehearsalUpgrade: rehearsalUpgrade})
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

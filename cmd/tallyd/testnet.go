package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/tallyledger/tally/monitoring"
	"github.com/tallyledger/tally/testnet"
)

func testnetCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "testnet",
		Short: "Create and run a local multi-agency network for demonstrations and tests",
		Long: `A local network is several real tallyd validators on this machine, each run
by a different agency (treasury, revenue, benefits, food standards, then
councils), talking to each other over loopback.

  tallyd testnet init --validators 4 --output ./localnet
  tallyd testnet start ./localnet

Demo keys are in ./localnet/keyring-test (UNENCRYPTED; demos only), named
<agency>-admin and <agency>-<role>, for example revenue-collector. Use them
with --home ./localnet/<agency> --keyring-dir ./localnet/keyring-test
--keyring-backend test.`,
	}
	cmd.AddCommand(testnetInitCmd(), testnetStartCmd())
	return cmd
}

func testnetInitCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "init --validators N --output DIR",
		Short: "Write a new local network: node homes, a shared genesis and demo keys",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := cmd.Flags()
			opts := testnet.DefaultOptions()
			opts.Validators, _ = f.GetInt("validators")
			opts.ChainID, _ = f.GetString("chain-id")
			opts.BasePort, _ = f.GetInt("base-port")
			opts.TimeoutCommit, _ = f.GetDuration("timeout-commit")
			opts.SkipTimeoutCommit, _ = f.GetBool("skip-timeout-commit")
			opts.RemoteSigner, _ = f.GetBool("remote-signer")
			opts.FilterPeers, _ = f.GetBool("filter-peers")
			opts.SnapshotInterval, _ = f.GetUint64("snapshot-interval")
			opts.Council, _ = f.GetBool("council")
			out, _ := f.GetString("output")
			m, err := testnet.Init(out, opts)
			if err != nil {
				return err
			}
			fmt.Printf("Created a %d-validator network %q in %s\n", opts.Validators, m.ChainID, out)
			for _, n := range m.Nodes {
				role := ""
				if n.Candidate {
					role = "  (full node until the agencies vote it in as a validator)"
				}
				fmt.Printf("  %-12s rpc %s  p2p %s%s\n", n.Name, n.RPC, n.P2P, role)
			}
			fmt.Printf("Demo keys (unencrypted): %s\nStart it with: %s testnet start %s\n", m.KeyringDir, testnet.Invocation(), out)
			return nil
		},
	}
	f := cmd.Flags()
	def := testnet.DefaultOptions()
	f.Int("validators", def.Validators, fmt.Sprintf("number of validators, 1 to %d", testnet.MaxValidators))
	f.String("output", "./localnet", "directory to create")
	f.String("chain-id", def.ChainID, "chain id")
	f.Int("base-port", def.BasePort, "first port; node i uses base+10i (p2p), +1 (RPC), +2 (pprof), +3 (Prometheus metrics)")
	f.Duration("timeout-commit", 0, "CometBFT consensus timeout_commit (default: CometBFT's)")
	f.Bool("skip-timeout-commit", false, "CometBFT consensus skip_timeout_commit")
	f.Bool("remote-signer", false, "keep each validator's consensus key out of its node: testnet start runs a `tallyd signer` per validator (DIR/<agency>-signer)")
	f.Uint64("snapshot-interval", def.SnapshotInterval, "each node takes a state-sync snapshot every this many blocks (app.toml snapshot_interval; 0 takes none)")
	f.Bool("council", true, "add Harbourside Council with a node that starts as a full node; the demo has the agencies vote it in as a validator (--council=false for validators only)")
	f.Bool("filter-peers", true, "nodes admit only the validators' node ids (in genesis) and their app.toml allowed_peers; --filter-peers=false to let any node connect (e.g. to join full nodes)")
	return cmd
}

func testnetStartCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "start DIR",
		Short: "Run every node of a local network until Ctrl-C",
		Long: `start runs each node as a child process (logs in DIR/<agency>/tallyd.log),
waits until the network commits blocks, prints each node's RPC address,
then prints the height and app hash of every node every few seconds.
Ctrl-C stops every node cleanly. Starting again resumes the same chain.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := testnet.Load(args[0])
			if err != nil {
				return err
			}
			bin, err := os.Executable()
			if err != nil {
				return err
			}
			release, err := testnet.Lock(args[0])
			if err != nil {
				return err
			}
			defer release()
			every, _ := cmd.Flags().GetDuration("status-every")
			net := testnet.NewNetwork(m, bin)
			if err := net.StartAll(); err != nil {
				return err
			}
			if addr, _ := cmd.Flags().GetString("prometheus"); addr != "" {
				if prom := startPrometheus(cmd.Context(), args[0], m, addr); prom != nil {
					defer prom.Stop()
				}
			}
			defer func() {
				fmt.Println("Stopping every node...")
				net.StopAll()
				fmt.Printf("Stopped. Start again with: %s testnet start %s\n", testnet.Invocation(), args[0])
			}()
			sig := make(chan os.Signal, 1)
			signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			go func() { <-sig; cancel() }()

			fmt.Printf("Starting %d nodes of %q...\n", len(m.Nodes), m.ChainID)
			waitCtx, waitCancel := context.WithTimeout(ctx, 90*time.Second)
			defer waitCancel()
			for _, n := range m.Nodes {
				if err := net.WaitHeight(waitCtx, n.Name, 1); err != nil {
					return fmt.Errorf("%w (see %s)", err, n.LogFile)
				}
			}
			// A node that answered may be someone else's (a port in use):
			// the network is up only if every node we started still runs.
			for _, n := range m.Nodes {
				if !net.Running(n.Name) {
					return fmt.Errorf("node %s stopped right after starting (%v); the last lines of %s say why", n.Name, net.ExitError(n.Name), n.LogFile)
				}
			}
			fmt.Println("The network is committing blocks.")
			if seed, _ := cmd.Flags().GetBool("demo"); seed {
				logf := func(format string, args ...any) { fmt.Printf("  demo: "+format+"\n", args...) }
				// Not waitCtx: the demo has its own time per step, and
				// Ctrl-C still ends it.
				if err := testnet.SeedDemo(ctx, args[0], m, logf); err != nil {
					fmt.Fprintf(os.Stderr, "demo data: %v (the network keeps running)\n", err)
				}
			}
			for _, n := range m.Nodes {
				fmt.Printf("  %-12s RPC %s   log %s\n", n.Name, strings.Replace(n.RPC, "tcp://", "http://", 1), n.LogFile)
			}
			if on, _ := cmd.Flags().GetBool("explorer"); on {
				addr, _ := cmd.Flags().GetString("explorer-addr")
				if addr == "" {
					addr = defaultExplorerAddr(m)
				}
				url, err := startDemoExplorer(ctx, m, net, addr)
				if err != nil {
					fmt.Fprintf(os.Stderr, "explorer: %v (the network keeps running)\n", err)
				} else {
					fmt.Printf("Explorer (demo mode: stop and start agencies' nodes from the page): %s\n", url)
				}
			}
			fmt.Printf("Demo keys: --keyring-backend test --keyring-dir %s\nPress Ctrl-C to stop.\n", m.KeyringDir)
			tick := time.NewTicker(every)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return nil
				case <-tick.C:
					printStatus(ctx, net)
				}
			}
		},
	}
	cmd.Flags().String("prometheus", "", "also run Prometheus (if installed) on this address, scraping every node of the network with monitoring/'s rules (config, data and log in DIR/prometheus); e.g. 127.0.0.1:9090")
	cmd.Flags().Bool("demo", true, "send the demo transactions once, the first time the network starts")
	cmd.Flags().Duration("status-every", 5*time.Second, "how often to print each node's height and app hash")
	cmd.Flags().Bool("explorer", true, "serve the web explorer in demo mode (with stop/start buttons for each validator) on loopback")
	cmd.Flags().String("explorer-addr", "", "where the explorer listens (default 127.0.0.1:<base port + 90>; loopback only)")
	return cmd
}

// startPrometheus runs Prometheus beside the network, scraping every node
// the manifest lists; the network runs without it when it cannot start.
func startPrometheus(ctx context.Context, dir string, m *testnet.Manifest, addr string) *monitoring.Server {
	targets := m.MetricsTargets()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	prom, err := monitoring.Start(ctx, monitoring.Options{Dir: filepath.Join(dir, "prometheus"), Targets: targets, Listen: addr})
	if err != nil {
		fmt.Fprintf(os.Stderr, "prometheus: %v (the network runs without it)\n", err)
		return nil
	}
	fmt.Printf("Prometheus: %s/ scraping %d nodes (%s); alerts: %s/alerts; config and log in %s\n",
		prom.Base(), len(targets), strings.Join(targets, ", "), prom.Base(), filepath.Join(dir, "prometheus"))
	return prom
}

func printStatus(ctx context.Context, net *testnet.Network) {
	var parts []string
	for _, s := range net.Statuses(ctx) {
		if !s.Online {
			parts = append(parts, fmt.Sprintf("%s: OFFLINE", s.Name))
			continue
		}
		parts = append(parts, fmt.Sprintf("%s: h=%d app=%.8s", s.Name, s.Height, s.AppHash))
	}
	fmt.Printf("[%s] %s\n", time.Now().Format("15:04:05"), strings.Join(parts, " | "))
}

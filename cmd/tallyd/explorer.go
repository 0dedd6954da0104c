package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cometbft/cometbft/types"
	"github.com/spf13/cobra"

	"github.com/tallyledger/tally/client"
	"github.com/tallyledger/tally/explorer"
	"github.com/tallyledger/tally/testnet"
)

func explorerCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "explorer",
		Short: "Serve the web explorer: blocks, validators, public money, tax, provenance — each record verified",
		Long: `explorer serves web pages (and the same data as JSON under /api/v1/) that
show what the chain holds, read from one or more nodes' RPC. Every record is
checked with its Merkle proof against the app hash in the next block header,
whose commit is checked; each page says what was checked, at which height
and app hash.

  tallyd explorer --node tcp://127.0.0.1:27001,tcp://127.0.0.1:27011
  tallyd explorer --testnet build/localnet        # every node of a local network

Records are checked against headers verified by the light client when it
has a trust root (--genesis, --trust-height/--trust-hash, or the genesis of
--testnet) and at least two nodes; otherwise against the validator set the
node reports. Each page says which.

It listens on loopback by default (--addr). To stop and start validators
from the page, run it with 'tallyd testnet start', which owns their processes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := cmd.Flags()
			addr, _ := f.GetString("addr")
			nodesFlag, _ := f.GetString("node")
			dir, _ := f.GetString("testnet")
			var nodes []explorer.Node
			chainID := ""
			cfg := explorer.Config{}
			cfg.Rate, _ = f.GetFloat64("rate")
			cfg.Burst, _ = f.GetInt("burst")
			genesisFile, _ := f.GetString("genesis")
			if dir != "" {
				m, err := testnet.Load(dir)
				if err != nil {
					return err
				}
				chainID = m.ChainID
				for _, n := range m.Nodes {
					nodes = append(nodes, explorer.Node{Name: n.Name, RPC: n.RPC})
				}
				if genesisFile == "" && len(m.Nodes) > 0 {
					genesisFile = filepath.Join(m.Nodes[0].Home, "config", "genesis.json")
				}
			}
			if genesisFile != "" {
				g, err := types.GenesisDocFromFile(genesisFile)
				if err != nil {
					return fmt.Errorf("--genesis: %w", err)
				}
				cfg.Genesis = g
			}
			cfg.TrustHeight, _ = f.GetInt64("trust-height")
			if h, _ := f.GetString("trust-hash"); h != "" {
				b, err := hex.DecodeString(h)
				if err != nil || len(b) != 32 {
					return fmt.Errorf("--trust-hash: want the 64 hex characters of a block hash")
				}
				cfg.TrustHash = b
			}
			for _, a := range strings.Split(nodesFlag, ",") {
				if a = strings.TrimSpace(a); a != "" && dir == "" {
					nodes = append(nodes, explorer.Node{Name: strings.TrimPrefix(a, "tcp://"), RPC: a})
				}
			}
			if len(nodes) == 0 {
				return fmt.Errorf("give --node ADDR[,ADDR…] or --testnet DIR")
			}
			if chainID == "" {
				c, err := client.Dial(nodes[0].RPC)
				if err != nil {
					return err
				}
				ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Second)
				chainID, _, err = c.Status(ctx)
				cancel()
				if err != nil {
					return fmt.Errorf("%s: %w", nodes[0].RPC, err)
				}
			}
			cfg.ChainID, cfg.Nodes = chainID, nodes
			srv, err := explorer.New(cfg)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			url, done, err := explorer.Listen(ctx, addr, srv)
			if err != nil {
				return err
			}
			fmt.Printf("Explorer for %q reading %d node(s): %s\nPress Ctrl-C to stop.\n", chainID, len(nodes), url)
			return <-done
		},
	}
	cmd.Flags().String("addr", "127.0.0.1:26690", "address to serve on (loopback by default; another address makes the explorer public)")
	cmd.Flags().String("node", "tcp://127.0.0.1:26657", "comma-separated RPC addresses of nodes to read, in order of preference")
	cmd.Flags().String("testnet", "", "read every node of the local network in this directory (names from its manifest, trust root from its genesis)")
	cmd.Flags().String("genesis", "", "genesis file: block 1 becomes the light client's trust root (for a young chain)")
	cmd.Flags().Int64("trust-height", 0, "height of a header you trust, obtained out of band (light client trust root)")
	cmd.Flags().String("trust-hash", "", "hash of that header (hex)")
	cmd.Flags().Float64("rate", explorer.DefaultRate, "requests a second each client address may make, sustained (pages of one height are cached; -1 turns the limit off)")
	cmd.Flags().Int("burst", explorer.DefaultBurst, "requests a client address may make at once before --rate applies; over it the explorer answers 429")
	return cmd
}

// startDemoExplorer serves the explorer in demo mode for a running local
// network: its pages also stop and start the network's validators.
func startDemoExplorer(ctx context.Context, m *testnet.Manifest, net_ *testnet.Network, addr string) (string, error) {
	var nodes []explorer.Node
	for _, n := range m.Nodes {
		nodes = append(nodes, explorer.Node{Name: n.Name, RPC: n.RPC})
	}
	cfg := explorer.Config{ChainID: m.ChainID, Nodes: nodes, Demo: net_}
	if len(m.Nodes) > 0 {
		// The network's own genesis is the light client's trust root.
		if g, err := types.GenesisDocFromFile(filepath.Join(m.Nodes[0].Home, "config", "genesis.json")); err == nil {
			cfg.Genesis = g
		}
	}
	srv, err := explorer.New(cfg)
	if err != nil {
		return "", err
	}
	url, done, err := explorer.Listen(ctx, addr, srv)
	if err != nil {
		return "", err
	}
	go func() {
		if err := <-done; err != nil {
			fmt.Fprintln(os.Stderr, "explorer:", err)
		}
	}()
	return url, nil
}

// explorerOffset is where a local network's explorer listens, above its
// base port: node i uses base+10i..base+10i+2, at most 10 nodes.
const explorerOffset = 90

// defaultExplorerAddr is 127.0.0.1:<base port + 90>, the base port read
// from the first node's p2p address.
func defaultExplorerAddr(m *testnet.Manifest) string {
	base := 27000
	if len(m.Nodes) > 0 {
		if _, p, err := net.SplitHostPort(m.Nodes[0].P2P); err == nil {
			if n, err := strconv.Atoi(p); err == nil {
				base = n
			}
		}
	}
	// Node i uses base+10i to base+10i+3: a network of ten nodes or more
	// (ten validators, or nine and the demo's council) reaches base+90.
	return fmt.Sprintf("127.0.0.1:%d", base+max(explorerOffset, 10*len(m.Nodes)))
}

package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/tallyledger/tally/node"
)

func stateSyncCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "state-sync --rpc URL[,URL...]",
		Short: "Make a new node join by state sync: restore a peer's snapshot instead of replaying every block",
		Long: `state-sync configures the node in --home (made with init, with the
network's genesis, not yet started) to join by state sync: at its first start
it fetches the newest snapshot its peers serve (app.toml snapshot_interval
on their side), checks the restored state against the app hash that
CometBFT's light client verifies, and then catches up by block sync. A
corrupt or false snapshot is refused and another peer or snapshot tried.

The light client starts from a block you trust: --trust-height and
--trust-hash, read from a node you trust (another agency's explorer, your
own running node: 'curl RPC/commit'). Without them the latest block of the
first --rpc server is taken and printed; compare it with another agency's
before starting the node. --rpc gives the nodes whose RPC serves the light
client's headers: two or more of different agencies (the first is the
primary, the others witnesses that must agree with it).

Example:
  tallyd state-sync --home ~/.tally --rpc tcp://10.0.0.1:26657,tcp://10.0.0.2:26657`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := cmd.Flags()
			servers, _ := f.GetStringSlice("rpc")
			height, _ := f.GetInt64("trust-height")
			hashHex, _ := f.GetString("trust-hash")
			if len(servers) == 0 {
				return errors.New("--rpc: give the RPC address of at least one node of the network (two of different agencies is better)")
			}
			trust := node.Trust{Height: height}
			if (height == 0) != (hashHex == "") {
				return errors.New("give both --trust-height and --trust-hash, or neither to trust the first --rpc server's latest block")
			}
			if hashHex != "" {
				h, err := hex.DecodeString(hashHex)
				if err != nil || len(h) != 32 {
					return fmt.Errorf("--trust-hash %q: want the block hash as 64 hex digits", hashHex)
				}
				trust.Hash = h
			} else {
				ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
				defer cancel()
				var err error
				if trust, err = node.StateSyncTrust(ctx, servers[0]); err != nil {
					return err
				}
			}
			if err := node.EnableStateSync(homeFlag(cmd), servers, trust); err != nil {
				return err
			}
			fmt.Printf("State sync on in %s\n  trust height: %d\n  trust hash:   %X\n  rpc servers:  %v\nCompare the trusted block with another agency's node, then start: tallyd start --home %s\n",
				homeFlag(cmd), trust.Height, trust.Hash, servers, homeFlag(cmd))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSlice("rpc", nil, "RPC addresses of nodes of the network, comma-separated (tcp://HOST:PORT)")
	f.Int64("trust-height", 0, "height of a block you trust (default: the first --rpc server's latest)")
	f.String("trust-hash", "", "hash of that block, hex")
	return cmd
}

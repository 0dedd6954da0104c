package main

import (
	"fmt"
	"os"

	cmtjson "github.com/cometbft/cometbft/libs/json"
	"github.com/spf13/cobra"

	"github.com/tallyledger/tally/node"
)

func exportCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write a stopped node's whole state at a height as a genesis that restarts the chain",
		Long: `export reads the state of a stopped node (--home) at --height (default:
the latest it saved) and writes a genesis file: every module's records,
indexes, sequences, parameters and mandates, the used transaction nonces,
and the validator set, exactly as they were. A chain started from it
continues at height+1 with the same state; it is the same chain (same
chain id), so transactions signed for it stay valid and none can run twice.

The file names the chain, the height, its app hash and the SHA-256 of its
records; a node refuses to start from it if any record was changed, or if
it is another chain's. The export is deterministic: every operator should
export from their own node and compare the records_sha256 it prints
before anyone restarts.

To restart the chain from it, on every validator (nodes stopped):

  tallyd export --height H --out export.json
  tallyd export restart export.json     # keeps data/ as data.before-restart-H
  tallyd start

The height must still be kept by the node (app.toml pruning) and its
block still be in the block store.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			height, _ := cmd.Flags().GetInt64("height")
			out, _ := cmd.Flags().GetString("out")
			if height < 0 {
				return fmt.Errorf("--height %d: heights start at 1 (0 or none: the latest)", height)
			}
			doc, from, err := node.Export(homeFlag(cmd), height)
			if err != nil {
				return err
			}
			bz, err := cmtjson.MarshalIndent(doc, "", "  ")
			if err != nil {
				return err
			}
			if out == "" || out == "-" {
				_, err = cmd.OutOrStdout().Write(append(bz, '\n'))
			} else {
				err = os.WriteFile(out, append(bz, '\n'), 0o600)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "exported chain %s at height %d (app hash %X)\nrecords_sha256 %X\nthe chain restarts at height %d\n",
				from.ChainId, from.Height, from.AppHash, from.RecordsSha256, doc.InitialHeight)
			return nil
		},
	}
	cmd.Flags().Int64("height", 0, "height to export (0: the latest the node saved)")
	cmd.Flags().String("out", "", "file to write the genesis to (default: standard output)")
	cmd.AddCommand(&cobra.Command{
		Use:   "restart GENESIS",
		Short: "Install an export as this stopped node's genesis, keeping its old data, to restart the chain from it",
		Long: `restart prepares a stopped node to restart its chain from a genesis that
tallyd export wrote: the old data directory is kept as
data.before-restart-<height> (with the old genesis in it), the export
becomes config/genesis.json, and a fresh data directory starts with the
validator key's sign state at the exported height (it will sign the
restarted chain's blocks from height+1, nothing at or below). A remote
signer (tallyd signer) keeps its own sign state: reset it the same way.

It refuses a file that is not an export, and an export of another chain.
Then run tallyd start.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			h, err := node.RestartFromExport(homeFlag(cmd), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "installed the export of height %d; the old data is in data.before-restart-%d; start the node with tallyd start\n", h, h)
			return nil
		},
	})
	return cmd
}

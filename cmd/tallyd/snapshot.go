package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tallyledger/tally/node"
)

func snapshotCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Take, check and restore a local backup of a stopped node (data and config, with a manifest and checksums)",
		Long: `snapshot copies a stopped node's home (--home: its data/ and config/) into
a backup directory with a MANIFEST.json naming the chain, the height and
app hash the state was saved at, and every file's size and SHA-256.
restore checks every file against the manifest and refuses a damaged or
incomplete backup, or one of another chain than the home's.

The backup holds the node's keys: keep it as carefully as the node.
A restored node catches up from its peers from the backup's height.

This is a local backup. State sync (new nodes fetching ABCI snapshots
from peers) is configured in app.toml, not here.`,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "take DIR",
		Short: "Copy the stopped node's data and config into DIR (which must not exist) with a manifest",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := node.TakeBackup(homeFlag(cmd), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "backed up chain %s at height %d (app hash %s): %d files in %s\n", m.ChainID, m.Height, m.AppHash, len(m.Files), args[0])
			return nil
		},
	}, &cobra.Command{
		Use:   "verify DIR",
		Short: "Check every file of the backup in DIR against its manifest",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := node.VerifyBackup(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "backup of chain %s at height %d: %d files match the manifest\n", m.ChainID, m.Height, len(m.Files))
			return nil
		},
	}, &cobra.Command{
		Use:   "restore DIR",
		Short: "Check the backup in DIR and install it into the stopped node's home, keeping the current data and config beside it",
		Long: `restore checks the backup in DIR (every file against its manifest) and
installs its data/ and config/ into --home, whose node must be stopped. A
home that already holds a chain must hold the backup's chain; its current
data/ and config/ are kept as data.before-restore-<time> and
config.before-restore-<time>.

If the home's validator sign state (data/priv_validator_state.json) is
further on than the backup's, it is kept, so the validator never signs a
second time at a height it signed after the backup was taken.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := node.RestoreBackup(homeFlag(cmd), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "restored chain %s at height %d into %s; start the node with tallyd start\n", m.ChainID, m.Height, homeFlag(cmd))
			return nil
		},
	})
	return cmd
}

// Command tallyd is the one Tally binary: it sets up and runs a validator
// node (init, start) and is a client (keys, tx, query) for operators and
// scripts.
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/tallyledger/tally/testnet"
)

func main() {
	if err := rootCmd().Execute(); err != nil {
		fmt.Fprint(os.Stderr, errorText(err))
		os.Exit(1)
	}
}

// errorText is what tallyd prints for a failed command: the error, then a
// hint when there is one. Commands a message suggests ("run `tallyd keys
// list`") name the binary as the user ran it (build/tallyd), so that they
// can be pasted as they are; the libraries that wrote them do not know it.
func errorText(err error) string {
	out := "Error: " + err.Error() + "\n"
	if hint := hintFor(err); hint != "" {
		out += hint + "\n"
	}
	if inv := testnet.Invocation(); inv != "tallyd" {
		out = strings.NewReplacer("`tallyd ", "`"+inv+" ", "'tallyd ", "'"+inv+" ").Replace(out)
	}
	return out
}

// hintFor says what to do next about errors whose cause is not in their
// words: a node that is not listening.
func hintFor(err error) string {
	if errors.Is(err, syscall.ECONNREFUSED) {
		return "No node is listening at that address: it may be stopped. Send to another node with --node " +
			"(a local network's nodes and their RPC addresses are printed by 'tallyd testnet start' and listed in its testnet.json)."
	}
	return ""
}

func defaultHome() string {
	if h := os.Getenv("TALLY_HOME"); h != "" {
		return h
	}
	dir, err := os.UserHomeDir()
	if err != nil {
		return ".tally"
	}
	return filepath.Join(dir, ".tally")
}

func rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "tallyd",
		Short: "Tally: a Byzantine-fault-tolerant ledger for public agencies",
		Long: `tallyd runs a Tally validator node and is the command-line client for it.

Node operators:   tallyd init, tallyd start, tallyd status
Backup, restart:  tallyd snapshot take|restore, tallyd export [restart]
Account keys:     tallyd keys add|list|show|delete|import|export
Transactions:     tallyd tx agency ...
Reading state:    tallyd query agency ... [--prove]

The node's files live in --home (default $TALLY_HOME or ~/.tally).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return applyClientConfig(cmd)
		},
	}
	root.PersistentFlags().String("home", defaultHome(), "node home directory (config, data, keyrings)")
	root.AddCommand(versionCmd(), initCmd(), startCmd(), keysCmd(), txCmd(), queryCmd(), testnetCmd(), errorsCmd())
	root.AddCommand(loadCmd())
	root.AddCommand(genesisCmd())
	root.AddCommand(verifyCmd())
	root.AddCommand(explorerCmd())
	root.AddCommand(statusCmd())
	root.AddCommand(stateSyncCmd())
	root.AddCommand(exportCmd(), snapshotCmd())
	root.AddCommand(signerCmd())
	root.AddCommand(personalCmd())
	groupCommands(root)
	return root
}

// groupCommands makes every command that only groups others (tallyd query
// agency, tallyd tx, ...) say plainly when it is given a subcommand it does
// not have. Without this, cobra parses the rest of the line as the group's
// own flags, so `tallyd query agency membrs --node X` answered
// "unknown flag: --node" instead of naming the mistyped word.
func groupCommands(c *cobra.Command) {
	for _, sub := range c.Commands() {
		groupCommands(sub)
	}
	if !c.HasSubCommands() || c.Run != nil || c.RunE != nil {
		return
	}
	c.FParseErrWhitelist.UnknownFlags = true
	c.SuggestionsMinimumDistance = 2
	c.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += fmt.Sprintf("; did you mean %q?", s[0])
		}
		return fmt.Errorf("%s (run '%s --help' for the list)", msg, cmd.CommandPath())
	}
	c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
}

func homeFlag(cmd *cobra.Command) string {
	h, _ := cmd.Flags().GetString("home")
	return h
}

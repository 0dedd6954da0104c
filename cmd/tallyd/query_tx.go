package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tallyledger/tally/client"
)

// queryTxCmd looks a transaction up by hash: the answer to "did my
// transaction commit?" after a send that timed out.
func queryTxCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tx HASH",
		Short: "Show a committed transaction's block, result code and events, by its hash",
		Long: `Looks a transaction up by its hash (as 'tallyd tx' prints it) in the node's
transaction index. "not found" means the node has not committed it (yet):
a transaction can still commit until its timeout height, and never after.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			hash, err := hex.DecodeString(strings.TrimPrefix(strings.ToLower(args[0]), "0x"))
			if err != nil || len(hash) != 32 {
				return fmt.Errorf("%q is not a transaction hash: want 64 hex characters", args[0])
			}
			c, err := dialNode(cmd)
			if err != nil {
				return err
			}
			r, err := c.RPC.Tx(cmd.Context(), hash, false)
			if err != nil {
				if strings.Contains(err.Error(), "not found") {
					_ = printJSON(map[string]any{"hash": strings.ToUpper(args[0]), "found": false})
					return errors.New("transaction not found on this node: not committed (yet), or the node's index does not have it; it can still commit until its timeout height")
				}
				return err
			}
			out := map[string]any{"hash": r.Hash.String(), "found": true, "height": r.Height, "code": r.TxResult.Code,
				"codespace": r.TxResult.Codespace, "log": r.TxResult.Log, "events": eventsJSON(r.TxResult.Events)}
			if err := printJSON(out); err != nil {
				return err
			}
			if r.TxResult.Code != 0 {
				return fmt.Errorf("transaction %s", (&client.TxError{Codespace: r.TxResult.Codespace, Code: r.TxResult.Code, Log: r.TxResult.Log, Height: r.Height}).Error())
			}
			return nil
		},
	}
	cmd.Flags().String("node", defaultNode, "RPC address of any node")
	return cmd
}

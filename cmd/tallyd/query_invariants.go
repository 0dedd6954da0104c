package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/client"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
)

func queryAllInvariantsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "invariants",
		Short: "Run every module's invariant checks on a node; exit status 1 if any fails",
		Long: `Asks --node to check, over its state at --height (default: latest), every
rule each module promises about its records: funds conservation, benefit
payments drawn from their programme's fund, tax receipts numbered without
gaps and folded from their amendments, split and merge quantities, custody
offers and recall reach, agencies never left without an admin, open
proposals within the limit, and the rest. It prints each module's checks
as JSON — name, ok, the rule checked, and for a failing check how many
problems it found and the first of them — and exits non-zero when any
check fails, so scripts and fault suites can call it after a run.

The node computes the answer over its whole state: it is not a proof, and
it reads everything, so ask a node you can spare. Ask several nodes, or at
one height on each, to compare them. 'tallyd query funds invariants
--prove' does the funds sum on your side from proven balances.

A node serves these whole-state walks only when its app.toml says
operator_queries = true (otherwise it refuses with tx/41), and runs one at
a time: while another runs (its own periodic check, say) it answers busy
(tx/70) and tallyd asks again, for up to a minute.`,
		Args: cobra.NoArgs,
		RunE: runQueryInvariants,
	}
	f := cmd.Flags()
	f.String("node", defaultNode, "RPC address of the node to ask")
	f.Int64("height", 0, "state height to check (default: latest)")
	return cmd
}

func runQueryInvariants(cmd *cobra.Command, _ []string) error {
	c, err := dialNode(cmd)
	if err != nil {
		return err
	}
	height, _ := cmd.Flags().GetInt64("height")
	res, err := queryWalk(cmd, c, api.PathInvariants, height)
	if err != nil {
		return err
	}
	r := &appv1.InvariantsReport{}
	if err := proto.Unmarshal(res.Value, r); err != nil {
		return fmt.Errorf("decoding answer: %w", err)
	}
	// tallyd's one JSON form: a failing check shows "ok": false, and the
	// funds figures are pence with pounds beside them.
	if err := printJSON(map[string]any{"height": res.Height, "report": protoJSON(r)}); err != nil {
		return err
	}
	var failed []string
	checks := 0
	for _, m := range r.Modules {
		for _, ch := range m.Checks {
			checks++
			if !ch.Ok {
				failed = append(failed, m.Module+"/"+ch.Name)
			}
		}
	}
	if len(failed) > 0 || !r.Ok {
		return fmt.Errorf("%d of %d invariant checks fail at height %d: %s", len(failed), checks, res.Height, strings.Join(failed, ", "))
	}
	return nil
}

// walkPatience is how long tallyd asks again a node that answers a
// whole-state walk busy (tx/70: another walk is running there).
const walkPatience = time.Minute

// queryWalk asks --node for a whole-state walk (/invariants,
// /funds/invariants): while the node is busy with another walk it asks
// again, for up to walkPatience; a node that serves walks only to its
// operator is refused with what to do.
func queryWalk(cmd *cobra.Command, c *client.Client, path string, height int64) (*abci.ResponseQuery, error) {
	res, _, err := c.QueryWhenFree(cmd.Context(), walkPatience, path, nil, height, false)
	var qe *client.QueryError
	if errors.As(err, &qe) {
		node, _ := cmd.Flags().GetString("node")
		if qe.OperatorOnly() {
			return nil, fmt.Errorf("%w\n%s serves %s only to its operator: ask a node whose app.toml says operator_queries = true", err, node, path)
		}
		if _, busy := qe.Busy(); busy {
			return nil, fmt.Errorf("%w\n%s was still busy after %s: try again later", err, node, walkPatience)
		}
	}
	return res, err
}

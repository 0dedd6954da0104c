package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
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
--prove' does the funds sum on your side from proven balances.`,
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
	res, _, err := c.Query(cmd.Context(), api.PathInvariants, nil, height, false)
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

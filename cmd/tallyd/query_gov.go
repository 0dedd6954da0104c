package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/app"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
)

func queryGovCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "gov", Short: "Proposals, votes, mandates, parameters, validators and upgrades"}
	record := func(use, short, path string, args cobra.PositionalArgs, into func() proto.Message) *cobra.Command {
		return &cobra.Command{Use: use, Short: short, Args: args, RunE: func(cmd *cobra.Command, a []string) error {
			var data []byte
			if len(a) > 0 {
				data = []byte(a[0])
			}
			return queryRecord(cmd, path, data, into(), protoView)
		}}
	}
	list := func(use, short, path string, args cobra.PositionalArgs, into func() proto.Message) *cobra.Command {
		return &cobra.Command{Use: use, Short: short, Args: args, RunE: func(cmd *cobra.Command, a []string) error {
			var data []byte
			if len(a) > 0 {
				data = []byte(a[0])
			}
			if done, err := compositeVerified(cmd, path, a); done {
				return err
			}
			l, height, root, err := queryProvedList(cmd, path, data)
			if err != nil {
				return err
			}
			check := entryCheck(root)
			items := []any{}
			for _, e := range l.Entries {
				if check != nil {
					if err := check(e); err != nil {
						return fmt.Errorf("entry %x: %w", e.Key, err)
					}
				}
				m := into()
				if err := proto.Unmarshal(e.Value, m); err != nil {
					return err
				}
				items = append(items, protoView(m))
			}
			out := map[string]any{"height": height, "items": items, "complete": len(l.NextKey) == 0}
			if root != nil {
				out["verified_against"] = listProofJSON(height, root, "each record proven")
			}
			return printJSON(out)
		}}
	}
	proposal := func() proto.Message { return &govv1.Proposal{} }
	registry := &cobra.Command{
		Use:   "registry",
		Short: "List every parameter governance may change with its current value",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := dialNode(cmd)
			if err != nil {
				return err
			}
			height, _ := cmd.Flags().GetInt64("height")
			res, _, err := c.Query(cmd.Context(), app.PathGovRegistry, nil, height, false)
			if err != nil {
				return err
			}
			l := &govv1.ParamList{}
			if err := proto.Unmarshal(res.Value, l); err != nil {
				return err
			}
			return printJSON(map[string]any{"height": res.Height, "params": protoView(l)})
		},
	}
	for _, c := range []*cobra.Command{
		record("proposal ID", "Show a proposal with its status and tally", app.PathGovProposal, cobra.ExactArgs(1), proposal),
		list("proposals", "List every proposal, open and past", app.PathGovProposals, cobra.NoArgs, proposal),
		list("open", "List open proposals", app.PathGovOpenProposals, cobra.NoArgs, proposal),
		list("votes ID", "List the votes on a proposal", app.PathGovVotes, cobra.ExactArgs(1), func() proto.Message { return &govv1.Vote{} }),
		list("mandates", "List the mandates in force", app.PathGovMandates, cobra.NoArgs, func() proto.Message { return &govv1.MandateGrant{} }),
		list("validators", "List the validator set with the agency operating each validator", app.PathGovValidators, cobra.NoArgs, func() proto.Message { return &govv1.Validator{} }),
		record("params", "Show governance's own parameters", app.PathGovParams, cobra.NoArgs, func() proto.Message { return &govv1.Params{} }),
		record("upgrade", "Show the scheduled upgrade, if any", app.PathGovUpgrade, cobra.NoArgs, func() proto.Message { return &govv1.UpgradePlan{} }),
		registry,
	} {
		addQueryFlags(c)
		cmd.AddCommand(c)
	}
	return cmd
}

// protoView renders a record as its protojson form.
func protoView(m proto.Message) any {
	bz, err := protojson.Marshal(m)
	if err != nil {
		return map[string]any{"error": err.Error()}
	}
	return json.RawMessage(bz)
}

package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/client"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
)

func queryGovCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "gov", Short: "Proposals, votes, mandates, parameters, validators, upgrades and validator misbehaviour"}
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
			out := map[string]any{"height": height, "items": items, "complete": l.Complete}
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
			res, _, err := c.Query(cmd.Context(), api.PathGovRegistry, nil, height, false)
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
		record("proposal ID", "Show a proposal with its status and tally", api.PathGovProposal, cobra.ExactArgs(1), proposal),
		list("proposals", "List every proposal, open and past", api.PathGovProposals, cobra.NoArgs, proposal),
		list("open", "List open proposals", api.PathGovOpenProposals, cobra.NoArgs, proposal),
		list("votes ID", "List the votes on a proposal", api.PathGovVotes, cobra.ExactArgs(1), func() proto.Message { return &govv1.Vote{} }),
		list("mandates", "List the mandates in force", api.PathGovMandates, cobra.NoArgs, func() proto.Message { return &govv1.MandateGrant{} }),
		record("mandate ID", "Show a mandate grant by id, in force or not: the grant a record's mandate field names", api.PathGovMandate, cobra.ExactArgs(1), func() proto.Message { return &govv1.MandateGrant{} }),
		list("validators", "List the validator set with the agency operating each validator", api.PathGovValidators, cobra.NoArgs, func() proto.Message { return &govv1.Validator{} }),
		record("params", "Show governance's own parameters", api.PathGovParams, cobra.NoArgs, func() proto.Message { return &govv1.Params{} }),
		record("upgrade", "Show the scheduled upgrade, if any", api.PathGovUpgrade, cobra.NoArgs, func() proto.Message { return &govv1.UpgradePlan{} }),
		registry,
		queryMisbehaviourCmd(),
	} {
		addQueryFlags(c)
		cmd.AddCommand(c)
	}
	return cmd
}

// protoView renders a record in tallyd's one JSON form (client.RecordJSON),
// with the message of each code it keeps (a failed proposal's
// failure_code).
func protoView(m proto.Message) any {
	v := client.RecordJSON(m)
	api.DescribeCodes(v)
	return v
}

func queryMisbehaviourCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "misbehaviour [SEQ]",
		Short: "Show validator misbehaviour (double signing) the chain recorded, and what it did about it",
		Long: `When CometBFT commits evidence that a validator signed two conflicting votes
(for example two nodes were started with the same priv_validator_key.json),
the chain records it and, as gov.misbehaviour_action says, opens a proposal
to remove the validator (propose) or removes it at once (remove).

With SEQ, shows that record; --prove checks its Merkle proof, --verify checks
it with a light client. Without SEQ, lists every record in sequence order
(--validator: only one validator's, by its consensus address in hex, as
CometBFT logs it), every page of the listing read at one height. action is none, proposed or removed; reason says why it is
not what the mode asks for; proposal_id is the removal proposal to vote on
with 'tallyd tx gov vote'.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				return queryOneMisbehaviour(cmd, args[0])
			}
			return queryMisbehaviours(cmd)
		},
	}
	c.Flags().String("validator", "", "list only the records of this consensus address (40 hex digits)")
	return c
}

func queryOneMisbehaviour(cmd *cobra.Command, arg string) error {
	seq, err := parseDecimalID(arg)
	if err != nil {
		return fmt.Errorf("SEQ: %w; list the records with 'tallyd query gov misbehaviour'", err)
	}
	data := []byte(arg)
	if v, _ := cmd.Flags().GetBool("verify"); !v {
		return queryRecord(cmd, api.PathGovMisbehaviour, data, &govv1.Misbehaviour{}, misbehaviourView)
	}
	node, _ := cmd.Flags().GetString("node")
	return runVerified(cmd, node, func(ctx context.Context, lc *client.LightClient, height int64) (any, *client.Verified, error) {
		m := &govv1.Misbehaviour{}
		ans, err := lc.GetProto(ctx, api.PathGovMisbehaviour, data, api.GovMisbehaviourKey(seq), height, m)
		if err != nil {
			return nil, verifiedOf(ans), err
		}
		return misbehaviourView(m), &ans.Verified, nil
	})
}

func queryMisbehaviours(cmd *cobra.Command) error {
	if v, _ := cmd.Flags().GetBool("verify"); v {
		return fmt.Errorf("--verify checks one record: give its SEQ, or list with --prove to check every record's proof")
	}
	path, arg := api.PathGovMisbehaviours, ""
	if v, _ := cmd.Flags().GetString("validator"); v != "" {
		addr, err := hex.DecodeString(v)
		if err != nil || len(addr) != api.ConsensusAddressSize {
			return fmt.Errorf("--validator must be a consensus address of %d hex digits (got %q)", 2*api.ConsensusAddressSize, v)
		}
		path, arg = api.PathGovValidatorMisbehaviours, v
	}
	l, height, root, err := queryProvedList(cmd, path, []byte(arg))
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
		m := &govv1.Misbehaviour{}
		if err := proto.Unmarshal(e.Value, m); err != nil {
			return fmt.Errorf("entry %x: %w", e.Key, err)
		}
		items = append(items, misbehaviourView(m))
	}
	out := map[string]any{"height": height, "items": items, "complete": l.Complete}
	if root != nil {
		out["verified_against"] = listProofJSON(height, root, "each record proven")
	}
	return printJSON(out)
}

// misbehaviourView shows a record with addresses and keys in hex, as
// CometBFT's logs and priv_validator_key.json show them.
func misbehaviourView(pm proto.Message) any {
	m, ok := pm.(*govv1.Misbehaviour)
	if !ok {
		return protoView(pm)
	}
	upperHex := func(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }
	out := map[string]any{
		"seq":                m.Seq,
		"type":               api.MisbehaviourTypeName(m.Type),
		"validator_address":  upperHex(m.ValidatorAddress),
		"pub_key":            upperHex(m.PubKey),
		"agency_id":          m.AgencyId,
		"validator_power":    m.ValidatorPower,
		"total_voting_power": m.TotalVotingPower,
		"evidence_height":    m.EvidenceHeight,
		"evidence_time":      time.Unix(m.EvidenceTimeUnix, 0).UTC().Format(time.RFC3339),
		"height":             m.Height,
		"time":               time.Unix(m.TimeUnix, 0).UTC().Format(time.RFC3339),
		"mode":               m.Mode,
		"action":             api.MisbehaviourActionName(m.Action),
	}
	if m.ProposalId != 0 {
		out["proposal_id"] = m.ProposalId
	}
	if m.ReasonCode != 0 {
		out["reason_code"] = fmt.Sprintf("%s/%d", m.ReasonCodespace, m.ReasonCode)
		out["reason"] = api.Describe(m.ReasonCodespace, m.ReasonCode)
	}
	return out
}

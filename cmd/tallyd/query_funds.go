package main

import (
	"encoding/hex"
	"errors"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/client"
	fundsv1 "github.com/tallyledger/tally/proto/tally/funds/v1"
)

// protoJSON renders a record in the one JSON form tallyd and the explorer
// share (client.RecordJSON): proto field names, bytes as hex, amounts as
// strings of pence with "<field>_formatted" in pounds beside them.
func protoJSON(m proto.Message) map[string]any { return client.RecordJSON(m) }

// decodeRecord decodes a funds or benefits record by its state key
// (api.RecordOf); a value that does not decode shows as its kind alone.
func decodeRecord(key, value []byte) (kind string, m proto.Message) {
	kind, m, err := api.DecodeRecord(key, value)
	if kind == "" {
		return "unknown", nil
	}
	if err != nil {
		return kind, nil
	}
	return kind, m
}

// queryRecordList prints a record-list answer, every page of a listing
// read at one height: every entry decoded, each proof (and a listing's
// range proofs) checked with --prove, absent records shown as proven
// absent. arg is a listing's argument, or a trace's query data.
func queryRecordList(cmd *cobra.Command, path string, arg []byte) error {
	if done, err := compositeVerified(cmd, path, []string{string(arg)}); done {
		return err
	}
	list, height, root, err := queryProvedList(cmd, path, arg)
	if err != nil {
		return err
	}
	records := []map[string]any{}
	for _, e := range list.Entries {
		kind, m := decodeRecord(e.Key, e.Value)
		r := map[string]any{"kind": kind, "key": hex.EncodeToString(e.Key)}
		if m == nil {
			r["absent"] = true
		} else {
			r["record"] = protoJSON(m)
		}
		records = append(records, r)
	}
	out := map[string]any{"records": records}
	out["complete"] = list.Complete // false: a walk cut off by its bound
	out["height"] = height
	if root != nil {
		out["verified_against"] = listProofJSON(height, root, "each record (or its absence) proven; a listing's pages prove that no record was left out")
	}
	return printJSON(out)
}

func queryFundsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "funds",
		Short: "Public money: balances, movements, traces, totals and the conservation invariant",
		Long: `Holders are agency:<agency id>, programme:<programme id> and payee:<token>.
Money is held in tranches that split as they move; trace-up follows a
movement's tranches back to the appropriation(s) or revenue that funded it,
trace-down lists every leg descended from an appropriation, down to
settlement. With --prove every record of an answer is checked against the
block header's app hash.`,
	}
	rec := func(use, short, path string, into func() proto.Message, args int) *cobra.Command {
		return &cobra.Command{Use: use, Short: short, Args: cobra.ExactArgs(args),
			RunE: func(cmd *cobra.Command, a []string) error {
				var data []byte
				if args > 0 {
					data = []byte(a[0])
				}
				return queryRecord(cmd, path, data, into(), func(m proto.Message) any { return protoJSON(m) })
			}}
	}
	list := func(use, short, path string, args int) *cobra.Command {
		c := &cobra.Command{Use: use, Short: short, Args: cobra.ExactArgs(args),
			RunE: func(cmd *cobra.Command, a []string) error {
				var arg []byte
				if args > 0 {
					arg = []byte(a[0])
				}
				return queryRecordList(cmd, path, arg)
			}}
		return c
	}
	cmds := []*cobra.Command{
		rec("params", "Currency, annual appropriation limit, tranches per movement", api.PathFundsParams, func() proto.Message { return &fundsv1.Params{} }, 0),
		rec("totals", "Ledger-wide totals: appropriated, revenue credited and debited, settled", api.PathFundsTotals, func() proto.Message { return &fundsv1.Totals{} }, 0),
		rec("balance HOLDER", "A holder's balance", api.PathFundsBalance, func() proto.Message { return &fundsv1.Balance{} }, 1),
		rec("movement ID", "One movement with its legs", api.PathFundsMovement, func() proto.Message { return &fundsv1.Movement{} }, 1),
		rec("tranche ID", "One tranche", api.PathFundsTranche, func() proto.Message { return &fundsv1.Tranche{} }, 1),
		rec("appropriation REFERENCE", "An appropriation and its root movement id", api.PathFundsAppropriation, func() proto.Message { return &fundsv1.Appropriation{} }, 1),
		rec("root ROOT_ID", "Totals of one appropriation or revenue root: in, settled, refunded", api.PathFundsRoot, func() proto.Message { return &fundsv1.RootTotals{} }, 1),
		rec("settlement PAYMENT_MOVEMENT_ID", "A payment's settlement", api.PathFundsSettlement, func() proto.Message { return &fundsv1.Settlement{} }, 1),
		list("balances", "Every holder's balance", api.PathFundsBalances, 0),
		list("trace-up MOVEMENT_ID", "Where a movement's money came from, tranche by tranche, to its appropriation(s)", api.PathFundsTraceUp, 1),
		list("trace-down ROOT_ID", "Where an appropriation's money went, leg by leg, down to settlement", api.PathFundsTraceDown, 1),
		{
			Use:   "invariants",
			Short: "Check conservation: appropriated + revenue credited - revenue debited - settled = sum of balances",
			Long: `Without --prove the node computes the check (and also that every balance
equals its open tranches). With --prove tallyd reads the totals and every
balance, each with its Merkle proof, and does the sum itself: you trust no
node's arithmetic. Without --prove the node walks all of state: like
'tallyd query invariants' it must serve walks to you (operator_queries),
and tallyd asks again while it is busy with another walk.`,
			Args: cobra.NoArgs,
			RunE: queryInvariants,
		},
	}
	for _, c := range cmds {
		addQueryFlags(c)
		cmd.AddCommand(c)
	}
	return cmd
}

func queryInvariants(cmd *cobra.Command, _ []string) error {
	c, err := dialNode(cmd)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	height, _ := cmd.Flags().GetInt64("height")
	prove, _ := cmd.Flags().GetBool("prove")
	if !prove {
		res, err := queryWalk(cmd, c, api.PathFundsInvariants, height)
		if err != nil {
			return err
		}
		r := &fundsv1.InvariantReport{}
		if err := proto.Unmarshal(res.Value, r); err != nil {
			return err
		}
		_ = printJSON(map[string]any{"height": res.Height, "report": protoJSON(r)})
		if !r.Ok {
			return errors.New("conservation invariant broken")
		}
		return nil
	}
	r, proven, err := c.ProvenInvariants(ctx, height)
	if err != nil {
		return err
	}
	_ = printJSON(map[string]any{"height": proven.Height, "report": protoJSON(r), "verified_against": provenJSON(proven, "totals and every balance proven; sum done by tallyd")})
	if !r.Ok {
		return errors.New("conservation invariant broken")
	}
	return nil
}

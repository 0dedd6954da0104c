package main

import (
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/client"
	benefitsv1 "github.com/tallyledger/tally/proto/tally/benefits/v1"
	fundsv1 "github.com/tallyledger/tally/proto/tally/funds/v1"
)

func queryBenefitsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "benefits",
		Short: "Programmes, enrolments, payments, recoveries and payment traces",
		Long: `Recipients are pseudonymous references. payment-trace shows a payment whole:
the payment, recoveries against it, the funds path back to its
appropriation(s), and its settlement (or proof that it is not settled yet).`,
	}
	rec := func(use, short, path string, into func() proto.Message) *cobra.Command {
		return &cobra.Command{Use: use, Short: short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, a []string) error {
				return queryRecord(cmd, path, []byte(a[0]), into(), func(m proto.Message) any { return protoJSON(m) })
			}}
	}
	list := func(use, short, path string, args int, arg func([]string) string) *cobra.Command {
		c := &cobra.Command{Use: use, Short: short, Args: cobra.ExactArgs(args),
			RunE: func(cmd *cobra.Command, a []string) error {
				return queryRecordList(cmd, path, []byte(arg(a)))
			}}
		return c
	}
	programme := &cobra.Command{
		Use:   "programme ID",
		Short: "A programme: terms, budget left in its fund, paid, recipients, next scheduled run",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := dialNode(cmd)
			if err != nil {
				return err
			}
			height, _ := cmd.Flags().GetInt64("height")
			prove, _ := cmd.Flags().GetBool("prove")
			res, proven, err := c.Query(cmd.Context(), api.PathBenefitsProgramme, []byte(a[0]), height, prove)
			if err != nil {
				return err
			}
			p := &benefitsv1.Programme{}
			if err := proto.Unmarshal(res.Value, p); err != nil {
				return err
			}
			// The budget is read at the same height, so the two agree.
			bres, _, err := c.Query(cmd.Context(), api.PathFundsBalance, []byte(p.FundingHolder), res.Height, prove)
			bal := &fundsv1.Balance{}
			if err == nil {
				_ = proto.Unmarshal(bres.Value, bal)
			}
			out := map[string]any{"height": res.Height, "programme": protoJSON(p), "budget_left": strconv.FormatUint(bal.Amount, 10), "budget_left_formatted": client.Pounds(bal.Amount)}
			if next := api.BenefitsNextRun(p); next != 0 {
				out["next_run"] = time.Unix(next, 0).UTC().Format(time.RFC3339)
			}
			if proven != nil {
				out["verified_against"] = provenJSON(proven, "existence of the programme and of its fund's balance")
			}
			return printJSON(out)
		},
	}
	cmds := []*cobra.Command{
		programme,
		list("programmes", "Every programme (paginated)", api.PathBenefitsProgrammes, 0, func([]string) string { return "" }),
		rec("enrolment PROGRAMME/RECIPIENT", "One enrolment", api.PathBenefitsEnrolment, func() proto.Message { return &benefitsv1.Enrolment{} }),
		list("enrolments PROGRAMME", "A programme's enrolments (paginated)", api.PathBenefitsEnrolments, 1, func(a []string) string { return a[0] }),
		rec("payment ID", "One payment attempt", api.PathBenefitsPayment, func() proto.Message { return &benefitsv1.Payment{} }),
		list("history PROGRAMME RECIPIENT", "A recipient's payments, paid and failed, oldest first (paginated)", api.PathBenefitsHistory, 2, func(a []string) string { return a[0] + "/" + a[1] }),
		rec("recovery ID", "One overpayment recovery", api.PathBenefitsRecovery, func() proto.Message { return &benefitsv1.Recovery{} }),
		list("payment-trace ID", "A payment's recoveries, funds path to its appropriation(s) and settlement", api.PathBenefitsTrace, 1, func(a []string) string { return a[0] }),
		{
			Use: "params", Short: "Scheduled payments per block and the deduction cap", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return queryRecord(cmd, api.PathBenefitsParams, nil, &benefitsv1.Params{}, func(m proto.Message) any { return protoJSON(m) })
			},
		},
	}
	for _, c := range cmds {
		addQueryFlags(c)
		cmd.AddCommand(c)
	}
	return cmd
}

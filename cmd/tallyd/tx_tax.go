package main

import (
	"encoding/hex"
	"fmt"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/client"
	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
)

func txTaxCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tax",
		Short: "Tax types, collectors, receipts and their amendments",
		Long: `A tax authority's admin registers tax types and authorises collector
accounts (its own staff, collecting banks, councils) per tax type.
An authorised collector (role tax_collector) issues receipts; each credits
the tax type's revenue account in the funds ledger. The authority's own
collectors correct, refund or cancel a receipt with a new record that
points at it; the receipt itself is never changed.`,
	}
	register := &cobra.Command{
		Use:   "register-tax-type CODE NAME --revenue-agency AGENCY --period-kind year|quarter|month",
		Short: "Add a tax type owned by your tax authority (needs admin of a tax_authority agency)",
		Long: `CODE is upper-case A-Z, 0-9 and '_' (VAT, PAYE, COUNCIL_TAX). Collected tax
is credited to --revenue-agency's funds account (treasury for national
taxes, the council for council tax). Every receipt of the type names a
period of --period-kind: 2026, 2026-Q3 or 2026-09.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			revenue, _ := cmd.Flags().GetString("revenue-agency")
			kindName, _ := cmd.Flags().GetString("period-kind")
			kind, err := api.ParsePeriodKind(kindName)
			if err != nil {
				return err
			}
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_RegisterTaxType{RegisterTaxType: &taxv1.MsgRegisterTaxType{
				Code: args[0], Name: args[1], RevenueAgency: revenue, PeriodKind: kind}}})
		},
	}
	register.Flags().String("revenue-agency", "", "agency whose funds account is credited (required)")
	register.Flags().String("period-kind", "", "year, quarter or month (required)")
	_ = register.MarkFlagRequired("revenue-agency")
	_ = register.MarkFlagRequired("period-kind")

	authorise := &cobra.Command{
		Use:   "authorise-collector ADDRESS|KEYNAME TAX_TYPE",
		Short: "Let a collector account issue receipts of a tax type (needs admin of the type's tax authority)",
		Long:  "The account must already hold the tax_collector role in its own agency (granted by that agency's admin).",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			addr, err := resolveAddress(cmd, args[0])
			if err != nil {
				return err
			}
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_AuthoriseCollector{AuthoriseCollector: &taxv1.MsgAuthoriseCollector{Collector: addr, TaxType: args[1]}}})
		},
	}
	withdraw := &cobra.Command{
		Use:   "withdraw-collector ADDRESS|KEYNAME TAX_TYPE",
		Short: "End a collector's authorisation for a tax type; its new receipts are refused",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			addr, err := resolveAddress(cmd, args[0])
			if err != nil {
				return err
			}
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_WithdrawCollector{WithdrawCollector: &taxv1.MsgWithdrawCollector{Collector: addr, TaxType: args[1]}}})
		},
	}
	issue := &cobra.Command{
		Use:   "issue-receipt TAX_TYPE PAYER PERIOD AMOUNT BANK_REFERENCE --reference-key HEX",
		Short: "Receipt a tax payment (needs tax_collector and an authorisation for the type)",
		Long: `PAYER is the 64-hex payer commitment of the taxpayer for this tax type
and period ('tallyd query tax payer', or the reference on the taxpayer's
payment slip); the taxpayer reference itself never goes on chain. PERIOD is
2026, 2026-Q3 or 2026-09, of the type's kind. AMOUNT is in minor units
(pence). BANK_REFERENCE identifies the payment; only its commitment under
your agency's --reference-key (hex, kept off chain, the same for every
collector of your agency; or $TALLY_REFERENCE_KEY) is sent, and your agency
cannot receipt the same reference twice. The receipt id is in the
tax.receipt_issued event.`,
		Args: cobra.ExactArgs(5),
		RunE: func(cmd *cobra.Command, args []string) error {
			payer, err := parseTaxpayer(args[1])
			if err != nil {
				return err
			}
			amount, err := parseAmount(args[3])
			if err != nil {
				return err
			}
			refKey, err := referenceKey(cmd)
			if err != nil {
				return err
			}
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_IssueReceipt{IssueReceipt: &taxv1.MsgIssueReceipt{
				TaxType: args[0], Payer: payer, Period: args[2], Amount: amount, BankReference: client.BankReferenceCommitment(refKey, args[4])}}})
		},
	}
	issue.Flags().String("reference-key", "", "your agency's bank-reference key, hex (default $TALLY_REFERENCE_KEY)")
	correct := &cobra.Command{
		Use:   "correct-receipt RECEIPT_ID --reason CODE [--amount N] [--period P --payer HEX] [--payer HEX]",
		Short: "Correct a receipt's amount, period or taxpayer (needs a collector of the receipt's authority)",
		Long: "A higher amount is pending until a settling bank confirms it; a lower one takes back revenue already confirmed above it. A changed period or taxpayer needs --payer, " +
			"the payer commitment of the (right) taxpayer for the receipt's tax type and (new) period. Reasons: " + reasonHelp(),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			reason, err := reasonFlag(cmd)
			if err != nil {
				return err
			}
			m := &taxv1.MsgCorrectReceipt{ReceiptId: args[0], Reason: reason}
			if s, _ := cmd.Flags().GetString("amount"); s != "" {
				if m.Amount, err = parseAmount(s); err != nil {
					return err
				}
			}
			m.Period, _ = cmd.Flags().GetString("period")
			if s, _ := cmd.Flags().GetString("payer"); s != "" {
				if m.Payer, err = parseTaxpayer(s); err != nil {
					return err
				}
			}
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_CorrectReceipt{CorrectReceipt: m}})
		},
	}
	correct.Flags().String("amount", "", "corrected amount in minor units")
	correct.Flags().String("period", "", "corrected period")
	correct.Flags().String("payer", "", "payer commitment for the corrected taxpayer or period (64 hex characters)")
	refund := &cobra.Command{
		Use:   "refund-receipt RECEIPT_ID AMOUNT --reason CODE",
		Short: "Refund part or all of a receipt's net amount, debiting the revenue account for what was confirmed above the new net",
		Long:  "Reasons: " + reasonHelp(),
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			reason, err := reasonFlag(cmd)
			if err != nil {
				return err
			}
			amount, err := parseAmount(args[1])
			if err != nil {
				return err
			}
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_RefundReceipt{RefundReceipt: &taxv1.MsgRefundReceipt{ReceiptId: args[0], Reason: reason, Amount: amount}}})
		},
	}
	cancel := &cobra.Command{
		Use:   "cancel-receipt RECEIPT_ID --reason CODE",
		Short: "Cancel a receipt (issued in error, payment reversed); its confirmed revenue is debited",
		Long:  "A cancelled receipt cannot be amended again; its bank reference may be receipted anew. Reasons: " + reasonHelp(),
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			reason, err := reasonFlag(cmd)
			if err != nil {
				return err
			}
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_CancelReceipt{CancelReceipt: &taxv1.MsgCancelReceipt{ReceiptId: args[0], Reason: reason}}})
		},
	}
	for _, c := range []*cobra.Command{correct, refund, cancel} {
		c.Flags().String("reason", "", "reason code (required): "+reasonHelp())
		_ = c.MarkFlagRequired("reason")
	}
	confirm := &cobra.Command{
		Use:   "confirm-receipt RECEIPT_ID BANK_REFERENCE_COMMITMENT AMOUNT",
		Short: "Confirm, as a settling bank, that a receipt's payment settled: its pending revenue becomes spendable",
		Long: "A receipt credits nothing until a settling bank confirms it. The signer needs the settlement_bank role in an agency " +
			"holding the settlement_bank mandate, other than the receipt's authority and collecting agency. BANK_REFERENCE_COMMITMENT " +
			"is the receipt's bank-reference commitment (64 hex characters, as `tallyd query tax receipt` shows it); AMOUNT must be " +
			"exactly the receipt's pending amount (its net less what was confirmed before), in minor units.",
		Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := parseTaxpayer(args[1])
			if err != nil {
				return err
			}
			amount, err := parseAmount(args[2])
			if err != nil {
				return err
			}
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_ConfirmReceipt{ConfirmReceipt: &taxv1.MsgConfirmReceipt{ReceiptId: args[0], BankReference: ref, Amount: amount}}})
		},
	}
	for _, c := range []*cobra.Command{register, authorise, withdraw, issue, correct, refund, cancel, confirm} {
		addTxFlags(c)
		cmd.AddCommand(c)
	}
	return cmd
}

func parseTaxpayer(s string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != api.CommitmentSize {
		return nil, fmt.Errorf("%q must be %d bytes as %d hex characters (a pseudonymous reference or commitment, never an identifier)", s, api.CommitmentSize, 2*api.CommitmentSize)
	}
	return b, nil
}

// parseAmount reads a positive whole number of minor units. Negative and
// fractional amounts are refused here: on chain amounts are unsigned.
func parseAmount(s string) (uint64, error) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("amount %q must be a positive whole number of minor units (pence, cents), e.g. 1250 for £12.50", s)
	}
	return n, nil
}

func reasonFlag(cmd *cobra.Command) (taxv1.Reason, error) {
	s, _ := cmd.Flags().GetString("reason")
	return api.ParseTaxReason(s)
}

func reasonHelp() string {
	out := ""
	for i := int32(1); ; i++ {
		if _, ok := taxv1.Reason_name[i]; !ok {
			return out
		}
		if out != "" {
			out += ", "
		}
		out += api.TaxReasonName(taxv1.Reason(i))
	}
}

// referenceKey is the agency's key for committing references about people
// (bank references, payment references): --reference-key or
// $TALLY_REFERENCE_KEY, hex. Every collector or officer of one agency
// uses the same key, so the same reference commits to the same value.
func referenceKey(cmd *cobra.Command) ([]byte, error) {
	key, _ := cmd.Flags().GetString("reference-key")
	if key == "" {
		key = os.Getenv("TALLY_REFERENCE_KEY")
	}
	k, err := hex.DecodeString(key)
	if err != nil || len(k) < 16 {
		return nil, fmt.Errorf("give your agency's reference key (at least 16 bytes of hex) with --reference-key or $TALLY_REFERENCE_KEY; a reference about a person is sent only as a commitment under it")
	}
	return k, nil
}

// referenceCommitment is what goes on chain for a reference about a
// person: ref itself when it already is a commitment (64 lower-case hex
// characters), else its commitment under the agency's reference key.
func referenceCommitment(cmd *cobra.Command, ref string) (string, error) {
	if api.CheckPseudonym("reference", ref) == nil {
		return ref, nil
	}
	k, err := referenceKey(cmd)
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(client.BankReferenceCommitment(k, ref)), nil
}

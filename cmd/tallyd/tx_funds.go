package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	fundsv1 "github.com/tallyledger/tally/proto/tally/funds/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
)

func parseUintArg(what, s string) (uint64, error) {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v == 0 {
		return 0, fmt.Errorf("%s %q is not an id (a positive whole number)", what, s)
	}
	return v, nil
}

func txFundsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "funds",
		Short: "Public money: appropriate, allocate, fund, transfer, return, settle",
		Long: `Amounts are whole numbers of minor units (pence) in the ledger's currency
(--currency, default GBP). Holders are written agency:<agency id>,
programme:<programme id> or payee:<bank account token>.`,
	}
	currency := func(cmd *cobra.Command) string { c, _ := cmd.Flags().GetString("currency"); return c }
	reference := func(cmd *cobra.Command) string { r, _ := cmd.Flags().GetString("reference"); return r }

	appropriate := &cobra.Command{
		Use:   "appropriate REFERENCE AMOUNT",
		Short: "Create money in your Treasury's account against a supply-act line (needs treasury)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			amount, err := parseAmount(args[1])
			if err != nil {
				return err
			}
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_Appropriate{Appropriate: &fundsv1.MsgAppropriate{Reference: args[0], Amount: amount, Currency: currency(cmd)}}})
		},
	}
	allocate := &cobra.Command{
		Use:   "allocate AGENCY AMOUNT --reference REF",
		Short: "Move money from your Treasury's account to an agency (needs treasury)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			amount, err := parseAmount(args[1])
			if err != nil {
				return err
			}
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_Allocate{Allocate: &fundsv1.MsgAllocate{ToAgency: args[0], Amount: amount, Currency: currency(cmd), Reference: reference(cmd)}}})
		},
	}
	fund := &cobra.Command{
		Use:   "fund PROGRAMME AMOUNT --reference REF",
		Short: "Move money from your agency's account to a programme's fund (needs finance)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			amount, err := parseAmount(args[1])
			if err != nil {
				return err
			}
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_Fund{Fund: &fundsv1.MsgFund{Programme: args[0], Amount: amount, Currency: currency(cmd), Reference: reference(cmd)}}})
		},
	}
	transfer := &cobra.Command{
		Use:   "transfer FROM TO AMOUNT --purpose CODE --reference REF",
		Short: "Move money from a holder your agency controls to any holder (needs finance)",
		Args:  cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			amount, err := parseAmount(args[2])
			if err != nil {
				return err
			}
			purpose, _ := cmd.Flags().GetString("purpose")
			ref := reference(cmd)
			if strings.HasPrefix(args[0], "payee:") || strings.HasPrefix(args[1], "payee:") {
				// A payment to a person: only the reference's commitment goes on chain.
				if ref, err = referenceCommitment(cmd, ref); err != nil {
					return err
				}
			}
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_Transfer{Transfer: &fundsv1.MsgTransfer{From: args[0], To: args[1], Amount: amount, Currency: currency(cmd), Purpose: purpose, Reference: ref}}})
		},
	}
	transfer.Flags().String("purpose", "", "purpose code: A-Z, 0-9, '-', '_' (e.g. GRANT, SUPPLIER-PAYMENT)")
	ret := &cobra.Command{
		Use:   "return FROM TO AMOUNT --reference REF",
		Short: "Send unspent money back to the holder it came from (needs finance)",
		Long:  "Only tranches that came from TO are returned; a programme returns to its department, a department to the Treasury.",
		Args:  cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			amount, err := parseAmount(args[2])
			if err != nil {
				return err
			}
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_ReturnFunds{ReturnFunds: &fundsv1.MsgReturn{From: args[0], To: args[1], Amount: amount, Currency: currency(cmd), Reference: reference(cmd)}}})
		},
	}
	settle := &cobra.Command{
		Use:   "settle PAYMENT_MOVEMENT_ID BANK_REFERENCE",
		Short: "Confirm a payment reached the recipient's bank account; the money leaves the ledger (needs settlement_bank)",
		Long: `BANK_REFERENCE goes on chain only as its commitment under your bank's
--reference-key (or $TALLY_REFERENCE_KEY), since references carry names; a
64-hex commitment is sent as it is.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseUintArg("payment movement id", args[0])
			if err != nil {
				return err
			}
			ref, err := referenceCommitment(cmd, args[1])
			if err != nil {
				return err
			}
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_Settle{Settle: &fundsv1.MsgSettle{Payment: id, BankReference: ref}}})
		},
	}
	for _, c := range []*cobra.Command{appropriate, allocate, fund, transfer, ret, settle} {
		addTxFlags(c)
		if c != settle {
			c.Flags().String("currency", "GBP", "currency of the amount; must be the ledger's")
		}
		if c != appropriate && c != settle {
			c.Flags().String("reference", "", "reference kept with the movement (1-128 bytes; to or from a payee: only its commitment under --reference-key)")
		}
		if c == transfer || c == settle {
			c.Flags().String("reference-key", "", "your agency's reference key, hex (default $TALLY_REFERENCE_KEY), for references about a person")
		}
		cmd.AddCommand(c)
	}
	return cmd
}

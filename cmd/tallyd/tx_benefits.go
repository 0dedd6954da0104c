package main

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/tallyledger/tally/api"
	benefitsv1 "github.com/tallyledger/tally/proto/tally/benefits/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
)

// parseTime reads an RFC 3339 time or a Unix time in seconds.
func parseTime(what, s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return 0, fmt.Errorf("%s %q is neither RFC 3339 (2030-04-06T00:00:00Z) nor Unix seconds", what, s)
	}
	return t.Unix(), nil
}

func txBenefitsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "benefits",
		Short: "Benefit programmes: create, enrol, suspend, resume, end, pay, recover",
		Long: `A programme pays each active recipient its amount once per period of block
time, by itself, at the end of the block in which the period falls due.
Recipients are pseudonymous references; no personal data goes on chain.
Amounts are whole numbers of minor units (pence).`,
	}
	create := &cobra.Command{
		Use:   "create-programme ID --name NAME --amount PENCE --period 168h --start TIME --end TIME",
		Short: "Create a programme run by your agency, with its fund programme:ID (needs programme_manager)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			name, _ := f.GetString("name")
			amountS, _ := f.GetString("amount")
			amount, err := parseAmount(amountS)
			if err != nil {
				return err
			}
			period, _ := f.GetDuration("period")
			startS, _ := f.GetString("start")
			endS, _ := f.GetString("end")
			start, err := parseTime("--start", startS)
			if err != nil {
				return err
			}
			end, err := parseTime("--end", endS)
			if err != nil {
				return err
			}
			capS, _ := f.GetString("cap")
			var cap uint64
			if capS != "0" {
				if cap, err = parseAmount(capS); err != nil {
					return err
				}
			}
			enrol, _ := f.GetStringSlice("enrol-agencies")
			pay, _ := f.GetStringSlice("pay-agencies")
			currency, _ := f.GetString("currency")
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_CreateProgramme{CreateProgramme: &benefitsv1.MsgCreateProgramme{
				Id: args[0], Name: name, Amount: amount, Currency: currency, PeriodSeconds: int64(period / time.Second),
				StartUnix: start, EndUnix: end, RecipientCap: cap, EnrolAgencies: enrol, PayAgencies: pay}}})
		},
	}
	cf := create.Flags()
	cf.String("name", "", "the programme's name")
	cf.String("amount", "", "paid to each recipient every period, in minor units")
	cf.Duration("period", 7*24*time.Hour, "period length in block time (e.g. 168h, 30s)")
	cf.String("start", "", "when period 0 starts (RFC 3339 or Unix seconds)")
	cf.String("end", "", "no period starting at or after this is paid")
	cf.String("cap", "0", "most one recipient may be paid in total, in minor units (0: no cap)")
	cf.StringSlice("enrol-agencies", nil, "other agencies whose caseworkers may enrol (default: yours only)")
	cf.StringSlice("pay-agencies", nil, "other agencies whose payers may pay (default: yours only)")
	cf.String("currency", "GBP", "currency of the amounts")

	enrol := &cobra.Command{
		Use:   "enrol PROGRAMME RECIPIENT RECEIVING_ACCOUNT --evidence-hash HEX",
		Short: "Enrol a recipient (needs caseworker)",
		Long: `RECIPIENT is a pseudonymous reference (e.g. an HMAC of the national insurance
number under your agency's key); RECEIVING_ACCOUNT a pseudonymous token of the bank
account paid. --evidence-hash is the SHA-256 of the eligibility evidence you keep.`,
		Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			hs, _ := cmd.Flags().GetString("evidence-hash")
			h, err := hex.DecodeString(hs)
			if err != nil {
				return fmt.Errorf("--evidence-hash must be hex: %w", err)
			}
			startS, _ := cmd.Flags().GetString("start")
			start, err := parseTime("--start", startS)
			if err != nil {
				return err
			}
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_Enrol{Enrol: &benefitsv1.MsgEnrol{Programme: args[0], Recipient: args[1], ReceivingAccount: args[2], EvidenceHash: h, StartUnix: start}}})
		},
	}
	enrol.Flags().String("evidence-hash", "", "SHA-256 of the eligibility evidence, 64 hex characters")
	enrol.Flags().String("start", "", "first period paid starts at or after this (default: now)")

	enrolReason := func(cmd *cobra.Command) (benefitsv1.EnrolmentReason, error) {
		r, _ := cmd.Flags().GetString("reason")
		return api.ParseReasonCode[benefitsv1.EnrolmentReason](r, api.EnrolmentReasonPrefix)
	}
	suspend := &cobra.Command{
		Use: "suspend PROGRAMME RECIPIENT --reason CODE", Short: "Stop payments to a recipient until resumed (needs caseworker)", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			code, err := enrolReason(cmd)
			if err != nil {
				return err
			}
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_SuspendEnrolment{SuspendEnrolment: &benefitsv1.MsgSuspendEnrolment{Programme: args[0], Recipient: args[1], ReasonCode: code}}})
		},
	}
	resume := &cobra.Command{
		Use: "resume PROGRAMME RECIPIENT", Short: "Restart payments from the next period (needs caseworker)", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_ResumeEnrolment{ResumeEnrolment: &benefitsv1.MsgResumeEnrolment{Programme: args[0], Recipient: args[1]}}})
		},
	}
	end := &cobra.Command{
		Use: "end PROGRAMME RECIPIENT --reason CODE", Short: "End an enrolment for good (needs caseworker)", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			code, err := enrolReason(cmd)
			if err != nil {
				return err
			}
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_EndEnrolment{EndEnrolment: &benefitsv1.MsgEndEnrolment{Programme: args[0], Recipient: args[1], ReasonCode: code}}})
		},
	}
	pay := &cobra.Command{
		Use: "pay PROGRAMME RECIPIENT AMOUNT --reference REF", Short: "Make a one-off payment to an enrolled recipient (needs payer)", Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			amount, err := parseAmount(args[2])
			if err != nil {
				return err
			}
			ref, _ := cmd.Flags().GetString("reference")
			if ref, err = referenceCommitment(cmd, ref); err != nil {
				return err
			}
			currency, _ := cmd.Flags().GetString("currency")
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_Pay{Pay: &benefitsv1.MsgPay{Programme: args[0], Recipient: args[1], Amount: amount, Currency: currency, Reference: ref}}})
		},
	}
	pay.Flags().String("reference", "", "the payment's reference; only its commitment under --reference-key goes on chain")
	recovery := &cobra.Command{
		Use: "open-recovery PAYMENT_ID AMOUNT --reason CODE", Short: "Record an overpayment within a payment, to recover from later payments or by repayment (needs payer)", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseUintArg("payment id", args[0])
			if err != nil {
				return err
			}
			amount, err := parseAmount(args[1])
			if err != nil {
				return err
			}
			currency, _ := cmd.Flags().GetString("currency")
			r, _ := cmd.Flags().GetString("reason")
			code, err := api.ParseReasonCode[benefitsv1.RecoveryReason](r, api.RecoveryReasonPrefix)
			if err != nil {
				return err
			}
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_OpenRecovery{OpenRecovery: &benefitsv1.MsgOpenRecovery{Payment: id, Amount: amount, Currency: currency, ReasonCode: code}}})
		},
	}
	repay := &cobra.Command{
		Use: "record-repayment RECOVERY_ID AMOUNT BANK_REFERENCE", Short: "Record money a recipient repaid into the programme's account (needs settlement_bank)", Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseUintArg("recovery id", args[0])
			if err != nil {
				return err
			}
			amount, err := parseAmount(args[1])
			if err != nil {
				return err
			}
			currency, _ := cmd.Flags().GetString("currency")
			ref, err := referenceCommitment(cmd, args[2])
			if err != nil {
				return err
			}
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_RecordRepayment{RecordRepayment: &benefitsv1.MsgRecordRepayment{Recovery: id, Amount: amount, Currency: currency, BankReference: ref}}})
		},
	}
	for _, c := range []*cobra.Command{suspend, end} {
		c.Flags().String("reason", "", "reason code (required): "+api.EnumNames(benefitsv1.EnrolmentReason(0), api.EnrolmentReasonPrefix))
	}
	recovery.Flags().String("reason", "", "reason code (required): "+api.EnumNames(benefitsv1.RecoveryReason(0), api.RecoveryReasonPrefix))
	for _, c := range []*cobra.Command{pay, repay} {
		c.Flags().String("reference-key", "", "your agency's reference key, hex (default $TALLY_REFERENCE_KEY); the reference goes on chain only as a commitment under it")
	}
	for _, c := range []*cobra.Command{pay, recovery, repay} {
		c.Flags().String("currency", "GBP", "currency of the amount")
	}
	for _, c := range []*cobra.Command{create, enrol, suspend, resume, end, pay, recovery, repay} {
		addTxFlags(c)
		cmd.AddCommand(c)
	}
	return cmd
}

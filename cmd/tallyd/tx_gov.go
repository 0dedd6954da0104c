package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/api/keyproof"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
)

func txGovCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "gov",
		Short: "Propose and vote on changes no single agency may make alone (admins only)",
		Long: `Governance among agencies: one vote per active agency, cast by one of its
admin accounts. A proposal passes when more than gov.pass_threshold of the
active agencies vote yes and gov.quorum of them vote at all; it executes at
the end of that block. It is rejected when gov.voting_period_seconds pass
without that. See 'tallyd query gov registry' for the parameters.

Consensus keys are the base64 "value" of pub_key in a node's
config/priv_validator_key.json (or 64 hex characters).`,
	}
	propose := func(use, short string, args cobra.PositionalArgs, build func(cmd *cobra.Command, args []string) (*govv1.Content, error)) *cobra.Command {
		c := &cobra.Command{Use: use, Short: short, Args: args, RunE: func(cmd *cobra.Command, args []string) error {
			content, err := build(cmd, args)
			if err != nil {
				return err
			}
			title, _ := cmd.Flags().GetString("title")
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_SubmitProposal{SubmitProposal: &govv1.MsgSubmitProposal{Content: content, Title: title}}})
		}}
		c.Flags().String("title", "", "a short title for the proposal")
		return c
	}
	addVal := propose("add-validator CONSENSUS_KEY POWER AGENCY", "Propose adding a validator operated by AGENCY", cobra.ExactArgs(3),
		func(cmd *cobra.Command, args []string) (*govv1.Content, error) {
			pk, err := parseConsensusKey(args[0])
			if err != nil {
				return nil, err
			}
			power, err := strconv.ParseInt(args[1], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("power %q is not a whole number", args[1])
			}
			addr, _ := cmd.Flags().GetString("node-address")
			chainID, err := proposalChainID(cmd)
			if err != nil {
				return nil, err
			}
			proof, err := validatorKeyProof(cmd, pk, chainID, args[2], keyproof.AddValidator)
			if err != nil {
				return nil, err
			}
			return &govv1.Content{Sum: &govv1.Content_AddValidator{AddValidator: &govv1.AddValidator{PubKey: pk, Power: power, AgencyId: args[2], NodeAddress: addr, KeyProof: proof}}}, nil
		})
	addVal.Flags().String("node-address", "", "where peers reach the node: <node id>@host:port")
	addValidatorKeyFlags(addVal)
	setPower := propose("set-power CONSENSUS_KEY POWER", "Propose re-weighting a validator", cobra.ExactArgs(2),
		func(cmd *cobra.Command, args []string) (*govv1.Content, error) {
			pk, err := parseConsensusKey(args[0])
			if err != nil {
				return nil, err
			}
			power, err := strconv.ParseInt(args[1], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("power %q is not a whole number", args[1])
			}
			return &govv1.Content{Sum: &govv1.Content_SetValidatorPower{SetValidatorPower: &govv1.SetValidatorPower{PubKey: pk, Power: power}}}, nil
		})
	removeVal := propose("remove-validator CONSENSUS_KEY", "Propose taking a validator out of the set", cobra.ExactArgs(1),
		func(cmd *cobra.Command, args []string) (*govv1.Content, error) {
			pk, err := parseConsensusKey(args[0])
			if err != nil {
				return nil, err
			}
			return &govv1.Content{Sum: &govv1.Content_RemoveValidator{RemoveValidator: &govv1.RemoveValidator{PubKey: pk}}}, nil
		})
	rotate := propose("rotate-validator-key OLD_KEY NEW_KEY", "Propose replacing a validator's consensus key in one step", cobra.ExactArgs(2),
		func(cmd *cobra.Command, args []string) (*govv1.Content, error) {
			old, err := parseConsensusKey(args[0])
			if err != nil {
				return nil, err
			}
			nw, err := parseConsensusKey(args[1])
			if err != nil {
				return nil, err
			}
			chainID, err := proposalChainID(cmd)
			if err != nil {
				return nil, err
			}
			operator, err := validatorOperator(cmd, old)
			if err != nil {
				return nil, err
			}
			proof, err := validatorKeyProof(cmd, nw, chainID, operator, keyproof.RotateValidator)
			if err != nil {
				return nil, err
			}
			return &govv1.Content{Sum: &govv1.Content_RotateValidatorKey{RotateValidatorKey: &govv1.RotateValidatorKey{OldPubKey: old, NewPubKey: nw, KeyProof: proof}}}, nil
		})
	addValidatorKeyFlags(rotate)
	admit := propose("admit-agency ID NAME KIND ADMIN_PUBKEY|KEYNAME", "Propose admitting a new agency with its first admin account", cobra.ExactArgs(4),
		func(cmd *cobra.Command, args []string) (*govv1.Content, error) {
			kind, err := api.ParseAgencyKind(args[2])
			if err != nil {
				return nil, err
			}
			pub, err := resolvePubKey(cmd, args[3])
			if err != nil {
				return nil, err
			}
			chainID, err := proposalChainID(cmd)
			if err != nil {
				return nil, err
			}
			proof, err := keyProof(cmd, pub, chainID, args[0], api.AddressOf(pub), keyproof.AdmitAgency)
			if err != nil {
				return nil, err
			}
			return &govv1.Content{Sum: &govv1.Content_AdmitAgency{AdmitAgency: &govv1.AdmitAgency{AgencyId: args[0], Name: args[1], Kind: kind, AdminPubKey: pub, AdminKeyProof: proof}}}, nil
		})
	addKeyProofFlag(admit)
	status := func(use, short string, s agencyv1.Status) *cobra.Command {
		c := propose(use+" AGENCY", short, cobra.ExactArgs(1), func(cmd *cobra.Command, args []string) (*govv1.Content, error) {
			reason, _ := cmd.Flags().GetString("reason")
			return &govv1.Content{Sum: &govv1.Content_SetAgencyStatus{SetAgencyStatus: &govv1.SetAgencyStatus{AgencyId: args[0], Status: s, Reason: reason}}}, nil
		})
		c.Flags().String("reason", "", "why (kept on chain)")
		return c
	}
	grant := propose("grant-mandate AGENCY MANDATE --legal-basis TEXT [--scope TEXT] [--ceiling N] [--until RFC3339]", "Propose giving an agency a mandate (treasury, tax_authority, regulator, settlement_bank, benefits_payer, statistics, revenue)", cobra.ExactArgs(2),
		func(cmd *cobra.Command, args []string) (*govv1.Content, error) {
			m, err := api.ParseMandate(args[1])
			if err != nil {
				return nil, err
			}
			basis, _ := cmd.Flags().GetString("legal-basis")
			var until int64
			if s, _ := cmd.Flags().GetString("until"); s != "" {
				t, err := time.Parse(time.RFC3339, s)
				if err != nil {
					return nil, fmt.Errorf("--until %q is not an RFC 3339 time such as 2031-04-05T00:00:00Z", s)
				}
				until = t.Unix()
			}
			scope, _ := cmd.Flags().GetString("scope")
			var ceiling uint64
			if s, _ := cmd.Flags().GetString("ceiling"); s != "" {
				if ceiling, err = parseAmount(s); err != nil {
					return nil, fmt.Errorf("--ceiling: %w", err)
				}
			}
			return &govv1.Content{Sum: &govv1.Content_GrantMandate{GrantMandate: &govv1.GrantMandate{AgencyId: args[0], Mandate: m, UntilUnix: until, LegalBasis: basis,
				Scope: scope, Ceiling: ceiling}}}, nil
		})
	grant.Flags().String("legal-basis", "", "the law or instrument the mandate rests on (required)")
	grant.Flags().String("until", "", "when the mandate lapses, RFC 3339 (default: no end)")
	grant.Flags().String("scope", "", "what the mandate covers, e.g. \"main estimates 2030-31\"")
	grant.Flags().String("ceiling", "", "most money the agency may create or move under it, in minor units, cumulatively (required for treasury; default: no cap)")
	withdraw := propose("withdraw-mandate AGENCY MANDATE", "Propose ending an agency's mandate", cobra.ExactArgs(2),
		func(cmd *cobra.Command, args []string) (*govv1.Content, error) {
			m, err := api.ParseMandate(args[1])
			if err != nil {
				return nil, err
			}
			reason, _ := cmd.Flags().GetString("reason")
			return &govv1.Content{Sum: &govv1.Content_WithdrawMandate{WithdrawMandate: &govv1.WithdrawMandate{AgencyId: args[0], Mandate: m, Reason: reason}}}, nil
		})
	withdraw.Flags().String("reason", "", "why (kept on chain)")
	param := propose("change-param NAME VALUE", "Propose changing a parameter (list them with 'tallyd query gov registry')", cobra.ExactArgs(2),
		func(cmd *cobra.Command, args []string) (*govv1.Content, error) {
			return &govv1.Content{Sum: &govv1.Content_ChangeParam{ChangeParam: &govv1.ChangeParam{Name: args[0], Value: args[1]}}}, nil
		})
	upgrade := propose("schedule-upgrade NAME HEIGHT", "Propose a software upgrade at HEIGHT (see the README's upgrade steps)", cobra.ExactArgs(2),
		func(cmd *cobra.Command, args []string) (*govv1.Content, error) {
			h, err := strconv.ParseInt(args[1], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("height %q is not a whole number", args[1])
			}
			notes, _ := cmd.Flags().GetString("notes")
			return &govv1.Content{Sum: &govv1.Content_ScheduleUpgrade{ScheduleUpgrade: &govv1.ScheduleUpgrade{Name: args[0], Height: h, Notes: notes}}}, nil
		})
	upgrade.Flags().String("notes", "", "what operators need to know: release, checksums, where to get the binary")
	vote := &cobra.Command{
		Use:   "vote PROPOSAL_ID yes|no|abstain",
		Short: "Cast your agency's vote; votes are final",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil {
				return fmt.Errorf("proposal id %q is not a whole number", args[0])
			}
			o, err := api.ParseVoteOption(args[1])
			if err != nil {
				return err
			}
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_Vote{Vote: &govv1.MsgVote{ProposalId: id, Option: o}}})
		},
	}
	for _, c := range []*cobra.Command{addVal, setPower, removeVal, rotate, admit,
		status("suspend-agency", "Propose suspending an agency: its accounts cannot sign and it does not vote", agencyv1.Status_STATUS_SUSPENDED),
		status("reinstate-agency", "Propose reinstating a suspended agency", agencyv1.Status_STATUS_ACTIVE),
		status("remove-agency", "Propose removing an agency for good (it must operate no validator)", agencyv1.Status_STATUS_REMOVED),
		grant, withdraw, param, upgrade, vote} {
		addTxFlags(c)
		cmd.AddCommand(c)
	}
	return cmd
}

// parseConsensusKey reads a 32-byte ed25519 consensus key in base64 or hex.
func parseConsensusKey(s string) ([]byte, error) {
	if b, err := base64.StdEncoding.DecodeString(s); err == nil && len(b) == api.ConsensusKeySize {
		return b, nil
	}
	if b, err := hex.DecodeString(s); err == nil && len(b) == api.ConsensusKeySize {
		return b, nil
	}
	return nil, fmt.Errorf("%q is not an ed25519 consensus key: give the base64 pub_key value from priv_validator_key.json or 64 hex characters", s)
}

// addValidatorKeyFlags adds the ways to give a consensus key's proof of
// possession.
func addValidatorKeyFlags(cmd *cobra.Command) {
	cmd.Flags().String("validator-key", "", "the new key's priv_validator_key.json, to sign its proof of possession here")
	cmd.Flags().String("key-proof", "", "the new key's proof of possession, base64 (from 'tallyd keys prove-validator' run by the node's operator)")
}

// validatorOperator asks the node which agency operates the validator pub.
func validatorOperator(cmd *cobra.Command, pub []byte) (string, error) {
	c, err := dialNode(cmd)
	if err != nil {
		return "", err
	}
	list, _, err := c.ListAll(cmd.Context(), api.PathGovValidators, nil, 0, false)
	if err != nil {
		return "", err
	}
	for _, e := range list.Entries {
		v := &govv1.Validator{}
		if err := proto.Unmarshal(e.Value, v); err != nil {
			return "", err
		}
		if bytes.Equal(v.PubKey, pub) {
			return v.AgencyId, nil
		}
	}
	return "", fmt.Errorf("%X is not a validator's consensus key ('tallyd query gov validators' lists them)", pub)
}

package main

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/client"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
)

func queryTaxCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tax",
		Short: "Tax receipts, clearance statements, the tax-type registry and collection totals",
		Long: `With --prove every record in an answer is checked against the app hash, and
absence is proven too. A receipt answer carries the receipt, its derived
state and every amendment; tallyd re-derives the state from the records. A
clearance statement is built from a grant the taxpayer hands out (grant):
only the granted periods' proven totals, whose keys tallyd computes itself
from the grant, so no granted period can be hidden and no other can be read.`,
	}
	receipt := &cobra.Command{
		Use:   "receipt RECEIPT_ID",
		Short: "Show a receipt, its current status and net amount, and its amendments (or prove it does not exist)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if done, err := compositeVerified(cmd, api.PathTaxReceipt, args); done {
				return err
			}
			list, height, root, err := queryProvedList(cmd, api.PathTaxReceipt, []byte(args[0]))
			if err != nil {
				return err
			}
			if err := checkEntries(list, root); err != nil {
				return err
			}
			ans, err := api.DecodeReceipt(args[0], list)
			if err != nil {
				return err
			}
			out := map[string]any{"found": ans.Found, "height": height}
			if root != nil {
				out["verified_against"] = listProofJSON(height, root, map[bool]string{true: "receipt, state and every amendment proven; state re-derived from them", false: "absence proven"}[ans.Found])
			}
			if !ans.Found {
				_ = printJSON(out)
				return fmt.Errorf("no receipt %s at height %d", args[0], height)
			}
			out["receipt"] = protoJSON(ans.Receipt)
			out["state"] = protoJSON(ans.State)
			amendments := []any{}
			for _, a := range ans.Amendments {
				amendments = append(amendments, protoJSON(a))
			}
			out["amendments"] = amendments
			return printJSON(out)
		},
	}
	clearance := &cobra.Command{
		Use:   "clearance GRANT",
		Short: "A clearance statement from a taxpayer's grant: their receipts of a tax type over the granted periods, net total, as of a height",
		Long: `GRANT is the token a taxpayer hands you (they make it with
'tallyd query tax grant'). Prints "taxpayer R has receipts for tax type T
covering periods A to B, net total S, as of height H" (or which periods have
no receipt), built from the running total of each granted period. You
learn those totals and nothing else of the taxpayer's records: the grant
opens only its own periods, and the node is sent only the per-period
commitments, never the taxpayer reference. Use --prove or --verify.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if done, err := compositeVerified(cmd, api.PathTaxClearance, args); done {
				return err
			}
			g, req, err := parseGrant(args[0])
			if err != nil {
				return err
			}
			data, err := proto.Marshal(req)
			if err != nil {
				return err
			}
			list, height, root, err := queryProvedList(cmd, api.PathTaxClearance, data)
			if err != nil {
				return err
			}
			if err := checkEntries(list, root); err != nil {
				return err
			}
			s, err := api.DecodeClearance(req, height, list)
			if err != nil {
				return err
			}
			s.Taxpayer = hex.EncodeToString(g.Taxpayer)
			out := map[string]any{"statement": s.String(), "clearance": s}
			if root != nil {
				out["verified_against"] = listProofJSON(height, root, "tax type and every period's total proven (absent totals by proofs of absence)")
			}
			return printJSON(out)
		},
	}
	grant := &cobra.Command{
		Use:   "grant TAXPAYER CLEARANCE_SECRET TAX_TYPE FROM_PERIOD TO_PERIOD",
		Short: "(offline, for a taxpayer) Make a clearance grant showing one tax type over chosen periods, and nothing else",
		Long: `TAXPAYER is your 64-hex taxpayer reference and CLEARANCE_SECRET the
secret your tax authority gave you with it (hex); neither is sent anywhere.
Prints a token to hand a relying party (a landlord, a lender), who runs
'tallyd query tax clearance TOKEN --verify'. The token holds your reference
and one salt per period from FROM_PERIOD to TO_PERIOD: with it the party can
read the proven totals of exactly those periods of TAX_TYPE. It cannot
derive the commitments of any other period or tax type, so it cannot find
your other receipts, even with a copy of the whole chain state.`,
		Args: cobra.ExactArgs(5),
		RunE: func(cmd *cobra.Command, args []string) error {
			payer, err := parseTaxpayer(args[0])
			if err != nil {
				return err
			}
			secret, err := hex.DecodeString(args[1])
			if err != nil {
				return fmt.Errorf("the clearance secret is hex: %w", err)
			}
			g, err := client.NewClearanceGrant(payer, secret, args[2], args[3], args[4])
			if err != nil {
				return err
			}
			tok, err := client.EncodeGrant(g)
			if err != nil {
				return err
			}
			fmt.Println(tok)
			return nil
		},
	}
	payerCmd := &cobra.Command{
		Use:   "payer TAXPAYER CLEARANCE_SECRET TAX_TYPE PERIOD",
		Short: "(offline, for an authority or collector) The payer commitment a receipt of this taxpayer, type and period is filed under",
		Long: `Prints the 64-hex payer commitment to pass to 'tallyd tx tax
issue-receipt'. Every (tax type, period) has a different one, so receipts
of one taxpayer cannot be linked across periods on the chain.`,
		Args: cobra.ExactArgs(4),
		RunE: func(cmd *cobra.Command, args []string) error {
			payer, err := parseTaxpayer(args[0])
			if err != nil {
				return err
			}
			secret, err := hex.DecodeString(args[1])
			if err != nil || len(secret) < 16 {
				return fmt.Errorf("the clearance secret is at least 16 bytes of hex")
			}
			if err := api.CheckTaxTypeCode(args[2]); err != nil {
				return err
			}
			if _, err := api.ParsePeriod(args[3]); err != nil {
				return err
			}
			fmt.Println(hex.EncodeToString(client.PayerCommitmentFromSecret(payer, secret, args[2], args[3])))
			return nil
		},
	}
	taxType := &cobra.Command{
		Use:   "tax-type CODE",
		Short: "Show a tax type: owning authority, revenue agency, period kind",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return queryRecord(cmd, api.PathTaxType, []byte(args[0]), &taxv1.TaxType{}, func(m proto.Message) any { return protoJSON(m.(*taxv1.TaxType)) })
		},
	}
	taxTypes := &cobra.Command{
		Use:   "tax-types",
		Short: "List the tax-type registry",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			list, height, root, err := queryProvedList(cmd, api.PathTaxTypes, nil)
			if err != nil {
				return err
			}
			out := []any{}
			check := entryCheck(root)
			for _, e := range list.Entries {
				if check != nil {
					if err := check(e); err != nil {
						return err
					}
				}
				t := &taxv1.TaxType{}
				if err := proto.Unmarshal(e.Value, t); err != nil {
					return err
				}
				out = append(out, protoJSON(t))
			}
			return printJSON(map[string]any{"height": height, "tax_types": out, "proven": root != nil})
		},
	}
	total := &cobra.Command{
		Use:   "total TAX_TYPE PERIOD [--collector ADDRESS|KEYNAME]",
		Short: "Collected, refunded and net totals of a tax type in a period, over all collectors or one",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &taxv1.TotalRequest{TaxType: args[0], Period: args[1]}
			if s, _ := cmd.Flags().GetString("collector"); s != "" {
				addr, err := resolveAddress(cmd, s)
				if err != nil {
					return err
				}
				req.Collector = addr
			}
			data, err := proto.Marshal(req)
			if err != nil {
				return err
			}
			return queryRecord(cmd, api.PathTaxTotal, data, &taxv1.Total{}, func(m proto.Message) any { return protoJSON(m) })
		},
	}
	total.Flags().String("collector", "", "only this collector's receipts")
	addKeyringFlags(total)
	authorisation := &cobra.Command{
		Use:   "authorisation ADDRESS|KEYNAME TAX_TYPE",
		Short: "Show a collector's authorisation for a tax type",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			addr, err := resolveAddress(cmd, args[0])
			if err != nil {
				return err
			}
			return queryRecord(cmd, api.PathTaxAuthorisation, append(addr, args[1]...), &taxv1.Authorisation{}, func(m proto.Message) any { return protoJSON(m) })
		},
	}
	addKeyringFlags(authorisation)
	for _, c := range []*cobra.Command{receipt, clearance, taxType, taxTypes, total, authorisation} {
		addQueryFlags(c)
		cmd.AddCommand(c)
	}
	cmd.AddCommand(grant, payerCmd)
	return cmd
}

// queryProvedList reads a ProvedList answer; with --prove it also returns
// the app hash (checked header) its entries must verify against.
func queryProvedList(cmd *cobra.Command, path string, data []byte) (*appv1.ProvedList, int64, []byte, error) {
	c, err := dialNode(cmd)
	if err != nil {
		return nil, 0, nil, err
	}
	height, _ := cmd.Flags().GetInt64("height")
	prove, _ := cmd.Flags().GetBool("prove")
	list, height, err := c.ListAll(cmd.Context(), path, data, height, prove) // every page, at one height
	if err != nil {
		return nil, 0, nil, err
	}
	var root []byte
	if prove {
		if root, err = c.AppHashAfter(cmd.Context(), height); err != nil {
			return nil, 0, nil, err
		}
	}
	return list, height, root, nil
}

// entryCheck verifies entries against root; nil root checks nothing.
func entryCheck(root []byte) func(*appv1.ProvedEntry) error {
	if root == nil {
		return nil
	}
	return func(e *appv1.ProvedEntry) error { return client.ProvenValue(root, e.Key, e.Value, e.Proof) }
}

// checkEntries checks every entry of list, present or absent, against
// root; a nil root (no --prove) checks nothing.
func checkEntries(list *appv1.ProvedList, root []byte) error {
	check := entryCheck(root)
	for _, e := range list.Entries {
		if check == nil {
			break
		}
		if err := check(e); err != nil {
			return fmt.Errorf("entry %x: %w", e.Key, err)
		}
	}
	return nil
}

func listProofJSON(height int64, root []byte, what string) map[string]any {
	return map[string]any{"state_height": height, "app_hash_header": height + 1, "app_hash": strings.ToUpper(hex.EncodeToString(root)),
		"proofs": what, "header_commit": "checked against the validator set reported by the queried node"}
}

// parseGrant reads a clearance grant token and the request it yields.
func parseGrant(token string) (*taxv1.ClearanceGrant, *taxv1.ClearanceRequest, error) {
	g, err := client.DecodeGrant(token)
	if err != nil {
		return nil, nil, err
	}
	req, err := client.ClearanceRequestOf(g)
	if err != nil {
		return nil, nil, fmt.Errorf("clearance grant: %w", err)
	}
	return g, req, nil
}

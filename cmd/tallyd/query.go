package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/client"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
)

func queryCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "query",
		Short: "Read committed state from a node, as JSON",
		Long: `Each query reads state at --height (default: latest) from --node.

With --prove the node returns an ICS23 Merkle proof of the answer (or of
its absence), and tallyd checks it against the app hash in the header of
the next block, after checking that header's commit against the validator
set the node reports. Without a light client this still trusts that node
for the validator set; 'verified_against' in the output says what was
checked. With --verify a light client checks the header too, from a trust
root and against --witnesses: see 'tallyd verify --help'.`,
		Aliases: []string{"q"},
	}
	ag := &cobra.Command{Use: "agency", Short: "Agencies, accounts and members"}
	account := &cobra.Command{
		Use:   "account ADDRESS|KEYNAME",
		Short: "Show an account: agency, roles, status, key",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			addr, err := resolveAddress(cmd, args[0])
			if err != nil {
				return err
			}
			return queryRecord(cmd, api.PathAccount, addr, &agencyv1.Account{}, func(m proto.Message) any { return protoJSON(m.(*agencyv1.Account)) })
		},
	}
	addKeyringFlags(account)
	agencyQ := &cobra.Command{
		Use:   "agency ID",
		Short: "Show an agency: name, kind, status, member and admin counts",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return queryRecord(cmd, api.PathAgency, []byte(args[0]), &agencyv1.Agency{}, func(m proto.Message) any { return protoJSON(m.(*agencyv1.Agency)) })
		},
	}
	members := &cobra.Command{
		Use:   "members ID",
		Short: "List an agency's member accounts (each proven with --prove)",
		Args:  cobra.ExactArgs(1),
		RunE:  queryMembers,
	}
	params := &cobra.Command{
		Use:   "params",
		Short: "Show the chain's transaction parameters",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return queryRecord(cmd, api.PathParams, nil, &appv1.Params{}, func(m proto.Message) any { return protoJSON(m) })
		},
	}
	for _, c := range []*cobra.Command{account, agencyQ, members} {
		addQueryFlags(c)
		ag.AddCommand(c)
	}
	addQueryFlags(params)
	cmd.AddCommand(ag, params)
	cmd.AddCommand(queryFundsCmd())
	cmd.AddCommand(queryBenefitsCmd())
	cmd.AddCommand(queryTaxCmd())
	cmd.AddCommand(queryProvenanceCmd())
	cmd.AddCommand(queryGovCmd())
	cmd.AddCommand(queryAllInvariantsCmd())
	cmd.AddCommand(queryTxCmd())
	return cmd
}

func addQueryFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.String("node", defaultNode, "RPC address of any node")
	f.Int64("height", 0, "state height to read (default: latest)")
	f.Bool("prove", false, "check the answer's Merkle proof against the block header's app hash")
	f.Bool("verify", false, "check the answer with a light client: proof against a header verified from a trust root and compared with --witnesses (see 'tallyd verify --help')")
	addLightFlags(f)
}

// queryRecord reads one record and prints it with what it was checked against.
func queryRecord(cmd *cobra.Command, path string, data []byte, into proto.Message, view func(proto.Message) any) error {
	if verify, _ := cmd.Flags().GetBool("verify"); verify {
		return queryVerified(cmd, path, data, into, view)
	}
	c, err := dialNode(cmd)
	if err != nil {
		return err
	}
	height, _ := cmd.Flags().GetInt64("height")
	prove, _ := cmd.Flags().GetBool("prove")
	res, proven, err := c.Query(cmd.Context(), path, data, height, prove)
	if errors.Is(err, client.ErrNotFound) {
		out := map[string]any{"found": false, "height": res.Height}
		if proven != nil {
			out["verified_against"] = provenJSON(proven, "absence")
		}
		_ = printJSON(out)
		return fmt.Errorf("not found at height %d", res.Height)
	}
	if err != nil {
		return err
	}
	if err := proto.Unmarshal(res.Value, into); err != nil {
		return fmt.Errorf("decoding answer: %w", err)
	}
	out := map[string]any{"found": true, "height": res.Height, "record": view(into)}
	if proven != nil {
		out["verified_against"] = provenJSON(proven, "existence")
	}
	return printJSON(out)
}

func queryMembers(cmd *cobra.Command, args []string) error {
	if verify, _ := cmd.Flags().GetBool("verify"); verify {
		return queryMembersVerified(cmd, args[0])
	}
	c, err := dialNode(cmd)
	if err != nil {
		return err
	}
	height, _ := cmd.Flags().GetInt64("height")
	prove, _ := cmd.Flags().GetBool("prove")
	list, height, err := c.ListAll(cmd.Context(), api.PathMembers, []byte(args[0]), height, prove) // every page
	if err != nil {
		return err
	}
	res := struct{ Height int64 }{height}
	var root []byte
	if prove {
		if root, err = c.AppHashAfter(cmd.Context(), res.Height); err != nil {
			return err
		}
	}
	members := []any{}
	for _, e := range list.Entries {
		if prove {
			if err := client.ProvenValue(root, e.Key, e.Value, e.Proof); err != nil {
				return fmt.Errorf("member %x: %w", e.Key, err)
			}
		}
		acc := &agencyv1.Account{}
		if err := proto.Unmarshal(e.Value, acc); err != nil {
			return err
		}
		members = append(members, protoJSON(acc))
	}
	out := map[string]any{"agency": args[0], "height": res.Height, "members": members, "complete": list.Complete}
	if prove {
		out["verified_against"] = map[string]any{"height": res.Height, "app_hash_header": res.Height + 1, "app_hash": strings.ToUpper(hex.EncodeToString(root)), "proofs": "each member record proven"}
	}
	return printJSON(out)
}

func provenJSON(p *client.Proven, kind string) map[string]any {
	return map[string]any{
		"proof":           kind,
		"state_height":    p.Height,
		"app_hash_header": p.Height + 1,
		"app_hash":        strings.ToUpper(hex.EncodeToString(p.AppHash)),
		"header_commit":   "checked against the validator set reported by the queried node",
	}
}

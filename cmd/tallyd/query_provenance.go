package main

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	provenancev1 "github.com/tallyledger/tally/proto/tally/provenance/v1"
)

func queryProvenanceCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "provenance",
		Short: "Items, their history, lineage, custody, attestations, offers and recalls",
		Long: `With --prove every record in an answer is checked against the app hash of a
header whose commit is checked. A history answer starts with the item,
whose event count shows that no event is missing; a lineage answer's items
each name their parents and children. List answers hold up to 1000
records; tallyd follows next_key to read them all.`,
	}
	single := func(use, short, path string, into func() proto.Message, data func(cmd *cobra.Command, arg string) ([]byte, error)) *cobra.Command {
		c := &cobra.Command{
			Use: use, Short: short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				d, err := data(cmd, args[0])
				if err != nil {
					return err
				}
				return queryRecord(cmd, path, d, into(), func(m proto.Message) any { return protoJSON(m) })
			},
		}
		addKeyringFlags(c)
		return c
	}
	raw := func(_ *cobra.Command, s string) ([]byte, error) { return []byte(s), nil }
	address := func(cmd *cobra.Command, s string) ([]byte, error) { return resolveAddress(cmd, s) }
	item := single("item ITEM_ID", "Show an item: product, quantity, custodian, status, lineage links, recall, description", api.PathProvenanceItem,
		func() proto.Message { return &provenancev1.Item{} }, raw)
	item.RunE = func(cmd *cobra.Command, args []string) error {
		return queryRecord(cmd, api.PathProvenanceItem, []byte(args[0]), &provenancev1.Item{}, func(m proto.Message) any {
			return itemJSON(cmd, m.(*provenancev1.Item))
		})
	}
	offer := single("offer ITEM_ID", "Show an item's latest custody offer", api.PathProvenanceOffer,
		func() proto.Message { return &provenancev1.Offer{} }, raw)
	accreditation := single("accreditation ADDRESS|KEYNAME", "Show an inspector's accreditation: who accredited, when, whether withdrawn", api.PathProvenanceAccreditation,
		func() proto.Message { return &provenancev1.Accreditation{} }, address)
	recall := single("recall ORDER_ID", "Show a recall order: items reached, acknowledgements awaited, whether propagation is complete", api.PathProvenanceRecall,
		func() proto.Message { return &provenancev1.RecallOrder{} }, raw)
	location := single("location LOCATION", "Show the registered name of a location code (GLN) and the agency that named it", api.PathProvenanceLocation,
		func() proto.Message { return &provenancev1.Location{} }, raw)

	list := func(use, short, path string, into func() proto.Message, arg func(cmd *cobra.Command, s string) ([]byte, error)) *cobra.Command {
		c := &cobra.Command{
			Use: use, Short: short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				a, err := arg(cmd, args[0])
				if err != nil {
					return err
				}
				return pvQueryList(cmd, path, a, into)
			},
		}
		addKeyringFlags(c)
		return c
	}
	byID, byAddr := raw, address
	history := list("history ITEM_ID", "An item's full history in order: every custody step, inspection, split, merge, transformation and recall",
		api.PathProvenanceHistory, func() proto.Message { return &provenancev1.Event{} }, byID)
	attestations := list("attestations ITEM_ID", "An item's attestations, each with the accreditation in force when it was made",
		api.PathProvenanceAttestations, func() proto.Message { return &provenancev1.Attestation{} }, byID)
	held := list("held ADDRESS|KEYNAME", "Items whose custodian is the account", api.PathProvenanceHeld,
		func() proto.Message { return &provenancev1.Item{} }, byAddr)
	offers := list("offers ADDRESS|KEYNAME", "Open custody offers made to the account", api.PathProvenanceOffers,
		func() proto.Message { return &provenancev1.Offer{} }, byAddr)
	unacked := list("unacknowledged ORDER_ID", "Recalled items whose custodian has not acknowledged, by custodian", api.PathProvenanceUnacknowledged,
		func() proto.Message { return &provenancev1.Item{} }, byID)

	lineage := &cobra.Command{
		Use:   "lineage ITEM_ID [--direction up|down]",
		Short: "Walk the lineage graph: up to what the item was made from, or down to everything made from it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, _ := cmd.Flags().GetString("direction")
			d, ok := provenancev1.LineageDirection_value["LINEAGE_DIRECTION_"+strings.ToUpper(dir)]
			if !ok || d == 0 {
				return fmt.Errorf("--direction %q: use up or down", dir)
			}
			page, height, root, err := queryProvedList(cmd, api.PathProvenanceLineage, api.LineageArg(provenancev1.LineageDirection(d), args[0]))
			if err != nil {
				return err
			}
			var items []any
			for _, e := range page.Entries {
				it := &provenancev1.Item{}
				if err := proto.Unmarshal(e.Value, it); err != nil {
					return err
				}
				items = append(items, protoJSON(it))
			}
			out := map[string]any{"item": args[0], "direction": dir, "height": height, "items": items}
			if root != nil {
				out["verified_against"] = pvProofJSON(height, root)
			}
			return printJSON(out)
		},
	}
	lineage.Flags().String("direction", "down", "up (sources) or down (everything made from the item)")
	params := &cobra.Command{
		Use: "params", Short: "Show the provenance module's parameters (recall budget per block, offer durations)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return queryRecord(cmd, api.PathProvenanceParams, nil, &provenancev1.Params{}, func(m proto.Message) any { return protoJSON(m) })
		},
	}
	for _, c := range []*cobra.Command{item, offer, accreditation, recall, location, history, attestations, held, offers, unacked, lineage, params} {
		addQueryFlags(c)
		cmd.AddCommand(c)
	}
	return cmd
}

// pvQueryList reads every page of a listing at one height (arg its
// ListRequest arg) and prints its records; with --prove every record and
// every page's range proofs are checked.
func pvQueryList(cmd *cobra.Command, path string, arg []byte, into func() proto.Message) error {
	if done, err := compositeVerified(cmd, path, []string{string(arg)}); done {
		return err
	}
	list, height, root, err := queryProvedList(cmd, path, arg)
	if err != nil {
		return err
	}
	var records []any
	var head any
	entries := list.Entries
	if (path == api.PathProvenanceHistory || path == api.PathProvenanceAttestations) && len(entries) > 0 {
		if entries[0].Value == nil {
			return fmt.Errorf("no item %s at height %d", arg, height)
		}
		it := &provenancev1.Item{}
		if err := proto.Unmarshal(entries[0].Value, it); err != nil {
			return err
		}
		head = protoJSON(it)
		entries = entries[1:]
	}
	for _, e := range entries {
		m := into()
		if err := proto.Unmarshal(e.Value, m); err != nil {
			return err
		}
		records = append(records, protoJSON(m))
	}
	out := map[string]any{"height": height, "records": records}
	if head != nil {
		out["item"] = head
	}
	if root != nil {
		out["verified_against"] = pvProofJSON(height, root)
	}
	return printJSON(out)
}

func pvProofJSON(height int64, root []byte) map[string]any {
	return map[string]any{"state_height": height, "app_hash_header": height + 1, "app_hash": strings.ToUpper(hex.EncodeToString(root)),
		"proofs": "every record proven", "header_commit": "checked against the validator set reported by the queried node"}
}

// itemJSON shows an item with its description: a split's part holds its
// origin's attributes and documents by reference (metadata_from), so they
// are read from that item, at the same height and with the same --prove,
// and shown under "inherited".
func itemJSON(cmd *cobra.Command, it *provenancev1.Item) any {
	out := protoJSON(it)
	if it.MetadataFrom == "" {
		return out
	}
	inherited := map[string]any{"from": it.MetadataFrom}
	out["inherited"] = inherited
	c, err := dialNode(cmd)
	if err != nil {
		inherited["error"] = err.Error()
		return out
	}
	height, _ := cmd.Flags().GetInt64("height")
	prove, _ := cmd.Flags().GetBool("prove")
	verify, _ := cmd.Flags().GetBool("verify")
	res, _, err := c.Query(cmd.Context(), api.PathProvenanceItem, []byte(it.MetadataFrom), height, prove || verify)
	holder := &provenancev1.Item{}
	if err == nil {
		err = proto.Unmarshal(res.Value, holder)
	}
	if err != nil {
		inherited["error"] = fmt.Sprintf("reading %s: %v", it.MetadataFrom, err)
		return out
	}
	hm := protoJSON(holder)
	inherited["attributes"], inherited["documents"] = hm["attributes"], hm["documents"]
	return out
}

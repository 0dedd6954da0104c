package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/client"
)

// compositeRecords are the records `tallyd verify` reads as several proven
// records whose linkage the client checks (client/verify_records.go).
func compositeRecords() []record {
	return []record{
		{use: "receipt RECEIPT_ID", short: "A tax receipt, its state and every amendment, the amendment chain checked against the proven count and the state re-derived from it", args: 1,
			read: readReceipt},
		{use: "clearance GRANT", short: "A clearance statement from a taxpayer's grant (tallyd query tax grant): one proven total (or proven absence) per granted period, and nothing else", args: 1,
			read: readClearance},
		{use: "payment-trace ID", short: "A benefit payment and its funds path to the appropriation(s), every hop proven and linked, and its settlement", args: 1,
			read: readPaymentTrace},
		{use: "item-history ITEM_ID", short: "An item and every event of its history, checked against the item's proven event count", args: 1,
			read: readItemHistory},
		{use: "proposal ID", short: "A governance proposal and its votes, checked against the proposal's proven tally", args: 1,
			read: readProposal},
	}
}

// compositeQueryPaths maps the query paths of composite answers to the
// verified read `tallyd query … --verify` uses for them.
var compositeQueryPaths = map[string]func(context.Context, *cobra.Command, *client.LightClient, []string, int64) (any, *client.Verified, error){
	api.PathTaxReceipt:        readReceipt,
	api.PathTaxClearance:      readClearance,
	api.PathBenefitsTrace:     readPaymentTrace,
	api.PathProvenanceHistory: readItemHistory,
	api.PathGovProposal:       readProposal,
	api.PathGovVotes:          readProposal,
}

// compositeVerified runs `tallyd query … --verify` for a composite path;
// done is false (and nothing ran) without --verify or for another path.
func compositeVerified(cmd *cobra.Command, path string, args []string) (done bool, err error) {
	read, ok := compositeQueryPaths[path]
	if v, _ := cmd.Flags().GetBool("verify"); !v || !ok {
		return false, nil
	}
	node, _ := cmd.Flags().GetString("node")
	return true, runVerified(cmd, node, func(ctx context.Context, lc *client.LightClient, height int64) (any, *client.Verified, error) {
		return read(ctx, cmd, lc, args, height)
	})
}

func listVerified(l *client.ListAnswer) *client.Verified {
	if l == nil {
		return nil
	}
	return &l.Verified
}

func readReceipt(ctx context.Context, _ *cobra.Command, lc *client.LightClient, args []string, height int64) (any, *client.Verified, error) {
	r, list, err := lc.TaxReceipt(ctx, args[0], height)
	if err != nil {
		return nil, listVerified(list), err
	}
	amendments := []any{}
	for _, a := range r.Amendments {
		amendments = append(amendments, protoJSON(a))
	}
	return map[string]any{"receipt": protoJSON(r.Receipt), "state": protoJSON(r.State), "amendments": amendments,
		"checked": "receipt, state and amendments 1..n proven, n the state's proven count; each amendment continues the net the one before left; the state re-derived from the receipt and its amendments"}, &list.Verified, nil
}

func readClearance(ctx context.Context, _ *cobra.Command, lc *client.LightClient, args []string, height int64) (any, *client.Verified, error) {
	g, req, err := parseGrant(args[0])
	if err != nil {
		return nil, nil, err
	}
	s, list, err := lc.TaxClearance(ctx, req, height)
	if err != nil {
		return nil, listVerified(list), err
	}
	s.Taxpayer = hex.EncodeToString(g.Taxpayer)
	return map[string]any{"statement": s.String(), "clearance": s,
		"checked": "tax type proven; one total per granted period, its key computed by the verifier from the grant's taxpayer and salt, proven present or absent"}, &list.Verified, nil
}

func parseDecimalID(s string) (uint64, error) {
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil || id == 0 {
		return 0, fmt.Errorf("%q is not an id (a decimal number from 1)", s)
	}
	return id, nil
}

func readPaymentTrace(ctx context.Context, _ *cobra.Command, lc *client.LightClient, args []string, height int64) (any, *client.Verified, error) {
	id, err := parseDecimalID(args[0])
	if err != nil {
		return nil, nil, err
	}
	t, list, err := lc.BenefitsPaymentTrace(ctx, id, height)
	if err != nil {
		return nil, listVerified(list), err
	}
	out := map[string]any{"payment": protoJSON(t.Payment), "complete": t.Complete, "settled": t.Settlement != nil,
		"checked": "payment proven; every movement and tranche back to the inflows proven, each tranche linked to the leg that created it from its parent; settlement proven present or absent"}
	var recov, movs, trs []any
	for _, r := range t.Recoveries {
		recov = append(recov, protoJSON(r))
	}
	for _, m := range t.Movements {
		movs = append(movs, protoJSON(m))
	}
	for _, tr := range t.Tranches {
		trs = append(trs, protoJSON(tr))
	}
	out["recoveries"], out["movements"], out["tranches"] = recov, movs, trs
	if t.Settlement != nil {
		out["settlement"] = protoJSON(t.Settlement)
	}
	return out, &list.Verified, nil
}

func readItemHistory(ctx context.Context, _ *cobra.Command, lc *client.LightClient, args []string, height int64) (any, *client.Verified, error) {
	h, list, err := lc.ProvenanceHistory(ctx, args[0], height)
	if err != nil {
		return nil, listVerified(list), err
	}
	events := []any{}
	for _, e := range h.Events {
		events = append(events, protoJSON(e))
	}
	return map[string]any{"item": protoJSON(h.Item), "events": events,
		"checked": "item proven; events 1..n proven at their sequence keys, n the item's proven event count"}, &list.Verified, nil
}

func readProposal(ctx context.Context, _ *cobra.Command, lc *client.LightClient, args []string, height int64) (any, *client.Verified, error) {
	id, err := parseDecimalID(args[0])
	if err != nil {
		return nil, nil, err
	}
	p, list, err := lc.GovProposal(ctx, id, height)
	if err != nil {
		return nil, listVerified(list), err
	}
	votes := []any{}
	for _, v := range p.Votes {
		votes = append(votes, protoJSON(v))
	}
	return map[string]any{"proposal": protoJSON(p.Proposal), "votes": votes, "complete": list.Complete,
		"counted": map[string]uint64{"yes": p.Yes, "no": p.No, "abstain": p.Abstain},
		"checked": "proposal proven; every vote proven under the proposal's key, cast by the agency it is filed under; no fewer votes per option than the proven tally"}, &list.Verified, nil
}

package main

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	provenancev1 "github.com/tallyledger/tally/proto/tally/provenance/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
)

func txProvenanceCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "provenance",
		Short: "Goods from source to shelf: register, hand on custody, attest, split, merge, transform, recall",
		Long: `Item ids are <scheme>:<value>. The GS1 schemes are checked: sgtin (one unit)
and lgtin (a batch), as <GTIN-14>.<serial or lot>, for example
lgtin:05012345678900.L2030-042. Other schemes are free-form, for example
lot:farm-42. Locations are GLNs or other location codes.

Custody moves only by handshake: the custodian offers, the receiver accepts
(or rejects); the custodian may withdraw, and an offer expires at the time
set by --ttl.`,
	}
	str := func(c *cobra.Command, name string) string { v, _ := c.Flags().GetString(name); return v }

	register := &cobra.Command{
		Use:   "register ITEM_ID --product P --quantity N --unit U --origin LOCATION",
		Short: "Register a new item or batch that you hold (needs the producer role)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			attrs, err := parseAttrs(cmd)
			if err != nil {
				return err
			}
			docs, err := parseDocs(cmd)
			if err != nil {
				return err
			}
			qty, _ := cmd.Flags().GetUint64("quantity")
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_RegisterItem{RegisterItem: &provenancev1.MsgRegisterItem{
				Id: args[0], Product: str(cmd, "product"), Quantity: qty, Unit: str(cmd, "unit"), Origin: str(cmd, "origin"),
				Attributes: attrs, Documents: docs}}})
		},
	}
	register.Flags().String("product", "", "product class: a GTIN or a product code")
	register.Flags().Uint64("quantity", 0, "quantity, in --unit")
	register.Flags().String("unit", "", "unit of quantity (l, kg, each)")
	register.Flags().String("origin", "", "location code where the item came into being")
	addGoodsFlags(register)

	offer := &cobra.Command{
		Use:   "offer ITEM_ID TO_ADDRESS|KEYNAME --location L [--ttl 24h]",
		Short: "Offer an item you hold to another account; custody moves when they accept",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			to, err := resolveAddress(cmd, args[1])
			if err != nil {
				return err
			}
			ttl, _ := cmd.Flags().GetDuration("ttl")
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_OfferCustody{OfferCustody: &provenancev1.MsgOfferCustody{
				ItemId: args[0], To: to, Location: str(cmd, "location"), TtlSeconds: int64(ttl.Seconds())}}})
		},
	}
	offer.Flags().Duration("ttl", 0, "how long the offer stays open (default: the chain's default, a week)")
	accept := &cobra.Command{
		Use:   "accept ITEM_ID --location L",
		Short: "Accept custody of an item offered to you",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_AcceptCustody{AcceptCustody: &provenancev1.MsgAcceptCustody{ItemId: args[0], Location: str(cmd, "location")}}})
		},
	}
	reject := &cobra.Command{
		Use:   "reject ITEM_ID [--reason R]",
		Short: "Turn down an item offered to you; it stays with its custodian",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_RejectCustody{RejectCustody: &provenancev1.MsgRejectCustody{ItemId: args[0], Reason: str(cmd, "reason")}}})
		},
	}
	reject.Flags().String("reason", "", "why (kept on chain; no personal data)")
	withdraw := &cobra.Command{
		Use:   "withdraw ITEM_ID",
		Short: "Withdraw your open offer of an item",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_WithdrawOffer{WithdrawOffer: &provenancev1.MsgWithdrawOffer{ItemId: args[0]}}})
		},
	}
	accredit := &cobra.Command{
		Use:   "accredit INSPECTOR_ADDRESS|KEYNAME",
		Short: "Accredit an inspector of your agency (needs the regulator role; the inspector needs the inspector role)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := resolveAddress(cmd, args[0])
			if err != nil {
				return err
			}
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_AccreditInspector{AccreditInspector: &provenancev1.MsgAccreditInspector{Inspector: a}}})
		},
	}
	unaccredit := &cobra.Command{
		Use:   "withdraw-accreditation INSPECTOR_ADDRESS|KEYNAME [--reason R]",
		Short: "Withdraw an inspector's accreditation (needs the regulator role); past attestations stay",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := resolveAddress(cmd, args[0])
			if err != nil {
				return err
			}
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_WithdrawAccreditation{WithdrawAccreditation: &provenancev1.MsgWithdrawAccreditation{Inspector: a, Reason: str(cmd, "reason")}}})
		},
	}
	unaccredit.Flags().String("reason", "", "why (kept on chain)")
	attest := &cobra.Command{
		Use:   "attest ITEM_ID --type T --result PASS|FAIL|CONDITIONAL --evidence SHA256_HEX --location L",
		Short: "Attest an inspection of an item (needs the inspector role and an active accreditation)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ev, err := hex.DecodeString(str(cmd, "evidence"))
			if err != nil {
				return fmt.Errorf("--evidence: give the SHA-256 of the evidence file as 64 hex characters: %w", err)
			}
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_Attest{Attest: &provenancev1.MsgAttest{ItemId: args[0], InspectionType: str(cmd, "type"),
				Result: strings.ToUpper(str(cmd, "result")), EvidenceSha256: ev, Location: str(cmd, "location"), Note: str(cmd, "note")}}})
		},
	}
	attest.Flags().String("type", "", "inspection type (microbiology, origin, grading, ...)")
	attest.Flags().String("result", "", "PASS, FAIL or CONDITIONAL")
	attest.Flags().String("evidence", "", "SHA-256 (hex) of the evidence file kept off chain")
	attest.Flags().String("note", "", "short note (no personal data)")
	split := &cobra.Command{
		Use:   "split ITEM_ID CHILD_ID=QUANTITY CHILD_ID=QUANTITY... --location L",
		Short: "Split an item you hold into children whose quantities sum to its own",
		Args:  cobra.MinimumNArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			m := &provenancev1.MsgSplit{ItemId: args[0], Location: str(cmd, "location")}
			for _, a := range args[1:] {
				id, q, ok := strings.Cut(a, "=")
				n, err := strconv.ParseUint(q, 10, 64)
				if !ok || err != nil {
					return fmt.Errorf("%q: write each part as CHILD_ID=QUANTITY", a)
				}
				m.Parts = append(m.Parts, &provenancev1.SplitPart{Id: id, Quantity: n})
			}
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_SplitItem{SplitItem: m}})
		},
	}
	merge := &cobra.Command{
		Use:   "merge NEW_ID ITEM_ID ITEM_ID... --location L",
		Short: "Merge items you hold, of one product and unit, into a new item",
		Args:  cobra.MinimumNArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_MergeItems{MergeItems: &provenancev1.MsgMerge{NewId: args[0], ItemIds: args[1:], Location: str(cmd, "location")}}})
		},
	}
	transform := &cobra.Command{
		Use:   "transform INPUT_ID... --output ID:PRODUCT:QUANTITY:UNIT [--output ...] --process P --location L",
		Short: "Turn items you hold into new products, e.g. milk into cheese (needs the producer role)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			outs, _ := cmd.Flags().GetStringArray("output")
			m := &provenancev1.MsgTransform{ItemIds: args, Process: str(cmd, "process"), Location: str(cmd, "location")}
			for _, o := range outs {
				f := strings.Split(o, ":")
				if len(f) < 5 {
					return fmt.Errorf("--output %q: write SCHEME:VALUE:PRODUCT:QUANTITY:UNIT (the id has a scheme)", o)
				}
				n := len(f)
				q, err := strconv.ParseUint(f[n-2], 10, 64)
				if err != nil {
					return fmt.Errorf("--output %q: quantity %q is not a whole number", o, f[n-2])
				}
				m.Outputs = append(m.Outputs, &provenancev1.TransformOutput{Id: strings.Join(f[:n-3], ":"), Product: f[n-3], Quantity: q, Unit: f[n-1]})
			}
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_TransformItems{TransformItems: m}})
		},
	}
	transform.Flags().StringArray("output", nil, "an output as ID:PRODUCT:QUANTITY:UNIT, e.g. lot:cheese-1:cheese.cheddar:12:kg (repeatable)")
	transform.Flags().String("process", "", "process code (cheesemaking, milling, ...)")
	retire := &cobra.Command{
		Use:   "retire ITEM_ID consumed|destroyed --location L",
		Short: "End an item you hold: consumed (used or sold to the public) or destroyed",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, ok := provenancev1.ItemStatus_value["ITEM_STATUS_"+strings.ToUpper(args[1])]
			if !ok {
				return fmt.Errorf("status %q: use consumed or destroyed", args[1])
			}
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_RetireItem{RetireItem: &provenancev1.MsgRetire{ItemId: args[0], Status: provenancev1.ItemStatus(s),
				Location: str(cmd, "location"), Note: str(cmd, "note")}}})
		},
	}
	retire.Flags().String("note", "", "short note (no personal data)")
	recall := &cobra.Command{
		Use:   "recall ORDER_ID ITEM_ID --reason R",
		Short: "Recall an item and everything made from it (needs the regulator role)",
		Long: `The item is marked at once; its descendants through splits, merges and
transformations are marked at the end of the following blocks, a bounded
number per block. Follow progress with 'tallyd query provenance recall ORDER_ID'.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_Recall{Recall: &provenancev1.MsgRecall{OrderId: args[0], ItemId: args[1], Reason: str(cmd, "reason")}}})
		},
	}
	recall.Flags().String("reason", "", "what is wrong, for custodians to act on (required)")
	ack := &cobra.Command{
		Use:   "acknowledge ITEM_ID [--note N]",
		Short: "Acknowledge the recall of an item you hold",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_AcknowledgeRecall{AcknowledgeRecall: &provenancev1.MsgAcknowledgeRecall{ItemId: args[0], Note: str(cmd, "note")}}})
		},
	}
	ack.Flags().String("note", "", "what was done (quarantined, destroyed, ...)")
	for _, c := range []*cobra.Command{offer, accept, split, merge, transform, retire} {
		c.Flags().String("location", "", "location code where this happens (GLN or other)")
	}
	attest.Flags().String("location", "", "location code of the inspection")
	nameLoc := &cobra.Command{
		Use:   "name-location LOCATION NAME",
		Short: "Register the name a location code (GLN) is shown by, such as \"Dale Farm, milking parlour\" (needs admin)",
		Long: `The first agency to name a code holds it; afterwards only its admins may
rename it. Letters, digits, spaces and - ' & , . ( ) / only, at most 64 bytes.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_NameLocation{NameLocation: &provenancev1.MsgNameLocation{Location: args[0], Name: args[1]}}})
		},
	}
	for _, c := range []*cobra.Command{register, offer, accept, reject, withdraw, accredit, unaccredit, attest, split, merge, transform, retire, recall, ack, nameLoc} {
		addTxFlags(c)
		cmd.AddCommand(c)
	}
	return cmd
}

func addGoodsFlags(cmd *cobra.Command) {
	cmd.Flags().StringArray("attr", nil, "attribute KEY=VALUE (repeatable; at most 16)")
	cmd.Flags().StringArray("doc", nil, "supporting document KIND:SHA256_HEX[:URI] (repeatable; at most 8)")
}

func parseAttrs(cmd *cobra.Command) ([]*provenancev1.Attribute, error) {
	raw, _ := cmd.Flags().GetStringArray("attr")
	var out []*provenancev1.Attribute
	for _, a := range raw {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return nil, fmt.Errorf("--attr %q: write KEY=VALUE", a)
		}
		out = append(out, &provenancev1.Attribute{Key: k, Value: v})
	}
	return out, nil
}

func parseDocs(cmd *cobra.Command) ([]*provenancev1.Document, error) {
	raw, _ := cmd.Flags().GetStringArray("doc")
	var out []*provenancev1.Document
	for _, d := range raw {
		f := strings.SplitN(d, ":", 3)
		if len(f) < 2 {
			return nil, fmt.Errorf("--doc %q: write KIND:SHA256_HEX[:URI]", d)
		}
		h, err := hex.DecodeString(f[1])
		if err != nil {
			return nil, fmt.Errorf("--doc %q: the hash is not hex: %w", d, err)
		}
		doc := &provenancev1.Document{Kind: f[0], Sha256: h}
		if len(f) == 3 {
			doc.Uri = f[2]
		}
		out = append(out, doc)
	}
	return out, nil
}

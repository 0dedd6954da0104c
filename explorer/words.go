package explorer

import (
	"encoding/hex"
	"fmt"
	"strings"

	abci "github.com/cometbft/cometbft/abci/types"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/tallyledger/tally/client"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	provenancev1 "github.com/tallyledger/tally/proto/tally/provenance/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
)

// Records and transactions in sentences a council member reads without a
// glossary: who did what, for how much, to whom, where.

// word is an enum value as words ("PERIOD_KIND_QUARTER" → "quarter").
func word(e protoreflect.Enum) string {
	return client.EnumWords(e.Descriptor(), string(e.Descriptor().Values().ByNumber(e.Number()).Name()))
}

// periodWords says how often a programme pays: "every minute", "weekly",
// "every 30 days".
func periodWords(seconds int64) string {
	const day = 24 * 3600
	switch {
	case seconds <= 0:
		return "once"
	case seconds == 60:
		return "every minute"
	case seconds == 3600:
		return "every hour"
	case seconds == day:
		return "daily"
	case seconds == 7*day:
		return "weekly"
	case seconds == 14*day:
		return "every two weeks"
	case seconds == 365*day:
		return "yearly"
	case seconds%day == 0:
		return fmt.Sprintf("every %d days", seconds/day)
	case seconds%3600 == 0:
		return fmt.Sprintf("every %d hours", seconds/3600)
	case seconds%60 == 0:
		return fmt.Sprintf("every %d minutes", seconds/60)
	}
	return fmt.Sprintf("every %d seconds", seconds)
}

// plural is "1 custodian", "2 custodians".
func plural(n any, one, many string) string {
	s := fmt.Sprint(n)
	if s == "" {
		s = "0"
	}
	if s == "1" {
		return s + " " + one
	}
	return s + " " + many
}

// eventAttr is the value of key in the first event of type typ.
func eventAttr(events []abci.Event, typ, key string) string {
	for _, e := range events {
		if e.Type != typ {
			continue
		}
		for _, a := range e.Attributes {
			if a.Key == key {
				return a.Value
			}
		}
	}
	return ""
}

// msgSentence describes one message of a transaction signed by an account
// of agency who; events are the transaction's, for what the chain assigned
// (a receipt's id).
func (n *namer) msgSentence(who string, m *txv1.Msg, events []abci.Event) string {
	acct := func(b []byte) string {
		if name := n.account(hex.EncodeToString(b)); name != "" {
			return name
		}
		return "account " + shortRef(hex.EncodeToString(b))
	}
	agency := func(id string) string { return firstNonEmpty(n.agency(id), id) }
	tax := func(code string) string { return firstNonEmpty(n.taxType(code), code) }
	place := func(code string) string {
		if code == "" {
			return ""
		}
		return " at " + firstNonEmpty(n.location(code), code)
	}
	prog := func(id string) string { return firstNonEmpty(n.programme(id), id) }
	gbp := func(p uint64) string { return pounds(p) }
	switch x := m.Sum.(type) {
	case *txv1.Msg_AddMember:
		roles := make([]string, 0, len(x.AddMember.Roles))
		for _, r := range x.AddMember.Roles {
			roles = append(roles, word(r))
		}
		return fmt.Sprintf("%s added a member account with the roles %s", who, strings.Join(roles, " and "))
	case *txv1.Msg_RemoveMember:
		return fmt.Sprintf("%s removed the account %s", who, acct(x.RemoveMember.Address))
	case *txv1.Msg_GrantRole:
		return fmt.Sprintf("%s gave %s the role %s", who, acct(x.GrantRole.Address), word(x.GrantRole.Role))
	case *txv1.Msg_RevokeRole:
		return fmt.Sprintf("%s took the role %s from %s", who, word(x.RevokeRole.Role), acct(x.RevokeRole.Address))
	case *txv1.Msg_RotateKey:
		return fmt.Sprintf("%s replaced its account's key (the address stays)", who)
	case *txv1.Msg_SuspendAccount:
		return fmt.Sprintf("%s suspended %s (%s)", who, acct(x.SuspendAccount.Address), word(x.SuspendAccount.ReasonCode))
	case *txv1.Msg_ReinstateAccount:
		return fmt.Sprintf("%s reinstated %s", who, acct(x.ReinstateAccount.Address))
	case *txv1.Msg_SetAccountName:
		if x.SetAccountName.DisplayName == "" {
			return fmt.Sprintf("%s cleared the display name of account %s", who, shortRef(hex.EncodeToString(x.SetAccountName.Address)))
		}
		return fmt.Sprintf("%s named account %s “%s”", who, shortRef(hex.EncodeToString(x.SetAccountName.Address)), x.SetAccountName.DisplayName)
	case *txv1.Msg_Appropriate:
		return fmt.Sprintf("%s appropriated %s under %s", who, gbp(x.Appropriate.Amount), x.Appropriate.Reference)
	case *txv1.Msg_Allocate:
		return fmt.Sprintf("%s allocated %s to %s (%s)", who, gbp(x.Allocate.Amount), agency(x.Allocate.ToAgency), x.Allocate.Reference)
	case *txv1.Msg_Fund:
		return fmt.Sprintf("%s funded the programme %s with %s", who, prog(x.Fund.Programme), gbp(x.Fund.Amount))
	case *txv1.Msg_Transfer:
		return fmt.Sprintf("%s transferred %s from %s to %s", who, gbp(x.Transfer.Amount), n.holderOr(x.Transfer.From), n.holderOr(x.Transfer.To))
	case *txv1.Msg_ReturnFunds:
		return fmt.Sprintf("%s returned %s from %s to %s", who, gbp(x.ReturnFunds.Amount), n.holderOr(x.ReturnFunds.From), n.holderOr(x.ReturnFunds.To))
	case *txv1.Msg_Settle:
		return fmt.Sprintf("%s confirmed that payment movement %d reached the bank", who, x.Settle.Payment)
	case *txv1.Msg_CreateProgramme:
		p := x.CreateProgramme
		return fmt.Sprintf("%s created the programme %s, paying %s %s", who, p.Name, gbp(p.Amount), periodWords(int64(p.PeriodSeconds)))
	case *txv1.Msg_Enrol:
		return fmt.Sprintf("%s enrolled a recipient (pseudonymous) on %s", who, prog(x.Enrol.Programme))
	case *txv1.Msg_SuspendEnrolment:
		return fmt.Sprintf("%s suspended a recipient's enrolment on %s (%s)", who, prog(x.SuspendEnrolment.Programme), word(x.SuspendEnrolment.ReasonCode))
	case *txv1.Msg_ResumeEnrolment:
		return fmt.Sprintf("%s resumed a recipient's enrolment on %s", who, prog(x.ResumeEnrolment.Programme))
	case *txv1.Msg_EndEnrolment:
		return fmt.Sprintf("%s ended a recipient's enrolment on %s (%s)", who, prog(x.EndEnrolment.Programme), word(x.EndEnrolment.ReasonCode))
	case *txv1.Msg_Pay:
		return fmt.Sprintf("%s paid %s to a recipient of %s", who, gbp(x.Pay.Amount), prog(x.Pay.Programme))
	case *txv1.Msg_OpenRecovery:
		return fmt.Sprintf("%s opened the recovery of %s overpaid by payment %d (%s)", who, gbp(x.OpenRecovery.Amount), x.OpenRecovery.Payment, word(x.OpenRecovery.ReasonCode))
	case *txv1.Msg_RecordRepayment:
		return fmt.Sprintf("%s recorded a repayment of %s against recovery %d", who, gbp(x.RecordRepayment.Amount), x.RecordRepayment.Recovery)
	case *txv1.Msg_RegisterTaxType:
		t := x.RegisterTaxType
		return fmt.Sprintf("%s registered the tax %s (%s), assessed by %s and credited to %s", who, t.Name, t.Code, word(t.PeriodKind), agency(t.RevenueAgency))
	case *txv1.Msg_AuthoriseCollector:
		return fmt.Sprintf("%s authorised %s to collect %s", who, acct(x.AuthoriseCollector.Collector), tax(x.AuthoriseCollector.TaxType))
	case *txv1.Msg_WithdrawCollector:
		return fmt.Sprintf("%s withdrew %s's authority to collect %s", who, acct(x.WithdrawCollector.Collector), tax(x.WithdrawCollector.TaxType))
	case *txv1.Msg_IssueReceipt:
		r := x.IssueReceipt
		id := eventAttr(events, "tax.receipt_issued", "receipt")
		if id == "" {
			id = "(not issued)"
		}
		return fmt.Sprintf("%s issued receipt %s for %s %s, %s", who, id, gbp(r.Amount), tax(r.TaxType), r.Period)
	case *txv1.Msg_CorrectReceipt:
		return fmt.Sprintf("%s corrected receipt %s (%s)", who, x.CorrectReceipt.ReceiptId, word(x.CorrectReceipt.Reason))
	case *txv1.Msg_RefundReceipt:
		return fmt.Sprintf("%s refunded %s of receipt %s (%s)", who, gbp(x.RefundReceipt.Amount), x.RefundReceipt.ReceiptId, word(x.RefundReceipt.Reason))
	case *txv1.Msg_CancelReceipt:
		return fmt.Sprintf("%s cancelled receipt %s (%s)", who, x.CancelReceipt.ReceiptId, word(x.CancelReceipt.Reason))
	case *txv1.Msg_ConfirmReceipt:
		return fmt.Sprintf("%s confirmed that the money of receipt %s reached the bank", who, x.ConfirmReceipt.ReceiptId)
	case *txv1.Msg_RegisterItem:
		it := x.RegisterItem
		return fmt.Sprintf("%s registered %d %s of %s as %s%s", who, it.Quantity, it.Unit, productWords(it.Product, it.Attributes), it.Id, place(it.Origin))
	case *txv1.Msg_OfferCustody:
		return fmt.Sprintf("%s offered %s to %s%s", who, x.OfferCustody.ItemId, acct(x.OfferCustody.To), place(x.OfferCustody.Location))
	case *txv1.Msg_AcceptCustody:
		return fmt.Sprintf("%s took custody of %s%s", who, x.AcceptCustody.ItemId, place(x.AcceptCustody.Location))
	case *txv1.Msg_RejectCustody:
		return fmt.Sprintf("%s turned down the offer of %s", who, x.RejectCustody.ItemId)
	case *txv1.Msg_WithdrawOffer:
		return fmt.Sprintf("%s withdrew its offer of %s", who, x.WithdrawOffer.ItemId)
	case *txv1.Msg_AccreditInspector:
		return fmt.Sprintf("%s accredited %s as an inspector", who, acct(x.AccreditInspector.Inspector))
	case *txv1.Msg_WithdrawAccreditation:
		return fmt.Sprintf("%s withdrew the accreditation of %s", who, acct(x.WithdrawAccreditation.Inspector))
	case *txv1.Msg_Attest:
		a := x.Attest
		return fmt.Sprintf("%s inspected %s (%s): %s%s", who, a.ItemId, a.InspectionType, strings.ToLower(a.Result), place(a.Location))
	case *txv1.Msg_SplitItem:
		return fmt.Sprintf("%s split %s into %s%s", who, x.SplitItem.ItemId, plural(len(x.SplitItem.Parts), "part", "parts"), place(x.SplitItem.Location))
	case *txv1.Msg_MergeItems:
		return fmt.Sprintf("%s merged %s into %s%s", who, plural(len(x.MergeItems.ItemIds), "item", "items"), x.MergeItems.NewId, place(x.MergeItems.Location))
	case *txv1.Msg_TransformItems:
		t := x.TransformItems
		var outs []string
		for _, o := range t.Outputs {
			outs = append(outs, fmt.Sprintf("%d %s of %s (%s)", o.Quantity, o.Unit, productWords(o.Product, o.Attributes), o.Id))
		}
		return fmt.Sprintf("%s made %s from %s by %s%s", who, strings.Join(outs, " and "), strings.Join(t.ItemIds, ", "), t.Process, place(t.Location))
	case *txv1.Msg_RetireItem:
		return fmt.Sprintf("%s marked %s %s%s", who, x.RetireItem.ItemId, word(x.RetireItem.Status), place(x.RetireItem.Location))
	case *txv1.Msg_Recall:
		return fmt.Sprintf("%s recalled %s and everything made from it (order %s): %s", who, x.Recall.ItemId, x.Recall.OrderId, x.Recall.Reason)
	case *txv1.Msg_AcknowledgeRecall:
		return fmt.Sprintf("%s acknowledged the recall of %s", who, x.AcknowledgeRecall.ItemId)
	case *txv1.Msg_NameLocation:
		return fmt.Sprintf("%s named the location %s “%s”", who, x.NameLocation.Location, x.NameLocation.Name)
	case *txv1.Msg_SubmitProposal:
		id := eventAttr(events, "gov.proposal_submitted", "proposal_id")
		if id != "" {
			id = " #" + id
		}
		return fmt.Sprintf("%s proposed%s “%s”: %s", who, id, x.SubmitProposal.Title, n.contentWords(x.SubmitProposal.Content))
	case *txv1.Msg_Vote:
		return fmt.Sprintf("%s voted %s on proposal #%d", who, word(x.Vote.Option), x.Vote.ProposalId)
	}
	return who + " sent " + strings.ToLower(msgKind(m))
}

// holderOr names a funds holder, or shows its id.
func (n *namer) holderOr(h string) string { return firstNonEmpty(n.holder(h), h) }

// contentWords says what a proposal would do.
func (n *namer) contentWords(c *govv1.Content) string {
	agency := func(id string) string { return firstNonEmpty(n.agency(id), id) }
	switch x := c.GetSum().(type) {
	case *govv1.Content_AddValidator:
		return fmt.Sprintf("admit a validator run by %s with voting power %d", agency(x.AddValidator.AgencyId), x.AddValidator.Power)
	case *govv1.Content_SetValidatorPower:
		return fmt.Sprintf("set validator %s's voting power to %d", shortRef(hex.EncodeToString(x.SetValidatorPower.PubKey)), x.SetValidatorPower.Power)
	case *govv1.Content_RemoveValidator:
		return fmt.Sprintf("remove validator %s", shortRef(hex.EncodeToString(x.RemoveValidator.PubKey)))
	case *govv1.Content_RotateValidatorKey:
		return "replace a validator's consensus key"
	case *govv1.Content_AdmitAgency:
		return fmt.Sprintf("admit %s (%s) as a %s agency", x.AdmitAgency.Name, x.AdmitAgency.AgencyId, word(x.AdmitAgency.Kind))
	case *govv1.Content_SetAgencyStatus:
		return fmt.Sprintf("mark %s %s: %s", agency(x.SetAgencyStatus.AgencyId), word(x.SetAgencyStatus.Status), x.SetAgencyStatus.Reason)
	case *govv1.Content_GrantMandate:
		g := x.GrantMandate
		s := fmt.Sprintf("give %s the %s mandate (%s)", agency(g.AgencyId), word(g.Mandate), g.LegalBasis)
		if g.Ceiling > 0 {
			s += ", up to " + pounds(g.Ceiling)
		}
		return s
	case *govv1.Content_WithdrawMandate:
		return fmt.Sprintf("withdraw %s's %s mandate", agency(x.WithdrawMandate.AgencyId), word(x.WithdrawMandate.Mandate))
	case *govv1.Content_ChangeParam:
		return fmt.Sprintf("set the parameter %s to %s", x.ChangeParam.Name, x.ChangeParam.Value)
	case *govv1.Content_ScheduleUpgrade:
		return fmt.Sprintf("upgrade the software to %q at block %d", x.ScheduleUpgrade.Name, x.ScheduleUpgrade.Height)
	}
	return "(nothing)"
}

// eventWords describes one step of an item's history, with names.
func eventWords(e map[string]any) string {
	who := func(k string) string {
		if v := field(e, k); fmt.Sprint(v) != "" {
			return named(e, k)
		}
		return ""
	}
	at := ""
	if fmt.Sprint(field(e, "location")) != "" {
		at = " at " + named(e, "location")
	}
	by := ""
	if a := who("actor"); a != "" {
		by = " by " + a
	}
	to := who("counterparty")
	var s string
	switch fmt.Sprint(field(e, "type")) {
	case "registered":
		s = "registered" + by + at
	case "offered":
		s = "offered" + by + " to " + to + at
	case "offer withdrawn":
		s = "offer to " + to + " withdrawn" + by
	case "offer rejected":
		s = "offer turned down" + by
	case "offer expired":
		s = "offer to " + to + " expired"
	case "custody accepted":
		s = "taken into custody" + by + at
	case "attested":
		s = "inspected" + by + at
	case "split":
		s = "split" + by + at + " into"
	case "merged":
		s = "merged" + by + at + " with"
	case "transformed":
		s = "made into new products" + by + at + ":"
	case "created from":
		s = "made" + by + at + " from"
	case "consumed":
		s = "consumed" + by + at
	case "destroyed":
		s = "destroyed" + by + at
	case "recalled":
		s = "recalled under order"
	case "recall acknowledged":
		s = "recall acknowledged" + by
	default:
		s = fmt.Sprint(field(e, "type")) + by + at
	}
	return s
}

// productWords names a product: its "name" attribute where the producer
// gave one ("whole milk (GTIN 05012345678900)"), else its GTIN.
func productWords(gtin string, attrs []*provenancev1.Attribute) string {
	if name := productName(attrs); name != "" {
		return name + " (GTIN " + gtin + ")"
	}
	return "product " + gtin
}

// productName is an item's "name" attribute, the words the producer gave
// its product ("" when none).
func productName(attrs []*provenancev1.Attribute) string {
	for _, a := range attrs {
		if a.GetKey() == "name" {
			return a.GetValue()
		}
	}
	return ""
}

package testnet

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"

	"github.com/tallyledger/tally/client"
	"github.com/tallyledger/tally/client/keys"
	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
)

// demoTaxpayerKey stands in for the key under which a tax authority turns
// national identifiers into pseudonymous references. Demo only.
var demoTaxpayerKey = []byte("tally demo taxpayer key - not secret")

// DemoTaxpayer is the pseudonymous reference of a demo taxpayer: an
// HMAC-SHA256 of a made-up identifier, as an authority would compute it.
func DemoTaxpayer(identifier string) []byte {
	m := hmac.New(sha256.New, demoTaxpayerKey)
	m.Write([]byte(identifier))
	return m.Sum(nil)
}

// DemoTaxpayerSecret is a demo taxpayer's clearance secret, which the
// authority shares with the taxpayer (and its collectors) and never with
// the chain.
func DemoTaxpayerSecret(identifier string) []byte {
	m := hmac.New(sha256.New, demoTaxpayerKey)
	m.Write([]byte("clearance-secret/"))
	m.Write([]byte(identifier))
	return m.Sum(nil)
}

// DemoPayer is the payer commitment a demo collector files a receipt of
// identifier's under, for one tax type and period.
func DemoPayer(identifier, taxType, period string) []byte {
	return client.PayerCommitmentFromSecret(DemoTaxpayer(identifier), DemoTaxpayerSecret(identifier), taxType, period)
}

// DemoPseudonym is the pseudonym a demo agency uses on chain for a person,
// a bank account or a reference about one (a benefits recipient, a payee
// token, a payment reference): an HMAC of a made-up name under a key the
// agency keeps, as 64 hex characters. Demo only.
func DemoPseudonym(name string) string {
	m := hmac.New(sha256.New, []byte("tally demo pseudonym key - not secret"))
	m.Write([]byte(name))
	return hex.EncodeToString(m.Sum(nil))
}

// DemoBankReference is the commitment a demo collecting agency sends for a
// payment's bank reference, under a reference key it keeps off chain.
func DemoBankReference(ref string) []byte {
	return client.BankReferenceCommitment([]byte("tally demo reference key - not secret"), ref)
}

// DemoClearanceGrant is the token a demo taxpayer hands a relying party to
// show taxType over from..to.
func DemoClearanceGrant(identifier, taxType, from, to string) string {
	g, err := client.NewClearanceGrant(DemoTaxpayer(identifier), DemoTaxpayerSecret(identifier), taxType, from, to)
	if err != nil {
		panic(err) // the demo's own periods are well formed
	}
	tok, err := client.EncodeGrant(g)
	if err != nil {
		panic(err)
	}
	return tok
}

// taxDemo: Revenue registers its taxes and authorises its collector (and,
// on networks with a council, the council's collector for council tax);
// receipts are issued, one corrected and one partly refunded, each through
// a different node.
func taxDemo(ctx context.Context, d *Demo) error {
	quarter, month, year := taxv1.PeriodKind_PERIOD_KIND_QUARTER, taxv1.PeriodKind_PERIOD_KIND_MONTH, taxv1.PeriodKind_PERIOD_KIND_YEAR
	register := func(code, name, revenue string, kind taxv1.PeriodKind) *txv1.Msg {
		return &txv1.Msg{Sum: &txv1.Msg_RegisterTaxType{RegisterTaxType: &taxv1.MsgRegisterTaxType{Code: code, Name: name, RevenueAgency: revenue, PeriodKind: kind}}}
	}
	authorise := func(addr []byte, code string) *txv1.Msg {
		return &txv1.Msg{Sum: &txv1.Msg_AuthoriseCollector{AuthoriseCollector: &taxv1.MsgAuthoriseCollector{Collector: addr, TaxType: code}}}
	}
	issue := func(code, who, period string, amount uint64, ref string) *txv1.Msg {
		return &txv1.Msg{Sum: &txv1.Msg_IssueReceipt{IssueReceipt: &taxv1.MsgIssueReceipt{TaxType: code, Payer: DemoPayer(who, code, period),
			Period: period, Amount: amount, BankReference: DemoBankReference(ref)}}}
	}
	council := false
	for _, n := range d.M.Nodes {
		council = council || n.Agency == "northshire"
	}
	collectorPub, err := d.Key("revenue-collector")
	if err != nil {
		return err
	}
	collector := keys.AddressOf(collectorPub)
	msgs := []*txv1.Msg{
		register("VAT", "Value added tax", "treasury", quarter),
		register("PAYE", "Pay as you earn", "treasury", month),
		register("CORPORATION_TAX", "Corporation tax", "treasury", year),
		authorise(collector, "VAT"), authorise(collector, "PAYE"), authorise(collector, "CORPORATION_TAX"),
	}
	if council {
		ncPub, err := d.Key("northshire-collector")
		if err != nil {
			return err
		}
		msgs = append(msgs, register("COUNCIL_TAX", "Council tax", "northshire", year), authorise(keys.AddressOf(ncPub), "COUNCIL_TAX"))
	}
	if err := d.Send(ctx, 1, "revenue-admin", msgs...); err != nil {
		return err
	}
	d.Log("revenue registered VAT, PAYE and corporation tax (credited to the treasury) and authorised revenue-collector")

	const alice, dalefarm = "demo-person-0001", "demo-business-dalefarm"
	for i, m := range []*txv1.Msg{
		issue("VAT", dalefarm, "2026-Q1", 1_250_000, "FPS-DEMO-0001"),
		issue("VAT", dalefarm, "2026-Q2", 980_000, "FPS-DEMO-0002"),
		issue("PAYE", alice, "2026-04", 42_317, "BACS-DEMO-0001"),
		issue("CORPORATION_TAX", dalefarm, "2025", 5_600_000, "CHAPS-DEMO-0001"),
	} {
		if err := d.Send(ctx, i, "revenue-collector", m); err != nil {
			return err
		}
	}
	if err := d.Send(ctx, 2, "revenue-collector",
		&txv1.Msg{Sum: &txv1.Msg_CorrectReceipt{CorrectReceipt: &taxv1.MsgCorrectReceipt{ReceiptId: "REVENUE-000002", Reason: taxv1.Reason_REASON_KEYING_ERROR, Amount: 890_000}}},
		&txv1.Msg{Sum: &txv1.Msg_RefundReceipt{RefundReceipt: &taxv1.MsgRefundReceipt{ReceiptId: "REVENUE-000001", Reason: taxv1.Reason_REASON_OVERPAYMENT, Amount: 50_000}}},
	); err != nil {
		return err
	}
	d.Log("revenue-collector issued REVENUE-000001..000004; REVENUE-000002 corrected, REVENUE-000001 partly refunded")
	// The revenue is pending until the clearing bank — another agency,
	// under its settlement-bank mandate — confirms each payment settled,
	// matching the receipt's bank reference and its net amount.
	confirm := func(id, ref string, amount uint64) *txv1.Msg {
		return &txv1.Msg{Sum: &txv1.Msg_ConfirmReceipt{ConfirmReceipt: &taxv1.MsgConfirmReceipt{ReceiptId: id, BankReference: DemoBankReference(ref), Amount: amount}}}
	}
	if err := d.Send(ctx, 3, "bank-settlement",
		confirm("REVENUE-000001", "FPS-DEMO-0001", 1_200_000),
		confirm("REVENUE-000002", "FPS-DEMO-0002", 890_000),
		confirm("REVENUE-000003", "BACS-DEMO-0001", 42_317),
		confirm("REVENUE-000004", "CHAPS-DEMO-0001", 5_600_000),
	); err != nil {
		return err
	}
	d.Log("the clearing bank confirmed the four payments settled: their revenue is now the treasury's to spend")
	d.Log("  dalefarm shows its VAT for 2026-Q1..Q2, and nothing else, with a clearance grant:")
	d.Log("  %s query tax clearance %s --prove", d.CLI, DemoClearanceGrant(dalefarm, "VAT", "2026-Q1", "2026-Q2"))
	if council {
		if err := d.Send(ctx, 4, "northshire-collector", issue("COUNCIL_TAX", alice, "2026", 185_000, "DD-DEMO-0001")); err != nil {
			return err
		}
		if err := d.Send(ctx, 0, "bank-settlement", confirm("REVENUE-000005", "DD-DEMO-0001", 185_000)); err != nil {
			return err
		}
		d.Log("northshire-collector issued REVENUE-000005 for council tax; the clearing bank confirmed it, crediting northshire")
	}
	d.Log("  %s query tax receipt REVENUE-000001 --prove  (%d receipts)", d.CLI, map[bool]int{false: 4, true: 5}[council])
	return nil
}

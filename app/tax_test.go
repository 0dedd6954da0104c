package app_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strconv"
	"strings"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	ics23 "github.com/cosmos/ics23/go"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/client"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	fundsv1 "github.com/tallyledger/tally/proto/tally/funds/v1"
	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/x/funds"
	"github.com/tallyledger/tally/x/module"
	"github.com/tallyledger/tally/x/tax"
)

// Accounts the tax tests add to the test genesis: a clearing bank with a
// collector, and a second Revenue collector nobody has authorised.
var (
	taxBankAdmin     = keyFor("bank/admin")
	taxBankCollector = keyFor("bank/collector")
	taxCollector2    = keyFor("tax/collector2")
)

const agTaxBank = "bank"

// taxGenesis is the test genesis plus a bank, and a tax registry owned by
// the tax authority: VAT (quarterly) credited to the Treasury, with the
// tax authority's collector and the bank's collector authorised for it.
func taxGenesis() *appv1.GenesisState {
	g := testGenesis()
	g.Agency.Agencies = append(g.Agency.Agencies, &agencyv1.Agency{Id: agTaxBank, Name: "Clearing Bank", Kind: agencyv1.Kind_KIND_BANK},
		&agencyv1.Agency{Id: agClearing, Name: "Settling Bank", Kind: agencyv1.Kind_KIND_BANK})
	g.Agency.Accounts = append(g.Agency.Accounts,
		&agencyv1.Account{PubKey: taxBankAdmin.pub, AgencyId: agTaxBank, Roles: []agencyv1.Role{roleAdmin}},
		&agencyv1.Account{PubKey: taxBankCollector.pub, AgencyId: agTaxBank, Roles: []agencyv1.Role{roleTaxCollector}},
		&agencyv1.Account{PubKey: taxCollector2.pub, AgencyId: agTax, Roles: []agencyv1.Role{roleTaxCollector}},
		&agencyv1.Account{PubKey: taxSettler.pub, AgencyId: agClearing, Roles: []agencyv1.Role{roleAdmin, agencyv1.Role_ROLE_SETTLEMENT_BANK}},
	)
	g.Tax = &taxv1.Genesis{
		TaxTypes: []*taxv1.TaxType{{Code: "VAT", Name: "Value added tax", Authority: agTax, RevenueAgency: agTreasury, PeriodKind: taxv1.PeriodKind_PERIOD_KIND_QUARTER}},
		Authorisations: []*taxv1.Authorisation{
			{Collector: taxCollector.addr, TaxType: "VAT", Active: true},
			{Collector: taxBankCollector.addr, TaxType: "VAT", Active: true},
		},
	}
	return g
}

func newTaxChain(tb testing.TB) *chain {
	tb.Helper()
	c := openChain(tb, newTestStore(tb), app.Options{})
	c.initChain(taxGenesis())
	c.block()
	return c
}

func taxPayerRef(name string) []byte { h := sha256.Sum256([]byte("payer/" + name)); return h[:] }

// taxSecret is a test taxpayer's clearance secret (held by the taxpayer and
// the authority, never on chain).
func taxSecret(taxpayer []byte) []byte {
	h := sha256.Sum256(append([]byte("secret/"), taxpayer...))
	return h[:]
}

// taxPayer is the payer commitment of taxpayer's receipts of taxType in period.
func taxPayer(taxpayer []byte, taxType, period string) []byte {
	return client.PayerCommitmentFromSecret(taxpayer, taxSecret(taxpayer), taxType, period)
}

// taxBankRef is a bank reference's commitment under a test agency key.
func taxBankRef(ref string) []byte {
	return client.BankReferenceCommitment([]byte("app test reference key"), ref)
}

// taxClearanceRequest is what a relying party handed a grant of taxpayer's
// taxType over from..to sends.
func taxClearanceRequest(tb testing.TB, taxpayer []byte, taxType, from, to string) *taxv1.ClearanceRequest {
	tb.Helper()
	g, err := client.NewClearanceGrant(taxpayer, taxSecret(taxpayer), taxType, from, to)
	require.NoError(tb, err)
	req, err := client.ClearanceRequestOf(g)
	require.NoError(tb, err)
	return req
}

// Tax messages.

func taxRegisterType(code, revenue string, kind taxv1.PeriodKind) *txv1.Msg {
	return &txv1.Msg{Sum: &txv1.Msg_RegisterTaxType{RegisterTaxType: &taxv1.MsgRegisterTaxType{Code: code, Name: code + " tax", RevenueAgency: revenue, PeriodKind: kind}}}
}

func taxAuthorise(addr []byte, taxType string) *txv1.Msg {
	return &txv1.Msg{Sum: &txv1.Msg_AuthoriseCollector{AuthoriseCollector: &taxv1.MsgAuthoriseCollector{Collector: addr, TaxType: taxType}}}
}

func taxWithdraw(addr []byte, taxType string) *txv1.Msg {
	return &txv1.Msg{Sum: &txv1.Msg_WithdrawCollector{WithdrawCollector: &taxv1.MsgWithdrawCollector{Collector: addr, TaxType: taxType}}}
}

func taxIssue(taxType string, taxpayer []byte, period string, amount uint64, bankRef string) *txv1.Msg {
	return &txv1.Msg{Sum: &txv1.Msg_IssueReceipt{IssueReceipt: &taxv1.MsgIssueReceipt{TaxType: taxType, Payer: taxPayer(taxpayer, taxType, period),
		Period: period, Amount: amount, BankReference: taxBankRef(bankRef)}}}
}

// taxCorrect corrects a receipt's amount and, when period is set, moves it
// to that period under the payer commitment of a taxpayer named "corrected".
func taxCorrect(id string, amount uint64, period string) *txv1.Msg {
	m := &taxv1.MsgCorrectReceipt{ReceiptId: id, Reason: taxv1.Reason_REASON_KEYING_ERROR, Amount: amount, Period: period}
	if period != "" {
		m.Payer = taxPayer(taxPayerRef("corrected"), "VAT", period)
	}
	return &txv1.Msg{Sum: &txv1.Msg_CorrectReceipt{CorrectReceipt: m}}
}

func taxRefund(id string, amount uint64) *txv1.Msg {
	return &txv1.Msg{Sum: &txv1.Msg_RefundReceipt{RefundReceipt: &taxv1.MsgRefundReceipt{ReceiptId: id, Reason: taxv1.Reason_REASON_OVERPAYMENT, Amount: amount}}}
}

func taxCancel(id string) *txv1.Msg {
	return &txv1.Msg{Sum: &txv1.Msg_CancelReceipt{CancelReceipt: &taxv1.MsgCancelReceipt{ReceiptId: id, Reason: taxv1.Reason_REASON_PAYMENT_REVERSED}}}
}

// proved queries path at the last committed height with proofs, and
// returns the answer's ProvedList and a checker of its entries against the
// app hash committed at that height.
func (c *chain) taxProved(path string, data []byte) (*appv1.ProvedList, int64, func(*appv1.ProvedEntry) error) {
	c.tb.Helper()
	c.requireListingProven(path, data)
	res, err := c.app.Query(context.Background(), &abci.RequestQuery{Path: path, Data: data, Prove: true})
	require.NoError(c.tb, err)
	require.Zero(c.tb, res.Code, res.Log)
	list := &appv1.ProvedList{}
	require.NoError(c.tb, proto.Unmarshal(res.Value, list))
	root := c.hashes[res.Height]
	require.NotEmpty(c.tb, root)
	return list, res.Height, func(e *appv1.ProvedEntry) error {
		p := &ics23.CommitmentProof{}
		if err := p.Unmarshal(e.Proof); err != nil {
			return err
		}
		return client.VerifyProof(root, e.Key, e.Value, p)
	}
}

// checkEntries checks every entry of list with check.
func checkEntries(list *appv1.ProvedList, check func(*appv1.ProvedEntry) error) error {
	for _, e := range list.Entries {
		if err := check(e); err != nil {
			return fmt.Errorf("key %x: %w", e.Key, err)
		}
	}
	return nil
}

func (c *chain) taxReceipt(id string) *api.ReceiptAnswer {
	c.tb.Helper()
	list, _, check := c.taxProved(api.PathTaxReceipt, listData(id))
	require.NoError(c.tb, checkEntries(list, check))
	ans, err := api.DecodeReceipt(id, list)
	require.NoError(c.tb, err)
	return ans
}

func (c *chain) taxClearance(req *taxv1.ClearanceRequest) *api.Statement {
	c.tb.Helper()
	data, err := proto.Marshal(req)
	require.NoError(c.tb, err)
	list, h, check := c.taxProved(api.PathTaxClearance, data)
	require.NoError(c.tb, checkEntries(list, check))
	s, err := api.DecodeClearance(req, h, list)
	require.NoError(c.tb, err)
	return s
}

func (c *chain) taxFundsBalance(agencyID string) uint64 {
	c.tb.Helper()
	res := c.query(api.PathFundsBalance, []byte(api.AgencyHolder(agencyID)))
	if isCode(res.Codespace, res.Code, app.ErrNotFound) {
		return 0
	}
	require.Zero(c.tb, res.Code, res.Log)
	b := &fundsv1.Balance{}
	require.NoError(c.tb, proto.Unmarshal(res.Value, b))
	return b.Amount
}

func (c *chain) taxRequireFundsConserved() {
	c.tb.Helper()
	res := c.query(api.PathFundsInvariants, nil)
	require.Zero(c.tb, res.Code, res.Log)
	r := &fundsv1.InvariantReport{}
	require.NoError(c.tb, proto.Unmarshal(res.Value, r))
	require.True(c.tb, r.Ok, "funds invariants: %v", r.Problems)
}

// taxState is every tax and funds key of the working state, for "nothing
// changed" checks.
func (c *chain) taxState() map[string]string {
	out := map[string]string{}
	for k, v := range c.dump() {
		if strings.HasPrefix(k, "tax/") || strings.HasPrefix(k, "funds/") || strings.HasPrefix(k, "fd/") {
			out[k] = v
		}
	}
	return out
}

// Every tax message needs its role: the allowed signer succeeds, and every
// genesis account without the role is refused with tx/14 in CheckTx and in
// the block, leaving state and app hash as they were. Admins of agencies
// that are not tax authorities hold the role but are refused by the
// handler (tax/2).
func TestTaxPermissions(t *testing.T) {
	everyone := []testKey{treasuryAdmin, treasuryAdmin2, treasuryClerk, taxAdmin, taxCollector, regAdmin, regInspector, taxBankAdmin, taxBankCollector, taxCollector2}
	issued := func(c *chain) {
		requireOK(t, c.block(c.tx(taxCollector, taxIssue("VAT", taxPayerRef("p"), "2026-Q1", 1_000, "PERM-1"))).TxResults[0])
	}
	for _, tt := range []struct {
		name    string
		setup   func(c *chain)
		msg     *txv1.Msg
		role    agencyv1.Role
		allowed testKey
		event   string
	}{
		{"register tax type", nil, taxRegisterType("PAYE", agTreasury, taxv1.PeriodKind_PERIOD_KIND_MONTH), roleAdmin, taxAdmin, tax.EventTaxTypeRegistered},
		{"authorise collector", nil, taxAuthorise(taxCollector2.addr, "VAT"), roleAdmin, taxAdmin, tax.EventCollectorAuthorised},
		{"withdraw collector", nil, taxWithdraw(taxBankCollector.addr, "VAT"), roleAdmin, taxAdmin, tax.EventCollectorWithdrawn},
		{"issue receipt", nil, taxIssue("VAT", taxPayerRef("p"), "2026-Q1", 1_000, "PERM-2"), roleTaxCollector, taxBankCollector, tax.EventReceiptIssued},
		{"correct receipt", issued, taxCorrect("TAX-000001", 1_200, ""), roleTaxCollector, taxCollector, tax.EventReceiptAmended},
		{"refund receipt", issued, taxRefund("TAX-000001", 100), roleTaxCollector, taxCollector, tax.EventReceiptAmended},
		{"cancel receipt", issued, taxCancel("TAX-000001"), roleTaxCollector, taxCollector, tax.EventReceiptAmended},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newTaxChain(t)
			if tt.setup != nil {
				tt.setup(c)
			}
			for _, k := range everyone {
				acc := c.account(k.addr)
				holds := false
				for _, r := range acc.Roles {
					holds = holds || r == tt.role
				}
				tx := c.tx(k, tt.msg)
				hash, state := c.lastHash(), c.dump()
				if !holds {
					check := c.checkTx(tx)
					requireCode(t, app.ErrUnauthorized, check.Codespace, check.Code, check.Log, "needs role "+strings.ToLower(strings.TrimPrefix(tt.role.String(), "ROLE_")))
					res := c.block(tx)
					requireCode(t, app.ErrUnauthorized, res.TxResults[0].Codespace, res.TxResults[0].Code, res.TxResults[0].Log)
					require.Equal(t, hash, c.lastHash(), "%s: app hash", k.name)
					require.Equal(t, state, c.dump(), "%s: state", k.name)
					continue
				}
				if tt.role == roleAdmin && acc.AgencyId != agTax {
					res := c.block(tx).TxResults[0]
					requireCode(t, tax.ErrNotTaxAuthority, res.Codespace, res.Code, res.Log, "only an admin of a tax_authority agency")
				}
			}
			before := c.taxState()
			res := c.block(c.tx(tt.allowed, tt.msg)).TxResults[0]
			requireOK(t, res)
			event(t, res.Events, tt.event)
			require.NotEqual(t, before, c.taxState())
		})
	}
}

// The amendment chain through real signed transactions: issue, correct,
// partially refund, cancel. After each block the receipt's proven status
// and net amount, the Treasury's funds balance and the funds conservation
// invariant are as expected, and each step emits its event.
func TestTaxAmendmentChainOverABCI(t *testing.T) {
	c := newTaxChain(t)
	payer := taxPayerRef("alice")
	res := c.block(c.tx(taxBankCollector, taxIssue("VAT", payer, "2026-Q1", 10_000, "BACS-0001"))).TxResults[0]
	requireOK(t, res)
	ev := attrs(event(t, res.Events, tax.EventReceiptIssued))
	require.Equal(t, "TAX-000001", ev["receipt"].Value)
	require.True(t, ev["receipt"].Index)
	require.Equal(t, agTax, ev["agency"].Value)
	require.Equal(t, taxBankCollector.hex(), ev["address"].Value)
	require.Equal(t, "10000", ev["amount"].Value)
	res = c.block(c.tx(taxSettler, taxConfirm("TAX-000001", "BACS-0001", 10_000))).TxResults[0]
	requireOK(t, res)
	event(t, res.Events, funds.EventRevenueCredit)
	confirmed := uint64(10_000)

	for _, step := range []struct {
		signer testKey
		msg    *txv1.Msg
		status taxv1.Status
		net    uint64
		kind   string
	}{
		{taxCollector, taxCorrect("TAX-000001", 12_000, ""), taxv1.Status_STATUS_CORRECTED, 12_000, "correction"},
		{taxCollector, taxRefund("TAX-000001", 2_500), taxv1.Status_STATUS_PARTIALLY_REFUNDED, 9_500, "refund"},
		{taxCollector, taxCancel("TAX-000001"), taxv1.Status_STATUS_CANCELLED, 0, "cancellation"},
	} {
		res := c.block(c.tx(step.signer, step.msg)).TxResults[0]
		requireOK(t, res)
		ev := attrs(event(t, res.Events, tax.EventReceiptAmended))
		require.Equal(t, step.kind, ev["kind"].Value)
		require.Equal(t, tax.StatusName(step.status), ev["status"].Value)
		require.Equal(t, strconv.FormatUint(step.net, 10), ev["net_after"].Value)
		ans := c.taxReceipt("TAX-000001")
		require.True(t, ans.Found)
		require.Equal(t, step.status, ans.State.Status, step.kind)
		require.Equal(t, step.net, ans.State.Net, step.kind)
		require.Equal(t, uint64(10_000), ans.Receipt.Amount, "the receipt record never changes")
		if step.net > confirmed { // a higher net is pending until the bank confirms it
			requireOK(t, c.block(c.tx(taxSettler, taxConfirm("TAX-000001", "BACS-0001", step.net-confirmed))).TxResults[0])
		}
		confirmed = step.net
		require.Equal(t, step.net, c.taxFundsBalance(agTreasury), "treasury balance after %s", step.kind)
		c.taxRequireFundsConserved()
	}
	ans := c.taxReceipt("TAX-000001")
	require.Len(t, ans.Amendments, 3)
	require.Equal(t, "TAX-000001/3", ans.Amendments[2].Id)
	require.Equal(t, uint64(9_500), ans.Amendments[2].NetBefore)

	// Amending a cancelled receipt is refused; only the nonce is spent.
	before := c.taxState()
	res = c.block(c.tx(taxCollector, taxRefund("TAX-000001", 1))).TxResults[0]
	requireCode(t, tax.ErrReceiptCancelled, res.Codespace, res.Code, res.Log, "issue a new receipt instead")
	require.Equal(t, before, c.taxState())
}

// Each user mistake has its own code and changes nothing: stateless ones
// are refused by CheckTx and in the block with the app hash unchanged;
// stateful ones fail in the block spending only the transaction's nonce
// (keys under tx/, the replay protection).
func TestTaxRefusalsChangeNothing(t *testing.T) {
	payer := taxPayerRef("bob")
	setup := func(c *chain) {
		requireOK(t, c.block(c.tx(taxCollector, taxIssue("VAT", payer, "2026-Q1", 500, "DUP-1"))).TxResults[0])
		requireOK(t, c.block(c.tx(taxCollector, taxIssue("VAT", payer, "2026-Q2", 300, "DUP-2"))).TxResults[0])
		requireOK(t, c.block(c.tx(taxCollector, taxCancel("TAX-000002"))).TxResults[0])
	}
	for _, tt := range []struct {
		name      string
		signer    testKey
		msg       *txv1.Msg
		want      *module.Error
		stateless bool
	}{
		{"unauthorised collector", taxCollector2, taxIssue("VAT", payer, "2026-Q1", 1, "N-1"), tax.ErrUnauthorisedCollector, false},
		{"unknown tax type", taxCollector, taxIssue("PAYE", payer, "2026-01", 1, "N-1"), tax.ErrUnknownTaxType, false},
		{"period of the wrong kind", taxCollector, taxIssue("VAT", payer, "2026", 1, "N-1"), tax.ErrWrongPeriodKind, false},
		{"malformed period", taxCollector, taxIssue("VAT", payer, "2026-Q7", 1, "N-1"), tax.ErrInvalidPeriod, true},
		{"zero amount", taxCollector, taxIssue("VAT", payer, "2026-Q1", 0, "N-1"), tax.ErrInvalidAmount, true},
		{"duplicate bank reference", taxCollector, taxIssue("VAT", payer, "2026-Q3", 1, "DUP-1"), tax.ErrDuplicatePayment, false},
		{"amendment of an unknown receipt", taxCollector, taxRefund("TAX-000099", 1), tax.ErrUnknownReceipt, false},
		{"amendment by a different authority", taxBankCollector, taxRefund("TAX-000001", 1), tax.ErrAmendOtherAuthority, false},
		{"refund larger than the net amount", taxCollector, taxRefund("TAX-000001", 501), tax.ErrRefundTooLarge, false},
		{"amendment of a cancelled receipt", taxCollector, taxCorrect("TAX-000002", 1, ""), tax.ErrReceiptCancelled, false},
		{"malformed receipt id", taxCollector, taxRefund("TAX-2", 1), tax.ErrInvalidReceiptID, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newTaxChain(t)
			setup(c)
			tx := c.tx(tt.signer, tt.msg)
			hash, state, taxState := c.lastHash(), c.dump(), c.taxState()
			check := c.checkTx(tx)
			if tt.stateless {
				requireCode(t, tt.want, check.Codespace, check.Code, check.Log)
			} else {
				require.Zero(t, check.Code, check.Log)
			}
			res := c.block(tx).TxResults[0]
			requireCode(t, tt.want, res.Codespace, res.Code, res.Log)
			require.Equal(t, taxState, c.taxState())
			if tt.stateless {
				require.Equal(t, hash, c.lastHash())
				require.Equal(t, state, c.dump())
				return
			}
			for k, v := range c.dump() {
				if old, ok := state[k]; !ok || old != v {
					require.True(t, strings.HasPrefix(k, "tx/"), "key %q changed; only replay protection may", k)
				}
			}
		})
	}
}

// A receipt is proven to anyone from state: present (with its whole
// history, re-derived by the verifier) or absent. A clearance statement is
// built only from proven per-period totals whose keys the verifier computes,
// so a node cannot hide a period, and tampering with any value is caught.
func TestTaxReceiptAndClearanceProofsAgainstAppHash(t *testing.T) {
	c := newTaxChain(t)
	alice, bob := taxPayerRef("alice"), taxPayerRef("bob")
	var txs [][]byte
	for i, p := range []string{"2025-Q3", "2025-Q4", "2026-Q2"} {
		txs = append(txs, c.tx(taxCollector, taxIssue("VAT", alice, p, uint64(1_000*(i+1)), "A-"+p)))
	}
	txs = append(txs, c.tx(taxBankCollector, taxIssue("VAT", bob, "2026-Q1", 77, "B-1")))
	for _, r := range c.block(txs...).TxResults {
		requireOK(t, r)
	}
	requireOK(t, c.block(c.tx(taxCollector, taxIssue("VAT", alice, "2026-Q1", 400, "A-late")), c.tx(taxCollector, taxRefund("TAX-000002", 500))).TxResults[1])

	ans := c.taxReceipt("TAX-000002")
	require.True(t, ans.Found)
	require.Equal(t, taxv1.Status_STATUS_PARTIALLY_REFUNDED, ans.State.Status)
	require.Equal(t, uint64(1_500), ans.State.Net)

	absent := c.taxReceipt("TAX-000999")
	require.False(t, absent.Found)
	absentOther := c.taxReceipt("NOBODY-000001")
	require.False(t, absentOther.Found)

	s := c.taxClearance(taxClearanceRequest(t, alice, "VAT", "2025-Q3", "2026-Q2"))
	s.Taxpayer = tax.TaxpayerHex(alice)
	require.True(t, s.Covered, s.String())
	require.Equal(t, uint64(1_000+1_500+400+3_000), s.Net)
	require.Equal(t, c.height, s.Height)
	require.Equal(t, "taxpayer "+tax.TaxpayerHex(alice)+" has receipts for tax type VAT covering periods 2025-Q3 to 2026-Q2, net total 5900, as of height "+strconv.FormatInt(c.height, 10), s.String())

	s = c.taxClearance(taxClearanceRequest(t, bob, "VAT", "2025-Q4", "2026-Q2"))
	require.False(t, s.Covered)
	require.Equal(t, []string{"2025-Q4", "2026-Q2"}, s.Missing)
	require.Equal(t, uint64(77), s.Net)

	// Tampering: a changed total, a dropped period, a missing proof.
	req := taxClearanceRequest(t, alice, "VAT", "2025-Q3", "2026-Q2")
	data, err := proto.Marshal(req)
	require.NoError(t, err)
	list, h, check := c.taxProved(api.PathTaxClearance, data)
	forged := proto.Clone(list).(*appv1.ProvedList)
	bigger, _ := proto.Marshal(&taxv1.Total{Receipts: 1, Collected: 9_999, Net: 9_999})
	forged.Entries[1].Value = bigger
	require.ErrorContains(t, checkEntries(forged, check), "not the value its proof commits to")
	dropped := proto.Clone(list).(*appv1.ProvedList)
	dropped.Entries = append(dropped.Entries[:2], dropped.Entries[3:]...)
	require.NoError(t, checkEntries(dropped, check), "every entry left is genuine")
	_, err = api.DecodeClearance(req, h, dropped)
	require.ErrorIs(t, err, api.ErrAnswer)
	require.ErrorContains(t, err, "must hold 5 records (the tax type and 4 periods) but the answer carries 4")
	hidden := proto.Clone(list).(*appv1.ProvedList)
	hidden.Entries[2].Value = nil // claim the period is empty
	require.Error(t, checkEntries(hidden, check))

	// A receipt answer with an amendment left out is refused.
	rl, _, rcheck := c.taxProved(api.PathTaxReceipt, listData("TAX-000002"))
	rl.Entries = rl.Entries[:2]
	require.NoError(t, checkEntries(rl, rcheck))
	_, err = api.DecodeReceipt("TAX-000002", rl)
	require.ErrorContains(t, err, "state counts 1 amendments but the answer carries 0")

	// Aggregates for the Treasury: per type and period, and per collector, with proofs.
	tot := &taxv1.Total{}
	for _, q := range []struct {
		req  *taxv1.TotalRequest
		want *taxv1.Total
	}{
		{&taxv1.TotalRequest{TaxType: "VAT", Period: "2026-Q1"}, &taxv1.Total{Receipts: 2, Collected: 477, Net: 477}},
		{&taxv1.TotalRequest{TaxType: "VAT", Period: "2026-Q1", Collector: taxBankCollector.addr}, &taxv1.Total{Receipts: 1, Collected: 77, Net: 77}},
		{&taxv1.TotalRequest{TaxType: "VAT", Period: "2025-Q4"}, &taxv1.Total{Receipts: 1, Collected: 2_000, Refunded: 500, Net: 1_500}},
	} {
		data, err := proto.Marshal(q.req)
		require.NoError(t, err)
		res, err := c.app.Query(context.Background(), &abci.RequestQuery{Path: api.PathTaxTotal, Data: data, Prove: true})
		require.NoError(t, err)
		require.Zero(t, res.Code, res.Log)
		p := &ics23.CommitmentProof{}
		require.NoError(t, p.Unmarshal(res.ProofOps.Ops[0].Data))
		require.NoError(t, client.VerifyProof(c.hashes[res.Height], res.Key, res.Value, p))
		require.NoError(t, proto.Unmarshal(res.Value, tot))
		require.True(t, proto.Equal(q.want, tot), "%v: %v", q.req, tot)
	}
	c.taxConfirmAll()
	require.Equal(t, uint64(1_000+1_500+400+3_000+77), c.taxFundsBalance(agTreasury))
	c.taxRequireFundsConserved()
}

// /tax/receipts lists one tax type and period's receipts from its index,
// each proven, a page at a time, and refuses malformed arguments.
func TestTaxReceiptsByTypeAndPeriod(t *testing.T) {
	c := newTaxChain(t)
	alice, bob := taxPayerRef("alice"), taxPayerRef("bob")
	requireOK(t, c.block(c.tx(taxCollector, taxIssue("VAT", alice, "2026-Q1", 100, "R-1"))).TxResults[0])
	requireOK(t, c.block(c.tx(taxBankCollector, taxIssue("VAT", bob, "2026-Q1", 200, "R-2"))).TxResults[0])
	requireOK(t, c.block(c.tx(taxCollector, taxIssue("VAT", alice, "2026-Q2", 300, "R-3"))).TxResults[0])

	ids := func(list *appv1.ProvedList, check func(*appv1.ProvedEntry) error) []string {
		var out []string
		for _, e := range list.Entries {
			require.NoError(t, check(e))
			r := &taxv1.Receipt{}
			require.NoError(t, proto.Unmarshal(e.Value, r))
			out = append(out, r.Id)
		}
		return out
	}
	list, _, check := c.taxProved(api.PathTaxReceipts, listData("VAT/2026-Q1"))
	require.Equal(t, []string{"TAX-000001", "TAX-000002"}, ids(list, check))
	require.Empty(t, list.NextKey)

	// Continuing after the first receipt's index key gives the rest.
	ref1, err := tax.ParseReceiptID("TAX-000001")
	require.NoError(t, err)
	list, _, check = c.taxProved(api.PathTaxReceipts, api.ListData([]byte("VAT/2026-Q1"), api.TaxTypePeriodIndexKey("VAT", "2026-Q1", ref1), 0))
	require.Equal(t, []string{"TAX-000002"}, ids(list, check))

	// A period correction moves the receipt between listings.
	requireOK(t, c.block(c.tx(taxCollector, taxCorrect("TAX-000002", 0, "2026-Q2"))).TxResults[0])
	list, _, check = c.taxProved(api.PathTaxReceipts, listData("VAT/2026-Q2"))
	require.Equal(t, []string{"TAX-000002", "TAX-000003"}, ids(list, check))
	list, _, _ = c.taxProved(api.PathTaxReceipts, listData("VAT/2025-Q1"))
	require.Empty(t, list.Entries)

	for _, bad := range [][]byte{listData("VAT"), listData("VAT/not-a-period"), listData("vat lower/2026-Q1"), listData("VAT/2026-Q1/x"),
		api.ListData([]byte("VAT/2026-Q1"), []byte("tax/r/elsewhere"), 0), []byte("VAT/2026-Q1")} {
		res, err := c.app.Query(context.Background(), &abci.RequestQuery{Path: api.PathTaxReceipts, Data: bad, Prove: true})
		require.NoError(t, err)
		require.NotZero(t, res.Code, "%q should be refused", bad)
	}
}

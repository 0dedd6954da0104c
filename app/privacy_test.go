package app_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"strings"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	ics23 "github.com/cosmos/ics23/go"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/client"
	"github.com/tallyledger/tally/client/personal"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	benefitsv1 "github.com/tallyledger/tally/proto/tally/benefits/v1"
	fundsv1 "github.com/tallyledger/tally/proto/tally/funds/v1"
	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/benefits"
	"github.com/tallyledger/tally/x/funds"
	"github.com/tallyledger/tally/x/module"
)

// servedQueryPaths lists every query path the app serves (api.Routes),
// so that a route added later is walked too.
func servedQueryPaths(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, r := range api.Routes() {
		out = append(out, r.Path)
	}
	require.Greater(t, len(out), 30, "api.Routes lists the app's query paths")
	return out
}

// TestRelyingPartyGivenAClearanceFindsNoOtherReceipt: a landlord handed
// alice's clearance grant for VAT 2026-Q1 learns that period's total and
// nothing else of alice. The test plays the landlord against every query
// path the app serves, with every value the grant gives (taxpayer
// reference, salt, payer commitment, as bytes and hex, in every request
// shape, and as raw state keys under every prefix of the state), plus every
// receipt by id (ids are public and sequential). A receipt counts as found
// when an answer ties it to alice: it carries her taxpayer reference, or a
// payer commitment the landlord can compute. Only the granted receipt may
// be found; alice's other receipts (another quarter, a corrected one, a
// refunded one) must not be, and her reference must appear nowhere in
// state.
func TestRelyingPartyGivenAClearanceFindsNoOtherReceipt(t *testing.T) {
	c := newTaxChain(t)
	alice, bob := taxPayerRef("alice"), taxPayerRef("bob")
	var txs [][]byte
	for _, m := range []*txv1Msg{
		{taxCollector, taxIssue("VAT", alice, "2026-Q1", 1_000, "ALICE-Q1")},     // TAX-000001: granted
		{taxCollector, taxIssue("VAT", alice, "2026-Q2", 2_000, "ALICE-Q2")},     // TAX-000002
		{taxBankCollector, taxIssue("VAT", alice, "2025-Q4", 3_000, "ALICE-Q4")}, // TAX-000003
		{taxCollector, taxIssue("VAT", bob, "2026-Q1", 4_000, "BOB-Q1")},         // TAX-000004
		{taxBankCollector, taxIssue("VAT", alice, "2026-Q3", 5_000, "ALICE-Q3")}, // TAX-000005
		{taxCollector, taxIssue("VAT", alice, "2027-Q1", 6_000, "J SMITH RENT")}, // TAX-000006
	} {
		txs = append(txs, c.tx(m.signer, m.msg))
	}
	for _, r := range c.block(txs...).TxResults {
		requireOK(t, r)
	}
	requireOK(t, c.block(c.tx(taxCollector, taxRefund("TAX-000002", 500))).TxResults[0])
	requireOK(t, c.block(c.tx(taxCollector, taxCorrect("TAX-000003", 3_300, ""))).TxResults[0])
	granted := map[string]bool{"TAX-000001": true}
	hidden := []string{"TAX-000002", "TAX-000003", "TAX-000005", "TAX-000006"}

	// What the landlord holds: the grant, and what it yields.
	g, err := client.NewClearanceGrant(alice, taxSecret(alice), "VAT", "2026-Q1", "2026-Q1")
	require.NoError(t, err)
	req, err := client.ClearanceRequestOf(g)
	require.NoError(t, err)
	kQ1, salt := req.Payers[0], g.Salts[0]
	// Tokens that tie a record to alice in the landlord's hands.
	ties := [][]byte{alice, kQ1, []byte(hex.EncodeToString(alice)), []byte(hex.EncodeToString(kQ1))}
	// And what it may try to stretch the grant with: the same salt, or no
	// salt, for every other period and tax type.
	for _, typ := range []string{"VAT", "PAYE"} {
		for _, p := range []string{"2025-Q4", "2026-Q1", "2026-Q2", "2026-Q3", "2027-Q1"} {
			for _, s := range [][]byte{salt, nil, alice} {
				if k := client.PayerCommitment(alice, typ, p, s); !bytes.Equal(k, kQ1) {
					ties = append(ties, k, []byte(hex.EncodeToString(k)))
				}
			}
		}
	}

	var probes [][]byte
	add := func(b ...[]byte) { probes = append(probes, b...) }
	for _, v := range [][]byte{alice, salt, kQ1} {
		add(v, []byte(hex.EncodeToString(v)), []byte(strings.ToUpper(hex.EncodeToString(v))))
	}
	for _, r := range []*taxv1.ClearanceRequest{
		req,
		{TaxType: "VAT", FromPeriod: "2025-Q1", ToPeriod: "2027-Q4", Payers: repeat(kQ1, 12)},
		{TaxType: "VAT", FromPeriod: "2026-Q2", ToPeriod: "2026-Q2", Payers: [][]byte{kQ1}},
		{TaxType: "VAT", FromPeriod: "2026-Q1", ToPeriod: "2026-Q1", Payers: [][]byte{alice}},
	} {
		b, err := proto.Marshal(r)
		require.NoError(t, err)
		add(b)
	}
	for _, p := range []string{"2025-Q4", "2026-Q1", "2026-Q2", "2026-Q3", "2027-Q1"} {
		tot, _ := proto.Marshal(&taxv1.TotalRequest{TaxType: "VAT", Period: p, Collector: alice})
		add(tot, []byte("VAT/"+p), []byte("VAT/"+p+"/"+string(kQ1)), []byte("VAT\x00"+string(alice)))
	}
	// Raw state keys: every prefix present in the state, followed by each
	// value the landlord holds (the layout before this change kept a
	// taxpayer's receipts under tax/i/<taxpayer> and totals under tax/p/<taxpayer>).
	prefixes := map[string]bool{"tax/i/": true, "tax/p/": true}
	for k := range c.dump() {
		if i := strings.Index(k[strings.Index(k, "/")+1:], "/"); i >= 0 {
			prefixes[k[:strings.Index(k, "/")+1+i+1]] = true
		}
	}
	for p := range prefixes {
		for _, v := range [][]byte{alice, kQ1} {
			add(append([]byte(p), v...), append(append([]byte(p), v...), '/'), append([]byte(p+"VAT/2026-Q1/"), v...))
		}
	}
	for i := 1; i <= 8; i++ {
		add([]byte(taxID(i)))
	}

	found := map[string]bool{}
	paths := servedQueryPaths(t)
	require.NotContains(t, paths, "/tax/taxpayer", "no listing of a taxpayer's receipts")
	for _, path := range paths {
		pathProbes := probes
		if r, _ := api.RouteOf(path); r.Answer == api.Page { // a listing takes its argument in a ListRequest
			pathProbes = nil
			for _, p := range probes {
				pathProbes = append(pathProbes, p, api.ListData(p, nil, 0))
			}
		}
		for _, data := range pathProbes {
			for _, prove := range []bool{false, true} {
				res, err := c.app.Query(context.Background(), &abci.RequestQuery{Path: path, Data: data, Prove: prove})
				require.NoError(t, err)
				for _, rec := range answerRecords(t, res) {
					if !tiedTo(rec.key, ties) && !tiedTo(rec.value, ties) {
						continue
					}
					for i := 1; i <= 8; i++ {
						if bytes.Contains(rec.value, []byte(taxID(i))) || bytes.Contains(rec.key, receiptKeySuffix(i)) {
							if !granted[taxID(i)] && !found[taxID(i)] {
								t.Logf("%s %q: record %q = %q", path, data, rec.key, rec.value)
							}
							found[taxID(i)] = true
						}
					}
				}
			}
		}
	}
	for id := range found {
		require.True(t, granted[id], "the landlord tied %s to alice; only the granted receipt may be found (found %v)", id, found)
	}
	for _, id := range hidden {
		require.False(t, found[id], id)
	}

	// The whole state, keys and values, holds alice's reference nowhere, and
	// her hidden receipts are filed under commitments the landlord cannot compute.
	for k, v := range c.dump() {
		require.False(t, bytes.Contains([]byte(k), alice) || bytes.Contains([]byte(v), alice), "state key %q holds the taxpayer reference", k)
	}
	for _, id := range hidden {
		r := c.taxReceipt(id)
		require.True(t, r.Found)
		require.False(t, tiedTo(r.Receipt.Payer, ties), "%s is filed under a commitment the landlord can compute", id)
		require.False(t, tiedTo(r.State.Payer, ties), "%s's state names a commitment the landlord can compute", id)
		require.Len(t, r.Receipt.BankReference, 32, "%s: the bank reference is a commitment", id)
	}

	// And the grant itself still proves the granted period, and no more.
	s := c.taxClearance(req)
	require.True(t, s.Covered)
	require.Equal(t, uint64(1_000), s.Net)
	require.Equal(t, uint64(1), s.Receipts)
}

type txv1Msg struct {
	signer testKey
	msg    *txv1.Msg
}

func repeat(b []byte, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}

func taxID(i int) string { return "TAX-" + strings.Repeat("0", 5) + string(rune('0'+i)) }

// receiptKeySuffix is how a receipt's keys end: <authority>/<seq 8 bytes>.
func receiptKeySuffix(i int) []byte {
	return append([]byte(agTax+"/"), 0, 0, 0, 0, 0, 0, 0, byte(i))
}

type stateRecord struct{ key, value []byte }

// answerRecords is every record an answer carries: its key and value, its
// log, each entry of a listed answer, and every leaf inside each proof (a
// proof of absence carries the neighbouring records).
func answerRecords(t *testing.T, res *abci.ResponseQuery) []stateRecord {
	out := []stateRecord{{nil, []byte(res.Log)}}
	proofs := [][]byte{}
	if res.ProofOps != nil {
		for _, op := range res.ProofOps.Ops {
			proofs = append(proofs, op.Data)
		}
	}
	list := &appv1.ProvedList{}
	if len(res.Value) > 0 && proto.Unmarshal(res.Value, list) == nil && len(list.Entries) > 0 && len(list.Entries[0].Key) > 0 {
		for _, e := range list.Entries {
			out = append(out, stateRecord{e.Key, e.Value})
			proofs = append(proofs, e.Proof)
		}
	} else {
		out = append(out, stateRecord{res.Key, res.Value})
	}
	for _, pb := range proofs {
		p := &ics23.CommitmentProof{}
		if len(pb) == 0 || p.Unmarshal(pb) != nil {
			continue
		}
		for _, ex := range []*ics23.ExistenceProof{p.GetExist(), p.GetNonexist().GetLeft(), p.GetNonexist().GetRight()} {
			if ex != nil {
				out = append(out, stateRecord{ex.Key, ex.Value})
			}
		}
	}
	return out
}

func tiedTo(answer []byte, ties [][]byte) bool {
	for _, t := range ties {
		if len(t) > 0 && bytes.Contains(answer, t) {
			return true
		}
	}
	return false
}

// TestFreeTextAboutPeopleIsRefused: every field where a person's name, an
// identifier or a note about them used to fit as free text now takes a
// code or a 64-hex pseudonym or commitment, and text is refused with the
// module's code before it can reach a block.
func TestFreeTextAboutPeopleIsRefused(t *testing.T) {
	c := newMoneyChain(t, 0)
	c.block()
	ok := pseud("someone")
	for _, tt := range []struct {
		name   string
		signer testKey
		msg    *txv1.Msg
		memo   string
		want   *module.Error
	}{
		{"recipient as a national insurance number", mCaseworker, &txv1.Msg{Sum: &txv1.Msg_Enrol{Enrol: &benefitsv1.MsgEnrol{
			Programme: "p", Recipient: "QQ123456C", ReceivingAccount: ok, EvidenceHash: make([]byte, 32)}}}, "", benefits.ErrInvalidRecipient},
		{"receiving account as a name", mCaseworker, &txv1.Msg{Sum: &txv1.Msg_Enrol{Enrol: &benefitsv1.MsgEnrol{
			Programme: "p", Recipient: ok, ReceivingAccount: "bank-jane-smith", EvidenceHash: make([]byte, 32)}}}, "", benefits.ErrInvalidRecipient},
		{"suspension without a code (was: \"deceased\")", mCaseworker, &txv1.Msg{Sum: &txv1.Msg_SuspendEnrolment{SuspendEnrolment: &benefitsv1.MsgSuspendEnrolment{
			Programme: "p", Recipient: ok}}}, "", benefits.ErrInvalidReason},
		{"end with an undefined code", mCaseworker, &txv1.Msg{Sum: &txv1.Msg_EndEnrolment{EndEnrolment: &benefitsv1.MsgEndEnrolment{
			Programme: "p", Recipient: ok, ReasonCode: 99}}}, "", benefits.ErrInvalidReason},
		{"one-off payment reference as text", mPayer, &txv1.Msg{Sum: &txv1.Msg_Pay{Pay: &benefitsv1.MsgPay{
			Programme: "p", Recipient: ok, Amount: 1, Currency: "GBP", Reference: "Jane Smith hardship"}}}, "", benefits.ErrInvalidReason},
		{"recovery without a code", mPayer, &txv1.Msg{Sum: &txv1.Msg_OpenRecovery{OpenRecovery: &benefitsv1.MsgOpenRecovery{
			Payment: 1, Amount: 1, Currency: "GBP"}}}, "", benefits.ErrInvalidReason},
		{"repayment bank reference as text", mSettler, &txv1.Msg{Sum: &txv1.Msg_RecordRepayment{RecordRepayment: &benefitsv1.MsgRecordRepayment{
			Recovery: 1, Amount: 1, Currency: "GBP", BankReference: "J SMITH REPAY"}}}, "", benefits.ErrInvalidReason},
		{"settlement bank reference as text", mSettler, &txv1.Msg{Sum: &txv1.Msg_Settle{Settle: &fundsv1.MsgSettle{
			Payment: 1, BankReference: "BACS JANE SMITH"}}}, "", funds.ErrInvalidReference},
		{"payee token as a name", mFinance, msgTransfer(api.AgencyHolder(mBenefits), "payee:jane-smith", 1), "", funds.ErrInvalidHolder},
		{"payment to a person with a text reference", mFinance, &txv1.Msg{Sum: &txv1.Msg_Transfer{Transfer: &fundsv1.MsgTransfer{
			From: api.AgencyHolder(mBenefits), To: payee("x"), Amount: 1, Currency: "GBP", Purpose: "GRANT", Reference: "rent for J Smith"}}}, "", funds.ErrInvalidReference},
		{"account suspension without a code", mBenefitsAdmin, &txv1.Msg{Sum: &txv1.Msg_SuspendAccount{SuspendAccount: &agencyv1.MsgSuspendAccount{
			Address: mPayer.addr}}}, "", agency.ErrInvalidReason},
		{"memo as text", mBenefitsAdmin, grantRole(mPayer.addr, agencyv1.Role_ROLE_AUDITOR), "pay J Smith, NI QQ123456C", app.ErrMemoNotCommitment},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tx := c.txWith(txArgs{signer: tt.signer, memo: tt.memo}, tt.msg)
			res := c.checkTx(tx)
			requireCode(t, tt.want, res.Codespace, res.Code, res.Log)
			fin := c.block(tx)
			requireCode(t, tt.want, fin.TxResults[0].Codespace, fin.TxResults[0].Code, fin.TxResults[0].Log)
		})
	}
	// A memo that is a commitment is carried.
	commitment, _, err := client.CommitMemo("pay J Smith, NI QQ123456C")
	require.NoError(t, err)
	res := c.checkTx(c.txWith(txArgs{signer: mBenefitsAdmin, memo: commitment}, grantRole(mPayer.addr, agencyv1.Role_ROLE_AUDITOR)))
	require.Zero(t, res.Code, res.Log)
}

// TestShreddedPersonalRecordIsGoneButItsCommitmentStillVerifies: an agency
// keeps a person's evidence in its personal store and writes only the
// commitments (pseudonyms, evidence hash) on chain. After shredding the
// person's key, the record and the link from the pseudonym to the person
// cannot be recovered, while the enrolment on chain, with its evidence
// hash, is still proven against the app hash — and the state never held
// the personal data.
func TestShreddedPersonalRecordIsGoneButItsCommitmentStillVerifies(t *testing.T) {
	c := newMoneyChain(t, 0)
	ps, err := personal.Open(t.TempDir())
	require.NoError(t, err)
	const who = "NI:QQ123456C"
	evidence := []byte("Jane Example, 1 High Street; carer since 2024-03; letter ref 55/2030")
	com, err := ps.Put(who, "evidence", evidence)
	require.NoError(t, err)
	rec, err := ps.Pseudonym(who, "benefits/recipient")
	require.NoError(t, err)
	acct, err := ps.Pseudonym(who, "benefits/account")
	require.NoError(t, err)
	recipient := hex.EncodeToString(rec)

	start := blockTime(3).Unix()
	c.block(c.tx(mOfficer, msgAppropriate("SA/1", 10_000), msgAllocate(mBenefits, 10_000)))
	c.block(c.tx(mManager, msgCreateProgramme("p", 100, 5, start, start+50, 0)))
	res := c.block(c.tx(mCaseworker, &txv1.Msg{Sum: &txv1.Msg_Enrol{Enrol: &benefitsv1.MsgEnrol{
		Programme: "p", Recipient: recipient, ReceivingAccount: hex.EncodeToString(acct), EvidenceHash: com.Hash, StartUnix: start}}}))
	requireOK(t, res.TxResults[0])

	require.NoError(t, ps.Shred(who))
	_, _, err = ps.Get(who, "evidence")
	require.ErrorIs(t, err, personal.ErrShredded)
	_, err = ps.Pseudonym(who, "benefits/recipient")
	require.ErrorIs(t, err, personal.ErrShredded, "nobody can recompute which person the pseudonym stood for")

	// The chain's commitment is untouched and still proven.
	q, err := c.app.Query(context.Background(), &abci.RequestQuery{Path: api.PathBenefitsEnrolment, Data: []byte("p/" + recipient), Prove: true})
	require.NoError(t, err)
	require.Zero(t, q.Code, q.Log)
	p := &ics23.CommitmentProof{}
	require.NoError(t, p.Unmarshal(q.ProofOps.Ops[0].Data))
	require.NoError(t, client.VerifyProof(c.hashes[q.Height], q.Key, q.Value, p))
	e := &benefitsv1.Enrolment{}
	require.NoError(t, proto.Unmarshal(q.Value, e))
	require.Equal(t, com.Hash, e.EvidenceHash)
	require.Equal(t, recipient, e.Recipient)

	for k, v := range c.dump() {
		for _, secret := range [][]byte{evidence, []byte("QQ123456C"), []byte("Jane")} {
			require.False(t, bytes.Contains([]byte(k), secret) || bytes.Contains([]byte(v), secret), "state key %q holds personal data", k)
		}
	}
}

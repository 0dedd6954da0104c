package testnet_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/client"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/testnet"
	"github.com/tallyledger/tally/x/gov"
)

// tamperList rewrites the record-list answers (ProvedLists) the proxy
// passes whose answer key starts with keyPrefix ("" for answers without a
// key, whose first entry's key must start with firstPrefix instead).
func tamperList(t *testing.T, keyPrefix, firstPrefix string, edit func(l *appv1.ProvedList)) func(map[string]any) {
	return func(resp map[string]any) {
		key := []byte{}
		if s, ok := resp["key"].(string); ok && s != "" {
			key = b64(t, s)
		}
		if keyPrefix == "" && len(key) > 0 || !bytes.HasPrefix(key, []byte(keyPrefix)) {
			return
		}
		l := &appv1.ProvedList{}
		if s, _ := resp["value"].(string); s == "" || proto.Unmarshal(b64(t, s), l) != nil {
			return
		}
		if len(l.Entries) == 0 || !bytes.HasPrefix(l.Entries[0].Key, []byte(firstPrefix)) {
			return
		}
		edit(l)
		resp["value"] = base64.StdEncoding.EncodeToString(protoMarshal(t, l))
	}
}

// The composite records of issue #8 — a receipt with its amendments, a
// clearance statement, a payment trace, an item's history, a proposal with
// its votes — are each read through a light client with every part proven
// and their linkage checked; a primary that leaves a part out is refused.
func TestVerifiedCompositeRecords(t *testing.T) {
	net := startNetwork(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 85*time.Second)
	defer cancel()
	require.NoError(t, net.WaitHeight(ctx, "treasury", 2))
	require.NoError(t, testnet.SeedDemo(ctx, t.TempDir(), net.Manifest, t.Logf))

	// A proposal with two votes on it.
	_, ev := sendAs(t, ctx, net, "treasury", "treasury", &txv1.Msg{Sum: &txv1.Msg_SubmitProposal{SubmitProposal: &govv1.MsgSubmitProposal{
		Content: &govv1.Content{Sum: &govv1.Content_ChangeParam{ChangeParam: &govv1.ChangeParam{Name: "app.max_memo_bytes", Value: "300"}}}}}})
	proposal, err := strconv.ParseUint(ev[gov.EventSubmitted]["proposal_id"], 10, 64)
	require.NoError(t, err)
	sendAs(t, ctx, net, "revenue", "revenue", &txv1.Msg{Sum: &txv1.Msg_Vote{Vote: &govv1.MsgVote{ProposalId: proposal, Option: govv1.VoteOption_VOTE_OPTION_YES}}})
	sendAs(t, ctx, net, "benefits", "benefits", &txv1.Msg{Sum: &txv1.Msg_Vote{Vote: &govv1.MsgVote{ProposalId: proposal, Option: govv1.VoteOption_VOTE_OPTION_NO}}})

	// The demo's bursary pays its first students once its start time passes.
	// Payments are read at a height that holds the first one (a newest
	// verified header may be a block older than the node's newest state).
	var payH int64
	for {
		if res, _, err := rpc(t, net, "fsa").Query(ctx, "/benefits/payment", []byte("1"), 0, false); err == nil {
			payH = res.Height
			require.NoError(t, net.WaitHeight(ctx, "fsa", payH+1))
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the demo programme made no payment")
		case <-time.After(500 * time.Millisecond):
		}
	}

	node := rpcAddrs(t, net, "treasury")[0]
	proxy := &tamperingProxy{target: strings.Replace(node, "tcp://", "http://", 1)}
	srv := httptest.NewServer(proxy)
	defer srv.Close()
	h, hash := trustRoot(t, ctx, net, "fsa", 2)
	lc := newLight(t, ctx, client.LightOptions{Primary: srv.URL, Witnesses: rpcAddrs(t, net, "revenue", "benefits", "fsa"), TrustHeight: h, TrustHash: hash})

	grant, err := client.DecodeGrant(testnet.DemoClearanceGrant("demo-business-dalefarm", "VAT", "2026-Q1", "2026-Q3"))
	require.NoError(t, err)
	clearanceReq, err := client.ClearanceRequestOf(grant)
	require.NoError(t, err)
	const milkA = "lgtin:05012345678900.DALE-MILK-001-A"

	t.Run("receipt with its amendment chain", func(t *testing.T) {
		r, list, err := lc.TaxReceipt(ctx, "REVENUE-000001", 0)
		require.NoError(t, err)
		require.Equal(t, uint32(1), r.State.Amendments)
		require.Len(t, r.Amendments, 1)
		require.Equal(t, uint64(1_200_000), r.State.Net, "refunded 50,000 of 1,250,000")
		requireVerifiedAgainstChain(t, ctx, net, list.Verified)

		r, _, err = lc.TaxReceipt(ctx, "REVENUE-000002", 0)
		require.NoError(t, err)
		require.Len(t, r.Amendments, 1)
		require.Equal(t, uint64(890_000), r.State.Net, "corrected")

		_, list, err = lc.TaxReceipt(ctx, "REVENUE-000099", 0)
		require.ErrorIs(t, err, client.ErrNotFound, "the receipt's absence is proven")
		requireVerifiedAgainstChain(t, ctx, net, list.Verified)
	})
	t.Run("clearance statement", func(t *testing.T) {
		s, list, err := lc.TaxClearance(ctx, clearanceReq, 0)
		require.NoError(t, err)
		require.Len(t, s.Periods, 3)
		require.Equal(t, []string{"2026-Q3"}, s.Missing, "no receipt in Q3: its total is proven absent")
		require.False(t, s.Covered)
		require.Equal(t, uint64(1_200_000+890_000), s.Net)
		require.Equal(t, uint64(2), s.Receipts)
		requireVerifiedAgainstChain(t, ctx, net, list.Verified)

		_, _, err = lc.TaxClearance(ctx, &taxv1.ClearanceRequest{Payers: [][]byte{testnet.DemoPayer("demo-business-dalefarm", "NOPE", "2026")}, TaxType: "NOPE", FromPeriod: "2026", ToPeriod: "2026"}, 0)
		require.ErrorIs(t, err, client.ErrNotFound, "the tax type's absence is proven")
	})
	t.Run("payment trace", func(t *testing.T) {
		tr, list, err := lc.BenefitsPaymentTrace(ctx, 1, payH)
		require.NoError(t, err)
		require.True(t, tr.Complete)
		require.Equal(t, uint64(1), tr.Payment.Id)
		require.NotZero(t, tr.Payment.Movement)
		require.Equal(t, tr.Payment.Movement, tr.Movements[0].Id, "the trace starts at the paying movement")
		require.GreaterOrEqual(t, len(tr.Tranches), 2, "programme fund ← benefits allocation ← appropriation")
		last := tr.Tranches[len(tr.Tranches)-1]
		require.Zero(t, last.Parent, "the path ends at an inflow")
		requireVerifiedAgainstChain(t, ctx, net, list.Verified)

		_, _, err = lc.BenefitsPaymentTrace(ctx, 999999, payH)
		require.ErrorIs(t, err, client.ErrNotFound)
	})
	t.Run("item history", func(t *testing.T) {
		hist, list, err := lc.ProvenanceHistory(ctx, milkA, 0)
		require.NoError(t, err)
		require.NotZero(t, hist.Item.Events)
		require.Len(t, hist.Events, int(hist.Item.Events))
		for i, e := range hist.Events {
			require.Equal(t, uint64(i+1), e.Seq)
		}
		requireVerifiedAgainstChain(t, ctx, net, list.Verified)

		_, _, err = lc.ProvenanceHistory(ctx, "lgtin:05012345678900.NONE", 0)
		require.ErrorIs(t, err, client.ErrNotFound)
	})
	t.Run("proposal with its votes", func(t *testing.T) {
		p, list, err := lc.GovProposal(ctx, proposal, 0)
		require.NoError(t, err)
		require.Equal(t, proposal, p.Proposal.Id)
		require.Len(t, p.Votes, 2)
		require.Equal(t, uint64(1), p.Yes)
		require.Equal(t, uint64(1), p.No)
		require.True(t, list.Complete)
		requireVerifiedAgainstChain(t, ctx, net, list.Verified)

		_, _, err = lc.GovProposal(ctx, 999999, 0)
		require.ErrorIs(t, err, client.ErrNotFound)
	})

	dropLast := func(l *appv1.ProvedList) { l.Entries = l.Entries[:len(l.Entries)-1] }
	cases := []struct {
		name   string
		tamper func(map[string]any)
		read   func() error
		check  client.Check
		reason string
	}{
		{"receipt amendment left out", tamperList(t, "", "tax/r/", dropLast),
			func() error { _, _, err := lc.TaxReceipt(ctx, "REVENUE-000001", 0); return err },
			client.CheckLinkage, "amendments were left out"},
		{"receipt amendment altered", tamperList(t, "", "tax/r/", func(l *appv1.ProvedList) {
			a := &taxv1.Amendment{}
			require.NoError(t, protoUnmarshal(l.Entries[2].Value, a))
			a.NetAfter++
			l.Entries[2].Value = protoMarshal(t, a)
		}), func() error { _, _, err := lc.TaxReceipt(ctx, "REVENUE-000001", 0); return err },
			client.CheckProof, "not the value its proof commits to"},
		{"clearance period left out", tamperList(t, "", "tax/t/", func(l *appv1.ProvedList) {
			l.Entries = append(l.Entries[:1], l.Entries[2:]...)
		}), func() error { _, _, err := lc.TaxClearance(ctx, clearanceReq, 0); return err },
			client.CheckLinkage, "must hold 4 records (the tax type and 3 periods) but the answer carries 3"},
		{"payment trace hop left out", tamperList(t, "", "bf/p/", func(l *appv1.ProvedList) {
			var kept []*appv1.ProvedEntry
			dropped := false
			for _, e := range l.Entries {
				if !dropped && bytes.HasPrefix(e.Key, []byte("fu/t/")) {
					dropped = true
					continue
				}
				kept = append(kept, e)
			}
			l.Entries = kept
		}), func() error { _, _, err := lc.BenefitsPaymentTrace(ctx, 1, payH); return err },
			client.CheckLinkage, "leaves out tranche"},
		// A history answer's key is its listing's prefix; its range
		// proofs show the dropped event's key.
		{"history event left out", tamperList(t, "pv/", "pv/i/", dropLast),
			func() error { _, _, err := lc.ProvenanceHistory(ctx, milkA, 0); return err },
			client.CheckList, "records were left out"},
		{"proposal vote left out", tamperList(t, "gov/v/", "gov/v/", func(l *appv1.ProvedList) { l.Entries = l.Entries[1:] }),
			func() error { _, _, err := lc.GovProposal(ctx, proposal, 0); return err },
			client.CheckList, "records were left out"},
	}
	for _, tc := range cases {
		t.Run("tampered/"+tc.name, func(t *testing.T) {
			proxy.set(tc.tamper)
			defer proxy.set(nil)
			r := refusal(t, tc.read())
			require.Equal(t, tc.check, r.Check, r.Reason)
			require.Contains(t, r.Reason, tc.reason)
		})
	}

	t.Run("tallyd verify and query --verify", func(t *testing.T) {
		home := t.TempDir()
		nodes := rpcAddrs(t, net, "benefits", "treasury", "revenue")
		trust := []string{"--home", home, "--witnesses", nodes[1] + "," + nodes[2], "--trust-height", fmt.Sprint(h), "--trust-hash", fmt.Sprintf("%X", hash)}
		out, err := runTallyd(t, append([]string{"verify", "receipt", "REVENUE-000001", "--primary", nodes[0]}, trust...)...)
		require.NoError(t, err, out)
		var got struct {
			Found  bool `json:"found"`
			Record struct {
				Amendments []map[string]any `json:"amendments"`
			} `json:"record"`
			Verified struct {
				AppHash string `json:"app_hash"`
			} `json:"verified_against"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &got), out)
		require.True(t, got.Found)
		require.Len(t, got.Record.Amendments, 1)
		require.NotEmpty(t, got.Verified.AppHash)

		for _, args := range [][]string{
			{"query", "tax", "clearance", testnet.DemoClearanceGrant("demo-business-dalefarm", "VAT", "2026-Q1", "2026-Q3")},
			{"query", "benefits", "payment-trace", "1", "--height", fmt.Sprint(payH)},
			{"query", "provenance", "history", milkA},
			{"query", "gov", "proposal", fmt.Sprint(proposal)},
			{"verify", "item-history", milkA},
		} {
			primary := "--node"
			if args[0] == "verify" {
				primary = "--primary"
			}
			if args[0] == "query" {
				args = append(args, "--verify")
			}
			out, err := runTallyd(t, append(args, primary, nodes[0], "--home", home, "--witnesses", nodes[1])...)
			require.NoError(t, err, "%v: %s", args, out)
			require.Contains(t, out, `"found": true`, args)
			require.Contains(t, out, `"checked"`, args)
		}
	})
}

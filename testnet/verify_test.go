package testnet_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	rpcclient "github.com/cometbft/cometbft/rpc/client"
	"github.com/cometbft/cometbft/types"
	ics23 "github.com/cosmos/ics23/go"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/client"
	"github.com/tallyledger/tally/client/keys"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	"github.com/tallyledger/tally/testnet"
)

// trustRoot is what a clerk obtains out of band: a header's height and
// hash, here read from a node other than the one the client will ask.
func trustRoot(t *testing.T, ctx context.Context, net *testnet.Network, from string, height int64) (int64, []byte) {
	t.Helper()
	require.NoError(t, net.WaitHeight(ctx, from, height))
	c, err := rpc(t, net, from).RPC.Commit(ctx, &height)
	require.NoError(t, err)
	return height, c.SignedHeader.Hash()
}

func rpcAddrs(t *testing.T, net *testnet.Network, names ...string) []string {
	t.Helper()
	var out []string
	for _, n := range names {
		nd, err := net.Node(n)
		require.NoError(t, err)
		out = append(out, nd.RPC)
	}
	return out
}

func newLight(t *testing.T, ctx context.Context, opts client.LightOptions) *client.LightClient {
	t.Helper()
	lc, err := client.NewLightClient(ctx, opts)
	require.NoError(t, err)
	t.Cleanup(func() { lc.Close() })
	return lc
}

func refusal(t *testing.T, err error) *client.Refusal {
	t.Helper()
	var r *client.Refusal
	require.True(t, errors.As(err, &r), "want a refusal, got %v", err)
	return r
}

func admin(t *testing.T, net *testnet.Network, agencyID string) (ed25519.PrivateKey, []byte) {
	t.Helper()
	kr, err := keys.Open(net.Manifest.KeyringDir, keys.BackendTest, nil)
	require.NoError(t, err)
	priv, err := kr.PrivKey(agencyID + "-admin")
	require.NoError(t, err)
	return priv, api.AddressOf(priv.Public().(ed25519.PublicKey))
}

// Every record the modules offer is read through the light client, present
// and absent, with its proof checked against a verified header; a
// transaction sent through it is confirmed from verified headers; and the
// same reads work from the tallyd command line.
func TestVerifiedReadsOfEveryRecord(t *testing.T) {
	net := startNetwork(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	h, hash := trustRoot(t, ctx, net, "fsa", 2)
	lc := newLight(t, ctx, client.LightOptions{
		Primary: rpcAddrs(t, net, "treasury")[0], Witnesses: rpcAddrs(t, net, "revenue", "benefits", "fsa"),
		TrustHeight: h, TrustHash: hash,
	})
	require.Equal(t, net.Manifest.ChainID, lc.ChainID())
	_, adminAddr := admin(t, net, "treasury")
	stranger := bytes.Repeat([]byte{0xEE}, 20)

	t.Run("account", func(t *testing.T) {
		acc, ans, err := lc.Account(ctx, adminAddr, 0)
		require.NoError(t, err)
		require.Equal(t, adminAddr, acc.Address)
		require.Equal(t, "treasury", acc.AgencyId)
		requireVerifiedAgainstChain(t, ctx, net, ans.Verified)
		require.Positive(t, ans.ProofBytes)

		_, ans, err = lc.Account(ctx, stranger, 0)
		require.ErrorIs(t, err, client.ErrNotFound)
		require.Nil(t, ans.Value)
		requireVerifiedAgainstChain(t, ctx, net, ans.Verified)
	})
	t.Run("agency", func(t *testing.T) {
		ag, _, err := lc.Agency(ctx, "revenue", 0)
		require.NoError(t, err)
		require.Equal(t, "Revenue and Customs", ag.Name)
		_, _, err = lc.Agency(ctx, "nosuchagency", 0)
		require.ErrorIs(t, err, client.ErrNotFound)
	})
	t.Run("members", func(t *testing.T) {
		accs, list, err := lc.Members(ctx, "benefits", 0)
		require.NoError(t, err)
		require.True(t, list.Complete)
		require.Len(t, accs, 3) // admin, caseworker, payer
		for _, a := range accs {
			require.Equal(t, "benefits", a.AgencyId)
		}
		_, _, err = lc.Members(ctx, "nosuchagency", 0)
		require.ErrorIs(t, err, client.ErrNotFound, "the agency's absence is proven")
	})
	t.Run("params", func(t *testing.T) {
		p, _, err := lc.Params(ctx, 0)
		require.NoError(t, err)
		require.Positive(t, p.MaxTxBytes)
	})
	t.Run("raw key", func(t *testing.T) {
		ans, err := lc.Key(ctx, api.AgencyKey("fsa"), 0)
		require.NoError(t, err)
		ag := &agencyv1.Agency{}
		require.NoError(t, protoUnmarshal(ans.Value, ag))
		require.Equal(t, "fsa", ag.Id)
		_, err = lc.Key(ctx, []byte("no/such/key"), 0)
		require.ErrorIs(t, err, client.ErrNotFound)
	})
	t.Run("records of the other modules", func(t *testing.T) {
		for _, tc := range []struct {
			path, data string
			key        []byte
			present    bool
		}{
			{api.PathFundsParams, "", api.FundsParamsKey(), true},
			{api.PathBenefitsParams, "", api.BenefitsParamsKey(), true},
			{api.PathProvenanceParams, "", api.ProvenanceParamsKey(), true},
			{api.PathFundsMovement, "999999", api.FundsMovementKey(999999), false},
			{api.PathFundsBalance, "agency:nosuchagency", api.FundsBalanceKey("agency:nosuchagency"), false},
			{api.PathBenefitsPayment, "999999", api.BenefitsPaymentKey(999999), false},
			{api.PathProvenanceItem, "lgtin:05012345678900.NONE", api.ProvenanceItemKey("lgtin:05012345678900.NONE"), false},
			{api.PathTaxType, "NOPE", api.TaxTypeKey("NOPE"), false},
		} {
			ans, err := lc.Get(ctx, tc.path, []byte(tc.data), tc.key, 0)
			if tc.present {
				require.NoError(t, err, tc.path)
				require.NotEmpty(t, ans.Value, tc.path)
			} else {
				require.ErrorIs(t, err, client.ErrNotFound, tc.path)
				require.Nil(t, ans.Value, tc.path)
			}
			requireVerifiedAgainstChain(t, ctx, net, ans.Verified)
		}
	})
	t.Run("at a past height", func(t *testing.T) {
		acc, ans, err := lc.Account(ctx, adminAddr, 3)
		require.NoError(t, err)
		require.Equal(t, int64(3), ans.StateHeight)
		require.Equal(t, int64(4), ans.HeaderHeight)
		require.Equal(t, adminAddr, acc.Address)
	})

	var member []byte
	t.Run("transaction", func(t *testing.T) {
		priv, addr := admin(t, net, "treasury")
		memberPub, memberPriv, err := ed25519.GenerateKey(nil)
		require.NoError(t, err)
		vt, err := lc.Send(ctx, client.TxOptions{Signer: addr}, func(b []byte) ([]byte, error) { return ed25519.Sign(priv, b), nil },
			client.AddMember(net.Manifest.ChainID, "treasury", memberPriv, agencyv1.Role_ROLE_AUDITOR))
		require.NoError(t, err)
		require.Zero(t, vt.Code)
		b, err := rpc(t, net, "revenue").RPC.Block(ctx, &vt.Height)
		require.NoError(t, err)
		require.Equal(t, b.BlockID.Hash.Bytes(), vt.BlockHash, "confirmed in the block the other nodes hold")
		member = api.AddressOf(memberPub)
		acc, ans, err := lc.Account(ctx, member, 0) // read-your-write: the state after the tx's block
		require.NoError(t, err)
		require.GreaterOrEqual(t, ans.StateHeight, vt.Height)
		require.Equal(t, "treasury", acc.AgencyId)
	})

	t.Run("tallyd verify and query --verify", func(t *testing.T) {
		home := t.TempDir()
		nodes := rpcAddrs(t, net, "benefits", "treasury", "revenue")
		out, err := runTallyd(t, "verify", "account", hex.EncodeToString(adminAddr), "--home", home,
			"--primary", nodes[0], "--witnesses", nodes[1]+","+nodes[2],
			"--trust-height", fmt.Sprint(h), "--trust-hash", fmt.Sprintf("%X", hash))
		require.NoError(t, err, out)
		var got struct {
			Found    bool           `json:"found"`
			Record   map[string]any `json:"record"`
			Verified struct {
				AppHash      string `json:"app_hash"`
				HeaderHeight int64  `json:"header_height"`
				Primary      string `json:"primary"`
			} `json:"verified_against"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &got), out)
		require.True(t, got.Found)
		require.Equal(t, "treasury", got.Record["agency_id"])
		hh := got.Verified.HeaderHeight
		commit, err := rpc(t, net, "fsa").RPC.Commit(ctx, &hh)
		require.NoError(t, err)
		require.Equal(t, commit.AppHash.String(), got.Verified.AppHash)

		// The verified headers are kept: no trust root needed any more.
		out, err = runTallyd(t, "query", "agency", "members", "treasury", "--verify", "--home", home,
			"--node", nodes[0], "--witnesses", nodes[1])
		require.NoError(t, err, out)
		require.Contains(t, out, hex.EncodeToString(member)[:8])

		// Without --prove the list is printed unchecked (this panicked once).
		out, err = runTallyd(t, "query", "tax", "tax-types", "--node", nodes[0])
		require.NoError(t, err, out)
		require.Contains(t, out, `"proven": false`)
		require.NotContains(t, out, "panic")

		out, err = runTallyd(t, "verify", "agency", "nosuchagency", "--home", home, "--primary", nodes[0], "--witnesses", nodes[1])
		require.Error(t, err)
		require.Contains(t, out, `"found": false`)
		require.Contains(t, out, `"proof": "absence"`)

		out, err = runTallyd(t, "verify", "params", "--home", t.TempDir(), "--primary", nodes[0], "--witnesses", nodes[1])
		require.Error(t, err)
		require.Contains(t, out, "no trust root")
	})
}

// requireVerifiedAgainstChain checks that what an answer says it was
// verified against is the chain the validators hold.
func requireVerifiedAgainstChain(t *testing.T, ctx context.Context, net *testnet.Network, v client.Verified) {
	t.Helper()
	require.Equal(t, v.StateHeight+1, v.HeaderHeight)
	h := v.HeaderHeight
	c, err := rpc(t, net, "fsa").RPC.Commit(ctx, &h)
	require.NoError(t, err)
	require.Equal(t, c.SignedHeader.Hash().Bytes(), v.HeaderHash)
	require.Equal(t, c.AppHash.Bytes(), v.AppHash)
	require.Len(t, v.Witnesses, 3)
}

func runTallyd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(tallyd, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String() + stderr.String(), err
}

// A trusted genesis is enough to start trusting a fresh network.
func TestVerifiedReadFromTrustedGenesis(t *testing.T) {
	net := startNetwork(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, net.WaitHeight(ctx, "treasury", 3))
	nd, err := net.Node("fsa")
	require.NoError(t, err)
	g, err := types.GenesisDocFromFile(filepath.Join(nd.Home, "config", "genesis.json"))
	require.NoError(t, err)
	lc := newLight(t, ctx, client.LightOptions{Primary: rpcAddrs(t, net, "treasury")[0], Witnesses: rpcAddrs(t, net, "revenue"), Genesis: g})
	_, adminAddr := admin(t, net, "fsa")
	acc, _, err := lc.Account(ctx, adminAddr, 0)
	require.NoError(t, err)
	require.Equal(t, "fsa", acc.AgencyId)

	t.Run("expired trust root", func(t *testing.T) {
		// Block 1 is seconds old: with a one-second trusting period it may no
		// longer be started from.
		_, err := client.NewLightClient(ctx, client.LightOptions{Primary: rpcAddrs(t, net, "treasury")[0],
			Witnesses: rpcAddrs(t, net, "revenue"), Genesis: g, TrustingPeriod: time.Second})
		r := refusal(t, err)
		require.Equal(t, client.CheckTrustingPeriod, r.Check)
		require.Contains(t, r.Reason, "--trust-height")
	})
	t.Run("trusting period passes while idle", func(t *testing.T) {
		h, hash := trustRoot(t, ctx, net, "fsa", maxHeight(ctx, net, "fsa"))
		period := 3 * time.Second
		lc := newLight(t, ctx, client.LightOptions{Primary: rpcAddrs(t, net, "treasury")[0], Witnesses: rpcAddrs(t, net, "revenue"),
			TrustHeight: h, TrustHash: hash, TrustingPeriod: period, MaxAge: -1})
		_, _, err := lc.Params(ctx, 0)
		require.NoError(t, err, "a fresh trust root works")
		time.Sleep(time.Until(lc.Latest().Time.Add(period + 500*time.Millisecond)))
		_, err = lc.Sync(ctx)
		r := refusal(t, err)
		require.Equal(t, client.CheckTrustingPeriod, r.Check)
		require.Contains(t, r.Reason, "Obtain a recent trust root")
	})
}

// tamperingProxy forwards JSON-RPC to a node and rewrites abci_query answers.
type tamperingProxy struct {
	target string
	mu     sync.Mutex
	tamper func(resp map[string]any) // the "response" object of an abci_query result
}

func (p *tamperingProxy) set(f func(map[string]any)) { p.mu.Lock(); p.tamper = f; p.mu.Unlock() }

func (p *tamperingProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req, _ := http.NewRequestWithContext(r.Context(), r.Method, p.target+r.URL.RequestURI(), bytes.NewReader(body))
	req.Header = r.Header.Clone()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	var call struct{ Method string }
	_ = json.Unmarshal(body, &call)
	p.mu.Lock()
	tamper := p.tamper
	p.mu.Unlock()
	if call.Method == "abci_query" && tamper != nil {
		var msg map[string]any
		if json.Unmarshal(out, &msg) == nil {
			if result, ok := msg["result"].(map[string]any); ok {
				if resp, ok := result["response"].(map[string]any); ok {
					tamper(resp)
					out, _ = json.Marshal(msg)
				}
			}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(res.StatusCode)
	_, _ = w.Write(out)
}

func b64(t *testing.T, v any) []byte {
	s, _ := v.(string)
	b, err := base64.StdEncoding.DecodeString(s)
	require.NoError(t, err)
	return b
}

func proofData(t *testing.T, resp map[string]any) []byte {
	ops := resp["proofOps"].(map[string]any)["ops"].([]any)
	return b64(t, ops[0].(map[string]any)["data"])
}

func setProofData(resp map[string]any, data []byte) {
	ops := resp["proofOps"].(map[string]any)["ops"].([]any)
	ops[0].(map[string]any)["data"] = base64.StdEncoding.EncodeToString(data)
}

// A primary that alters answers is refused, each time saying which check
// failed: a changed value, a truncated proof, another key's proof, another
// key's whole answer, a false absence.
func TestTamperedAnswersAreRefused(t *testing.T) {
	net := startNetwork(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	node := rpcAddrs(t, net, "treasury")[0]
	proxy := &tamperingProxy{target: strings.Replace(node, "tcp://", "http://", 1)}
	srv := httptest.NewServer(proxy)
	defer srv.Close()
	h, hash := trustRoot(t, ctx, net, "fsa", 2)
	lc := newLight(t, ctx, client.LightOptions{Primary: srv.URL, Witnesses: rpcAddrs(t, net, "revenue", "fsa"), TrustHeight: h, TrustHash: hash})
	_, treasuryAdmin := admin(t, net, "treasury")
	_, revenueAdmin := admin(t, net, "revenue")

	// The untampered answer is accepted through the proxy.
	_, _, err := lc.Account(ctx, treasuryAdmin, 0)
	require.NoError(t, err)

	other, err := client.Dial(node)
	require.NoError(t, err)
	otherAnswer := func(resp map[string]any) *struct{ key, value, proof []byte } {
		height := int64(0)
		fmt.Sscan(fmt.Sprint(resp["height"]), &height)
		res, _, err := other.Query(ctx, api.PathAccount, revenueAdmin, height, false)
		require.NoError(t, err)
		pr, err := other.RPC.ABCIQueryWithOptions(ctx, api.PathAccount, revenueAdmin, rpcQueryOpts(height))
		require.NoError(t, err)
		return &struct{ key, value, proof []byte }{res.Key, res.Value, pr.Response.ProofOps.Ops[0].Data}
	}

	cases := []struct {
		name   string
		tamper func(resp map[string]any)
		check  client.Check
		reason string
	}{
		{"altered value", func(resp map[string]any) {
			acc := &agencyv1.Account{}
			require.NoError(t, protoUnmarshal(b64(t, resp["value"]), acc))
			acc.Roles = append(acc.Roles, agencyv1.Role_ROLE_TREASURY)
			resp["value"] = base64.StdEncoding.EncodeToString(protoMarshal(t, acc))
		}, client.CheckProof, "not the value its proof commits to"},
		{"proof value and value altered together", func(resp map[string]any) {
			v := b64(t, resp["value"])
			v[len(v)-1] ^= 1
			resp["value"] = base64.StdEncoding.EncodeToString(v)
			var p ics23.CommitmentProof
			require.NoError(t, p.Unmarshal(proofData(t, resp)))
			p.GetExist().Value = v
			bz, err := p.Marshal()
			require.NoError(t, err)
			setProofData(resp, bz)
		}, client.CheckProof, "does not lead to app hash"},
		{"truncated proof", func(resp map[string]any) {
			var p ics23.CommitmentProof
			require.NoError(t, p.Unmarshal(proofData(t, resp)))
			ex := p.GetExist()
			ex.Path = ex.Path[:len(ex.Path)-1]
			bz, err := p.Marshal()
			require.NoError(t, err)
			setProofData(resp, bz)
		}, client.CheckProof, "does not lead to app hash"},
		{"proof of another key", func(resp map[string]any) {
			setProofData(resp, otherAnswer(resp).proof)
		}, client.CheckProof, "the proof is for key ag/c/" + strings.ToUpper(hex.EncodeToString(revenueAdmin))},
		{"answer for another key", func(resp map[string]any) {
			o := otherAnswer(resp)
			resp["key"] = base64.StdEncoding.EncodeToString(o.key)
			resp["value"] = base64.StdEncoding.EncodeToString(o.value)
			setProofData(resp, o.proof)
		}, client.CheckKey, "the request implies key"},
		{"false absence", func(resp map[string]any) {
			delete(resp, "value")
			resp["code"], resp["codespace"] = 18, "tx"
		}, client.CheckProof, "no proof of absence"},
		{"no proof", func(resp map[string]any) {
			delete(resp, "proofOps")
		}, client.CheckProof, "no ics23:iavl proof"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			proxy.set(tc.tamper)
			defer proxy.set(nil)
			_, _, err := lc.Account(ctx, treasuryAdmin, 0)
			r := refusal(t, err)
			require.Equal(t, tc.check, r.Check, r.Reason)
			require.Contains(t, r.Reason, tc.reason)
		})
	}
	t.Run("truncated proof of absence", func(t *testing.T) {
		proxy.set(func(resp map[string]any) {
			var p ics23.CommitmentProof
			require.NoError(t, p.Unmarshal(proofData(t, resp)))
			left := p.GetNonexist().Left
			left.Path = left.Path[1:]
			bz, err := p.Marshal()
			require.NoError(t, err)
			setProofData(resp, bz)
		})
		defer proxy.set(nil)
		_, _, err := lc.Account(ctx, bytes.Repeat([]byte{0xEE}, 20), 0)
		r := refusal(t, err)
		require.Equal(t, client.CheckProof, r.Check)
		require.Contains(t, r.Reason, "proof of absence")
	})
	t.Run("members left out", func(t *testing.T) {
		// Dropping an entry from a list keeps every remaining proof valid;
		// the agency's proven member count catches it.
		proxy.set(func(resp map[string]any) {
			if !bytes.HasPrefix(b64(t, resp["key"]), []byte("ag/m/")) {
				return
			}
			list := dropFirstEntry(t, b64(t, resp["value"]))
			resp["value"] = base64.StdEncoding.EncodeToString(list)
		})
		defer proxy.set(nil)
		_, _, err := lc.Members(ctx, "benefits", 0)
		r := refusal(t, err)
		require.Equal(t, client.CheckList, r.Check)
		require.Contains(t, r.Reason, "left out")
	})
	// Without a count to compare with, the page's range proofs show every
	// index key in its range: a record dropped from a page is caught by the
	// light client's List and by the plain client's ListAll, and so is a
	// record dropped together with the range proof that shows it.
	members := func(resp map[string]any) *appv1.ProvedList {
		if !bytes.Equal(b64(t, resp["key"]), api.MembersPrefix("benefits")) {
			return nil
		}
		list := &appv1.ProvedList{}
		require.NoError(t, proto.Unmarshal(b64(t, resp["value"]), list))
		require.Len(t, list.Entries, 3)
		return list
	}
	rewrite := func(edit func(*appv1.ProvedList)) func(map[string]any) {
		return func(resp map[string]any) {
			if list := members(resp); list != nil {
				edit(list)
				resp["value"] = base64.StdEncoding.EncodeToString(protoMarshal(t, list))
			}
		}
	}
	plain, err := client.Dial(srv.URL)
	require.NoError(t, err)
	listCases := []struct {
		name   string
		edit   func(*appv1.ProvedList)
		reason string
	}{
		{"record left out of a listing", func(l *appv1.ProvedList) { l.Entries = l.Entries[1:] }, "left out"},
		{"record and its range proof left out", func(l *appv1.ProvedList) {
			l.Entries, l.RangeProofs = l.Entries[:2], l.RangeProofs[:2]
		}, "left out"},
		{"range proofs removed", func(l *appv1.ProvedList) { l.RangeProofs = nil }, "no range proofs"},
		{"first record and proof removed", func(l *appv1.ProvedList) {
			l.Entries, l.RangeProofs = l.Entries[1:], l.RangeProofs[1:]
		}, "not the key asked for"},
	}
	for _, tc := range listCases {
		t.Run(tc.name, func(t *testing.T) {
			proxy.set(nil)
			ans, err := lc.List(ctx, api.PathMembers, api.ListData([]byte("benefits"), nil, 0), api.MembersPrefix("benefits"), api.AccountKey(nil), 0)
			require.NoError(t, err, "the untampered page")
			require.True(t, ans.RangeProven && ans.Complete)
			_, _, err = plain.ListAll(ctx, api.PathMembers, []byte("benefits"), 0, true)
			require.NoError(t, err, "the untampered listing")

			proxy.set(rewrite(tc.edit))
			defer proxy.set(nil)
			_, err = lc.List(ctx, api.PathMembers, api.ListData([]byte("benefits"), nil, 0), api.MembersPrefix("benefits"), api.AccountKey(nil), 0)
			require.ErrorContains(t, refusal(t, err), tc.reason)
			_, _, err = plain.ListAll(ctx, api.PathMembers, []byte("benefits"), 0, true)
			require.ErrorContains(t, refusal(t, err), tc.reason)
		})
	}
}

func rpcQueryOpts(height int64) rpcclient.ABCIQueryOptions {
	return rpcclient.ABCIQueryOptions{Height: height, Prove: true}
}

func protoUnmarshal(b []byte, m proto.Message) error { return proto.Unmarshal(b, m) }

func protoMarshal(t *testing.T, m proto.Message) []byte {
	b, err := proto.Marshal(m)
	require.NoError(t, err)
	return b
}

func dropFirstEntry(t *testing.T, b []byte) []byte {
	list := &appv1.ProvedList{}
	require.NoError(t, proto.Unmarshal(b, list))
	require.NotEmpty(t, list.Entries)
	list.Entries = list.Entries[1:]
	return protoMarshal(t, list)
}

// forkOf copies network a (before it starts) into dir with new ports: the
// same genesis and the same validator and node keys, so the copy is a
// second chain with the same chain id, signed by the same validators —
// what a light client sees when those validators (or a stolen set of
// their keys) sign two histories.
func forkOf(t *testing.T, a *testnet.Manifest, dir string, base int) *testnet.Manifest {
	t.Helper()
	require.NoError(t, os.CopyFS(dir, os.DirFS(filepath.Dir(a.Nodes[0].Home))))
	b := *a
	b.Nodes = nil
	ports := map[string]string{}
	for i, n := range a.Nodes {
		m := n
		m.Home = filepath.Join(dir, n.Name)
		m.LogFile = filepath.Join(m.Home, "tallyd.log")
		m.P2P = fmt.Sprintf("127.0.0.1:%d", base+10*i)
		m.RPC = fmt.Sprintf("tcp://127.0.0.1:%d", base+10*i+1)
		m.Pprof = fmt.Sprintf("127.0.0.1:%d", base+10*i+2)
		ports[n.P2P] = m.P2P
		ports[strings.TrimPrefix(n.RPC, "tcp://")] = strings.TrimPrefix(m.RPC, "tcp://")
		ports[n.Pprof] = m.Pprof
		b.Nodes = append(b.Nodes, m)
	}
	for _, m := range b.Nodes {
		cfg := filepath.Join(m.Home, "config", "config.toml")
		raw, err := os.ReadFile(cfg)
		require.NoError(t, err)
		s := string(raw)
		for from, to := range ports {
			s = strings.ReplaceAll(s, from+`"`, to+`"`)
			s = strings.ReplaceAll(s, from+",", to+",")
		}
		require.NoError(t, os.WriteFile(cfg, []byte(s), 0o600))
		_ = os.Remove(filepath.Join(m.Home, "config", "addrbook.json"))
	}
	return &b
}

// A primary serving a different chain with the same chain id — same
// genesis, same validator keys, different transactions — is caught by the
// witnesses: the client refuses, names the witnesses that disagree, and
// stops accepting answers from that primary.
func TestForkedPrimaryIsDetectedThroughWitnesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts tallyd processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	opts := testnet.DefaultOptions()
	opts.BasePort = freeBase(t)
	opts.TimeoutCommit = 300 * time.Millisecond
	ma, err := testnet.Init(filepath.Join(t.TempDir(), "a"), opts)
	require.NoError(t, err)
	baseB := freeBase(t)
	for baseB/40 == opts.BasePort/40 || (baseB < opts.BasePort+40 && baseB+40 > opts.BasePort) {
		baseB = freeBase(t)
	}
	mb := forkOf(t, ma, filepath.Join(t.TempDir(), "b"), baseB)
	netA, netB := testnet.NewNetwork(ma, tallyd), testnet.NewNetwork(mb, tallyd)
	require.NoError(t, netA.StartAll())
	t.Cleanup(netA.StopAll)

	// A clerk's client verifies network A from a trust root and keeps the
	// headers in its light directory.
	lightDir := t.TempDir()
	h, hash := trustRoot(t, ctx, netA, "fsa", 2)
	primaryA, witnesses := rpcAddrs(t, netA, "treasury")[0], rpcAddrs(t, netA, "revenue", "benefits", "fsa")
	lc, err := client.NewLightClient(ctx, client.LightOptions{Primary: primaryA, Witnesses: witnesses, TrustHeight: h, TrustHash: hash, Dir: lightDir})
	require.NoError(t, err)
	_, adminAddr := admin(t, netA, "treasury")
	_, _, err = lc.Account(ctx, adminAddr, 0)
	require.NoError(t, err)
	trusted := lc.Latest().Height
	require.NoError(t, lc.Close())

	// Network B starts later from the same genesis and keys, and records a
	// member that A never had.
	require.NoError(t, netB.StartAll())
	t.Cleanup(netB.StopAll)
	require.NoError(t, netB.WaitHeight(ctx, "treasury", 2))
	forged := addMember(t, ctx, netB, "treasury", "treasury")
	require.NoError(t, netB.WaitHeight(ctx, "treasury", trusted+3))
	for _, n := range []string{"revenue", "benefits", "fsa"} {
		require.NoError(t, netA.WaitHeight(ctx, n, maxHeight(ctx, netB, "treasury")+2), "witnesses ahead of the forked primary")
	}

	// The same client, now asking a node of B: the header B serves carries
	// valid signatures of the trusted validators, but the witnesses hold a
	// different block at that height.
	lc, err = client.NewLightClient(ctx, client.LightOptions{Primary: rpcAddrs(t, netB, "treasury")[0], Witnesses: witnesses, Dir: lightDir})
	require.NoError(t, err)
	defer lc.Close()
	_, _, err = lc.Account(ctx, forged, 0)
	r := refusal(t, err)
	require.Equal(t, client.CheckDivergence, r.Check, r.Reason)
	require.NotEmpty(t, r.Divergences)
	for _, d := range r.Divergences {
		require.Contains(t, witnesses, d.Witness)
		require.NotEqual(t, d.PrimaryHash, d.WitnessHash)
	}
	require.Contains(t, r.Reason, "witnesses disagree with the primary")

	// Halted: even a record both chains agree on is no longer accepted.
	_, _, err = lc.Account(ctx, adminAddr, 0)
	require.Equal(t, client.CheckDivergence, refusal(t, err).Check)

	// The evidence sent to A's nodes is committed on A.
	found := false
	for deadline := time.Now().Add(15 * time.Second); !found && time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		found = evidenceCommitted(t, ctx, netA)
	}
	require.True(t, found, "the light client attack evidence is committed on the witnesses' chain")
}

func evidenceCommitted(t *testing.T, ctx context.Context, net *testnet.Network) bool {
	c := rpc(t, net, "fsa")
	top := maxHeight(ctx, net, "fsa")
	for h := int64(1); h <= top; h++ {
		b, err := c.RPC.Block(ctx, &h)
		if err == nil && len(b.Block.Evidence.Evidence) > 0 {
			return true
		}
	}
	return false
}

// BenchmarkVerifiedRead compares reading an account through the light
// client (proof checked against a verified header) with the same read
// unverified, on a 4-validator loopback network:
//
//	go test ./testnet -run '^$' -bench VerifiedRead -benchtime 3s
func BenchmarkVerifiedRead(b *testing.B) {
	opts := testnet.DefaultOptions()
	opts.BasePort = freeBaseB(b)
	opts.TimeoutCommit = time.Second
	m, err := testnet.Init(b.TempDir(), opts)
	if err != nil {
		b.Fatal(err)
	}
	net := testnet.NewNetwork(m, tallyd)
	if err := net.StartAll(); err != nil {
		b.Fatal(err)
	}
	defer net.StopAll()
	ctx := context.Background()
	if err := net.WaitHeight(ctx, "fsa", 3); err != nil {
		b.Fatal(err)
	}
	addr := func(n string) string { nd, _ := net.Node(n); return nd.RPC }
	h := int64(2)
	commit, err := mustDial(b, addr("fsa")).RPC.Commit(ctx, &h)
	if err != nil {
		b.Fatal(err)
	}
	kr, err := keys.Open(m.KeyringDir, keys.BackendTest, nil)
	if err != nil {
		b.Fatal(err)
	}
	info, err := kr.Show("revenue-admin")
	if err != nil {
		b.Fatal(err)
	}
	account, _ := keys.ParseAddress(info.Address)
	plain := mustDial(b, addr("treasury"))

	b.Run("unverified", func(b *testing.B) {
		for b.Loop() {
			res, err := plain.RPC.ABCIQuery(ctx, api.PathAccount, account)
			if err != nil || len(res.Response.Value) == 0 {
				b.Fatal(err)
			}
		}
	})
	// The light client reads abci_query with encoding/json rather than
	// CometBFT's jsonpb-based RPC client; this is the unverified read on
	// that same transport, for a like-for-like comparison.
	lean := leanQuery(b, strings.Replace(addr("treasury"), "tcp://", "http://", 1))
	b.Run("unverified-same-transport", func(b *testing.B) {
		for b.Loop() {
			if v := lean(ctx, api.PathAccount, account); len(v) == 0 {
				b.Fatal("no value")
			}
		}
	})
	b.Run("proof-sent-unchecked", func(b *testing.B) { // the node's share of the cost
		for b.Loop() {
			res, err := plain.RPC.ABCIQueryWithOptions(ctx, api.PathAccount, account, rpcclient.ABCIQueryOptions{Prove: true})
			if err != nil || len(res.Response.Value) == 0 {
				b.Fatal(err)
			}
		}
	})
	for _, tc := range []struct {
		name   string
		maxAge time.Duration
	}{{"verified-pinned", -1}, {"verified-maxage-1s", time.Second}} {
		lc, err := client.NewLightClient(ctx, client.LightOptions{Primary: addr("treasury"),
			Witnesses:   []string{addr("revenue"), addr("benefits"), addr("fsa")},
			TrustHeight: h, TrustHash: commit.SignedHeader.Hash(), MaxAge: tc.maxAge})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := lc.Sync(ctx); err != nil { // warm: a recent header verified
			b.Fatal(err)
		}
		b.Run(tc.name, func(b *testing.B) {
			var proof int
			for b.Loop() {
				_, ans, err := lc.Account(ctx, account, 0)
				if err != nil {
					b.Fatal(err)
				}
				proof = ans.ProofBytes
			}
			b.ReportMetric(float64(proof), "proof-bytes")
		})
		b.Run(tc.name+"-parallel", func(b *testing.B) {
			b.SetParallelism(4)
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, _, err := lc.Account(ctx, account, 0); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "reads/s")
		})
		lc.Close()
	}
	b.Run("unverified-parallel", func(b *testing.B) {
		b.SetParallelism(4)
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := plain.RPC.ABCIQuery(ctx, api.PathAccount, account); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "reads/s")
	})
}

func mustDial(b *testing.B, addr string) *client.Client {
	c, err := client.Dial(addr)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// freeBaseB is freeBase for benchmarks.
func freeBaseB(b *testing.B) int {
	base, err := testnet.FreeBasePort(40)
	if err != nil {
		b.Fatal(err)
	}
	return base
}

func leanQuery(b *testing.B, url string) func(ctx context.Context, path string, data []byte) []byte {
	hc := &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 64}}
	return func(ctx context.Context, path string, data []byte) []byte {
		body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "abci_query",
			"params": map[string]any{"path": path, "data": hex.EncodeToString(data), "height": "0", "prove": false}})
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		res, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer res.Body.Close()
		var out struct {
			Result struct {
				Response struct {
					Value []byte `json:"value"`
				} `json:"response"`
			} `json:"result"`
		}
		if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
			b.Fatal(err)
		}
		return out.Result.Response.Value
	}
}

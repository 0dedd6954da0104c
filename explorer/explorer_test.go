package explorer_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cometbft/cometbft/types"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/client"
	"github.com/tallyledger/tally/client/keys"
	"github.com/tallyledger/tally/explorer"
	benefitsv1 "github.com/tallyledger/tally/proto/tally/benefits/v1"
	fundsv1 "github.com/tallyledger/tally/proto/tally/funds/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/testnet"
)

// One real 4-validator network, seeded with the localnet demo (agency,
// funds and benefits, tax, provenance transactions), serves every test;
// the explorer reads it over RPC in demo mode. The demo-mode stop test
// runs last because it stops a validator.
var (
	net_     *testnet.Network
	manifest *testnet.Manifest
	srv      *httptest.Server
	setupErr error
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "explorer-test")
	if err != nil {
		panic(err)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		setupErr = setup(dir)
		if net_ != nil {
			defer net_.StopAll()
		}
		if srv != nil {
			defer srv.Close()
		}
		return m.Run()
	}()
	os.Exit(code)
}

func setup(dir string) error {
	t0 := time.Now()
	bin := os.Getenv("TALLYD_BIN")
	if bin == "" {
		bin = filepath.Join(dir, "tallyd")
		if out, err := exec.Command("go", "build", "-o", bin, "../cmd/tallyd").CombinedOutput(); err != nil {
			return fmt.Errorf("building tallyd: %v\n%s", err, out)
		}
	}
	fmt.Fprintf(os.Stderr, "explorer test: tallyd built after %s\n", time.Since(t0).Round(time.Millisecond))
	opts := testnet.DefaultOptions()
	opts.BasePort = freeBase()
	opts.TimeoutCommit = 300 * time.Millisecond
	opts.Council = true // the demo votes Harbourside Council's node in (proposal #1)
	netDir := filepath.Join(dir, "net")
	m, err := testnet.Init(netDir, opts)
	if err != nil {
		return err
	}
	manifest = m
	net_ = testnet.NewNetwork(m, bin)
	if err := net_.StartAll(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, n := range m.Nodes {
		if err := net_.WaitHeight(ctx, n.Name, 1); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "explorer test: network up after %s\n", time.Since(t0).Round(time.Millisecond))
	if err := testnet.SeedDemo(ctx, netDir, m, func(string, ...any) {}); err != nil {
		return fmt.Errorf("demo data: %w", err)
	}
	if err := govDemo(ctx, m); err != nil {
		return fmt.Errorf("governance transactions: %w", err)
	}
	if err := paymentDemo(ctx, m); err != nil {
		return fmt.Errorf("payment transactions: %w", err)
	}
	// The explorer reads state two blocks behind the latest block: wait
	// until that covers the demo's last transaction.
	c, err := client.Dial(m.Nodes[0].RPC)
	if err != nil {
		return err
	}
	_, h, err := c.Status(ctx)
	if err != nil {
		return err
	}
	if err := net_.WaitHeight(ctx, m.Nodes[0].Name, h+3); err != nil {
		return err
	}
	var nodes []explorer.Node
	for _, n := range m.Nodes {
		nodes = append(nodes, explorer.Node{Name: n.Name, RPC: n.RPC})
	}
	g, err := types.GenesisDocFromFile(filepath.Join(m.Nodes[0].Home, "config", "genesis.json"))
	if err != nil {
		return err
	}
	s, err := explorer.New(explorer.Config{ChainID: m.ChainID, Nodes: nodes, Demo: net_, Genesis: g, Rate: -1}) // the tests read many pages at once
	if err != nil {
		return err
	}
	srv = httptest.NewServer(s)
	fmt.Fprintf(os.Stderr, "explorer test: demo seeded after %s\n", time.Since(t0).Round(time.Millisecond))
	return nil
}

// govDemo has the Treasury propose raising the recall budget (#2, after
// the demo's own #1) and four agencies vote on it, too few to decide it.
func govDemo(ctx context.Context, m *testnet.Manifest) error {
	d, err := demoSender(m)
	if err != nil {
		return err
	}
	if err := d.Send(ctx, 0, "treasury-admin", &txv1.Msg{Sum: &txv1.Msg_SubmitProposal{SubmitProposal: &govv1.MsgSubmitProposal{
		Title:   govTitle,
		Content: &govv1.Content{Sum: &govv1.Content_ChangeParam{ChangeParam: &govv1.ChangeParam{Name: "provenance.recall_budget", Value: "2000"}}},
	}}}); err != nil {
		return err
	}
	for i, ag := range []string{"treasury", "revenue", "benefits", "fsa"} {
		if err := d.Send(ctx, i, ag+"-admin", &txv1.Msg{Sum: &txv1.Msg_Vote{Vote: &govv1.MsgVote{ProposalId: 2, Option: govv1.VoteOption_VOTE_OPTION_YES}}}); err != nil {
			return err
		}
	}
	return nil
}

// paymentDemo follows a payment to a bank account: a winter fuel
// programme funded from the benefits agency's allocation, one household
// enrolled and paid £300 once, and the bank confirming settlement.
func paymentDemo(ctx context.Context, m *testnet.Manifest) error {
	d, err := demoSender(m)
	if err != nil {
		return err
	}
	start := time.Now().Add(-time.Minute).Unix()
	if err := d.Send(ctx, 1, "benefits-finance",
		&txv1.Msg{Sum: &txv1.Msg_CreateProgramme{CreateProgramme: &benefitsv1.MsgCreateProgramme{Id: "winter-fuel", Name: "Winter fuel payment",
			Amount: 30_000, Currency: "GBP", PeriodSeconds: 365 * 24 * 3600, StartUnix: start, EndUnix: start + 365*24*3600, RecipientCap: 100_000}}},
		&txv1.Msg{Sum: &txv1.Msg_Fund{Fund: &fundsv1.MsgFund{Programme: "winter-fuel", Amount: 1_000_000, Currency: "GBP", Reference: "winter 2030"}}},
	); err != nil {
		return err
	}
	evidence := sha256.Sum256([]byte("household-0001"))
	if err := d.Send(ctx, 2, "benefits-caseworker", &txv1.Msg{Sum: &txv1.Msg_Enrol{Enrol: &benefitsv1.MsgEnrol{
		Programme: "winter-fuel", Recipient: testnet.DemoPseudonym("household-0001"), ReceivingAccount: testnet.DemoPseudonym("bank-household-0001"), EvidenceHash: evidence[:], StartUnix: start}}}); err != nil {
		return err
	}
	if err := d.Send(ctx, 3, "benefits-payer", &txv1.Msg{Sum: &txv1.Msg_Pay{Pay: &benefitsv1.MsgPay{
		Programme: "winter-fuel", Recipient: testnet.DemoPseudonym("household-0001"), Amount: 30_000, Currency: "GBP", Reference: testnet.DemoPseudonym("WF-2030-0001")}}}); err != nil {
		return err
	}
	// Ask node 3, which committed the payment: another node may not have
	// applied that block yet.
	for id := 1; id < 50; id++ {
		res, _, err := d.Clients[3].Query(ctx, "/benefits/payment", []byte(fmt.Sprint(id)), 0, false)
		if err != nil {
			break
		}
		p := &benefitsv1.Payment{}
		if err := proto.Unmarshal(res.Value, p); err != nil {
			return err
		}
		if p.Programme == "winter-fuel" {
			paymentID = p.Id
			return d.Send(ctx, 0, "bank-settlement", &txv1.Msg{Sum: &txv1.Msg_Settle{Settle: &fundsv1.MsgSettle{Payment: p.Movement, BankReference: testnet.DemoPseudonym("BACS-DEMO-0001")}}})
		}
	}
	return fmt.Errorf("the winter fuel payment is not on the chain")
}

// paymentID is the winter fuel payment's id.
var paymentID uint64

func demoSender(m *testnet.Manifest) (*testnet.Demo, error) {
	kr, err := keys.Open(m.KeyringDir, keys.BackendTest, nil)
	if err != nil {
		return nil, err
	}
	d := &testnet.Demo{M: m, Keys: kr, Log: func(string, ...any) {}}
	for _, n := range m.Validators() {
		c, err := client.Dial(n.RPC)
		if err != nil {
			return nil, err
		}
		d.Clients = append(d.Clients, c)
	}
	return d, nil
}

const govTitle = "Raise the recall budget to 2,000 items a block"

func freeBase() int {
	base, err := testnet.FreeBasePort(40)
	if err != nil {
		return 31000 // setup then fails on the port with a clear error
	}
	return base
}

func need(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a 4-validator network")
	}
	if setupErr != nil {
		t.Fatalf("setting up the network: %v", setupErr)
	}
}

// noRedirect is an HTTP client that shows redirects instead of following.
var noRedirect = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func get(t *testing.T, path string) (int, string, http.Header) {
	t.Helper()
	res, err := noRedirect.Get(srv.URL + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res.Header
}

func demoTaxpayerHex() string {
	return hex.EncodeToString(testnet.DemoTaxpayer("demo-business-dalefarm"))
}

const (
	cheese = "lgtin:05012345678917.VALE-CHEDDAR-001"
	milk   = "lgtin:05012345678900.DALE-MILK-001"
)

// firstTxHash finds a committed transaction through the node's RPC.
func firstTxHash(t *testing.T) string {
	t.Helper()
	c, err := client.Dial(manifest.Nodes[0].RPC)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for h := int64(2); h < 200; h++ {
		b, err := c.RPC.Block(ctx, &h)
		if err != nil {
			break
		}
		if len(b.Block.Txs) > 0 {
			return strings.ToUpper(hex.EncodeToString(client.TxHash(b.Block.Txs[0])))
		}
	}
	t.Fatal("no transaction found")
	return ""
}

// Every page answers 200 with its key figures, each record page carries a
// verified badge, and unknown ids answer a 404 page that says so.
func TestPagesShowTheDemoChain(t *testing.T) {
	need(t)
	kr, err := keys.Open(manifest.KeyringDir, keys.BackendTest, nil)
	if err != nil {
		t.Fatal(err)
	}
	collector, err := kr.Show("revenue-collector")
	if err != nil {
		t.Fatal(err)
	}
	addr := collector.Address
	tx := firstTxHash(t)
	for _, tc := range []struct {
		path   string
		status int
		want   []string
	}{
		{"/", 200, []string{"Validators", "treasury", "revenue", "benefits", "fsa", "online", "Stop this agency", "Recent blocks", "<svg class=\"chart\""}},
		{"/block/2", 200, []string{"Block 2", "Verified", "Signed by"}},
		{"/tx/" + tx, 200, []string{"Verified", "inclusion", "What it did", "Signed by"}},
		{"/money", 200, []string{"£5,000,000.00", "conservation invariant holds", "<svg class=\"sankey\"", "Benefits Agency", "Student bursary", "Payee ", "Paid to banks", "£250.00 every minute", "settled <b>£300.00</b>", "Verified"}},
		{"/movement/1", 200, []string{"SupplyAct2030/ClassII/Line4", "Trace up", "Trace down", "£5,000,000.00", "Done under mandate", "treasury of treasury", "founding agreement (genesis)"}},
		{"/movement/3", 200, []string{"Trace up", "Student bursary", "£100,000.00", "Benefits Agency finance and programmes desk"}},
		{"/programme/student-bursary", 200, []string{"Student bursary", "Enrolments", "£250.00", "every minute"}},
		{"/tax", 200, []string{"Value added tax", "VAT", "2026-Q1", "Net"}},
		{"/receipt/REVENUE-000001", 200, []string{"partially refunded", "Amendment chain", "refund", "Verified"}},
		{"/receipt/REVENUE-000002", 200, []string{"correction"}},
		{"/clearance?grant=" + testnet.DemoClearanceGrant("demo-business-dalefarm", "VAT", "2026-Q1", "2026-Q2"), 200, []string{"has receipts for tax type VAT", "covering periods 2026-Q1 to 2026-Q2", demoTaxpayerHex()}},
		{"/provenance", 200, []string{"Provenance", "recall budget", "Open recalls", "FSA-DEMO-001", "Recent items", "its last 30 transactions of each kind", "Mature cheddar cheese", "<svg class=\"lineage\""}},
		{"/item/" + cheese, 200, []string{"recalled", "FSA-DEMO-001", "DALE-MILK-001", "Timeline", "Lineage", "<svg class=\"lineage\"",
			"Mature cheddar cheese", "Northshire Primary School kitchen", "Vale Creamery, Valeford", "Vale Creamery dispatch", "microbiology: pass", "which this item was made from", "1 custodian has"}},
		{"/item/" + milk, 200, []string{"microbiology: pass", "Inspections", "recalled", "herd: dale-jersey", "Dale Farm, milking parlour", "Food Standards Agency inspection team"}},
		// A split's part shows its origin's description, which it holds by reference.
		{"/item/" + milk + "-B", 200, []string{"herd: dale-jersey", "fat_percent: 4.9", "inherited from"}},
		{"/recall/FSA-DEMO-001", 200, []string{"listeria", "Items reached", "Awaiting acknowledgement"}},
		{"/agency/treasury", 200, []string{"HM Treasury", "Members", "Public money held", "Member list: complete, proven."}},
		{"/account/" + addr, 200, []string{"Revenue and Customs", "tax collector", "Revenue and Customs collections desk"}},
		{"/governance", 200, []string{govTitle, "HM Treasury</a>", "Revenue and Customs: <b>yes</b>", "Food Standards Agency: <b>yes</b>", "Proposes to set the parameter provenance.recall_budget to 2000", "Verified"}},
		{"/search", 200, []string{"Type a block height"}},
		{"/block/99999999", 404, []string{"has not been made yet"}},
		{"/receipt/REVENUE-009999", 404, []string{"No receipt REVENUE-009999", "absence was proven"}},
		{"/item/lgtin:00000000000000.NOPE", 404, []string{"No item"}},
		{fmt.Sprintf("/payment/%d", paymentID), 200, []string{"winter-fuel", "£300.00", "settlement", testnet.DemoPseudonym("BACS-DEMO-0001"), "movement", "Verified", "Done under mandate", "benefits payer of benefits"}},
		{"/programme/winter-fuel", 200, []string{"Winter fuel payment", "£300.00"}},
		{"/movement/99999", 404, []string{"No movement 99999"}},
		{"/payment/99999", 404, []string{"No payment 99999"}},
		{"/agency/nobody", 404, []string{"No agency"}},
		{"/recall/NOPE-1", 404, []string{"No recall order"}},
		{"/tx/" + strings.Repeat("AB", 32), 404, []string{"No transaction"}},
		{"/no/such/page", 404, []string{"There is no page at this address"}},
		{"/block/minus-one", 400, []string{"whole number"}},
	} {
		status, body, _ := get(t, tc.path)
		if status != tc.status {
			t.Errorf("GET %s: status %d, want %d\n%.600s", tc.path, status, tc.status, body)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("GET %s: page lacks %q", tc.path, w)
			}
		}
		if m := internalWords.FindString(body); m != "" {
			t.Errorf("GET %s: page shows an internal name or Go syntax to a reader: %q", tc.path, m)
		}
	}
}

// internalWords are what a council should never read on a page: protobuf
// enum names and Go's rendering of maps.
var internalWords = regexp.MustCompile(`\b(ROLE|STATUS|KIND|ENROLMENT_STATUS|ITEM_STATUS|PAYMENT_STATUS|PAYMENT_KIND|PROPOSAL_STATUS|VOTE_OPTION|MANDATE|PERIOD_KIND|EVENT_TYPE|RECEIPT_STATUS)_[A-Z_]+\b|map\[`)

// The JSON API answers the same data, each answer with its height and
// whether (and against what) it was verified; errors are JSON too.
func TestAPIAnswersWithHeightAndVerification(t *testing.T) {
	need(t)
	type answer struct {
		Height   int64 `json:"height"`
		Verified *struct {
			OK      bool   `json:"ok"`
			AppHash string `json:"app_hash"`
			Method  string `json:"method"`
		} `json:"verified"`
		Data  json.RawMessage `json:"data"`
		Error string          `json:"error"`
	}
	read := func(path string, wantStatus int) answer {
		status, body, h := get(t, path)
		if status != wantStatus || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
			t.Fatalf("GET %s: %d %s, want %d JSON\n%.400s", path, status, h.Get("Content-Type"), wantStatus, body)
		}
		var a answer
		if err := json.Unmarshal([]byte(body), &a); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		return a
	}
	for _, p := range []string{"/api/v1/receipt/REVENUE-000001", "/api/v1/money", "/api/v1/item/" + cheese, "/api/v1/movement/1", "/api/v1/tax", "/api/v1/agency/fsa"} {
		a := read(p, 200)
		if a.Height < 1 || a.Verified == nil || !a.Verified.OK || len(a.Verified.AppHash) != 64 || len(a.Data) < 10 ||
			!strings.Contains(a.Verified.Method, "verified by the light client from its trust root (genesis)") {
			t.Errorf("GET %s: height %d verified %+v", p, a.Height, a.Verified)
		}
	}
	n := read("/api/v1/network", 200)
	var nd struct {
		Latest     int64                   `json:"latest_height"`
		Validators []json.RawMessage       `json:"validators"`
		Nodes      []struct{ Online bool } `json:"nodes"`
	}
	if err := json.Unmarshal(n.Data, &nd); err != nil || nd.Latest < 2 || len(nd.Validators) != 5 || len(nd.Nodes) != 5 {
		t.Errorf("network: %v %+v", err, nd)
	}
	var m struct {
		Invariant struct {
			Appropriated          uint64 `json:"appropriated,string"`
			AppropriatedFormatted string `json:"appropriated_formatted"`
			Holds                 bool   `json:"holds"`
		} `json:"invariant"`
	}
	if err := json.Unmarshal(read("/api/v1/money", 200).Data, &m); err != nil || m.Invariant.Appropriated != 500_000_000 || m.Invariant.AppropriatedFormatted != "£5,000,000.00" || !m.Invariant.Holds {
		t.Errorf("money invariant: %v %+v", err, m)
	}
	// docs/json.md: an enum keeps its value name, the words are beside it.
	var ag struct {
		Members []struct {
			Status          string   `json:"status"`
			StatusFormatted string   `json:"status_formatted"`
			Roles           []string `json:"roles"`
			RolesFormatted  []string `json:"roles_formatted"`
		} `json:"members"`
	}
	if err := json.Unmarshal(read("/api/v1/agency/fsa", 200).Data, &ag); err != nil || len(ag.Members) == 0 ||
		ag.Members[0].Status != "STATUS_ACTIVE" || ag.Members[0].StatusFormatted != "active" ||
		len(ag.Members[0].Roles) == 0 || !strings.HasPrefix(ag.Members[0].Roles[0], "ROLE_") ||
		len(ag.Members[0].RolesFormatted) != len(ag.Members[0].Roles) || strings.HasPrefix(ag.Members[0].RolesFormatted[0], "ROLE_") {
		t.Errorf("agency members in the API's JSON form: %v %+v", err, ag)
	}
	if a := read("/api/v1/receipt/REVENUE-009999", 404); !strings.Contains(a.Error, "absence was proven") {
		t.Errorf("missing receipt: %q", a.Error)
	}
}

// One search box finds each kind of record: one match redirects to it,
// nothing matching is a 404 page.
func TestSearchRoutesEachKindOfRecord(t *testing.T) {
	need(t)
	kr, _ := keys.Open(manifest.KeyringDir, keys.BackendTest, nil)
	info, err := kr.Show("treasury-officer")
	if err != nil {
		t.Fatal(err)
	}
	tx := firstTxHash(t)
	for q, want := range map[string]string{
		"REVENUE-000001":              "/receipt/REVENUE-000001",
		"treasury":                    "/agency/treasury",
		cheese:                        "/item/" + cheese,
		"FSA-DEMO-001":                "/recall/FSA-DEMO-001",
		tx:                            "/tx/" + tx,
		strings.ToLower(tx):           "/tx/" + tx,
		info.Address:                  "/account/" + info.Address,
		"student-bursary":             "/programme/student-bursary",
		"SupplyAct2030/ClassII/Line4": "/movement/1",
	} {
		status, body, h := get(t, "/search?q="+url.QueryEscape(q))
		if status != http.StatusSeeOther || h.Get("Location") != want {
			t.Errorf("search %q: %d → %q, want 303 → %q\n%.300s", q, status, h.Get("Location"), want, body)
		}
	}
	// A number is a block, a movement and perhaps a payment: listed.
	status, body, _ := get(t, "/search?q=2")
	if status != 200 || !strings.Contains(body, `href="/block/2"`) || !strings.Contains(body, `href="/movement/2"`) {
		t.Errorf("search 2: %d\n%.500s", status, body)
	}
	// A taxpayer reference leads nowhere: the chain keeps no listing by taxpayer.
	if status, body, _ := get(t, "/search?q="+demoTaxpayerHex()); status != 404 {
		t.Errorf("search for a taxpayer reference: %d\n%.300s", status, body)
	}
	status, body, _ = get(t, "/search?q=nothing-like-this")
	if status != 404 || !strings.Contains(body, "Nothing on this chain matches") {
		t.Errorf("search miss: %d\n%.300s", status, body)
	}
}

// Hostile input in any parameter or path — markup, script, very long
// strings, invalid UTF-8 — is escaped or refused, never reflected raw.
func TestHostileInputIsEscapedOrRefused(t *testing.T) {
	need(t)
	script := `<script>alert("x")</script>"'><img src=x onerror=alert(1)>`
	long := strings.Repeat("A", 10_000)
	bad := "%ff%fe%fd"
	var paths []string
	for _, v := range []string{url.QueryEscape(script), long, bad, url.QueryEscape("REVENUE-1<b>zz")} {
		paths = append(paths,
			"/search?q="+v,
			"/clearance?grant="+v,
			"/api/v1/search?q="+v,
			"/?q="+v,
		)
	}
	for _, v := range []string{url.PathEscape(script), long, bad} {
		for _, p := range []string{"/receipt/", "/item/", "/agency/", "/recall/", "/programme/", "/block/", "/tx/", "/account/", "/movement/", "/payment/", "/api/v1/item/"} {
			paths = append(paths, p+v)
		}
	}
	for _, p := range paths {
		res, err := noRedirect.Get(srv.URL + p)
		if err != nil {
			t.Fatalf("GET %.80s: %v", p, err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		body := string(b)
		if res.StatusCode == 200 && !strings.HasPrefix(p, "/?") {
			t.Errorf("GET %.80s: 200 for hostile input", p)
		}
		if res.StatusCode >= 500 {
			t.Errorf("GET %.80s: %d", p, res.StatusCode)
		}
		for _, raw := range []string{"<script>alert", "<img src=x", "<b>zz", long[:300], "\xff"} {
			if strings.Contains(body, raw) {
				t.Errorf("GET %.80s: response reflects %q raw", p, raw[:min(len(raw), 20)])
			}
		}
	}
}

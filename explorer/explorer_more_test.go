package explorer_test

import (
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/tallyledger/tally/client/keys"
)

// A tax type and period lists its receipts, each linking to its receipt
// page; a proposal has its own page; the provenance landing page lists a
// custodian's items. Unknown ids are 404 pages that say so, malformed ones
// 400.
func TestReceiptsByPeriodProposalAndCustodianPages(t *testing.T) {
	need(t)
	kr, err := keys.Open(manifest.KeyringDir, keys.BackendTest, nil)
	if err != nil {
		t.Fatal(err)
	}
	kitchen, err := kr.Show("school-kitchen")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path   string
		status int
		want   []string
	}{
		{"/tax", 200, []string{`href="/tax/VAT/2026-Q1"`, `href="/tax/PAYE/2026-04"`}},
		{"/tax/VAT/2026-Q1", 200, []string{`href="/receipt/REVENUE-000001"`, "partially refunded", "£12,500.00", "£12,000.00", "Verified", "Receipt list: complete, proven."}},
		{"/tax/VAT/2026-Q2", 200, []string{`href="/receipt/REVENUE-000002"`, "corrected", "£8,900.00"}},
		{"/tax/CORPORATION_TAX/2025", 200, []string{"REVENUE-000004", "£56,000.00"}},
		{"/tax/VAT/2026-Q3", 200, []string{"No receipts for VAT in 2026-Q3", "Verified", "Receipt list: complete, proven."}},
		{"/tax/VAT/2026-Q1?after=REVENUE-000001", 200, []string{"No receipts for VAT in 2026-Q1 after REVENUE-000001", "first page"}},
		{"/tax/NOPE/2026-Q1", 404, []string{"No tax type", "absence was proven"}},
		{"/tax/VAT/2026", 404, []string{"assessed by quarter"}},
		{"/tax/VAT/2026-Q9", 400, []string{"A period is"}},
		{"/tax/vat/2026-Q1", 400, []string{"tax type code"}},
		{"/tax/VAT/2026-Q1?after=nonsense", 400, []string{"after is a receipt id"}},
		{"/proposal/2", 200, []string{govTitle, "provenance.recall_budget", "Votes by agency", `href="/agency/treasury"`, "Yes", "4 / 0 / 0", "Verified"}},
		{"/proposal/1", 200, []string{"Admit Harbourside Council&#39;s node as a validator", "executed", "admit a validator run by Harbourside Council", "Food Standards Agency</a>"}},
		{"/governance", 200, []string{`href="/proposal/1"`}},
		{"/proposal/999", 404, []string{"No proposal 999", "absence was proven"}},
		{"/proposal/0", 400, []string{"whole number from 1"}},
		{"/proposal/x1", 400, []string{"whole number from 1"}},
		{"/provenance?custodian=school", 200, []string{"Items held by school", cheese}},
		{"/provenance?custodian=" + kitchen.Address, 200, []string{cheese}},
		{"/provenance?custodian=dalefarm", 200, []string{milk + "-B"}},
		{"/provenance?custodian=nobody", 404, []string{"No account or agency"}},
		{"/provenance?custodian=" + url.QueryEscape("not an id!"), 400, []string{"A custodian is"}},
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
	}
}

func TestNewAPIRoutes(t *testing.T) {
	need(t)
	var period struct {
		Height   int64 `json:"height"`
		Verified struct {
			OK bool `json:"ok"`
		} `json:"verified"`
		Data struct {
			Code     string `json:"code"`
			Period   string `json:"period"`
			Receipts []struct {
				ID      string `json:"id"`
				Status  string `json:"status"`
				StatusF string `json:"status_formatted"`
				Net     uint64 `json:"net,string"`
				NetF    string `json:"net_formatted"`
			} `json:"receipts"`
			Total map[string]any `json:"total"`
			Next  string         `json:"next"`
		} `json:"data"`
	}
	getJSON(t, "/api/v1/tax/VAT/2026-Q1", 200, &period)
	if !period.Verified.OK || period.Height < 1 || len(period.Data.Receipts) != 1 || period.Data.Receipts[0].ID != "REVENUE-000001" ||
		period.Data.Receipts[0].Net != 1_200_000 || period.Data.Receipts[0].NetF != "£12,000.00" || period.Data.Receipts[0].Status != "STATUS_PARTIALLY_REFUNDED" || period.Data.Receipts[0].StatusF != "partially refunded" || period.Data.Next != "" {
		t.Errorf("VAT 2026-Q1: %+v", period)
	}
	var prop struct {
		Verified struct {
			OK bool `json:"ok"`
		} `json:"verified"`
		Data struct {
			ID    uint64           `json:"id"`
			Votes []map[string]any `json:"votes"`
			Tally struct {
				Yes, No, Abstain uint64
				Voted            uint64 `json:"voted"`
			} `json:"tally"`
			Outcome string `json:"outcome"`
		} `json:"data"`
	}
	getJSON(t, "/api/v1/proposal/2", 200, &prop)
	if !prop.Verified.OK || prop.Data.ID != 2 || len(prop.Data.Votes) != 4 || prop.Data.Tally.Yes != 4 || prop.Data.Tally.Voted != 4 || prop.Data.Outcome == "" {
		t.Errorf("proposal 1: %+v", prop)
	}
	var e struct {
		Error  string `json:"error"`
		Status int    `json:"status"`
	}
	getJSON(t, "/api/v1/proposal/999", 404, &e)
	if !strings.Contains(e.Error, "No proposal 999") {
		t.Errorf("proposal 999: %+v", e)
	}
	getJSON(t, "/api/v1/tax/VAT/2026-Q9", 400, &e)
	// The search API answers the one proposal a "#1" names.
	var s struct {
		Data struct {
			Hits []struct{ Link string } `json:"hits"`
		} `json:"data"`
	}
	getJSON(t, "/api/v1/search?q="+url.QueryEscape("#1"), 200, &s)
	if len(s.Data.Hits) != 1 || s.Data.Hits[0].Link != "/proposal/1" {
		t.Errorf("search #1: %+v", s)
	}
}

func getJSON(t *testing.T, path string, status int, into any) {
	t.Helper()
	res, err := noRedirect.Get(srv.URL + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != status || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET %s: %d %s, want %d JSON\n%.400s", path, res.StatusCode, res.Header.Get("Content-Type"), status, b)
	}
	if err := json.Unmarshal(b, into); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// The search box routes "#1", "proposal 1" and "Proposal #1" to the
// proposal; an unknown proposal is a 404 that says so.
func TestSearchRoutesProposals(t *testing.T) {
	need(t)
	for _, q := range []string{"#1", "proposal 1", "Proposal #1", "proposal1", "# 1"} {
		status, body, h := get(t, "/search?q="+url.QueryEscape(q))
		if status != http.StatusSeeOther || h.Get("Location") != "/proposal/1" {
			t.Errorf("search %q: %d → %q\n%.300s", q, status, h.Get("Location"), body)
		}
	}
	status, body, _ := get(t, "/search?q="+url.QueryEscape("#999"))
	if status != 404 || !strings.Contains(body, "No proposal 999") {
		t.Errorf("search #999: %d\n%.300s", status, body)
	}
	status, body, _ = get(t, "/search?q="+url.QueryEscape("proposal 0"))
	if status != 400 {
		t.Errorf("search proposal 0: %d\n%.300s", status, body)
	}
	// A plain number lists the proposal among its other meanings.
	status, body, _ = get(t, "/search?q=1")
	if status != 200 || !strings.Contains(body, `href="/proposal/1"`) || !strings.Contains(body, `href="/block/1"`) {
		t.Errorf("search 1: %d\n%.500s", status, body)
	}
}

// Hostile input in the new parameters is escaped or refused, never
// reflected raw and never a server error.
func TestHostileInputOnNewParameters(t *testing.T) {
	need(t)
	script := `<script>alert("x")</script>"'><img src=x onerror=alert(1)>`
	long := strings.Repeat("A", 10_000)
	bad := "%ff%fe%fd"
	var paths []string
	for _, v := range []string{url.QueryEscape(script), long, bad, url.QueryEscape("REVENUE-1<b>zz"), url.QueryEscape("../../etc/passwd")} {
		paths = append(paths,
			"/tax/VAT/2026-Q1?after="+v,
			"/api/v1/tax/VAT/2026-Q1?after="+v,
			"/provenance?custodian="+v,
			"/api/v1/provenance?custodian="+v,
			"/search?q="+url.QueryEscape("proposal ")+v,
		)
	}
	for _, v := range []string{url.PathEscape(script), long, bad, "99999999999999999999999"} {
		paths = append(paths, "/proposal/"+v, "/api/v1/proposal/"+v, "/tax/"+v+"/2026-Q1", "/tax/VAT/"+v, "/api/v1/tax/"+v+"/"+v)
	}
	for _, p := range paths {
		res, err := noRedirect.Get(srv.URL + p)
		if err != nil {
			t.Fatalf("GET %.80s: %v", p, err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		body := string(b)
		if res.StatusCode == 200 || res.StatusCode >= 500 {
			t.Errorf("GET %.80s: %d for hostile input", p, res.StatusCode)
		}
		for _, raw := range []string{"<script>alert", "<img src=x", "<b>zz", long[:300], "\xff"} {
			if strings.Contains(body, raw) {
				t.Errorf("GET %.80s: response reflects %q raw", p, raw[:min(len(raw), 20)])
			}
		}
	}
}

var signedCell = regexp.MustCompile(`<td class="signed" title="([^"]*)">([^<]*)</td>`)

// The network page's recent blocks say how many validators signed each
// ("all 5", "4 of 5") rather than listing every signer's agency, which
// does not fit a row with ten validators; the names stay on hover and on
// the block's page.
func TestNetworkPageCountsSignatures(t *testing.T) {
	need(t)
	status, body, _ := get(t, "/")
	cells := signedCell.FindAllStringSubmatch(body, -1)
	if status != 200 || len(cells) == 0 {
		t.Fatalf("network page: status %d, %d signature cells", status, len(cells))
	}
	count := regexp.MustCompile(`^(all [1-9]\d*|\d+ of [1-9]\d*)$`)
	for _, c := range cells {
		if !count.MatchString(c[2]) {
			t.Errorf("a block row shows %q where a count of signatures belongs", c[2])
		}
		if !strings.Contains(html.UnescapeString(c[1]), "HM Treasury") && !strings.Contains(html.UnescapeString(c[1]), "Revenue and Customs") {
			t.Errorf("a block row's signers on hover are %q, without agency names", c[1])
		}
	}
}

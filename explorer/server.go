// Package explorer is Tally's web explorer: HTML pages and a JSON API that
// show what the chain holds — blocks agreed by the agencies' validators,
// public money flowing from appropriation to settlement, tax receipts,
// goods' provenance and recalls — read from nodes' RPC, with every record
// checked against a block header's app hash before it is shown.
//
// It uses only the standard library's net/http and html/template; the
// templates, CSS and the small live-refresh script are embedded. Pages read
// without JavaScript.
package explorer

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/cometbft/cometbft/types"

	"github.com/tallyledger/tally/client"
)

//go:embed assets
var assets embed.FS

// Node is one node the explorer reads from.
type Node struct {
	Name string // the agency running it, or the address
	RPC  string // tcp://host:port
}

// Controller starts and stops local validators in demo mode
// (testnet.Network satisfies it).
type Controller interface {
	Start(name string) error
	Stop(name string, grace time.Duration) error
	Running(name string) bool
}

// Config configures a Server.
type Config struct {
	ChainID string
	Nodes   []Node
	// Demo, when set, shows each local validator's process and offers
	// stop and start buttons. Only for local networks on loopback.
	Demo Controller
	// Genesis, or TrustHeight and TrustHash, is the light client's trust
	// root. Without one, headers are checked against the validator set the
	// node reports.
	Genesis     *types.GenesisDoc
	TrustHeight int64
	TrustHash   []byte
	// Rate and Burst limit requests per client address (token bucket);
	// zero takes DefaultRate and DefaultBurst, a negative Rate turns the
	// limit off.
	Rate  float64
	Burst int
}

// Server serves the explorer's pages and API.
type Server struct {
	cfg     Config
	clients []*client.Client
	pages   map[string]*template.Template
	mux     *http.ServeMux

	lmu         sync.Mutex // guards the light client
	lc          *client.LightClient
	lightFailed time.Time
	lightErr    error

	amu        sync.Mutex // guards divergence
	divergence string     // the witness divergence seen, if any (light.go)

	// demoToken is required on every demo control request (demo.go).
	demoToken string

	limits *limiter  // nil when off
	views  viewCache // pages of the current height (limits.go)

	mu    sync.Mutex
	roots map[int64]*checkedRoot // state height → checked app hash (immutable once committed)
	metas map[int64]blockRow     // height → block summary (immutable)
	names map[string]string      // validator address → genesis name (agency)
	last  *lastSnap
}

// maxParam bounds every query parameter and path value: ids, references
// and hashes are far shorter; anything longer is refused, not echoed.
const maxParam = 200

// maxGrantParam bounds the one long parameter, a clearance grant: a
// taxpayer reference and a 32-byte salt per period, so a few thousand
// characters cover ten years of monthly periods.
const maxGrantParam = 8192

// New builds a Server for cfg.
func New(cfg Config) (*Server, error) {
	if len(cfg.Nodes) == 0 {
		return nil, errors.New("explorer: no nodes to read from")
	}
	s := &Server{cfg: cfg, roots: map[int64]*checkedRoot{}, metas: map[int64]blockRow{}}
	if cfg.Rate >= 0 {
		rate, burst := cfg.Rate, cfg.Burst
		if rate == 0 {
			rate = DefaultRate
		}
		if burst <= 0 {
			burst = DefaultBurst
		}
		s.limits = newLimiter(rate, burst)
	}
	if cfg.Demo != nil {
		tok, err := newDemoToken()
		if err != nil {
			return nil, err
		}
		s.demoToken = tok
	}
	for _, n := range cfg.Nodes {
		c, err := client.Dial(n.RPC)
		if err != nil {
			return nil, err
		}
		s.clients = append(s.clients, c)
	}
	if err := s.parseTemplates(); err != nil {
		return nil, err
	}
	s.routes()
	return s, nil
}

func (s *Server) parseTemplates() error {
	base, err := fs.ReadFile(assets, "assets/templates/layout.html")
	if err != nil {
		return err
	}
	files, err := fs.Glob(assets, "assets/templates/*.html")
	if err != nil {
		return err
	}
	s.pages = map[string]*template.Template{}
	for _, f := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(f, "assets/templates/"), ".html")
		if name == "layout" {
			continue
		}
		body, err := fs.ReadFile(assets, f)
		if err != nil {
			return err
		}
		t, err := template.New("layout").Funcs(funcs).Parse(string(base))
		if err != nil {
			return fmt.Errorf("layout: %w", err)
		}
		if _, err := t.Parse(string(body)); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		s.pages[name] = t
	}
	return nil
}

// ServeHTTP refuses hostile parameters before any handler sees them.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := checkInput(r); err != nil {
		s.fail(w, r, &httpError{http.StatusBadRequest, err.Error()})
		return
	}
	if !s.limit(w, r) {
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'")
	w.Header().Set("Referrer-Policy", "no-referrer")
	s.mux.ServeHTTP(w, r)
}

// checkInput refuses over-long or invalid UTF-8 paths and parameters.
func checkInput(r *http.Request) error {
	if len(r.URL.Path) > 2*maxParam || !utf8.ValidString(r.URL.Path) {
		return errors.New("the address is too long or not valid text")
	}
	if len(r.URL.RawQuery) > 4*maxParam+maxGrantParam {
		return errors.New("the query is too long")
	}
	for k, vs := range r.URL.Query() {
		for _, v := range vs {
			if k == "grant" && len(v) > maxGrantParam {
				return fmt.Errorf("a clearance grant may be at most %d characters", maxGrantParam)
			}
			if k != "grant" && len(v) > maxParam {
				return fmt.Errorf("a search or parameter may be at most %d characters", maxParam)
			}
			if !utf8.ValidString(v) {
				return errors.New("a parameter is not valid UTF-8 text")
			}
		}
	}
	return nil
}

// httpError is an answer other than 200 with a message for the reader.
type httpError struct {
	Status  int
	Message string
}

func (e *httpError) Error() string { return e.Message }

// redirect sends a page request to the one record that matched.
type redirect struct {
	to string
	v  *view
}

func (r *redirect) Error() string { return "see " + r.to }

func notFound(format string, args ...any) error {
	return &httpError{http.StatusNotFound, fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) error {
	return &httpError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// view is what a handler found: rendered as a page or as API JSON.
type view struct {
	Title    string    `json:"-"`
	Height   int64     `json:"height"`
	Verified *Verified `json:"verified"`
	Data     any       `json:"data"`
	// Alarm is the witness divergence the light client detected, if any.
	Alarm string `json:"alarm,omitempty"`
}

// Verified says what the explorer checked before showing a record.
type Verified struct {
	OK bool `json:"ok"`
	// Method says which check was done, in words.
	Method string `json:"method"`
	// Reason says, when OK is false, why the record could not be verified.
	Reason string `json:"reason,omitempty"`
	// StateHeight is the state version read; its app hash is in header
	// StateHeight+1.
	StateHeight  int64  `json:"state_height"`
	HeaderHeight int64  `json:"header_height"`
	AppHash      string `json:"app_hash"`
	Node         string `json:"node"`
}

type handler func(r *http.Request) (*view, error)

// page registers pattern as an HTML page rendered by tmpl and the same
// data as JSON under /api/v1.
func (s *Server) page(pattern, tmpl string, h handler) {
	method, path, _ := strings.Cut(pattern, " ")
	h = s.cached(tmpl, h)
	s.mux.HandleFunc(method+" "+path, func(w http.ResponseWriter, r *http.Request) {
		v, err := h(r)
		if rd := (*redirect)(nil); errors.As(err, &rd) {
			http.Redirect(w, r, rd.to, http.StatusSeeOther)
			return
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.render(w, r, http.StatusOK, tmpl, v)
	})
	api := "/api/v1" + path
	if path == "/{$}" {
		api = "/api/v1/network"
	}
	s.mux.HandleFunc(method+" "+api, func(w http.ResponseWriter, r *http.Request) {
		v, err := h(r)
		if rd := (*redirect)(nil); errors.As(err, &rd) {
			v, err = rd.v, nil // the API answers the one match, not a redirect
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		answer := *v // v may be a cached page other requests share
		answer.Alarm = s.alarm()
		writeJSON(w, http.StatusOK, &answer)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// layoutData is what every page's layout needs.
type layoutData struct {
	*view
	ChainID string
	Path    string
	Query   string
	APIPath string
	Demo    bool
	Status  int
	Now     string
	// Alarm is the witness divergence seen, shown as a banner on every page.
	Alarm string
	// DemoToken goes with every demo control form (demo.go).
	DemoToken string
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, tmpl string, v *view) {
	t, ok := s.pages[tmpl]
	if !ok {
		http.Error(w, "no template "+tmpl, http.StatusInternalServerError)
		return
	}
	// The path and search text are echoed (escaped) only when they passed
	// checkInput: a refused request's page shows neither.
	path, query, api := r.URL.Path, r.URL.Query().Get("q"), "/api/v1"+r.URL.Path
	if path == "/" {
		api = "/api/v1/network"
	}
	if r.URL.RawQuery != "" {
		api += "?" + r.URL.RawQuery
	}
	if checkInput(r) != nil || status >= 400 {
		path, query, api = "/", "", "/api/v1/network"
	}
	var sb strings.Builder
	err := t.ExecuteTemplate(&sb, "layout", layoutData{view: v, ChainID: s.cfg.ChainID, Path: path,
		Query: query, APIPath: api, Demo: s.cfg.Demo != nil, Status: status, Now: time.Now().UTC().Format("15:04:05 UTC"),
		Alarm: s.alarm(), DemoToken: s.demoToken})
	if err != nil {
		http.Error(w, "rendering "+tmpl+": "+template.HTMLEscapeString(err.Error()), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(sb.String()))
}

// fail answers an error as a page or, under /api/, as JSON.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	he := &httpError{}
	if !errors.As(err, &he) {
		he = &httpError{http.StatusBadGateway, "could not read the chain: " + err.Error()}
	}
	if strings.HasPrefix(r.URL.Path, "/api/") {
		writeJSON(w, he.Status, map[string]any{"error": he.Message, "status": he.Status})
		return
	}
	title := map[int]string{404: "Not found", 400: "Not a valid request"}[he.Status]
	if title == "" {
		title = "Something went wrong"
	}
	s.render(w, r, he.Status, "error", &view{Title: title, Data: he})
}

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	static, _ := fs.Sub(assets, "assets/static")
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServer(http.FS(static))))
	s.page("GET /{$}", "network", s.network)
	s.page("GET /block/{height}", "block", s.block)
	s.page("GET /tx/{hash}", "tx", s.tx)
	s.page("GET /search", "search", s.search)
	s.page("GET /account/{address}", "account", s.account)
	s.page("GET /agency/{id}", "agency", s.agency)
	s.page("GET /money", "money", s.money)
	s.page("GET /movement/{id}", "movement", s.movement)
	s.page("GET /payment/{id}", "payment", s.payment)
	s.page("GET /programme/{id}", "programme", s.programme)
	s.page("GET /tax", "tax", s.taxOverview)
	s.page("GET /tax/{type}/{period}", "taxperiod", s.taxPeriod)
	s.page("GET /receipt/{id}", "receipt", s.receipt)
	s.page("GET /clearance", "clearance", s.clearance)
	s.page("GET /provenance", "provenance", s.provenanceOverview)
	s.page("GET /item/{id...}", "item", s.item)
	s.page("GET /recall/{id}", "recall", s.recall)
	s.page("GET /governance", "governance", s.governance)
	s.page("GET /proposal/{id}", "proposal", s.proposal)
	if s.cfg.Demo != nil {
		s.mux.HandleFunc("POST /demo/{node}/{action}", s.demoAction)
		s.mux.HandleFunc("POST /api/v1/demo/{node}/{action}", s.demoAction)
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, notFound("There is no page at this address."))
	})
}

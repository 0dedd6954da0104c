package explorer

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// stopGrace is how long a stopped node gets to exit cleanly before it is
// killed: the demonstration is of an agency's node being switched off.
const stopGrace = 5 * time.Second

// DemoTokenHeader carries the demo token on API requests; forms send it
// as the "token" field.
const DemoTokenHeader = "X-Tally-Demo-Token"

// newDemoToken is a fresh per-session secret: 128 random bits.
func newDemoToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("demo token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// demoAction stops or starts one local validator. It is registered only in
// demo mode. Being on loopback is not enough: any web page the demonstrator
// opens can make the browser POST to localhost, so a request must also
//   - name this machine in Host (a DNS-rebinding page's Host is its own
//     domain name, which resolves here only by the attacker's design),
//   - come from the explorer's own origin when the browser says where it
//     comes from (Origin), and
//   - carry the per-session token embedded in the explorer's own pages,
//     which another origin cannot read.
func (s *Server) demoAction(w http.ResponseWriter, r *http.Request) {
	if err := s.demoAllowed(r); err != nil {
		s.fail(w, r, &httpError{http.StatusForbidden, err.Error()})
		return
	}
	name, action := r.PathValue("node"), r.PathValue("action")
	if !s.isNode(name) {
		s.fail(w, r, notFound("There is no local validator called %q.", name))
		return
	}
	var err error
	switch action {
	case "stop":
		err = s.cfg.Demo.Stop(name, stopGrace)
	case "start":
		if !s.cfg.Demo.Running(name) {
			err = s.cfg.Demo.Start(name)
		}
	default:
		s.fail(w, r, badRequest("The action is stop or start."))
		return
	}
	if err != nil {
		s.fail(w, r, fmt.Errorf("%s %s: %w", action, name, err))
		return
	}
	if strings.HasPrefix(r.URL.Path, "/api/") {
		writeJSON(w, http.StatusOK, map[string]any{"node": name, "action": action, "running": s.cfg.Demo.Running(name)})
		return
	}
	http.Redirect(w, r, "/#nodes", http.StatusSeeOther)
}

// demoAllowed says why a demo control request is refused, or nil.
func (s *Server) demoAllowed(r *http.Request) error {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("Nodes can be stopped and started only from this machine.")
	}
	if !loopbackHost(r.Host) {
		return fmt.Errorf("Refused: the request was addressed to %q, not to this machine (localhost or a loopback address). Open the explorer at http://localhost:PORT or http://127.0.0.1:PORT.", r.Host)
	}
	if origin := r.Header.Get("Origin"); origin != "" && origin != "http://"+r.Host && origin != "https://"+r.Host {
		return fmt.Errorf("Refused: the request came from another site (%s); only the explorer's own pages may stop or start nodes.", origin)
	}
	tok := r.Header.Get(DemoTokenHeader)
	if tok == "" {
		tok = r.PostFormValue("token")
	}
	if tok == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(s.demoToken)) != 1 {
		return fmt.Errorf("Refused: the demo token is missing or wrong. Use the buttons on the explorer's network page (reload it if the explorer was restarted).")
	}
	return nil
}

// loopbackHost reports whether a Host header names this machine:
// localhost or a loopback IP, with or without a port.
func loopbackHost(hostport string) bool {
	h := hostport
	if hh, _, err := net.SplitHostPort(hostport); err == nil {
		h = hh
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

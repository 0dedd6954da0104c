package explorer

import (
	"fmt"
	"net"
	"net/http"
	"time"
)

// stopGrace is how long a stopped node gets to exit cleanly before it is
// killed: the demonstration is of an agency's node being switched off.
const stopGrace = 5 * time.Second

// demoAction stops or starts one local validator. It is registered only in
// demo mode, and answers only requests from loopback.
func (s *Server) demoAction(w http.ResponseWriter, r *http.Request) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		s.fail(w, r, &httpError{http.StatusForbidden, "Nodes can be stopped and started only from this machine."})
		return
	}
	name, action := r.PathValue("node"), r.PathValue("action")
	if !s.isNode(name) {
		s.fail(w, r, notFound("There is no local validator called %q.", name))
		return
	}
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
	if len(r.URL.Path) > 4 && r.URL.Path[:5] == "/api/" {
		writeJSON(w, http.StatusOK, map[string]any{"node": name, "action": action, "running": s.cfg.Demo.Running(name)})
		return
	}
	http.Redirect(w, r, "/#nodes", http.StatusSeeOther)
}

package explorer

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// One client address past its burst gets 429 Too Many Requests, with
// Retry-After and a sentence saying what to do; another address, and the
// same one once its bucket refills, are served.
func TestRateLimitAnswers429(t *testing.T) {
	s, err := New(Config{Nodes: []Node{{Name: "n", RPC: "tcp://127.0.0.1:1"}}, Rate: 1, Burst: 3})
	require.NoError(t, err)
	now := time.Unix(1_000_000, 0)
	s.limits.now = func() time.Time { return now }
	get := func(addr, path string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.RemoteAddr = addr + ":5555"
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		return w
	}
	for i := range 3 {
		require.Equal(t, http.StatusNotFound, get("192.0.2.1", "/no-such-page").Code, "request %d is within the burst", i+1)
	}
	w := get("192.0.2.1", "/api/v1/no-such-page")
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	require.Equal(t, "1", w.Header().Get("Retry-After"))
	require.True(t, strings.Contains(w.Body.String(), "Too many requests from your address"), w.Body.String())
	require.Equal(t, http.StatusTooManyRequests, get("192.0.2.1", "/no-such-page").Code, "the HTML page says so too")

	require.Equal(t, http.StatusNotFound, get("192.0.2.2", "/no-such-page").Code, "another address has its own bucket")
	require.Equal(t, http.StatusOK, get("192.0.2.1", "/static/style.css").Code, "assets are not counted")
	now = now.Add(time.Second)
	require.Equal(t, http.StatusNotFound, get("192.0.2.1", "/no-such-page").Code, "a token refilled after a second")
}

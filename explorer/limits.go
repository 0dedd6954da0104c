package explorer

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Default request limits per client address: enough for a person paging
// through the explorer (a page costs one request; its assets are exempt),
// not enough for one client to turn the explorer into a query flood on the
// nodes behind it.
const (
	DefaultRate  = 10 // requests a second, sustained
	DefaultBurst = 40 // requests at once
)

// maxBuckets bounds the addresses the limiter remembers; past it, buckets
// that have refilled (idle clients) are forgotten.
const maxBuckets = 10_000

// limiter is a token bucket per client address.
type limiter struct {
	rate  float64 // tokens a second
	burst float64
	now   func() time.Time // time.Now; tests fix it

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newLimiter(rate float64, burst int) *limiter {
	return &limiter{rate: rate, burst: float64(burst), now: time.Now, buckets: map[string]*bucket{}}
}

// allow takes a token from addr's bucket, or says how long until one is
// there.
func (l *limiter) allow(addr string) (ok bool, wait time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, found := l.buckets[addr]
	if !found {
		if len(l.buckets) >= maxBuckets {
			l.forgetIdle(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[addr] = b
	}
	b.tokens = math.Min(l.burst, b.tokens+now.Sub(b.at).Seconds()*l.rate)
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// forgetIdle drops buckets that are full again: forgetting them changes
// nothing for their clients.
func (l *limiter) forgetIdle(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.at).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
}

// clientAddr is the address a request came from: the connection's, never
// a header the client could set.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// limit answers 429 Too Many Requests, with Retry-After and a sentence a
// person can act on, when the client has used its allowance.
func (s *Server) limit(w http.ResponseWriter, r *http.Request) bool {
	if s.limits == nil || strings.HasPrefix(r.URL.Path, "/static/") {
		return true
	}
	ok, wait := s.limits.allow(clientAddr(r))
	if ok {
		return true
	}
	secs := int(math.Ceil(wait.Seconds()))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	s.fail(w, r, &httpError{http.StatusTooManyRequests, fmt.Sprintf(
		"Too many requests from your address: the explorer answers at most %g a second (%g at once). Wait %d s and try again.",
		s.limits.rate, s.limits.burst, secs)})
	return false
}

// maxCachedViews bounds the pages kept for the current height.
const maxCachedViews = 2048

// viewCache keeps the pages computed at the latest state height. State at
// a height never changes, so a page read at it can be served again to
// every reader until the next block, at no cost to the nodes.
type viewCache struct {
	mu     sync.Mutex
	height int64
	views  map[string]*view
}

func (c *viewCache) get(height int64, key string) (*view, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.height != height {
		return nil, false
	}
	v, ok := c.views[key]
	return v, ok
}

func (c *viewCache) put(height int64, key string, v *view) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if height < c.height {
		return
	}
	if height > c.height || c.views == nil {
		c.height, c.views = height, map[string]*view{}
	}
	if len(c.views) < maxCachedViews {
		c.views[key] = v
	}
}

// cached serves h's page from the cache when it was computed at the
// current state height. Only verified pages read at that height are kept;
// the network page, which shows nodes' live status, is never cached.
func (s *Server) cached(name string, h handler) handler {
	if name == "network" {
		return h
	}
	return func(r *http.Request) (*view, error) {
		sn, cancel, err := s.reader(r) // reuses the snapshot of the last request
		cancel()
		if err != nil {
			return h(r)
		}
		key := name + " " + r.URL.Path + "?" + r.URL.RawQuery
		key = strings.Replace(key, "/api/v1", "", 1)
		if v, ok := s.views.get(sn.height, key); ok {
			return v, nil
		}
		v, err := h(r)
		if err == nil && v != nil && v.Height == sn.height && v.Verified != nil && v.Verified.OK {
			s.views.put(sn.height, key, v)
		}
		return v, err
	}
}

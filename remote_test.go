package warden_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// rkMode is how an rkServer answers JWK Set requests.
type rkMode int32

const (
	rkOK rkMode = iota
	rk500
	rkHTML
	rkBadJSON
	rkTruncated
	rkHuge // 10 MB
	rkHang // until the client gives up or release is closed
	rkReset
	rkEmpty       // {"keys":[]}
	rkOffHost     // 302 to another origin
	rkSameHost    // 302 to /keys-moved on the same origin
	rkManyRedirs  // four same-origin redirects
	rkSlow        // good answer after 100 ms
	rkModeCount   // number of modes
	rkRedirTarget = "/keys-moved"
)

var rkModeNames = [...]string{"ok", "500", "html", "bad-json", "truncated", "10MB", "hang", "reset", "empty", "off-host", "same-host", "many-redirects", "slow"}

// rkServer serves an issuer's JWK Set at /keys on the issuer's own loopback
// server, counting requests per mode. Tests switch the mode to simulate an
// outage.
type rkServer struct {
	iss      *wardentest.Issuer
	mode     atomic.Int32
	hits     atomic.Int64
	perMode  [rkModeCount]atomic.Int64
	cacheCtl atomic.Value // string: the Cache-Control of good answers
	offHost  string       // redirect target on another origin
	release  chan struct{}
}

func newRKServer(t *testing.T, iss *wardentest.Issuer) *rkServer {
	t.Helper()
	s := &rkServer{iss: iss, release: make(chan struct{})}
	s.cacheCtl.Store("max-age=60")
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("a redirect to another origin was followed: %s", r.URL)
		_, _ = w.Write(wardentest.JWKS(iss.Keys()...))
	}))
	t.Cleanup(other.Close)
	t.Cleanup(func() { close(s.release) }) // runs before the servers close
	s.offHost = other.URL + "/keys"
	iss.Handle("/keys", s)
	iss.Handle(rkRedirTarget, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(wardentest.JWKS(iss.Keys()...))
	}))
	for i := 1; i <= 4; i++ {
		next := "/hop" + strconv.Itoa(i+1)
		if i == 4 {
			next = rkRedirTarget
		}
		iss.Handle("/hop"+strconv.Itoa(i), http.RedirectHandler(next, http.StatusFound))
	}
	return s
}

func (s *rkServer) URL() string          { return s.iss.URL + "/keys" }
func (s *rkServer) set(m rkMode)         { s.mode.Store(int32(m)) }
func (s *rkServer) count(m rkMode) int64 { return s.perMode[m].Load() }

func (s *rkServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.hits.Add(1)
	m := rkMode(s.mode.Load())
	s.perMode[m].Add(1)
	good := wardentest.JWKS(s.iss.Keys()...)
	if m == rkSlow {
		select {
		case <-time.After(100 * time.Millisecond):
		case <-r.Context().Done():
		}
		m = rkOK
	}
	switch m {
	case rkOK:
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Header().Set("Cache-Control", s.cacheCtl.Load().(string))
		_, _ = w.Write(good)
	case rk500:
		http.Error(w, "upstream unavailable", http.StatusInternalServerError)
	case rkHTML:
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<!doctype html><html><body>Down for maintenance</body></html>"))
	case rkBadJSON:
		_, _ = w.Write([]byte(`{"keys":[{"kty":"RSA","n":`))
	case rkTruncated:
		w.Header().Set("Content-Length", strconv.Itoa(len(good)))
		_, _ = w.Write(good[:len(good)/2])
	case rkHuge:
		w.Header().Set("Content-Type", "application/json")
		chunk := bytes.Repeat([]byte(" "), 64<<10)
		_, _ = w.Write([]byte(`{"keys":[`))
		for i := 0; i < 10<<20/len(chunk); i++ {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		_, _ = w.Write([]byte(`]}`))
	case rkHang:
		select {
		case <-r.Context().Done():
		case <-s.release:
		}
	case rkReset:
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	case rkEmpty:
		_, _ = w.Write([]byte(`{"keys":[]}`))
	case rkOffHost:
		http.Redirect(w, r, s.offHost, http.StatusFound)
	case rkSameHost:
		http.Redirect(w, r, rkRedirTarget, http.StatusFound)
	case rkManyRedirs:
		http.Redirect(w, r, "/hop1", http.StatusFound)
	}
}

// rkFixture is an issuer whose JWK Set an rkServer serves, and a middleware
// trusting it through that URL.
type rkFixture struct {
	iss   *wardentest.Issuer
	keys  *rkServer
	clock *testClock
	log   *syncBuffer
	mw    *warden.Middleware
	h     http.Handler
}

func newRKFixture(t *testing.T, mutate func(*warden.Config)) *rkFixture {
	t.Helper()
	f := &rkFixture{iss: wardentest.NewIssuer(t), clock: &testClock{t: time.Unix(1_900_000_000, 0)}, log: &syncBuffer{}}
	f.keys = newRKServer(t, f.iss)
	f.iss.SetClock(f.clock.Now)
	cfg := warden.Config{
		Issuers: []warden.IssuerConfig{{
			URL:      f.iss.URL,
			Audience: f.iss.Audience,
			JWKSURL:  f.keys.URL(),
		}},
		Now:          f.clock.Now,
		Logger:       slog.New(slog.NewTextHandler(f.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		KeySetPolicy: warden.KeySetPolicy{FetchTimeout: 5 * time.Second},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	mw, err := warden.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = mw.Close() })
	f.mw = mw
	f.h = mw.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	return f
}

// serve sends token to the protected handler and returns the response.
func (f *rkFixture) serve(token string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "http://api.test/", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w
}

// valid mints a fresh token (new jti, so never served from the token cache)
// signed with the issuer's n-th key.
func (f *rkFixture) valid(n int) string {
	keys := f.iss.Keys()
	return f.iss.Mint(wardentest.Token{Key: keys[n%len(keys)]})
}

// status returns the single issuer's key status.
func (f *rkFixture) status() warden.KeySetStatus { return f.mw.KeyStatus()[0] }

// rkEventually polls cond until it holds or 10 s pass: a bound on waiting
// for background work, not a timing assertion.
func rkEventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestRemoteKeysUnknownKIDStorm(t *testing.T) {
	f := newRKFixture(t, nil)
	stranger := wardentest.NewECKey("stranger")
	const n = 1000
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = f.iss.Mint(wardentest.Token{Key: stranger, Header: map[string]any{"kid": fmt.Sprintf("random-%d", i)}})
	}
	before := f.keys.hits.Load()
	codes := make([]int, n)
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range tokens {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			codes[i] = f.serve(tokens[i]).Code
		}()
	}
	start.Done()
	done.Wait()
	for i, c := range codes {
		if c != http.StatusUnauthorized {
			t.Fatalf("request %d: got status %d, want 401", i, c)
		}
	}
	if got := f.keys.hits.Load() - before; got != 1 {
		t.Fatalf("%d concurrent unknown kids caused %d JWKS fetches, want exactly 1", n, got)
	}
	// The same kids again, before UnknownKIDInterval passes: no fetch.
	for _, tok := range tokens[:100] {
		if c := f.serve(tok).Code; c != http.StatusUnauthorized {
			t.Fatalf("repeat: got %d, want 401", c)
		}
	}
	if got := f.keys.hits.Load() - before; got != 1 {
		t.Fatalf("repeated unknown kids within the interval: %d fetches, want 1", got)
	}
	// After the interval, one more unknown kid may refresh once more.
	f.clock.Advance(5 * time.Second)
	fresh := f.iss.Mint(wardentest.Token{Key: stranger, Header: map[string]any{"kid": "random-after"}})
	if c := f.serve(fresh).Code; c != http.StatusUnauthorized {
		t.Fatalf("after the interval: got %d, want 401", c)
	}
	if got := f.keys.hits.Load() - before; got != 2 {
		t.Fatalf("after the interval: %d fetches in all, want 2", got)
	}
}

func TestRemoteKeysConcurrentRotation(t *testing.T) {
	f := newRKFixture(t, func(c *warden.Config) { c.KeySetPolicy.UnknownKIDWait = 5 * time.Second })
	f.keys.set(rkSlow) // widens the window in which requests pile up
	f.iss.Rotate("rsa-2")
	const n = 200
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = f.valid(0)
	}
	before := f.keys.hits.Load()
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = f.serve(tokens[i]).Code
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusOK {
			t.Fatalf("request %d with the new kid: got %d, want 200", i, c)
		}
	}
	if got := f.keys.hits.Load() - before; got != 1 {
		t.Fatalf("%d concurrent requests with a new kid caused %d fetches, want 1 shared by all", n, got)
	}
}

func TestRemoteKeysRememberedUnknownKID(t *testing.T) {
	f := newRKFixture(t, func(c *warden.Config) {
		c.KeySetPolicy.UnknownKIDInterval = 10 * time.Minute
		c.KeySetPolicy.UnknownKIDWait = time.Minute
		c.KeySetPolicy.FetchTimeout = time.Minute
	})
	gone := f.iss.Mint(wardentest.Token{Header: map[string]any{"kid": "gone"}})
	if c := f.serve(gone).Code; c != http.StatusUnauthorized {
		t.Fatalf("unknown kid: got %d, want 401", c)
	}
	// A scheduled refresh (max-age=60) now hangs; an unknown kid would wait
	// for it, up to the minute UnknownKIDWait allows.
	f.keys.set(rkHang)
	f.clock.Advance(61 * time.Second)
	f.serve(f.valid(0))
	rkEventually(t, "the hanging refresh", func() bool { return f.keys.count(rkHang) == 1 })
	// A kid still unknown after the last refresh is refused at once.
	done := make(chan int, 1)
	go func() { done <- f.serve(gone).Code }()
	select {
	case c := <-done:
		if c != http.StatusUnauthorized {
			t.Fatalf("remembered unknown kid: got %d, want 401", c)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("a remembered unknown kid waited for the running refresh")
	}
}

func TestRemoteKeysRotation(t *testing.T) {
	f := newRKFixture(t, nil)
	old := f.valid(0)
	if c := f.serve(old).Code; c != http.StatusOK {
		t.Fatalf("before rotation: got %d, want 200", c)
	}
	before := f.keys.hits.Load()
	f.iss.Rotate("rsa-2")
	if c := f.serve(f.valid(0)).Code; c != http.StatusOK {
		t.Fatalf("first request with the new kid: got %d, want 200", c)
	}
	if got := f.keys.hits.Load() - before; got != 1 {
		t.Fatalf("rotation: %d fetches, want 1", got)
	}
	// Revocation (attack table H14): the old key leaves the set and the
	// next scheduled refresh (max-age=60 → at most 60 s) drops it, even for
	// a token already in the verified-token cache.
	f.iss.SetKeys(f.iss.Key("rsa-2"))
	f.clock.Advance(61 * time.Second)
	f.serve(f.valid(0)) // notices the refresh is due and starts it
	rkEventually(t, "the scheduled refresh", func() bool {
		return f.status().LastRefresh.Equal(f.clock.Now()) && len(f.status().KeyIDs) == 1
	})
	if c := f.serve(old).Code; c != http.StatusUnauthorized {
		t.Fatalf("token of a removed key: got %d, want 401", c)
	}
}

func TestRemoteKeysOutage(t *testing.T) {
	f := newRKFixture(t, func(c *warden.Config) {
		c.KeySetPolicy.MinRefreshInterval = time.Second // backoff ceiling: retries every second at most
		c.KeySetPolicy.FetchTimeout = 300 * time.Millisecond
	})
	start := f.clock.Now()
	failures := []rkMode{rk500, rkHTML, rkBadJSON, rkTruncated, rkHuge, rkHang, rkReset, rkEmpty, rkOffHost, rkManyRedirs}
	served, lost := 0, 0
	ask := func() {
		served++
		if w := f.serve(f.valid(served)); w.Code != http.StatusOK {
			lost++
			t.Errorf("at +%s: valid token got %d, want 200", f.clock.Now().Sub(start), w.Code)
		}
	}
	for i := 0; f.clock.Now().Sub(start) < 30*time.Minute; i++ {
		mode := failures[i%len(failures)]
		f.keys.set(mode)
		before := f.keys.count(mode)
		f.clock.Advance(time.Minute)
		ask()
		// Requests keep coming (each one verified) until a refresh has met
		// this failure; the clock moves a second at a time to let backoff
		// pass.
		for f.keys.count(mode) == before {
			f.clock.Advance(time.Second)
			ask()
			if served > 100000 {
				t.Fatalf("mode %s was never fetched", rkModeNames[mode])
			}
		}
		// An unknown kid during the outage is a 401, never a 503.
		if c := f.serve(f.iss.Mint(wardentest.Token{Header: map[string]any{"kid": "nope-" + strconv.Itoa(i)}})).Code; c != http.StatusUnauthorized {
			t.Errorf("unknown kid during outage: got %d, want 401", c)
		}
	}
	if lost != 0 {
		t.Fatalf("%d of %d requests lost during a 30-minute outage", lost, served)
	}
	rkEventually(t, "the last refresh to fail", func() bool { return f.status().LastError != "" })
	st := f.status()
	if !st.Usable || st.Staleness < 30*time.Minute {
		t.Fatalf("after the outage: usable %v, staleness %s; want usable and ≥ 30m stale", st.Usable, st.Staleness)
	}
	logs := f.log.String()
	if !strings.Contains(logs, "key refresh failed") {
		t.Fatalf("refresh failures were not logged:\n%s", logs)
	}
	for _, k := range f.iss.Keys() {
		for _, field := range []string{"n", "x"} {
			if v, ok := k.JWK()[field].(string); ok && strings.Contains(logs, v[:16]) {
				t.Fatalf("logs contain key material of %s", k.ID)
			}
		}
	}
	// Recovery clears the error.
	f.keys.set(rkOK)
	rkEventually(t, "recovery", func() bool {
		f.clock.Advance(time.Second)
		ask()
		return f.status().LastError == ""
	})
}

func TestRemoteKeysStaleBeyondMaxStaleness(t *testing.T) {
	f := newRKFixture(t, func(c *warden.Config) { c.KeySetPolicy.MaxStaleness = time.Hour })
	// A token verified before the outage sits in the verified-token cache;
	// staleness must reach it too.
	cached := f.iss.Mint(wardentest.Token{Claims: wardentest.Claims{"exp": f.clock.Now().Add(2 * time.Hour).Unix()}})
	if c := f.serve(cached).Code; c != http.StatusOK {
		t.Fatalf("before the outage: got %d, want 200", c)
	}
	f.keys.set(rk500)
	f.clock.Advance(59 * time.Minute)
	if c := f.serve(f.valid(1)).Code; c != http.StatusOK {
		t.Fatalf("59 min stale: got %d, want 200", c)
	}
	f.clock.Advance(2 * time.Minute)
	for _, tok := range []string{cached, f.valid(2)} {
		w := f.serve(tok)
		if w.Code != http.StatusServiceUnavailable {
			t.Fatalf("61 min stale: got %d, want 503", w.Code)
		}
		if ra, err := strconv.Atoi(w.Header().Get("Retry-After")); err != nil || ra < 1 {
			t.Fatalf("503 without a valid Retry-After: %q", w.Header().Get("Retry-After"))
		}
	}
	if st := f.status(); st.Usable || st.LastError == "" {
		t.Fatalf("status: usable %v, last error %q; want unusable with an error", st.Usable, st.LastError)
	}
	// The issuer comes back: a request waits (≤ UnknownKIDWait) for the
	// refresh it starts and succeeds.
	f.keys.set(rkOK)
	rkEventually(t, "recovery", func() bool {
		f.clock.Advance(time.Minute)
		c := f.serve(f.valid(0)).Code
		if c != http.StatusOK && c != http.StatusServiceUnavailable {
			t.Fatalf("recovering: got %d, want 200 or 503", c)
		}
		return c == http.StatusOK
	})
}

func TestRemoteKeysUnknownKIDWaitIsBounded(t *testing.T) {
	f := newRKFixture(t, func(c *warden.Config) {
		c.KeySetPolicy.UnknownKIDWait = 20 * time.Millisecond
		c.KeySetPolicy.FetchTimeout = time.Minute
	})
	f.keys.set(rkHang)
	tok := f.iss.Mint(wardentest.Token{Header: map[string]any{"kid": "rotated-away"}})
	if c := f.serve(tok).Code; c != http.StatusUnauthorized {
		t.Fatalf("unknown kid while the JWKS hangs: got %d, want 401", c)
	}
	if f.keys.count(rkHang) != 1 {
		t.Fatalf("the refresh did not reach the server")
	}
	// The refresh is still hanging (nothing released it), yet the request
	// was answered; a known kid is unaffected.
	if c := f.serve(f.valid(0)).Code; c != http.StatusOK {
		t.Fatalf("known kid while a refresh hangs: got %d, want 200", c)
	}
}

func TestRemoteKeysStartup(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	refused := closed.URL + "/keys"
	closed.Close()
	for _, m := range []rkMode{rk500, rkHTML, rkBadJSON, rkTruncated, rkHuge, rkHang, rkReset, rkEmpty, rkOffHost, rkManyRedirs, -1} {
		name := "connection-refused"
		if m >= 0 {
			name = rkModeNames[m]
		}
		t.Run(name, func(t *testing.T) {
			iss := wardentest.NewIssuer(t)
			keys := newRKServer(t, iss)
			url := keys.URL()
			if m < 0 {
				url = refused
			} else {
				keys.set(m)
			}
			_, err := warden.New(warden.Config{
				Issuers: []warden.IssuerConfig{{
					URL:      iss.URL,
					Audience: iss.Audience,
					JWKSURL:  url,
				}},
				KeySetPolicy: warden.KeySetPolicy{FetchTimeout: 300 * time.Millisecond},
			})
			var kfe *warden.KeyFetchError
			if !errors.As(err, &kfe) || kfe.Issuer != iss.URL || kfe.Err == nil {
				t.Fatalf("New: got %v, want a *KeyFetchError naming %s", err, iss.URL)
			}
			if !strings.Contains(err.Error(), iss.URL) {
				t.Fatalf("error %q does not name the issuer", err)
			}
		})
	}
	t.Run("lazy", func(t *testing.T) {
		iss := wardentest.NewIssuer(t)
		keys := newRKServer(t, iss)
		keys.set(rk500)
		clock := &testClock{t: time.Unix(1_900_000_000, 0)}
		iss.SetClock(clock.Now)
		mw, err := warden.New(warden.Config{
			Issuers: []warden.IssuerConfig{{
				URL:      iss.URL,
				Audience: iss.Audience,
				JWKSURL:  keys.URL(),
			}},
			Now:          clock.Now,
			KeySetPolicy: warden.KeySetPolicy{LazyStart: true},
		})
		if err != nil {
			t.Fatalf("New with LazyStart: %v", err)
		}
		defer mw.Close()
		tok := iss.Mint(wardentest.Token{})
		rkEventually(t, "the first attempt", func() bool { return mw.KeyStatus()[0].LastError != "" })
		if _, err := mw.Verify(t.Context(), tok); !isReason(err, warden.ReasonKeysUnavailable) {
			t.Fatalf("before any key set: got %v, want keys_unavailable", err)
		}
		keys.set(rkOK)
		rkEventually(t, "the first key set", func() bool {
			clock.Advance(2 * time.Second) // past the backoff
			_, err := mw.Verify(t.Context(), tok)
			return err == nil
		})
	})
}

func isReason(err error, r warden.Reason) bool {
	var we *warden.Error
	return errors.As(err, &we) && we.Reason == r
}

func TestRemoteKeysRedirects(t *testing.T) {
	for _, tc := range []struct {
		name string
		mode rkMode
		ok   bool
	}{
		{"same-host", rkSameHost, true},
		{"more-than-three", rkManyRedirs, false},
		{"other-host", rkOffHost, false},
	} {
		for _, supplied := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/supplied-client=%v", tc.name, supplied), func(t *testing.T) {
				iss := wardentest.NewIssuer(t)
				keys := newRKServer(t, iss)
				keys.set(tc.mode)
				cfg := warden.Config{Issuers: []warden.IssuerConfig{{URL: iss.URL, Audience: iss.Audience, JWKSURL: keys.URL()}}}
				if supplied {
					cfg.HTTPClient = &http.Client{} // follows any redirect by itself
				}
				mw, err := warden.New(cfg)
				if tc.ok {
					if err != nil {
						t.Fatalf("New: %v", err)
					}
					_ = mw.Close()
					return
				}
				var kfe *warden.KeyFetchError
				if !errors.As(err, &kfe) {
					t.Fatalf("New: got %v, want a *KeyFetchError", err)
				}
			})
		}
	}
}

func TestRemoteKeysCacheControl(t *testing.T) {
	for _, tc := range []struct {
		name        string
		cacheCtl    string
		quiet, due  time.Duration // no refresh by quiet; a refresh by due
		maxInterval time.Duration
	}{
		{"max-age honoured ahead of expiry", "public, max-age=600", 7 * time.Minute, 9 * time.Minute, 0},
		{"short max-age clamped to the minimum", "max-age=5", 30 * time.Second, 61 * time.Second, 0},
		{"no-store clamped to the minimum", "no-store", 30 * time.Second, 61 * time.Second, 0},
		{"long max-age clamped to the maximum", "max-age=864000", 30 * time.Minute, 61 * time.Minute, time.Hour},
		{"no max-age: one hour", "", 30 * time.Minute, 61 * time.Minute, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newRKFixture(t, func(c *warden.Config) { c.KeySetPolicy.MaxRefreshInterval = tc.maxInterval })
			f.keys.cacheCtl.Store(tc.cacheCtl)
			// Refresh once more so the schedule follows tc.cacheCtl.
			f.iss.Rotate("rsa-2")
			f.serve(f.valid(0))
			before := f.keys.hits.Load()
			f.clock.Advance(tc.quiet)
			f.serve(f.valid(0))
			if got := f.keys.hits.Load(); got != before {
				t.Fatalf("refreshed before %s", tc.quiet)
			}
			f.clock.Advance(tc.due - tc.quiet)
			f.serve(f.valid(0))
			rkEventually(t, "the scheduled refresh", func() bool { return f.keys.hits.Load() == before+1 })
		})
	}
}

func TestRemoteKeysUnconfiguredIssuerFetchesNothing(t *testing.T) {
	var evilHits atomic.Int64
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		evilHits.Add(1)
		http.NotFound(w, nil)
	}))
	defer evil.Close()
	a, b := wardentest.NewIssuer(t), wardentest.NewIssuer(t)
	mw, err := warden.New(warden.Config{Issuers: []warden.IssuerConfig{
		{URL: a.URL, Audience: a.Audience, JWKSURL: a.JWKSURL()},
		{URL: b.URL, Audience: b.Audience}, // discovery
	}})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer mw.Close()
	fa, fb := a.JWKSFetches(), b.JWKSFetches()
	attacker := wardentest.NewECKey("atk")
	for name, tok := range map[string]string{
		"unconfigured iss":           a.Mint(wardentest.Token{Key: attacker, Claims: wardentest.Claims{"iss": evil.URL}}),
		"unconfigured iss with jku":  a.Mint(wardentest.Token{Key: attacker, Claims: wardentest.Claims{"iss": evil.URL}, Header: map[string]any{"jku": evil.URL + "/jwks"}}),
		"iss naming a discovery URL": a.Mint(wardentest.Token{Key: attacker, Claims: wardentest.Claims{"iss": evil.URL + "/.well-known/openid-configuration"}}),
		"A's key, B's iss":           a.Mint(wardentest.Token{Claims: wardentest.Claims{"iss": b.URL}}), // H15: kid rsa-1 exists at B too
	} {
		if _, err := mw.Verify(t.Context(), tok); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if n := evilHits.Load(); n != 0 {
		t.Fatalf("%d requests reached a server named only by a token", n)
	}
	if a.JWKSFetches() != fa || b.JWKSFetches() != fb {
		t.Fatalf("configured issuers were fetched again: A %d→%d, B %d→%d", fa, a.JWKSFetches(), fb, b.JWKSFetches())
	}
	for _, iss := range []*wardentest.Issuer{a, b} {
		if _, err := mw.Verify(t.Context(), iss.Mint(wardentest.Token{})); err != nil {
			t.Fatalf("token of %s: %v", iss.URL, err)
		}
	}
}

func TestRemoteKeysDiscovery(t *testing.T) {
	type doc struct{ path, issuer, jwks string }
	for _, tc := range []struct {
		name      string
		issuer    string // path appended to the server URL
		discovery string // DiscoveryURL path, if set
		docs      func(base string) []doc
		ok        bool
	}{
		{"plain issuer", "", "", nil, true},
		{"path issuer, OpenID Connect appended form", "/authenticate", "", func(base string) []doc {
			return []doc{{"/authenticate/.well-known/openid-configuration", base + "/authenticate", base + "/jwks.json"}}
		}, true},
		{"path issuer, RFC 8414 inserted form", "/authenticate", "", func(base string) []doc {
			return []doc{{"/.well-known/oauth-authorization-server/authenticate", base + "/authenticate", base + "/jwks.json"}}
		}, true},
		{"explicit discovery URL", "/tenant", "/meta/tenant.json", func(base string) []doc {
			return []doc{{"/meta/tenant.json", base + "/tenant", base + "/jwks.json"}}
		}, true},
		{"issuer mismatch", "/authenticate", "", func(base string) []doc {
			return []doc{
				{"/authenticate/.well-known/openid-configuration", base + "/authenticate/", base + "/jwks.json"},
				{"/.well-known/oauth-authorization-server/authenticate", "https://idp.example/authenticate", base + "/jwks.json"},
			}
		}, false},
		{"jwks_uri over http on a public host", "/authenticate", "", func(base string) []doc {
			return []doc{{"/authenticate/.well-known/openid-configuration", base + "/authenticate", "http://keys.example/jwks"}}
		}, false},
		{"no document", "/nothing-here", "", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			iss := wardentest.NewIssuer(t)
			if tc.docs != nil {
				for _, d := range tc.docs(iss.URL) {
					body := fmt.Sprintf(`{"issuer":%q,"jwks_uri":%q}`, d.issuer, d.jwks)
					iss.Handle(d.path, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(body)) }))
				}
			}
			cfg := warden.Config{Issuers: []warden.IssuerConfig{{URL: iss.URL + tc.issuer, Audience: iss.Audience}}, KeySetPolicy: warden.KeySetPolicy{FetchTimeout: 5 * time.Second}}
			if tc.discovery != "" {
				cfg.Issuers[0].DiscoveryURL = iss.URL + tc.discovery
			}
			mw, err := warden.New(cfg)
			if !tc.ok {
				var kfe *warden.KeyFetchError
				if !errors.As(err, &kfe) {
					t.Fatalf("New: got %v, want a *KeyFetchError", err)
				}
				if iss.JWKSFetches() != 0 {
					t.Fatalf("the JWK Set was fetched despite a rejected discovery")
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			defer mw.Close()
			tok := iss.Mint(wardentest.Token{Claims: wardentest.Claims{"iss": cfg.Issuers[0].URL}})
			if _, err := mw.Verify(t.Context(), tok); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

func TestRemoteKeysConfigErrors(t *testing.T) {
	for name, cfg := range map[string]warden.Config{
		"http JWKS URL on a public host":      {Issuers: []warden.IssuerConfig{{URL: "https://idp.example", Audience: "a", JWKSURL: "http://idp.example/jwks"}}},
		"http discovery URL on a public host": {Issuers: []warden.IssuerConfig{{URL: "https://idp.example", Audience: "a", DiscoveryURL: "http://idp.example/.well-known/openid-configuration"}}},
		"http issuer for discovery":           {Issuers: []warden.IssuerConfig{{URL: "http://idp.example", Audience: "a"}}},
		"issuer with a query for discovery":   {Issuers: []warden.IssuerConfig{{URL: "https://idp.example/?tenant=1", Audience: "a"}}},
		"min above max refresh":               {Issuers: []warden.IssuerConfig{{URL: "https://idp.example", Audience: "a", JWKSURL: "https://idp.example/jwks"}}, KeySetPolicy: warden.KeySetPolicy{MinRefreshInterval: time.Hour, MaxRefreshInterval: time.Minute}},
	} {
		t.Run(name, func(t *testing.T) {
			mw, err := warden.New(cfg)
			var kfe *warden.KeyFetchError
			if err == nil || errors.As(err, &kfe) {
				if mw != nil {
					_ = mw.Close()
				}
				t.Fatalf("New: got %v, want a configuration error before any request", err)
			}
		})
	}
}

func TestRemoteKeysCloseStopsEverything(t *testing.T) {
	iss := wardentest.NewIssuer(t)
	keys := newRKServer(t, iss)
	hanging := wardentest.NewIssuer(t)
	hangKeys := newRKServer(t, hanging)
	hangKeys.set(rkHang)
	baseline := runtime.NumGoroutine()
	mw, err := warden.New(warden.Config{
		Issuers: []warden.IssuerConfig{
			{URL: iss.URL, Audience: iss.Audience, JWKSURL: keys.URL()},
			{URL: hanging.URL, Audience: hanging.Audience, JWKSURL: hangKeys.URL()},
		},
		KeySetPolicy: warden.KeySetPolicy{LazyStart: true, FetchTimeout: time.Minute},
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	tok := iss.Mint(wardentest.Token{})
	rkEventually(t, "the first key set", func() bool { _, err := mw.Verify(t.Context(), tok); return err == nil })
	rkEventually(t, "the hanging fetch", func() bool { return hangKeys.count(rkHang) == 1 })
	if err := mw.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	_ = mw.Close() // idempotent
	rkEventually(t, "background goroutines to exit", func() bool { return runtime.NumGoroutine() <= baseline })
	// A closed middleware keeps serving with the keys it holds and fetches
	// nothing more.
	fetches := keys.hits.Load()
	if _, err := mw.Verify(t.Context(), iss.Mint(wardentest.Token{})); err != nil {
		t.Fatalf("after Close: %v", err)
	}
	if _, err := mw.Verify(t.Context(), iss.Mint(wardentest.Token{Header: map[string]any{"kid": "new"}})); !isReason(err, warden.ReasonUnknownKID) {
		t.Fatalf("unknown kid after Close: got %v, want unknown_kid", err)
	}
	if keys.hits.Load() != fetches {
		t.Fatalf("a closed key source fetched")
	}
}

// TestRemoteKeysOnRefresh: the refresh hook sees every attempt, its outcome
// and the number of keys, for metrics.
func TestRemoteKeysOnRefresh(t *testing.T) {
	var mu sync.Mutex
	var events []warden.KeyRefresh
	f := newRKFixture(t, func(c *warden.Config) {
		c.KeySetPolicy.OnRefresh = func(ev warden.KeyRefresh) {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, ev)
		}
	})
	snapshot := func() []warden.KeyRefresh {
		mu.Lock()
		defer mu.Unlock()
		return append([]warden.KeyRefresh(nil), events...)
	}
	// New waited for the first fetch.
	if got := snapshot(); len(got) != 1 || got[0].Err != nil || got[0].Keys != 3 || got[0].Issuer != f.iss.URL || got[0].Duration <= 0 {
		t.Fatalf("after New: got %+v, want one successful refresh of 3 keys", got)
	}
	f.keys.set(rk500)
	f.clock.Advance(61 * time.Second) // past max-age=60: the refresh is due
	f.serve(f.valid(0))
	rkEventually(t, "the failed refresh to be reported", func() bool { return len(snapshot()) == 2 })
	if ev := snapshot()[1]; ev.Err == nil || ev.Keys != 0 {
		t.Fatalf("failed refresh: got %+v, want an error and 0 keys", ev)
	}
}

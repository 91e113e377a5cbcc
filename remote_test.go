package warden_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// newRKServer starts a JWK Set endpoint publishing iss's keys with
// Cache-Control max-age=60, and fails the test if a redirect to another
// origin was ever followed.
func newRKServer(t *testing.T, iss *wardentest.Issuer) *wardentest.JWKSServer {
	t.Helper()
	s := wardentest.NewJWKSServer(t, iss.Keys()...)
	s.SetCacheControl("max-age=60")
	t.Cleanup(func() { assert.Zero(t, s.OffHostFetches(), "a redirect to another origin was followed") })
	return s
}

// rkFixture is an issuer whose JWK Set newRKServer publishes, and a
// middleware trusting it through that URL.
type rkFixture struct {
	iss       *wardentest.Issuer
	keys      *wardentest.JWKSServer
	clock     *testClock
	log       *syncBuffer
	refreshes *refreshLog
	mw        *warden.Middleware
	h         http.Handler
}

func newRKFixture(t *testing.T, mutate func(*warden.Config)) *rkFixture {
	t.Helper()
	f := &rkFixture{iss: wardentest.NewIssuer(t), clock: newTestClock()}
	f.keys = newRKServer(t, f.iss)
	f.iss.SetClock(f.clock.Now)
	logger, log := captureLogs()
	f.log = log
	cfg := warden.Config{
		Issuers: []warden.IssuerConfig{{
			URL:      f.iss.URL,
			Audience: f.iss.Audience,
			JWKSURL:  f.keys.URL,
		}},
		Now:          f.clock.Now,
		Logger:       logger,
		KeySetPolicy: warden.KeySetPolicy{FetchTimeout: 5 * time.Second},
	}
	f.refreshes = recordRefreshes(&cfg)
	if mutate != nil {
		mutate(&cfg)
	}
	f.mw = newMiddleware(t, cfg)
	f.h = f.mw.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	return f
}

// serve sends token to the protected handler and returns the response.
func (f *rkFixture) serve(token string) *httptest.ResponseRecorder {
	return bearerRequest(token).do(f.h)
}

// valid mints a fresh token (new jti, so never served from the token cache)
// signed with the issuer's n-th key.
func (f *rkFixture) valid(n int) string {
	keys := f.iss.Keys()
	return f.iss.Mint(wardentest.Token{Key: keys[n%len(keys)]})
}

// publish makes keys the issuer's keys, at its JWK Set URL too; keys[0]
// signs.
func (f *rkFixture) publish(keys ...*wardentest.Key) {
	f.iss.SetKeys(keys...)
	f.keys.SetKeys(keys...)
}

// rotate publishes a new key with the given kid in front of the current
// ones, so that it signs from now on. It is an EC key: cheap to make and to
// sign with, and the kind of key plays no part in a rotation.
func (f *rkFixture) rotate(kid string) {
	f.publish(append([]*wardentest.Key{wardentest.NewECKey(kid)}, f.iss.Keys()...)...)
}

// status returns the single issuer's key status.
func (f *rkFixture) status() warden.KeySetStatus { return f.mw.KeyStatus()[0] }

func TestRemoteKeysUnknownKIDStorm(t *testing.T) {
	t.Parallel()
	f := newRKFixture(t, nil)
	stranger := wardentest.NewECKey("stranger")
	const n = 1000
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = f.iss.Mint(wardentest.Token{Key: stranger, Header: map[string]any{"kid": fmt.Sprintf("random-%d", i)}})
	}
	before := f.keys.Fetches()
	codes := make([]int, n)
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range tokens {
		done.Go(func() {
			start.Wait()
			codes[i] = f.serve(tokens[i]).Code
		})
	}
	start.Done()
	done.Wait()
	for i, c := range codes {
		require.Equal(t, http.StatusUnauthorized, c, "request %d", i)
	}
	require.Equal(t, int64(1), f.keys.Fetches()-before, "JWKS fetches for %d concurrent unknown kids", n)
	// The same kids again, before UnknownKIDInterval passes: no fetch.
	for _, tok := range tokens[:100] {
		require.Equal(t, http.StatusUnauthorized, f.serve(tok).Code, "repeat")
	}
	require.Equal(t, int64(1), f.keys.Fetches()-before, "fetches for unknown kids repeated within the interval")
	// After the interval, one more unknown kid may refresh once more.
	f.clock.Advance(5 * time.Second)
	fresh := f.iss.Mint(wardentest.Token{Key: stranger, Header: map[string]any{"kid": "random-after"}})
	require.Equal(t, http.StatusUnauthorized, f.serve(fresh).Code, "after the interval")
	require.Equal(t, int64(2), f.keys.Fetches()-before, "fetches in all, after the interval")
}

func TestRemoteKeysConcurrentRotation(t *testing.T) {
	t.Parallel()
	f := newRKFixture(t, func(c *warden.Config) { c.KeySetPolicy.UnknownKIDWait = 5 * time.Second })
	f.keys.Fail(wardentest.Slow) // widens the window in which requests pile up
	f.rotate("ec-2")
	const n = 200
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = f.valid(0)
	}
	before := f.keys.Fetches()
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range tokens {
		wg.Go(func() { codes[i] = f.serve(tokens[i]).Code })
	}
	wg.Wait()
	for i, c := range codes {
		require.Equal(t, http.StatusOK, c, "request %d with the new kid", i)
	}
	require.Equal(t, int64(1), f.keys.Fetches()-before, "fetches for %d concurrent requests with a new kid: one shared by all", n)
}

func TestRemoteKeysRememberedUnknownKID(t *testing.T) {
	t.Parallel()
	f := newRKFixture(t, func(c *warden.Config) {
		c.KeySetPolicy.UnknownKIDInterval = 10 * time.Minute
		c.KeySetPolicy.UnknownKIDWait = time.Minute
		c.KeySetPolicy.FetchTimeout = time.Minute
	})
	gone := f.iss.Mint(wardentest.Token{Header: map[string]any{"kid": "gone"}})
	require.Equal(t, http.StatusUnauthorized, f.serve(gone).Code, "unknown kid")
	// A scheduled refresh (max-age=60) now hangs; an unknown kid would wait
	// for it, up to the minute UnknownKIDWait allows.
	f.keys.Fail(wardentest.Hang)
	f.clock.Advance(61 * time.Second)
	f.serve(f.valid(0))
	eventually(t, "the hanging refresh", func() bool { return f.keys.FetchesWhile(wardentest.Hang) == 1 })
	// A kid still unknown after the last refresh is refused at once.
	done := make(chan int, 1)
	go func() { done <- f.serve(gone).Code }()
	select {
	case c := <-done:
		require.Equal(t, http.StatusUnauthorized, c, "remembered unknown kid")
	case <-time.After(waitBound):
		require.FailNow(t, "a remembered unknown kid waited for the running refresh")
	}
}

func TestRemoteKeysRotation(t *testing.T) {
	t.Parallel()
	f := newRKFixture(t, nil)
	old := f.valid(0)
	require.Equal(t, http.StatusOK, f.serve(old).Code, "before rotation")
	before := f.keys.Fetches()
	f.rotate("ec-2")
	require.Equal(t, http.StatusOK, f.serve(f.valid(0)).Code, "first request with the new kid")
	require.Equal(t, int64(1), f.keys.Fetches()-before, "fetches for the rotation")
	// Revocation (attack table H14): the old key leaves the set and the
	// next scheduled refresh (max-age=60 → at most 60 s) drops it, even for
	// a token already in the verified-token cache.
	f.publish(f.iss.Key("ec-2"))
	done := f.refreshes.count()
	f.clock.Advance(61 * time.Second)
	f.serve(f.valid(0)) // notices the refresh is due and starts it
	require.NoError(t, f.refreshes.await(t, done+1).Err, "the scheduled refresh")
	require.True(t, f.status().LastRefresh.Equal(f.clock.Now()), "refreshed at %s", f.status().LastRefresh)
	require.Equal(t, []string{"ec-2"}, f.status().KeyIDs)
	require.Equal(t, http.StatusUnauthorized, f.serve(old).Code, "token of a removed key")
}

func TestRemoteKeysOutage(t *testing.T) {
	t.Parallel()
	f := newRKFixture(t, func(c *warden.Config) {
		c.KeySetPolicy.MinRefreshInterval = time.Second // backoff ceiling: retries every second at most
		// A real-time bound: how long the Hang below holds a refresh.
		c.KeySetPolicy.FetchTimeout = 50 * time.Millisecond
		// New does not wait for the first key set: on a busy machine it may
		// take more than one such fetch, below.
		c.KeySetPolicy.LazyStart = true
	})
	for i := 1; f.refreshes.await(t, i).Err != nil; i++ {
		require.Less(t, i, 100, "no key set after %d fetches", i)
		f.clock.Advance(time.Second)
		f.serve(f.valid(0))
	}
	start := f.clock.Now()
	failures := []wardentest.Failure{wardentest.Status500, wardentest.HTMLPage, wardentest.BadJSON, wardentest.Truncated,
		wardentest.Oversized, wardentest.Hang, wardentest.Reset, wardentest.EmptySet, wardentest.RedirectOffHost, wardentest.RedirectLoop}
	served, lost := 0, 0
	ask := func() {
		served++
		if w := f.serve(f.valid(served)); !assert.Equal(t, http.StatusOK, w.Code, "valid token at +%s", f.clock.Now().Sub(start)) {
			lost++
		}
	}
	// refreshOnce moves the clock past any backoff, sends a request, and
	// waits for the refresh it starts (or the one still running).
	refreshOnce := func() warden.KeyRefresh {
		done := f.refreshes.count()
		f.clock.Advance(time.Second)
		ask()
		return f.refreshes.await(t, done+1)
	}
	for i := 0; f.clock.Now().Sub(start) < 30*time.Minute; i++ {
		mode := failures[i%len(failures)]
		f.keys.Fail(mode)
		before := f.keys.FetchesWhile(mode)
		f.clock.Advance(time.Minute)
		ask()
		// Requests keep coming (each one verified) until a refresh has met
		// this failure.
		for f.keys.FetchesWhile(mode) == before {
			refreshOnce()
		}
		// An unknown kid during the outage is a 401, never a 503.
		unknown := f.iss.Mint(wardentest.Token{Header: map[string]any{"kid": "nope-" + strconv.Itoa(i)}})
		assert.Equal(t, http.StatusUnauthorized, f.serve(unknown).Code, "unknown kid during the outage (%s)", mode)
	}
	require.Zero(t, lost, "requests lost of %d during a 30-minute outage", served)
	st := f.status()
	require.NotEmpty(t, st.LastError, "the last refresh failed")
	require.True(t, st.Usable, "usable after the outage")
	require.GreaterOrEqual(t, st.Staleness, 30*time.Minute, "staleness after the outage")
	f.log.await(t, "key refresh failed")
	logs := f.log.String()
	for _, k := range f.iss.Keys() {
		for _, field := range []string{"n", "x"} {
			if v, ok := k.JWK()[field].(string); ok {
				require.NotContains(t, logs, v[:16], "key material of %s in the logs", k.ID)
			}
		}
	}
	// Recovery clears the error.
	f.keys.Fail(wardentest.Healthy)
	for i := 0; refreshOnce().Err != nil; i++ {
		require.Less(t, i, 100, "no recovery after %d refreshes", i)
	}
	assert.Empty(t, f.status().LastError)
}

func TestRemoteKeysStaleBeyondMaxStaleness(t *testing.T) {
	t.Parallel()
	f := newRKFixture(t, func(c *warden.Config) { c.KeySetPolicy.MaxStaleness = time.Hour })
	// A token verified before the outage sits in the verified-token cache;
	// staleness must reach it too.
	cached := f.iss.Mint(wardentest.Token{Claims: wardentest.Claims{"exp": f.clock.Now().Add(2 * time.Hour).Unix()}})
	require.Equal(t, http.StatusOK, f.serve(cached).Code, "before the outage")
	f.keys.Fail(wardentest.Status500)
	f.clock.Advance(59 * time.Minute)
	require.Equal(t, http.StatusOK, f.serve(f.valid(1)).Code, "59 min stale")
	f.clock.Advance(2 * time.Minute)
	for _, tok := range []string{cached, f.valid(2)} {
		w := f.serve(tok)
		require.Equal(t, http.StatusServiceUnavailable, w.Code, "61 min stale")
		ra, err := strconv.Atoi(w.Header().Get("Retry-After"))
		require.NoError(t, err, "Retry-After %q", w.Header().Get("Retry-After"))
		require.GreaterOrEqual(t, ra, 1, "Retry-After")
	}
	st := f.status()
	require.False(t, st.Usable, "usable")
	require.NotEmpty(t, st.LastError)
	// The issuer comes back: a request waits (≤ UnknownKIDWait) for the
	// refresh it starts and succeeds.
	f.keys.Fail(wardentest.Healthy)
	eventually(t, "recovery", func() bool {
		f.clock.Advance(time.Minute)
		c := f.serve(f.valid(0)).Code
		require.Contains(t, []int{http.StatusOK, http.StatusServiceUnavailable}, c, "recovering")
		return c == http.StatusOK
	})
}

func TestRemoteKeysUnknownKIDWaitIsBounded(t *testing.T) {
	t.Parallel()
	f := newRKFixture(t, func(c *warden.Config) {
		c.KeySetPolicy.UnknownKIDWait = 20 * time.Millisecond
		c.KeySetPolicy.FetchTimeout = time.Minute
	})
	f.keys.Fail(wardentest.Hang)
	tok := f.iss.Mint(wardentest.Token{Header: map[string]any{"kid": "rotated-away"}})
	require.Equal(t, http.StatusUnauthorized, f.serve(tok).Code, "unknown kid while the JWKS hangs")
	eventually(t, "the refresh to reach the server", func() bool { return f.keys.FetchesWhile(wardentest.Hang) == 1 })
	// The refresh is still hanging (nothing released it), yet the request
	// was answered; a known kid is unaffected.
	require.Equal(t, http.StatusOK, f.serve(f.valid(0)).Code, "known kid while a refresh hangs")
}

func TestRemoteKeysStartup(t *testing.T) {
	t.Parallel()
	iss := wardentest.NewIssuer(t)
	refused := refusedURL(t) + "/keys"
	for _, m := range []wardentest.Failure{wardentest.Status500, wardentest.HTMLPage, wardentest.BadJSON, wardentest.Truncated,
		wardentest.Oversized, wardentest.Hang, wardentest.Reset, wardentest.EmptySet, wardentest.RedirectOffHost, wardentest.RedirectLoop, -1} {
		name := "connection-refused"
		if m >= 0 {
			name = m.String()
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			url, timeout := refused, 300*time.Millisecond
			if m >= 0 {
				keys := newRKServer(t, iss)
				keys.Fail(m)
				url = keys.URL
			}
			if m == wardentest.Hang {
				timeout = 20 * time.Millisecond // a real-time bound, and all this case waits for
			}
			_, err := warden.New(warden.Config{
				Issuers: []warden.IssuerConfig{{
					URL:      iss.URL,
					Audience: iss.Audience,
					JWKSURL:  url,
				}},
				KeySetPolicy: warden.KeySetPolicy{FetchTimeout: timeout},
			})
			var kfe *warden.KeyFetchError
			require.ErrorAs(t, err, &kfe, "New")
			require.Equal(t, iss.URL, kfe.Issuer)
			require.Error(t, kfe.Err)
			require.Contains(t, err.Error(), iss.URL, "the error names the issuer")
		})
	}
	t.Run("lazy", func(t *testing.T) {
		t.Parallel()
		keys := newRKServer(t, iss)
		keys.Fail(wardentest.Status500)
		clock := newTestClock()
		cfg := warden.Config{
			Issuers: []warden.IssuerConfig{{
				URL:      iss.URL,
				Audience: iss.Audience,
				JWKSURL:  keys.URL,
			}},
			Now:          clock.Now,
			KeySetPolicy: warden.KeySetPolicy{LazyStart: true},
		}
		refreshes := recordRefreshes(&cfg)
		mw := newMiddleware(t, cfg)
		tok := iss.Mint(wardentest.Token{Claims: wardentest.Claims{"iat": clock.Now().Unix(), "exp": clock.Now().Add(5 * time.Minute).Unix()}})
		require.Error(t, refreshes.await(t, 1).Err, "the first attempt")
		_, err := mw.Verify(t.Context(), tok)
		require.Equal(t, warden.ReasonKeysUnavailable, reasonOf(err), "before any key set: %v", err)
		keys.Fail(wardentest.Healthy)
		eventually(t, "the first key set", func() bool {
			clock.Advance(2 * time.Second) // past the backoff
			_, err := mw.Verify(t.Context(), tok)
			return err == nil
		})
	})
}

func TestRemoteKeysRedirects(t *testing.T) {
	t.Parallel()
	iss := wardentest.NewIssuer(t)
	for _, tc := range []struct {
		name string
		mode wardentest.Failure
		ok   bool
	}{
		{"same-host", wardentest.RedirectSameHost, true},
		{"more-than-three", wardentest.RedirectLoop, false},
		{"other-host", wardentest.RedirectOffHost, false},
	} {
		for _, supplied := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/supplied-client=%v", tc.name, supplied), func(t *testing.T) {
				t.Parallel()
				keys := newRKServer(t, iss)
				keys.Fail(tc.mode)
				cfg := warden.Config{Issuers: []warden.IssuerConfig{{URL: iss.URL, Audience: iss.Audience, JWKSURL: keys.URL}}}
				if supplied {
					cfg.HTTPClient = &http.Client{} // follows any redirect by itself
				}
				mw, err := warden.New(cfg)
				if tc.ok {
					require.NoError(t, err, "New")
					_ = mw.Close()
					return
				}
				var kfe *warden.KeyFetchError
				require.ErrorAs(t, err, &kfe, "New")
			})
		}
	}
}

func TestRemoteKeysCacheControl(t *testing.T) {
	t.Parallel()
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
			t.Parallel()
			f := newRKFixture(t, func(c *warden.Config) { c.KeySetPolicy.MaxRefreshInterval = tc.maxInterval })
			f.keys.SetCacheControl(tc.cacheCtl)
			// Refresh once more so the schedule follows tc.cacheCtl.
			f.rotate("ec-2")
			f.serve(f.valid(0))
			before, done := f.keys.Fetches(), f.refreshes.count()
			f.clock.Advance(tc.quiet)
			f.serve(f.valid(0))
			require.Equal(t, before, f.keys.Fetches(), "refreshed before %s", tc.quiet)
			f.clock.Advance(tc.due - tc.quiet)
			f.serve(f.valid(0))
			f.refreshes.await(t, done+1)
			require.Equal(t, before+1, f.keys.Fetches(), "the scheduled refresh")
		})
	}
}

func TestRemoteKeysUnconfiguredIssuerFetchesNothing(t *testing.T) {
	t.Parallel()
	evil := newHitCounter(t)
	a, b := wardentest.NewIssuer(t), wardentest.NewIssuer(t)
	mw := newMiddleware(t, warden.Config{Issuers: []warden.IssuerConfig{
		{URL: a.URL, Audience: a.Audience, JWKSURL: a.JWKSURL()},
		{URL: b.URL, Audience: b.Audience}, // discovery
	}})
	fa, fb := a.JWKSFetches(), b.JWKSFetches()
	attacker := wardentest.NewECKey("atk")
	for name, tok := range map[string]string{
		"unconfigured iss":           a.Mint(wardentest.Token{Key: attacker, Claims: wardentest.Claims{"iss": evil.URL}}),
		"unconfigured iss with jku":  a.Mint(wardentest.Token{Key: attacker, Claims: wardentest.Claims{"iss": evil.URL}, Header: map[string]any{"jku": evil.URL + "/jwks"}}),
		"iss naming a discovery URL": a.Mint(wardentest.Token{Key: attacker, Claims: wardentest.Claims{"iss": evil.URL + "/.well-known/openid-configuration"}}),
		"A's key, B's iss":           a.Mint(wardentest.Token{Claims: wardentest.Claims{"iss": b.URL}}), // H15: kid rsa-1 exists at B too
	} {
		_, err := mw.Verify(t.Context(), tok)
		assert.Error(t, err, "%s: accepted", name)
	}
	require.Zero(t, evil.hits.Load(), "requests to a server named only by a token")
	require.Equal(t, fa, a.JWKSFetches(), "configured issuer A fetched again")
	require.Equal(t, fb, b.JWKSFetches(), "configured issuer B fetched again")
	for _, iss := range []*wardentest.Issuer{a, b} {
		_, err := mw.Verify(t.Context(), iss.Mint(wardentest.Token{}))
		require.NoError(t, err, "token of %s", iss.URL)
	}
}

func TestRemoteKeysDiscovery(t *testing.T) {
	t.Parallel()
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
			t.Parallel()
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
			if !tc.ok {
				_, err := warden.New(cfg)
				var kfe *warden.KeyFetchError
				require.ErrorAs(t, err, &kfe, "New")
				require.Zero(t, iss.JWKSFetches(), "the JWK Set was fetched despite a rejected discovery")
				return
			}
			mw := newMiddleware(t, cfg)
			tok := iss.Mint(wardentest.Token{Claims: wardentest.Claims{"iss": cfg.Issuers[0].URL}})
			_, err := mw.Verify(t.Context(), tok)
			require.NoError(t, err, "Verify")
		})
	}
}

func TestRemoteKeysConfigErrors(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]warden.Config{
		"http JWKS URL on a public host":      {Issuers: []warden.IssuerConfig{{URL: "https://idp.example", Audience: "a", JWKSURL: "http://idp.example/jwks"}}},
		"http discovery URL on a public host": {Issuers: []warden.IssuerConfig{{URL: "https://idp.example", Audience: "a", DiscoveryURL: "http://idp.example/.well-known/openid-configuration"}}},
		"http issuer for discovery":           {Issuers: []warden.IssuerConfig{{URL: "http://idp.example", Audience: "a"}}},
		"issuer with a query for discovery":   {Issuers: []warden.IssuerConfig{{URL: "https://idp.example/?tenant=1", Audience: "a"}}},
		"min above max refresh":               {Issuers: []warden.IssuerConfig{{URL: "https://idp.example", Audience: "a", JWKSURL: "https://idp.example/jwks"}}, KeySetPolicy: warden.KeySetPolicy{MinRefreshInterval: time.Hour, MaxRefreshInterval: time.Minute}},
	} {
		t.Run(name, func(t *testing.T) {
			mw, err := warden.New(cfg)
			if mw != nil {
				_ = mw.Close()
			}
			var kfe *warden.KeyFetchError
			require.Error(t, err, "New")
			require.False(t, errors.As(err, &kfe), "New: got %v, want a configuration error before any request", err)
		})
	}
}

// TestRemoteKeysCloseStopsEverything is not parallel: it counts the
// process's goroutines.
func TestRemoteKeysCloseStopsEverything(t *testing.T) {
	iss := wardentest.NewIssuer(t)
	keys := newRKServer(t, iss)
	hangKeys := wardentest.NewJWKSServer(t, wardentest.NewECKey("ec-1"))
	hangKeys.Fail(wardentest.Hang)
	baseline := runtime.NumGoroutine()
	mw, err := warden.New(warden.Config{
		Issuers: []warden.IssuerConfig{
			{URL: iss.URL, Audience: iss.Audience, JWKSURL: keys.URL},
			{URL: "https://hanging.example", Audience: iss.Audience, JWKSURL: hangKeys.URL},
		},
		KeySetPolicy: warden.KeySetPolicy{LazyStart: true, FetchTimeout: time.Minute},
	})
	require.NoError(t, err, "New")
	tok := iss.Mint(wardentest.Token{})
	eventually(t, "the first key set", func() bool { _, err := mw.Verify(t.Context(), tok); return err == nil })
	eventually(t, "the hanging fetch", func() bool { return hangKeys.FetchesWhile(wardentest.Hang) == 1 })
	require.NoError(t, mw.Close())
	_ = mw.Close() // idempotent
	eventually(t, "background goroutines to exit", func() bool { return runtime.NumGoroutine() <= baseline })
	// A closed middleware keeps serving with the keys it holds and fetches
	// nothing more.
	fetches := keys.Fetches()
	_, err = mw.Verify(t.Context(), iss.Mint(wardentest.Token{}))
	require.NoError(t, err, "after Close")
	_, err = mw.Verify(t.Context(), iss.Mint(wardentest.Token{Header: map[string]any{"kid": "new"}}))
	require.Equal(t, warden.ReasonUnknownKID, reasonOf(err), "unknown kid after Close: %v", err)
	require.Equal(t, fetches, keys.Fetches(), "a closed key source fetched")
}

// TestRemoteKeysOnRefresh: the refresh hook sees every attempt, its outcome
// and the number of keys, for metrics.
func TestRemoteKeysOnRefresh(t *testing.T) {
	t.Parallel()
	f := newRKFixture(t, nil)
	// New waited for the first fetch.
	got := f.refreshes.all()
	require.Len(t, got, 1, "refreshes after New")
	require.NoError(t, got[0].Err)
	require.Equal(t, 3, got[0].Keys)
	require.Equal(t, f.iss.URL, got[0].Issuer)
	require.Positive(t, got[0].Duration)
	f.keys.Fail(wardentest.Status500)
	f.clock.Advance(61 * time.Second) // past max-age=60: the refresh is due
	f.serve(f.valid(0))
	ev := f.refreshes.await(t, 2)
	require.Error(t, ev.Err, "failed refresh")
	require.Zero(t, ev.Keys, "keys of a failed refresh")
	require.Len(t, f.refreshes.all(), 2)
}

package warden_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// The token cache and the Basic cache as a request sees them. The cache's
// own structure (bounds, eviction, memory) is tested inside the package, in
// cache_internal_test.go.

// cacheFixture is an issuer on a test clock. Its tokens are signed with
// its Ed25519 key, the cheapest real signature.
type cacheFixture struct {
	iss   *wardentest.Issuer
	clock *testClock
}

func newCacheFixture(t *testing.T) *cacheFixture {
	f := &cacheFixture{iss: wardentest.NewIssuer(t), clock: newTestClock()}
	f.iss.SetClock(f.clock.Now)
	return f
}

// mint signs a token valid for five minutes from the clock's now.
func (f *cacheFixture) mint(scope, jti string) string {
	return f.iss.Mint(wardentest.Token{Key: f.iss.Key("ed-1"), Claims: wardentest.Claims{"scope": scope, "jti": jti}})
}

// middleware trusts the issuer's keys, given statically, with a token
// cache of the given size (0: the default).
func (f *cacheFixture) middleware(t *testing.T, size int) *warden.Middleware {
	cfg := f.iss.StaticConfig()
	cfg.TokenCacheSize = size
	return newMiddleware(t, cfg)
}

// TestTokenCacheHitStillAuthorizes: a cached token skips the signature, but
// never the route's requirement or the clock.
func TestTokenCacheHitStillAuthorizes(t *testing.T) {
	t.Parallel()
	f := newCacheFixture(t)
	m := f.middleware(t, 0)
	read := m.Require(warden.Scopes("read"))(noContent)
	write := m.Require(warden.Scopes("read", "write"))(noContent)
	tok := f.mint("read", "jti-1")

	steps := []struct {
		name    string
		advance time.Duration
		h       http.Handler
		want    int
	}{
		{"first use verifies and caches", 0, read, http.StatusNoContent},
		{"hit on a route it satisfies", 0, read, http.StatusNoContent},
		{"hit on a route needing more scope", 0, write, http.StatusForbidden},
		{"hit just before exp+leeway", 5*time.Minute + warden.DefaultLeeway - time.Second, read, http.StatusNoContent},
		{"hit at exp+leeway", time.Second, read, http.StatusUnauthorized},
	}
	for i, st := range steps {
		f.clock.Advance(st.advance)
		if i > 0 {
			// Every step after the first must be answered from the cache
			// (or, at expiry, refused by it): prove the entry is there.
			require.Equal(t, 1, warden.CachedTokens(m), "%s: cache entries", st.name)
		}
		assert.Equal(t, st.want, bearerRequest(tok).do(st.h).Code, st.name)
	}
	assert.Zero(t, warden.CachedTokens(m), "expired entry still cached")
}

// TestTokenCacheBoundedUnderFlood inserts ten times the cache size of
// unique valid tokens: the entry count never exceeds the size.
func TestTokenCacheBoundedUnderFlood(t *testing.T) {
	t.Parallel()
	f := newCacheFixture(t)
	for _, size := range []int{1, 3, 16, 100} {
		t.Run(fmt.Sprint("size=", size), func(t *testing.T) {
			t.Parallel()
			m := f.middleware(t, size)
			h := m.Authenticate(noContent)
			for i := range 10 * size {
				require.Equal(t, http.StatusNoContent, bearerRequest(f.mint("", fmt.Sprint("flood-", i))).do(h).Code, "token %d", i)
				require.LessOrEqual(t, warden.CachedTokens(m), size, "entries after %d tokens", i+1)
			}
			assert.NotZero(t, warden.CachedTokens(m), "cache entries after %d tokens", 10*size)
		})
	}
}

// TestTokenCacheConcurrent exercises the shards from many goroutines; run
// with -race.
func TestTokenCacheConcurrent(t *testing.T) {
	t.Parallel()
	f := newCacheFixture(t)
	m := f.middleware(t, 8)
	h := m.Authenticate(noContent)
	toks := make([]string, 12)
	for i := range toks {
		toks[i] = f.mint("", fmt.Sprint("c-", i))
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				if !assert.Equal(t, http.StatusNoContent, bearerRequest(toks[(g+i)%len(toks)]).do(h).Code) {
					return
				}
			}
		})
	}
	wg.Wait()
	assert.LessOrEqual(t, warden.CachedTokens(m), 8, "entries")
}

// TestHotPathAllocations pins the allocation-free parsing of credentials
// and the allocation budget of a cache hit through the middleware. Not
// parallel: allocations are counted for the whole process.
func TestHotPathAllocations(t *testing.T) {
	f := newCacheFixture(t)
	tok := f.mint("read", "jti-alloc")
	for _, v := range []string{"Bearer " + tok, "bearer  " + tok, "Basic Y2xpZW50OnNlY3JldA=="} {
		n := testing.AllocsPerRun(100, func() {
			if !warden.ParseAuthorization(v) {
				t.Fatalf("%.12q… refused", v)
			}
		})
		assert.Zero(t, n, "allocations parsing %.12q…", v)
	}

	m := f.middleware(t, 0)
	h := m.Require(warden.Scopes("read"))(noContent)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	w := &discardWriter{h: http.Header{}}
	h.ServeHTTP(w, r) // fills the cache
	require.Equal(t, http.StatusNoContent, w.code)
	// The two are the request's context (the principal) and the request
	// that carries it (r.WithContext); the cache lookup itself allocates
	// nothing.
	assert.LessOrEqual(t, testing.AllocsPerRun(100, func() { h.ServeHTTP(w, r) }), 2.0, "allocations of a cache hit")
}

// discardWriter is a ResponseWriter that keeps nothing but the status.
type discardWriter struct {
	h    http.Header
	code int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(code int)        { d.code = code }

// TestTokenCacheSurvivesRefresh: a JWK Set refresh that keeps the key (here
// one forced by a token with an unknown kid, as an attacker could every
// UnknownKIDInterval) keeps its cached tokens; a refresh that drops the key
// revokes them.
func TestTokenCacheSurvivesRefresh(t *testing.T) {
	t.Parallel()
	f := newCacheFixture(t)
	ed := f.iss.Key("ed-1")
	j := wardentest.NewJWKSServer(t, ed)
	cfg := f.iss.Config()
	cfg.Issuers[0].JWKSURL = j.URL
	cfg.KeySetPolicy.UnknownKIDInterval = time.Nanosecond
	m := newMiddleware(t, cfg)
	h := m.Authenticate(noContent)
	tok := f.mint("", "jti-refresh")
	unknown := f.iss.Mint(wardentest.Token{Key: ed, Header: map[string]any{"kid": "not-published"}})
	cached := func() bool { return warden.TokenCached(m, tok, f.clock.Now()) }

	require.Equal(t, http.StatusNoContent, bearerRequest(tok).do(h).Code, "first use")
	require.Equal(t, http.StatusUnauthorized, bearerRequest(unknown).do(h).Code, "unknown kid") // forces a refresh
	assert.True(t, cached(), "a refresh with the same keys emptied the cache")
	j.SetKeys(wardentest.NewEd25519Key("ed-2"))
	f.clock.Advance(time.Second)
	require.Equal(t, http.StatusUnauthorized, bearerRequest(unknown).do(h).Code, "unknown kid") // refresh: ed-1 is gone
	assert.Equal(t, http.StatusUnauthorized, bearerRequest(tok).do(h).Code, "after its key left the set")
}

// TestBasicCache: a successful check is remembered for BasicCacheTTL under
// a MAC of the credentials as presented, and so is a failed one (refused
// again without a check); a hit costs no more than a Bearer cache hit. Not
// parallel: allocations are counted for the whole process.
func TestBasicCache(t *testing.T) {
	v := newBLVerifier(0)
	_, clock, h := blSetup(t, v, 0)
	basic := func(creds string) int { return request{auth: []string{basicAuth(creds)}}.do(h).Code }
	steps := []struct {
		name      string
		creds     string
		advance   time.Duration
		want      int
		wantCalls int
	}{
		{"first check", "known:good", 0, http.StatusNoContent, 1},
		{"cached", "known:good", 0, http.StatusNoContent, 1},
		{"same credentials, other encoding", "known:goo%64", 0, http.StatusNoContent, 2},
		{"wrong secret", "known:bad", 0, http.StatusUnauthorized, 3},
		{"wrong secret again: remembered", "known:bad", 0, http.StatusUnauthorized, 3},
		{"still cached before the TTL", "known:good", warden.DefaultBasicCacheTTL - time.Second, http.StatusNoContent, 3},
		{"still remembered before the TTL", "known:bad", 0, http.StatusUnauthorized, 3},
		{"checked again at the TTL", "known:good", time.Second, http.StatusNoContent, 4},
		{"failure checked again at the TTL", "known:bad", 0, http.StatusUnauthorized, 5},
	}
	for _, st := range steps {
		clock.Advance(st.advance)
		assert.Equal(t, st.want, basic(st.creds), "%s: status", st.name)
		calls, _ := v.counts()
		assert.Equal(t, st.wantCalls, calls, "%s: verifier calls", st.name)
	}
	if warden.RaceEnabled() {
		t.Skip("-race makes sync.Pool drop items on purpose: allocations are not counted")
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", basicAuth("known:good"))
	w := &discardWriter{h: http.Header{}}
	n := testing.AllocsPerRun(100, func() { h.ServeHTTP(w, r) })
	assert.Equal(t, http.StatusNoContent, w.code)
	assert.LessOrEqual(t, n, 3.0, "allocations of a Basic cache hit")
}

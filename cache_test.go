package warden

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/wardenhq/warden/internal/jwks"
)

// These tests live inside the package (wardentest would import warden) so
// they can look at the cache itself; tokens are signed here with a fresh
// Ed25519 key, the cheapest real signature.

const (
	ctIssuer   = "https://issuer.cache.test"
	ctAudience = "https://api.cache.test"
)

// ctKeys is a test issuer: one Ed25519 key and a settable clock.
type ctKeys struct {
	priv ed25519.PrivateKey
	jwks []byte
	mu   sync.Mutex
	now  time.Time
}

func newCTKeys(t testing.TB) *ctKeys {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]any{{
		"kty": "OKP", "crv": "Ed25519", "kid": "ed-1", "alg": "EdDSA", "use": "sig",
		"x": base64.RawURLEncoding.EncodeToString(pub),
	}}})
	return &ctKeys{priv: priv, jwks: jwks, now: time.Unix(1_800_000_000, 0)}
}

func (k *ctKeys) clock() time.Time {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.now
}

func (k *ctKeys) advance(d time.Duration) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.now = k.now.Add(d)
}

// mint signs a token valid for five minutes from the clock's now.
func (k *ctKeys) mint(t testing.TB, scope, jti string) string {
	t.Helper()
	now := k.clock()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{
		"iss": ctIssuer, "aud": ctAudience, "sub": "user-1", "client_id": "client-1",
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "jti": jti, "scope": scope,
	})
	tok.Header["kid"] = "ed-1"
	s, err := tok.SignedString(k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (k *ctKeys) middleware(t testing.TB, size int) *Middleware {
	t.Helper()
	m, err := New(Config{Issuers: []IssuerConfig{{URL: ctIssuer, Audience: ctAudience, JWKS: k.jwks}}, TokenCacheSize: size, Now: k.clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func ctServe(h http.Handler, token string) int {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code
}

var ctOK = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })

// TestTokenCacheHitStillAuthorizes: a cached token skips the signature, but
// never the route's requirement or the clock.
func TestTokenCacheHitStillAuthorizes(t *testing.T) {
	keys := newCTKeys(t)
	m := keys.middleware(t, 0)
	read := m.Require(Scopes("read"))(ctOK)
	write := m.Require(Scopes("read", "write"))(ctOK)
	tok := keys.mint(t, "read", "jti-1")

	steps := []struct {
		name    string
		advance time.Duration
		h       http.Handler
		want    int
	}{
		{"first use verifies and caches", 0, read, http.StatusNoContent},
		{"hit on a route it satisfies", 0, read, http.StatusNoContent},
		{"hit on a route needing more scope", 0, write, http.StatusForbidden},
		{"hit just before exp+leeway", 5*time.Minute + defaultLeeway - time.Second, read, http.StatusNoContent},
		{"hit at exp+leeway", time.Second, read, http.StatusUnauthorized},
	}
	for i, st := range steps {
		keys.advance(st.advance)
		if i > 0 {
			// Every step after the first must be answered from the cache
			// (or, at expiry, refused by it): prove the entry is there.
			if m.tokens.tokens.len() != 1 {
				t.Fatalf("%s: cache holds %d entries, want 1", st.name, m.tokens.tokens.len())
			}
		}
		if got := ctServe(st.h, tok); got != st.want {
			t.Errorf("%s: got status %d, want %d", st.name, got, st.want)
		}
	}
	if n := m.tokens.tokens.len(); n != 0 {
		t.Errorf("expired entry still cached: %d entries", n)
	}
}

// TestTokenCacheBoundedUnderFlood inserts ten times the cache size of
// unique valid tokens: the entry count never exceeds the size.
func TestTokenCacheBoundedUnderFlood(t *testing.T) {
	keys := newCTKeys(t)
	for _, size := range []int{1, 3, 16, 100} {
		t.Run(fmt.Sprint("size=", size), func(t *testing.T) {
			m := keys.middleware(t, size)
			h := m.Authenticate(ctOK)
			for i := range 10 * size {
				if got := ctServe(h, keys.mint(t, "", fmt.Sprint("flood-", i))); got != http.StatusNoContent {
					t.Fatalf("token %d: got status %d, want 204", i, got)
				}
				if n := m.tokens.tokens.len(); n > size {
					t.Fatalf("after %d tokens: %d entries, want ≤ %d", i+1, n, size)
				}
			}
			if m.tokens.tokens.len() == 0 {
				t.Errorf("cache is empty after %d tokens", 10*size)
			}
		})
	}
}

// TestTokenCacheBounds checks the entry and byte bounds of the cache itself
// at sizes where minting real tokens would be slow.
func TestTokenCacheBounds(t *testing.T) {
	keys := newCTKeys(t)
	src, key := ctStaticSource(t, keys)
	now := keys.clock()
	p := &Principal{expiresAt: now.Add(time.Hour)}
	for _, size := range []int{1, 2, 7, 1000, defaultTokenCacheSize} {
		c := newTokenCache(size)
		for i := range 10 * size {
			c.put(fmt.Sprint("token-", i), p, src, key, time.Minute, now)
		}
		if n := c.len(); n > size || n == 0 {
			t.Errorf("size %d: %d entries after %d puts, want 1..%d", size, n, 10*size, size)
		}
	}
	// Byte bound: large tokens evict by size before the count is reached.
	c := newTokenCache(1000)
	c.maxBytes = 256 << 10
	big := strings.Repeat("x", 4096)
	for i := range 1000 {
		c.put(fmt.Sprintf("%d-%s", i, big), p, src, key, time.Minute, now)
		if c.bytes > c.maxBytes {
			t.Fatalf("after %d puts: %d bytes counted, bound %d", i+1, c.bytes, c.maxBytes)
		}
	}
	if n := c.len(); n == 0 || n >= 1000/4 {
		t.Errorf("%d entries of 4 KiB under a 256 KiB bound, want 1..%d", n, 1000/4-1)
	}
	// An entry already past exp+leeway is never stored.
	c = newTokenCache(10)
	c.put("stale", &Principal{expiresAt: now.Add(-2 * time.Minute)}, src, key, time.Minute, now)
	if c.len() != 0 {
		t.Errorf("stale token cached")
	}
}

// ctSource is a key source whose set can be replaced, as a remote source's
// is on rotation.
type ctSource struct {
	jwks.Source
	mu  sync.Mutex
	set *jwks.Set
}

func (s *ctSource) Key(_ context.Context, kid string, hasKID bool, alg string) (*jwks.Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.set.Find(kid, hasKID, alg); ok {
		return k, nil
	}
	return nil, jwks.ErrUnknownKID
}

func (s *ctSource) Holds(k *jwks.Key) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.set.Holds(k)
}

// ctStaticSource is a static source of the test keys, and its key.
func ctStaticSource(tb testing.TB, keys *ctKeys) (*jwks.Static, *jwks.Key) {
	tb.Helper()
	set, err := jwks.Parse(keys.jwks)
	if err != nil {
		tb.Fatal(err)
	}
	src := jwks.NewStatic(set, keys.clock())
	k, err := src.Key(context.Background(), "ed-1", true, "EdDSA")
	if err != nil {
		tb.Fatal(err)
	}
	return src, k
}

// TestTokenCacheKeyLeavesSet: when the key that verified a cached token is
// rotated out, the token is refused at once.
func TestTokenCacheKeyLeavesSet(t *testing.T) {
	keys := newCTKeys(t)
	m := keys.middleware(t, 0)
	ti := m.tokens.issuers[ctIssuer]
	set, err := jwks.Parse(keys.jwks)
	if err != nil {
		t.Fatal(err)
	}
	src := &ctSource{Source: ti.keys, set: set}
	ti.keys = src
	h := m.Authenticate(ctOK)
	tok := keys.mint(t, "", "jti-rot")
	if got := ctServe(h, tok); got != http.StatusNoContent {
		t.Fatalf("before rotation: got %d, want 204", got)
	}
	if _, ok := m.tokens.tokens.get(tok, keys.clock()); !ok {
		t.Fatal("token not cached after a successful request")
	}
	src.mu.Lock()
	src.set = &jwks.Set{}
	src.mu.Unlock()
	if got := ctServe(h, tok); got != http.StatusUnauthorized {
		t.Errorf("after the key left the set: got %d, want 401", got)
	}
	if n := m.tokens.tokens.len(); n != 0 {
		t.Errorf("revoked entry still cached: %d entries", n)
	}
}

// TestTokenCacheConcurrent exercises the shards from many goroutines; run
// with -race.
func TestTokenCacheConcurrent(t *testing.T) {
	keys := newCTKeys(t)
	m := keys.middleware(t, 8)
	h := m.Authenticate(ctOK)
	toks := make([]string, 12)
	for i := range toks {
		toks[i] = keys.mint(t, "", fmt.Sprint("c-", i))
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				if got := ctServe(h, toks[(g+i)%len(toks)]); got != http.StatusNoContent {
					t.Errorf("got %d, want 204", got)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := m.tokens.tokens.len(); n > 8 {
		t.Errorf("%d entries, want ≤ 8", n)
	}
}

// TestHotPathAllocations pins the allocation-free parsing of credentials
// and the allocation budget of a cache hit through the middleware.
func TestHotPathAllocations(t *testing.T) {
	keys := newCTKeys(t)
	tok := keys.mint(t, "read", "jti-alloc")
	for _, v := range []string{"Bearer " + tok, "bearer  " + tok, "Basic Y2xpZW50OnNlY3JldA=="} {
		if n := testing.AllocsPerRun(100, func() {
			if _, e := parseAuthorization(v, defaultMaxTokenSize); e != nil {
				t.Fatal(e)
			}
		}); n != 0 {
			t.Errorf("parseAuthorization(%.12q…): %v allocations, want 0", v, n)
		}
	}

	m := keys.middleware(t, 0)
	h := m.Require(Scopes("read"))(ctOK)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	w := &ctDiscard{h: http.Header{}}
	h.ServeHTTP(w, r) // fills the cache
	if w.code != http.StatusNoContent {
		t.Fatalf("got %d, want 204", w.code)
	}
	// The two are the request's context (the principal) and the request
	// that carries it (r.WithContext); the cache lookup itself allocates
	// nothing.
	if n := testing.AllocsPerRun(100, func() { h.ServeHTTP(w, r) }); n > 2 {
		t.Errorf("cache hit: %v allocations, want ≤ 2", n)
	}
}

// ctDiscard is a ResponseWriter that keeps nothing but the status.
type ctDiscard struct {
	h    http.Header
	code int
}

func (d *ctDiscard) Header() http.Header         { return d.h }
func (d *ctDiscard) Write(b []byte) (int, error) { return len(b), nil }
func (d *ctDiscard) WriteHeader(code int)        { d.code = code }

// TestTokenCacheSurvivesRefresh: a JWK Set refresh that keeps the key (here
// one forced by a token with an unknown kid, as an attacker could every
// UnknownKIDInterval) keeps its cached tokens; a refresh that drops the key
// revokes them.
func TestTokenCacheSurvivesRefresh(t *testing.T) {
	keys := newCTKeys(t)
	var mu sync.Mutex
	doc := keys.jwks
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	}))
	defer srv.Close()
	m, err := New(Config{Issuers: []IssuerConfig{{URL: ctIssuer, Audience: ctAudience, JWKSURL: srv.URL + "/jwks.json"}}, Now: keys.clock,
		KeySetPolicy: KeySetPolicy{UnknownKIDInterval: time.Nanosecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	h := m.Authenticate(ctOK)
	tok := keys.mint(t, "", "jti-refresh")
	unknown := func() string {
		u := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{"iss": ctIssuer, "aud": ctAudience, "sub": "u",
			"exp": keys.clock().Add(time.Minute).Unix()})
		u.Header["kid"] = "not-published"
		s, err := u.SignedString(keys.priv)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}()
	cached := func() bool {
		_, ok := m.tokens.tokens.get(tok, keys.clock())
		return ok
	}

	if got := ctServe(h, tok); got != http.StatusNoContent {
		t.Fatalf("first use: got %d, want 204", got)
	}
	if got := ctServe(h, unknown); got != http.StatusUnauthorized { // forces a refresh
		t.Fatalf("unknown kid: got %d, want 401", got)
	}
	if !cached() {
		t.Errorf("refresh with the same keys emptied the cache")
	}
	mu.Lock()
	other := newCTKeys(t)
	other.jwks = []byte(strings.Replace(string(other.jwks), `"ed-1"`, `"ed-2"`, 1))
	doc = other.jwks
	mu.Unlock()
	keys.advance(time.Second)
	if got := ctServe(h, unknown); got != http.StatusUnauthorized { // refresh: ed-1 is gone
		t.Fatalf("unknown kid: got %d, want 401", got)
	}
	if got := ctServe(h, tok); got != http.StatusUnauthorized {
		t.Errorf("after its key left the set: got %d, want 401", got)
	}
}

// ctVerifier counts credential checks; "good" is the only valid secret.
type ctVerifier struct {
	mu    sync.Mutex
	calls int
}

func (v *ctVerifier) VerifyClient(_ context.Context, id, secret string) ([]string, error) {
	v.mu.Lock()
	v.calls++
	v.mu.Unlock()
	if id == "client" && secret == "good" {
		return []string{"read"}, nil
	}
	return nil, ErrInvalidClient
}

// TestBasicCache: a successful check is remembered for BasicCacheTTL under
// a MAC of the credentials as presented, and so is a failed one (refused
// again without a check); a hit costs no more than a Bearer cache hit.
func TestBasicCache(t *testing.T) {
	keys := newCTKeys(t)
	v := &ctVerifier{}
	m, err := New(Config{Issuers: []IssuerConfig{{URL: ctIssuer, Audience: ctAudience, JWKS: keys.jwks}}, Clients: v, Now: keys.clock})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	h := m.Accept(SchemeBasic).Require(Scopes("read"))(ctOK)
	basic := func(creds string) int {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(creds)))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	steps := []struct {
		name      string
		creds     string
		advance   time.Duration
		want      int
		wantCalls int
	}{
		{"first check", "client:good", 0, http.StatusNoContent, 1},
		{"cached", "client:good", 0, http.StatusNoContent, 1},
		{"same credentials, other encoding", "client:goo%64", 0, http.StatusNoContent, 2},
		{"wrong secret", "client:bad", 0, http.StatusUnauthorized, 3},
		{"wrong secret again: remembered", "client:bad", 0, http.StatusUnauthorized, 3},
		{"still cached before the TTL", "client:good", defaultBasicCacheTTL - time.Second, http.StatusNoContent, 3},
		{"still remembered before the TTL", "client:bad", 0, http.StatusUnauthorized, 3},
		{"checked again at the TTL", "client:good", time.Second, http.StatusNoContent, 4},
		{"failure checked again at the TTL", "client:bad", 0, http.StatusUnauthorized, 5},
	}
	for _, st := range steps {
		keys.advance(st.advance)
		if got := basic(st.creds); got != st.want {
			t.Errorf("%s: got status %d, want %d", st.name, got, st.want)
		}
		if v.calls != st.wantCalls {
			t.Errorf("%s: %d verifier calls, want %d", st.name, v.calls, st.wantCalls)
		}
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("client:good")))
	w := &ctDiscard{h: http.Header{}}
	if ctRaceEnabled() {
		t.Skip("-race makes sync.Pool drop items on purpose: allocations are not counted")
	}
	if n := testing.AllocsPerRun(100, func() { h.ServeHTTP(w, r) }); n > 3 || w.code != http.StatusNoContent {
		t.Errorf("Basic cache hit: %v allocations (status %d), want ≤ 3 (204)", n, w.code)
	}
}

// ctRaceEnabled reports whether the test binary was built with -race.
func ctRaceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

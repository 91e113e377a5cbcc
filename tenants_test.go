package warden_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// This file tests multi-tenant issuers (tenants.go, internal/jwks
// registry.go) against a real discovery server on loopback, on which each
// tenant is a path: /{tenant}/v2.0/.well-known/openid-configuration and
// /{tenant}/v2.0/keys, as Microsoft Entra ID publishes them.

// tenantServer serves one discovery document and JWK Set per tenant.
type tenantServer struct {
	srv *httptest.Server
	mu  sync.Mutex
	// keys of the known tenants; with anyTenant set, every other tenant
	// is served sharedKey.
	keys      map[string]*wardentest.Key
	anyTenant bool
	sharedKey *wardentest.Key
	liars     map[string]string // tenant → the issuer its document names instead
	discovery atomic.Int64      // discovery requests
	jwks      atomic.Int64      // JWK Set requests
}

func newTenantServer(t testing.TB, tenants ...string) *tenantServer {
	t.Helper()
	ts := &tenantServer{keys: map[string]*wardentest.Key{}, liars: map[string]string{}, sharedKey: wardentest.NewECKey("k1")}
	for _, tn := range tenants {
		ts.keys[tn] = wardentest.NewECKey("k1") // the same kid in every tenant, a key of its own
	}
	ts.srv = httptest.NewServer(http.HandlerFunc(ts.serve))
	t.Cleanup(ts.srv.Close)
	return ts
}

// template is the multi-tenant issuer URL.
func (ts *tenantServer) template() string { return ts.srv.URL + "/{tenant}/v2.0" }

// issuer is a tenant's issuer identifier.
func (ts *tenantServer) issuer(tenant string) string { return ts.srv.URL + "/" + tenant + "/v2.0" }

func (ts *tenantServer) key(tenant string) *wardentest.Key {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if k, ok := ts.keys[tenant]; ok {
		return k
	}
	if ts.anyTenant {
		return ts.sharedKey
	}
	return nil
}

func (ts *tenantServer) serve(w http.ResponseWriter, r *http.Request) {
	tenant, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	switch rest {
	case "v2.0/.well-known/openid-configuration":
		ts.discovery.Add(1)
		if ts.key(tenant) == nil {
			http.Error(w, `{"error":"invalid_tenant"}`, http.StatusBadRequest)
			return
		}
		iss := ts.issuer(tenant)
		ts.mu.Lock()
		if liar, ok := ts.liars[tenant]; ok {
			iss = liar
		}
		ts.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": iss, "jwks_uri": ts.issuer(tenant) + "/keys"})
	case "v2.0/keys":
		ts.jwks.Add(1)
		k := ts.key(tenant)
		if k == nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(wardentest.JWKS(k))
	default:
		http.NotFound(w, r)
	}
}

// mint signs a token of tenant with the key given, or the tenant's own.
func (ts *tenantServer) mint(t testing.TB, tenant string, key *wardentest.Key, claims wardentest.Claims) string {
	t.Helper()
	if key == nil {
		key = ts.key(tenant)
	}
	return mintWith(key, ts.issuer(tenant), claims)
}

// mintWith signs an access token of iss, claims over the defaults, without
// an Issuer (whose construction generates an RSA key).
func mintWith(key *wardentest.Key, iss string, claims wardentest.Claims) string {
	c := wardentest.Claims{"iss": iss, "aud": "https://api.example.test", "sub": "user-1", "client_id": "client-1",
		"iat": reqNow.Unix(), "exp": reqNow.Add(5 * time.Minute).Unix(), "jti": iss}
	for k, v := range claims {
		c[k] = v
	}
	header, _ := json.Marshal(map[string]string{"alg": key.Alg, "kid": key.ID, "typ": "at+jwt"})
	payload, _ := json.Marshal(c)
	return key.Sign(key.Alg, header, payload)
}

// tenantMiddleware trusts the tenant server's template with policy tp.
func tenantMiddleware(t testing.TB, ts *tenantServer, tp warden.TenantPolicy, mutate func(*warden.Config)) (*warden.Middleware, *decRecorder) {
	t.Helper()
	rec := &decRecorder{}
	cfg := warden.Config{
		Issuers:      []warden.IssuerConfig{{URL: ts.template(), Audience: "https://api.example.test", Tenants: tp}},
		Now:          func() time.Time { return reqNow },
		OnDecision:   rec.hook,
		Logger:       slog.New(slog.DiscardHandler),
		KeySetPolicy: warden.KeySetPolicy{UnknownKIDWait: 5 * time.Second},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	mw, err := warden.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = mw.Close() })
	return mw, rec
}

// TestTenantsAllowList runs tokens of allowed, unlisted and malformed
// tenants, and checks what each costs the identity provider.
func TestTenantsAllowList(t *testing.T) {
	t.Parallel()
	ts := newTenantServer(t, "contoso", "fabrikam", "unlisted")
	mw, rec := tenantMiddleware(t, ts, warden.TenantPolicy{Allowed: []string{"contoso", "fabrikam"}}, nil)
	h := mw.Require(warden.Scopes("read"))(reqNoContent)
	send := func(token string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	read := wardentest.Claims{"scope": "read"}
	untrusted := reqWant{401, []string{reqChIss}, reqBodyIss, warden.ReasonWrongIssuer}
	rows := []struct {
		name      string
		token     string
		want      reqWant
		discovery int64 // discovery fetches this request may cause
	}{
		{"allowed tenant", ts.mint(t, "contoso", nil, read), reqOK, 1},
		{"allowed tenant again", ts.mint(t, "contoso", nil, read), reqOK, 0},
		{"second allowed tenant", ts.mint(t, "fabrikam", nil, read), reqOK, 1},
		{"one tenant's key for another's token", ts.mint(t, "contoso", ts.key("fabrikam"), read), reqWant{401,
			[]string{`Bearer realm="api", error="invalid_token", error_description="The access token signature is invalid"`},
			`{"error":"invalid_token","error_description":"The access token signature is invalid"}` + "\n", warden.ReasonBadSignature}, 0},
		{"tenant not allowed", ts.mint(t, "unlisted", nil, read), untrusted, 0},
		{"tenant case differs", ts.mint(t, "Contoso", ts.key("contoso"), read), untrusted, 0},
		{"two segments", ts.mint(t, "contoso/x", ts.key("contoso"), read), untrusted, 0},
		{"dot-dot", ts.mint(t, "..", ts.key("contoso"), read), untrusted, 0},
		{"percent-encoded slash", ts.mint(t, "contoso%2Fx", ts.key("contoso"), read), untrusted, 0},
		{"empty tenant", ts.mint(t, "", ts.key("contoso"), read), untrusted, 0},
		{"too long", ts.mint(t, strings.Repeat("a", 65), ts.key("contoso"), read), untrusted, 0},
		{"template itself", ts.mint(t, "{tenant}", ts.key("contoso"), read), untrusted, 0},
		{"valid tenant, scope missing", ts.mint(t, "fabrikam", nil, nil), scopeRefusal("read"), 0},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			before := ts.discovery.Load()
			rec.take()
			checkResponse(t, send(row.token), row.want)
			if ds := rec.take(); len(ds) != 1 || ds[0].Reason != row.want.reason {
				t.Errorf("got decisions %+v, want one %q", ds, row.want.reason)
			}
			if got := ts.discovery.Load() - before; got != row.discovery {
				t.Errorf("got %d discovery fetches, want %d", got, row.discovery)
			}
		})
	}
	// The tenants' issuers are listed as authorization servers, and
	// readiness does not depend on tenants.
	md, err := mw.MetadataHandler(warden.ResourceMetadata{Resource: "https://api.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	md.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	var doc struct {
		AuthorizationServers []string `json:"authorization_servers"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil ||
		!slices.Equal(doc.AuthorizationServers, []string{ts.issuer("contoso"), ts.issuer("fabrikam")}) {
		t.Errorf("authorization_servers: got %q (%v)", doc.AuthorizationServers, err)
	}
	if st := mw.KeyStatus(); len(st) != 0 {
		t.Errorf("KeyStatus lists tenants: %+v", st)
	}
}

// TestTenantsDiscoveryMustNameTheTenant checks that a tenant whose
// discovery document names another issuer (another tenant, or the
// template's "common" endpoint) gets no keys, and that asking again costs
// no fetch until MinRefreshInterval has passed.
func TestTenantsDiscoveryMustNameTheTenant(t *testing.T) {
	t.Parallel()
	ts := newTenantServer(t, "contoso", "liar")
	ts.liars["liar"] = ts.issuer("contoso")
	now := reqNow
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	mw, rec := tenantMiddleware(t, ts, warden.TenantPolicy{AnyTenant: true}, func(c *warden.Config) {
		c.Now = clock
		c.Leeway = time.Hour // the clock moves below
	})
	h := mw.Authenticate(reqNoContent)
	token := ts.mint(t, "liar", nil, nil)
	unavailable := reqWant{503, nil, `{"error":"temporarily_unavailable","error_description":"The access token cannot be verified right now"}` + "\n", warden.ReasonKeysUnavailable}
	for i, wantFetches := range []int64{1, 1, 1, 2} {
		if i == 3 {
			mu.Lock()
			now = now.Add(time.Minute) // MinRefreshInterval
			mu.Unlock()
		}
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		checkResponse(t, w, unavailable)
		if w.Header().Get("Retry-After") == "" {
			t.Errorf("request %d: no Retry-After", i)
		}
		if ds := rec.take(); len(ds) != 1 || ds[0].Reason != warden.ReasonKeysUnavailable {
			t.Errorf("request %d: decisions %+v", i, ds)
		}
		if got := ts.discovery.Load(); got != wantFetches {
			t.Errorf("request %d: got %d discovery fetches, want %d", i, got, wantFetches)
		}
	}
	if ts.jwks.Load() != 0 {
		t.Errorf("the liar's JWK Set was fetched")
	}
}

// TestTenantsFlood sends tokens of thousands of invented tenants to an
// issuer that accepts any tenant: they cost at most MaxNewPerMinute
// discovery fetches a minute, and tenants already held keep working.
func TestTenantsFlood(t *testing.T) {
	t.Parallel()
	ts := newTenantServer(t, "contoso")
	now := reqNow
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	const perMinute = 20
	mw, _ := tenantMiddleware(t, ts, warden.TenantPolicy{AnyTenant: true, MaxNewPerMinute: perMinute, MaxKeySets: 50},
		func(c *warden.Config) { c.Now, c.Leeway = clock, time.Hour })
	ctx := context.Background()
	good := ts.mint(t, "contoso", nil, nil)
	if _, err := mw.Verify(ctx, good); err != nil {
		t.Fatalf("known tenant: %v", err)
	}
	// A forged token costs no signature: any invented tenant name works.
	forged := func(tenant string) string {
		return ts.mint(t, tenant, ts.key("contoso"), wardentest.Claims{"jti": tenant})
	}
	statuses := map[warden.Reason]int{}
	for i := range 2000 {
		_, err := mw.Verify(ctx, forged(fmt.Sprintf("invented-%d", i)))
		var we *warden.Error
		if !errors.As(err, &we) {
			t.Fatalf("invented tenant %d: got %v", i, err)
		}
		statuses[we.Reason]++
	}
	if got := ts.discovery.Load(); got != perMinute { // contoso's, and perMinute-1 invented ones
		t.Errorf("got %d discovery fetches for 2,000 invented tenants, want %d (MaxNewPerMinute)", got, perMinute)
	}
	if statuses[warden.ReasonKeysUnavailable] != 2000 {
		t.Errorf("got reasons %v, want keys_unavailable for all", statuses)
	}
	if _, err := mw.Verify(ctx, ts.mint(t, "contoso", nil, wardentest.Claims{"jti": "again"})); err != nil {
		t.Errorf("known tenant during the flood: %v", err)
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	for i := range 200 {
		_, _ = mw.Verify(ctx, forged(fmt.Sprintf("later-%d", i)))
	}
	if got := ts.discovery.Load(); got != 2*perMinute {
		t.Errorf("a minute later: got %d discovery fetches, want %d", got, 2*perMinute)
	}
}

// TestTenantsBounded feeds thousands of distinct tenants through an issuer
// that accepts any, each with a valid token, and measures the goroutines
// and heap the middleware holds: both stay bounded by MaxKeySets (and the
// token cache), whatever the number of tenants. It feeds 2,000 tenants
// (500 under the race detector); WARDEN_TENANTS=10000 feeds that many, as
// for the figures in BENCHMARKS.md:
//
//	WARDEN_TENANTS=10000 go test -run TestTenantsBounded -v .
func TestTenantsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("feeds thousands of tenants")
	}
	tenants := 2000
	if raceEnabled {
		tenants = 500
	}
	if n, err := strconv.Atoi(os.Getenv("WARDEN_TENANTS")); err == nil && n >= 1000 {
		tenants = n
	}
	ts := newTenantServer(t)
	ts.anyTenant = true
	now := reqNow
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	const maxKeySets, perMinute = 100, 1000
	mw, _ := tenantMiddleware(t, ts, warden.TenantPolicy{AnyTenant: true, MaxKeySets: maxKeySets, MaxNewPerMinute: perMinute},
		func(c *warden.Config) { c.Now, c.Leeway, c.TokenCacheSize = clock, 24*time.Hour, 200 })
	ctx := context.Background()
	measure := func() (goroutines int, heap uint64) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return runtime.NumGoroutine(), ms.HeapAlloc
	}
	g0, h0 := measure()
	mid := tenants / 2
	var gMid int
	var hMid uint64
	for i := range tenants {
		if i > 0 && i%perMinute == 0 {
			mu.Lock()
			now = now.Add(time.Minute) // MaxNewPerMinute allows the next thousand
			mu.Unlock()
		}
		tok := mintWith(ts.sharedKey, ts.issuer(fmt.Sprintf("tenant-%05d", i)), nil)
		if _, err := mw.Verify(ctx, tok); err != nil {
			t.Fatalf("tenant %d: %v", i, err)
		}
		if i+1 == mid {
			gMid, hMid = measure()
		}
	}
	gEnd, hEnd := measure()
	t.Logf("goroutines: %d before, %d after %d tenants, %d after %d (MaxKeySets %d)", g0, gMid, mid, gEnd, tenants, maxKeySets)
	t.Logf("heap: %.2f MiB before, %.2f MiB after %d tenants, %.2f MiB after %d", mib(h0), mib(hMid), mid, mib(hEnd), tenants)
	t.Logf("fetches: %d discovery, %d JWK Set", ts.discovery.Load(), ts.jwks.Load())
	if gEnd > g0+maxKeySets+20 {
		t.Errorf("goroutines grew from %d to %d, beyond MaxKeySets %d", g0, gEnd, maxKeySets)
	}
	if hEnd > hMid+2<<20 {
		t.Errorf("heap grew from %.2f MiB at %d tenants to %.2f MiB at %d", mib(hMid), mid, mib(hEnd), tenants)
	}
	if got := ts.discovery.Load(); got != int64(tenants) {
		t.Errorf("got %d discovery fetches, want one per tenant (%d)", got, tenants)
	}
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// TestTenantsEviction checks that a tenant dropped to make room is fetched
// again when it returns, and that its cached tokens are not trusted on keys
// that no longer refresh.
func TestTenantsEviction(t *testing.T) {
	t.Parallel()
	ts := newTenantServer(t, "a", "b", "c")
	mw, _ := tenantMiddleware(t, ts, warden.TenantPolicy{Allowed: []string{"a", "b", "c"}, MaxKeySets: 2}, nil)
	ctx := context.Background()
	verify := func(tok string, wantFetches int64) {
		t.Helper()
		if _, err := mw.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if got := ts.discovery.Load(); got != wantFetches {
			t.Fatalf("got %d discovery fetches, want %d", got, wantFetches)
		}
	}
	tokA, tokC := ts.mint(t, "a", nil, nil), ts.mint(t, "c", nil, nil)
	verify(tokA, 1)
	verify(ts.mint(t, "b", nil, nil), 2)
	verify(tokA, 2) // from the token cache: a counts as used
	verify(tokC, 3) // makes room: b goes, a had a second chance
	verify(ts.mint(t, "a", nil, wardentest.Claims{"jti": "a2"}), 3)
	verify(ts.mint(t, "b", nil, wardentest.Claims{"jti": "b2"}), 4) // b is fetched again; c goes
	// c's token is in the token cache, but c's keys were dropped: the
	// token is verified again, on keys fetched again.
	verify(tokC, 5)
}

// TestTenantsRequirement checks Issuer requirements naming a template (any
// of its tenants) or one tenant.
func TestTenantsRequirement(t *testing.T) {
	t.Parallel()
	ts := newTenantServer(t, "a", "b")
	mw, _ := tenantMiddleware(t, ts, warden.TenantPolicy{Allowed: []string{"a", "b"}}, nil)
	ctx := context.Background()
	pa, err := mw.Verify(ctx, ts.mint(t, "a", nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		req warden.Requirement
		ok  bool
	}{
		{warden.Issuer(ts.template()), true},
		{warden.Issuer(ts.issuer("a")), true},
		{warden.Issuer(ts.issuer("b")), false},
		{warden.Claim("iss", func(iss string) bool { return iss == ts.issuer("a") }), true},
	} {
		mw.Require(c.req) // configured: no panic
		if err := mw.Authorize(ctx, pa, c.req); (err == nil) != c.ok {
			t.Errorf("%s: got %v, want met %v", c.req, err, c.ok)
		}
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Errorf("Require(Issuer(tenant not allowed)) did not panic")
			}
		}()
		mw.Require(warden.Issuer(ts.issuer("c")))
	}()
}

// TestTenantsConfig checks the configuration mistakes New reports.
func TestTenantsConfig(t *testing.T) {
	t.Parallel()
	base := "https://login.example.test/{tenant}/v2.0"
	allowed := warden.TenantPolicy{Allowed: []string{"t1"}}
	for name, ic := range map[string]warden.IssuerConfig{
		"two placeholders":         {URL: "https://login.example.test/{tenant}/{tenant}", Tenants: allowed},
		"other placeholder":        {URL: "https://login.example.test/{org}/v2.0", Tenants: allowed},
		"placeholder in host":      {URL: "https://{tenant}.example.test/v2.0", Tenants: allowed},
		"part of a segment":        {URL: "https://login.example.test/t-{tenant}/v2.0", Tenants: allowed},
		"neither list nor any":     {URL: base},
		"both list and any":        {URL: base, Tenants: warden.TenantPolicy{Allowed: []string{"t1"}, AnyTenant: true}},
		"invalid tenant listed":    {URL: base, Tenants: warden.TenantPolicy{Allowed: []string{"a/b"}}},
		"negative bound":           {URL: base, Tenants: warden.TenantPolicy{AnyTenant: true, MaxKeySets: -1}},
		"static keys":              {URL: base, Tenants: allowed, JWKS: wardentest.JWKS(wardentest.NewECKey("k"))},
		"JWK Set URL":              {URL: base, Tenants: allowed, JWKSURL: "https://login.example.test/keys"},
		"discovery without tenant": {URL: base, Tenants: allowed, DiscoveryURL: "https://login.example.test/common/.well-known/openid-configuration"},
		"plain http":               {URL: "http://login.example.test/{tenant}/v2.0", Tenants: allowed},
		"tenants without template": {URL: "https://login.example.test/t1/v2.0", Tenants: allowed},
	} {
		ic.Audience = "https://api.example.test"
		if _, err := warden.New(warden.Config{Issuers: []warden.IssuerConfig{ic}}); err == nil {
			t.Errorf("%s: New accepted %+v", name, ic)
		}
	}
	mw, err := warden.New(warden.Config{Issuers: []warden.IssuerConfig{{URL: base, Audience: "https://api.example.test", Tenants: allowed,
		DiscoveryURL: "https://login.example.test/{tenant}/v2.0/.well-known/openid-configuration"}}})
	if err != nil {
		t.Fatalf("valid template: %v", err)
	}
	_ = mw.Close()
}

// TestTenantsDiscoveryTemplate checks that a multi-tenant DiscoveryURL
// takes the tenant as one whole path segment only: with the placeholder in
// the host, port or query, a token's unverified "iss" would choose the
// server warden fetches discovery and keys from (a forged token verified
// with the attacker's keys, and a request to any host: SSRF).
func TestTenantsDiscoveryTemplate(t *testing.T) {
	t.Parallel()
	// Refused by New, whatever the tenant policy.
	for name, d := range map[string]string{
		"whole host":         "https://{tenant}/.well-known/openid-configuration",
		"part of the host":   "https://login.example.test{tenant}/x",
		"subdomain":          "https://{tenant}.login.example.test/.well-known/openid-configuration",
		"port":               "https://login.example.test:{tenant}/.well-known/openid-configuration",
		"user info":          "https://{tenant}@login.example.test/.well-known/openid-configuration",
		"query":              "https://login.example.test/.well-known/openid-configuration?tenant={tenant}",
		"fragment":           "https://login.example.test/x#/{tenant}",
		"after a query":      "https://login.example.test/x?a=/{tenant}/y",
		"part of a segment":  "https://login.example.test/t-{tenant}/.well-known/openid-configuration",
		"segment and more":   "https://login.example.test/{tenant}-x/.well-known/openid-configuration",
		"two placeholders":   "https://login.example.test/{tenant}/{tenant}",
		"other placeholder":  "https://login.example.test/{org}/x",
		"no placeholder":     "https://login.example.test/common/.well-known/openid-configuration",
		"backslash":          `https://login.example.test\/{tenant}/x`,
		"no scheme":          "//login.example.test/{tenant}/x",
		"relative":           "/{tenant}/.well-known/openid-configuration",
		"placeholder at end": "https://login.example.test{tenant}",
	} {
		for _, tp := range []warden.TenantPolicy{{AnyTenant: true}, {Allowed: []string{"contoso"}}} {
			mw, err := warden.New(warden.Config{Issuers: []warden.IssuerConfig{{URL: "https://login.example.test/{tenant}/v2.0",
				DiscoveryURL: d, Audience: "https://api.example.test", Tenants: tp}}})
			if err == nil {
				_ = mw.Close()
				t.Errorf("%s: New accepted DiscoveryURL %q", name, d)
			}
		}
	}
	// The issuer template itself, likewise.
	for name, u := range map[string]string{
		"issuer query":     "https://login.example.test/v2.0?t=/{tenant}",
		"issuer fragment":  "https://login.example.test/v2.0#/{tenant}",
		"issuer user info": "https://{tenant}@login.example.test/v2.0",
		"issuer port":      "https://login.example.test:{tenant}/v2.0",
	} {
		mw, err := warden.New(warden.Config{Issuers: []warden.IssuerConfig{{URL: u,
			Audience: "https://api.example.test", Tenants: warden.TenantPolicy{AnyTenant: true}}}})
		if err == nil {
			_ = mw.Close()
			t.Errorf("%s: New accepted the issuer template %q", name, u)
		}
	}
	for name, d := range map[string]string{
		"path segment":             "https://login.example.test/{tenant}/v2.0/.well-known/openid-configuration",
		"last segment":             "https://login.example.test/discovery/{tenant}",
		"segment, then a query":    "https://login.example.test/{tenant}/.well-known/openid-configuration?appid=1",
		"last segment, then query": "https://login.example.test/d/{tenant}?appid=1",
	} {
		mw, err := warden.New(warden.Config{Issuers: []warden.IssuerConfig{{URL: "https://login.example.test/{tenant}/v2.0",
			DiscoveryURL: d, Audience: "https://api.example.test", Tenants: warden.TenantPolicy{AnyTenant: true}}},
			KeySetPolicy: warden.KeySetPolicy{LazyStart: true}})
		if err != nil {
			t.Errorf("%s: New refused DiscoveryURL %q: %v", name, d, err)
			continue
		}
		_ = mw.Close()
	}

	// The exploit end to end, on a simulated network: every host name
	// resolves to a loopback server, login.example.test to the identity
	// provider's, every other name to the attacker's, which answers
	// discovery for any issuer with its own key. A token whose tenant is
	// a host name must never make warden ask the attacker, and never verify.
	const idp = "https://login.example.test"
	legitKey, attackerKey := wardentest.NewECKey("k1"), wardentest.NewECKey("k1")
	serve := func(key *wardentest.Key) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/keys") {
				_, _ = w.Write(wardentest.JWKS(key))
				return
			}
			// Discovery: name whichever tenant issuer was asked about.
			tenant := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")[0]
			if r.Host != "login.example.test" {
				tenant = r.Host
			}
			iss := idp + "/" + tenant + "/v2.0"
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": iss, "jwks_uri": "https://" + r.Host + "/" + tenant + "/keys"})
		}
	}
	legit, attacker := httptest.NewTLSServer(serve(legitKey)), httptest.NewTLSServer(serve(attackerKey))
	t.Cleanup(legit.Close)
	t.Cleanup(attacker.Close)
	var mu sync.Mutex
	var dialled []string
	client := &http.Client{Transport: &http.Transport{
		// The test's own servers: their certificate names no test host.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // a simulated network
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			mu.Lock()
			dialled = append(dialled, addr)
			mu.Unlock()
			to := attacker.Listener.Addr().String()
			if addr == "login.example.test:443" {
				to = legit.Listener.Addr().String()
			}
			return (&net.Dialer{}).DialContext(ctx, network, to)
		},
	}}
	rows := []struct {
		name, discovery string
		refused         bool // by New
	}{
		{"tenant as the host", "https://{tenant}/.well-known/openid-configuration", true},
		{"tenant in the query", idp + "/common/.well-known/openid-configuration?host={tenant}", true},
		{"host-like tenant in a path segment", idp + "/{tenant}/v2.0/.well-known/openid-configuration", false},
		{"host-like tenant, derived discovery", "", false},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			mw, err := warden.New(warden.Config{
				Issuers: []warden.IssuerConfig{{URL: idp + "/{tenant}/v2.0", DiscoveryURL: row.discovery,
					Audience: "https://api.example.test", Tenants: warden.TenantPolicy{AnyTenant: true}}},
				HTTPClient: client,
				Now:        func() time.Time { return reqNow },
				Logger:     slog.New(slog.DiscardHandler),
			})
			switch {
			case row.refused && err != nil:
				return
			case row.refused:
				t.Errorf("New accepted DiscoveryURL %q", row.discovery)
			case err != nil:
				t.Fatalf("New: %v", err)
			}
			defer func() { _ = mw.Close() }()
			for _, tenant := range []string{"a.attacker.example", "attacker.example"} {
				mu.Lock()
				dialled = nil
				mu.Unlock()
				forged := mintWith(attackerKey, idp+"/"+tenant+"/v2.0", nil)
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				r.Header.Set("Authorization", "Bearer "+forged)
				w := httptest.NewRecorder()
				mw.Authenticate(reqNoContent).ServeHTTP(w, r)
				if w.Code == http.StatusNoContent {
					t.Errorf("tenant %q: a token signed by the attacker's key was admitted", tenant)
				}
				mu.Lock()
				for _, addr := range dialled {
					if addr != "login.example.test:443" {
						t.Errorf("tenant %q: warden connected to %s", tenant, addr)
					}
				}
				mu.Unlock()
			}
		})
	}
}

package warden_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

var (
	secret32 = []byte(strings.Repeat("s", 32))
	secret48 = []byte(strings.Repeat("s", 48))
)

// TestNewRejectsBadConfig: configuration mistakes surface from New.
func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	iss := wardentest.NewIssuer(t)
	jwks := wardentest.JWKS(iss.Keys()...)
	cases := []struct {
		name string
		cfg  warden.Config
		want string
	}{
		{"no issuer", warden.Config{}, "an issuer (Config.Issuers) or a client verifier (Config.Clients) is required"},
		{"no audience", warden.Config{Issuers: []warden.IssuerConfig{{URL: iss.URL, JWKS: jwks}}}, "Audience is required"},
		{"audience and opt-out", warden.Config{Issuers: []warden.IssuerConfig{{URL: iss.URL, Audience: "a", SkipAudienceCheck: true, JWKS: jwks}}}, "both set"},
		{"unknown algorithm", warden.Config{Issuers: []warden.IssuerConfig{{URL: iss.URL, Audience: "a", JWKS: jwks}}, Algorithms: []string{"RS257"}}, "unknown algorithm"},
		{"alg none", warden.Config{Issuers: []warden.IssuerConfig{{URL: iss.URL, Audience: "a", JWKS: jwks}}, Algorithms: []string{"none"}}, `"none" is never accepted`},
		{"plain-http JWKS off loopback", warden.Config{Issuers: []warden.IssuerConfig{{URL: iss.URL, Audience: "a", JWKSURL: "http://keys.example.com/jwks"}}}, "must use https"},
		{"relative JWKS URL", warden.Config{Issuers: []warden.IssuerConfig{{URL: iss.URL, Audience: "a", JWKSURL: "/jwks"}}}, "not an absolute URL"},
		{"two key sources", warden.Config{Issuers: []warden.IssuerConfig{{URL: iss.URL, Audience: "a", JWKS: jwks, JWKSURL: iss.JWKSURL()}}}, "at most one"},
		{"short HMAC secret", warden.Config{Issuers: []warden.IssuerConfig{{URL: iss.URL, Audience: "a", HMACSecret: []byte("short")}}}, "at least 32 bytes"},
		{"JWKS without usable keys", warden.Config{Issuers: []warden.IssuerConfig{{URL: iss.URL, Audience: "a", JWKS: []byte(`{"keys":[]}`)}}}, "no usable signing key"},
		{"JWKS not JSON", warden.Config{Issuers: []warden.IssuerConfig{{URL: iss.URL, Audience: "a", JWKS: []byte(`<html>`)}}}, "not valid JSON"},
		{"duplicate issuer", warden.Config{Issuers: []warden.IssuerConfig{{URL: iss.URL, Audience: "a", JWKS: jwks}, {URL: iss.URL, Audience: "b", JWKS: jwks}}}, "configured twice"},
		{"negative token size", warden.Config{Issuers: []warden.IssuerConfig{{URL: iss.URL, Audience: "a", JWKS: jwks}}, MaxTokenSize: -1}, "MaxTokenSize"},
		{"realm with a control character", warden.Config{Issuers: []warden.IssuerConfig{{URL: iss.URL, Audience: "a", JWKS: jwks}}, Realm: "a\nb"}, "control character"},
		// Issue 10, defect 5: RFC 7518 §3.2, a key at least the hash size.
		{"HS384 with a 32-byte secret", warden.Config{Issuers: []warden.IssuerConfig{{URL: iss.URL, Audience: "a", HMACSecret: secret32}}, Algorithms: []string{"HS256", "HS384"}}, "HS384 needs an HMACSecret of at least 48 bytes, got 32"},
		{"HS512 with a 48-byte secret", warden.Config{Issuers: []warden.IssuerConfig{{URL: iss.URL, Audience: "a", HMACSecret: secret48}}, Algorithms: []string{"HS512"}}, "HS512 needs an HMACSecret of at least 64 bytes, got 48"},
		{"HMAC issuer allowing no HMAC algorithm", warden.Config{Issuers: []warden.IssuerConfig{{URL: iss.URL, Audience: "a", HMACSecret: secret32}}, Algorithms: []string{"RS256"}}, "allows no HMAC algorithm"},
		// Issue 10, defect 12: configurations that can never accept a token.
		{"JWKS issuer with only HMAC algorithms", warden.Config{Issuers: []warden.IssuerConfig{{URL: iss.URL, Audience: "a", JWKS: jwks}}, Algorithms: []string{"HS256"}}, "allows only HMAC"},
		{"JWKS issuer among HMAC ones, only HMAC algorithms", warden.Config{Algorithms: []string{"HS256"},
			Issuers: []warden.IssuerConfig{{URL: "https://h.example", Audience: "a", HMACSecret: secret32}, {URL: iss.URL, Audience: "a", JWKS: jwks}}}, "allows only HMAC"},
		{"empty scope claim", warden.Config{Issuers: []warden.IssuerConfig{{URL: iss.URL, Audience: "a", JWKS: jwks}}, ScopeClaims: []string{""}}, "empty claim name"},
		{"scope claim path with an empty segment", warden.Config{Issuers: []warden.IssuerConfig{{URL: iss.URL, Audience: "a", JWKS: jwks}}, ScopeClaims: []string{"realm_access..roles"}}, "empty segment"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mw, err := warden.New(tc.cfg)
			require.Error(t, err)
			assert.Nil(t, mw)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestRouteProgrammingErrors: invalid scopes and Basic without a client
// store are caught when routes are built, at start-up.
func TestRouteProgrammingErrors(t *testing.T) {
	t.Parallel()
	iss := wardentest.NewIssuer(t)
	mw := newMiddleware(t, iss.StaticConfig())
	for _, scope := range []string{`a"b`, `a\b`, "a b", "", "é"} {
		assert.Panics(t, func() { mw.Require(warden.Scopes(scope)) }, "scope %q", scope)
	}
	assert.Panics(t, func() { mw.Require(warden.AnyScope()) })
	assert.Panics(t, func() { mw.Accept(warden.SchemeBasic) })
	assert.NotPanics(t, func() { mw.Require() })
}

// TestTokenTransports: RFC 6750 §2.2 form and §2.3 query transports, off by
// default, on when configured.
func TestTokenTransports(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *warden.Config, _ *wardentest.Issuer) { c.AllowQueryToken, c.AllowFormToken = true, true })
	h := f.mw.Require(warden.Scopes("Entry_Read"))(echoPrincipal)
	token := f.iss.Scoped("Entry_Read")
	cases := []struct {
		name   string
		req    request
		status int
	}{
		{"query", request{path: "/?access_token=" + url.QueryEscape(token)}, 200},
		{"form body", request{method: "POST", path: "/", body: "access_token=" + token}, 200},
		{"form body on GET is ignored", request{method: "GET", path: "/", body: "access_token=" + token}, 401},
		{"query twice", request{path: "/?access_token=" + token + "&access_token=" + token}, 400},
		{"query and form", request{method: "POST", path: "/?access_token=" + token, body: "access_token=" + token}, 400},
		{"form and header", request{method: "POST", path: "/", body: "access_token=" + token, auth: []string{"Bearer " + token}}, 400},
		{"malformed query token", request{path: "/?access_token=" + url.QueryEscape("a b")}, 401},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := tc.req.do(h)
			assert.Equal(t, tc.status, w.Code, w.Body.String())
		})
	}
}

// TestChallengeOptions: realm escaping, omitted scope, resource metadata,
// exposed reason.
func TestChallengeOptions(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *warden.Config, _ *wardentest.Issuer) {
		c.Realm = `my "quoted" \ realm`
		c.OmitScopeInChallenge = true
		c.ExposeReason = true
	})
	h := f.mw.Require(warden.Scopes("Entry_Read"))(echoPrincipal)
	w := request{auth: []string{"Bearer " + f.iss.Scoped("Other")}}.do(h)
	assert.Equal(t, 403, w.Code)
	assert.Equal(t, []string{`Bearer realm="my \"quoted\" \\ realm", error="insufficient_scope"`}, w.Header().Values("WWW-Authenticate"))
	assert.Equal(t, `{"error":"insufficient_scope","error_description":"The request requires higher privileges than provided by the access token","reason":"insufficient_scope"}`+"\n", w.Body.String())
}

// TestPermissionResolverFailure: an outage of the permission resolver is a
// 503, never a 200.
func TestPermissionResolverFailure(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *warden.Config, _ *wardentest.Issuer) {
		c.Impersonation.Permissions = func(context.Context, *warden.Principal) ([]string, error) { return nil, errors.New("directory down") }
	})
	h := f.mw.Require(warden.Scopes("Entry_Read"))(echoPrincipal)
	token := f.iss.Mint(wardentest.Token{Claims: wardentest.Claims{"sub": "alice", "act": map[string]any{"sub": "c1"}, "scope": "Entry_Read"}})
	w := request{auth: []string{"Bearer " + token}}.do(h)
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.NotEmpty(t, w.Header().Get("Retry-After"))
	assert.Empty(t, w.Header().Values("WWW-Authenticate"))
	assert.False(t, strings.Contains(w.Body.String(), "directory down"), "cause leaked: %s", w.Body)
	// Tokens without impersonation never consult the resolver.
	w = request{auth: []string{"Bearer " + f.iss.Scoped("Entry_Read")}}.do(h)
	assert.Equal(t, http.StatusOK, w.Code)
}

// TestBuiltMiddlewareIsImmutable: nothing a caller holds after New (the
// slices and byte buffers it passed in, the default algorithm list) changes
// what a built Middleware accepts (issue 10, defect 13).
func TestBuiltMiddlewareIsImmutable(t *testing.T) {
	t.Parallel()
	iss := wardentest.NewIssuer(t)
	jwks := wardentest.JWKS(iss.Keys()...)
	algs := []string{"RS256", "HS256"}
	scopeClaims := []string{"scope"}
	secret := []byte(strings.Repeat("k", 32))
	cfg := warden.Config{Algorithms: algs, ScopeClaims: scopeClaims,
		Issuers: []warden.IssuerConfig{{URL: iss.URL, Audience: iss.Audience, JWKS: jwks}, {URL: "https://hmac.example", Audience: "a", HMACSecret: secret}}}
	mw := newMiddleware(t, cfg)
	rs := iss.Mint(wardentest.Token{Claims: wardentest.Claims{"scope": "Entry_Read"}})
	es := iss.Mint(wardentest.Token{Claims: wardentest.Claims{"scope": "Entry_Read"}, Key: iss.Key("ec-1")})
	hs := wardentest.SignHMAC("HS256", secret, []byte(`{"alg":"HS256"}`),
		[]byte(`{"iss":"https://hmac.example","aud":"a","sub":"s","exp":`+strconv.FormatInt(time.Now().Add(time.Minute).Unix(), 10)+`}`))

	d := warden.DefaultAlgorithms()
	d[0] = "none"
	assert.NotEqual(t, "none", warden.DefaultAlgorithms()[0], "DefaultAlgorithms returned a shared slice")
	algs[0] = "ES256"            // would allow the EC token and refuse the RSA one
	scopeClaims[0] = "scp"       // would drop the scope
	clear(jwks)                  // would corrupt a retained key set
	copy(secret, "attacker-key") // would change the HMAC key

	p, err := mw.Verify(context.Background(), rs)
	require.NoError(t, err)
	assert.Equal(t, []string{"Entry_Read"}, p.Scopes())
	_, err = mw.Verify(context.Background(), es)
	assert.Equal(t, warden.ReasonDisallowedAlg, reasonOf(err))
	_, err = mw.Verify(context.Background(), hs)
	assert.NoError(t, err)
}

// TestNestedScopeClaims: a dotted ScopeClaims entry reads a nested member,
// exactly and case-sensitively; a URI names one top-level claim.
func TestNestedScopeClaims(t *testing.T) {
	t.Parallel()
	iss := wardentest.NewIssuer(t)
	cfg := iss.StaticConfig()
	cfg.ScopeClaims = []string{"realm_access.roles", "https://example.com/claims.scope"}
	mw := newMiddleware(t, cfg)
	cases := []struct {
		name   string
		claims wardentest.Claims
		scopes []string
		reason warden.Reason
	}{
		{"nested array", wardentest.Claims{"realm_access": map[string]any{"roles": []string{"a", "b"}}}, []string{"a", "b"}, warden.ReasonOK},
		{"nested string", wardentest.Claims{"realm_access": map[string]any{"roles": "a b"}}, []string{"a", "b"}, warden.ReasonOK},
		{"other letter case", wardentest.Claims{"realm_access": map[string]any{"ROLES": []string{"a"}}}, nil, warden.ReasonOK},
		{"intermediate not an object", wardentest.Claims{"realm_access": "roles"}, nil, warden.ReasonOK},
		{"dotted top-level name is not the path", wardentest.Claims{"realm_access.roles": []string{"a"}}, nil, warden.ReasonOK},
		{"URI name", wardentest.Claims{"https://example.com/claims.scope": "c"}, []string{"c"}, warden.ReasonOK},
		{"first configured wins", wardentest.Claims{"https://example.com/claims.scope": "c", "realm_access": map[string]any{"roles": "a"}}, []string{"a"}, warden.ReasonOK},
		{"nested member not a scope-token", wardentest.Claims{"realm_access": map[string]any{"roles": []string{"a b"}}}, nil, warden.ReasonInvalidClaim},
		{"plain scope not configured", wardentest.Claims{"scope": "x"}, nil, warden.ReasonOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := mw.Verify(context.Background(), iss.Mint(wardentest.Token{Claims: tc.claims}))
			require.Equal(t, tc.reason, reasonOf(err))
			if err == nil {
				assert.Equal(t, tc.scopes, nilIfEmpty(p.Scopes()))
			}
		})
	}
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// TestExposeReasonAddsOnlyTheCode: ExposeReason adds the reason member and
// nothing else; the status, the challenges and the description are the
// same either way (issue 10, defect 15: what the option does and does not
// hide is documented in SECURITY.md).
func TestExposeReasonAddsOnlyTheCode(t *testing.T) {
	t.Parallel()
	iss := wardentest.NewIssuer(t)
	build := func(expose bool) http.Handler {
		cfg := iss.StaticConfig()
		cfg.ExposeReason = expose
		return newMiddleware(t, cfg).Require(warden.Scopes("Entry_Read"))(echoPrincipal)
	}
	hidden, exposed := build(false), build(true)
	cases := []struct {
		name   string
		auth   string
		reason string
	}{
		{"none", "", "missing_credentials"},
		{"malformed", "Bearer abc", "malformed_token"},
		{"wrong audience", "Bearer " + iss.Mint(wardentest.Token{Claims: wardentest.Claims{"aud": "other"}}), "wrong_audience"},
		{"expired", "Bearer " + iss.Mint(wardentest.Token{Claims: wardentest.Claims{"exp": iss.Now().Add(-time.Hour).Unix()}}), "expired"},
		{"scope", "Bearer " + iss.Scoped("X"), "insufficient_scope"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var auth []string
			if tc.auth != "" {
				auth = []string{tc.auth}
			}
			h, e := request{auth: auth}.do(hidden), request{auth: auth}.do(exposed)
			assert.Equal(t, h.Code, e.Code)
			assert.Equal(t, h.Header().Values("WWW-Authenticate"), e.Header().Values("WWW-Authenticate"))
			assert.NotContains(t, h.Body.String(), `"reason"`)
			assert.Equal(t, strings.TrimSuffix(h.Body.String(), "}\n")+`,"reason":"`+tc.reason+`"}`+"\n", e.Body.String())
		})
	}
}

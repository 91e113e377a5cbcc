package warden_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// TestNewRejectsBadConfig: configuration mistakes surface from New.
func TestNewRejectsBadConfig(t *testing.T) {
	iss := wardentest.NewIssuer(t)
	jwks := wardentest.JWKS(iss.Keys()...)
	cases := []struct {
		name string
		cfg  warden.Config
		want string
	}{
		{"no issuer", warden.Config{}, "an issuer is required"},
		{"no audience", warden.Config{Issuer: iss.URL, JWKS: jwks}, "Audience is required"},
		{"audience and opt-out", warden.Config{Issuer: iss.URL, Audience: "a", SkipAudienceCheck: true, JWKS: jwks}, "both set"},
		{"unknown algorithm", warden.Config{Issuer: iss.URL, Audience: "a", JWKS: jwks, Algorithms: []string{"RS257"}}, "unknown algorithm"},
		{"alg none", warden.Config{Issuer: iss.URL, Audience: "a", JWKS: jwks, Algorithms: []string{"none"}}, `"none" is never accepted`},
		{"plain-http JWKS off loopback", warden.Config{Issuer: iss.URL, Audience: "a", JWKSURL: "http://keys.example.com/jwks"}, "must use https"},
		{"relative JWKS URL", warden.Config{Issuer: iss.URL, Audience: "a", JWKSURL: "/jwks"}, "not an absolute URL"},
		{"two key sources", warden.Config{Issuer: iss.URL, Audience: "a", JWKS: jwks, JWKSURL: iss.JWKSURL()}, "at most one"},
		{"short HMAC secret", warden.Config{Issuer: iss.URL, Audience: "a", HMACSecret: []byte("short")}, "at least 32 bytes"},
		{"JWKS without usable keys", warden.Config{Issuer: iss.URL, Audience: "a", JWKS: []byte(`{"keys":[]}`)}, "no usable signing key"},
		{"JWKS not JSON", warden.Config{Issuer: iss.URL, Audience: "a", JWKS: []byte(`<html>`)}, "not valid JSON"},
		{"duplicate issuer", warden.Config{Issuer: iss.URL, Audience: "a", JWKS: jwks, Issuers: []warden.IssuerConfig{{Issuer: iss.URL, Audience: "b", JWKS: jwks}}}, "configured twice"},
		{"negative token size", warden.Config{Issuer: iss.URL, Audience: "a", JWKS: jwks, MaxTokenSize: -1}, "MaxTokenSize"},
		{"realm with a control character", warden.Config{Issuer: iss.URL, Audience: "a", JWKS: jwks, Realm: "a\nb"}, "control character"},
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
	iss := wardentest.NewIssuer(t)
	mw, err := warden.New(warden.Config{Issuer: iss.URL, Audience: iss.Audience, JWKS: wardentest.JWKS(iss.Keys()...)})
	require.NoError(t, err)
	for _, scope := range []string{`a"b`, `a\b`, "a b", "", "é"} {
		assert.Panics(t, func() { mw.Require(scope) }, "scope %q", scope)
	}
	assert.Panics(t, func() { mw.RequireAny() })
	assert.Panics(t, func() { mw.Accept(warden.SchemeBasic) })
	assert.NotPanics(t, func() { mw.Require() })
}

// TestTokenTransports: RFC 6750 §2.2 form and §2.3 query transports, off by
// default, on when configured.
func TestTokenTransports(t *testing.T) {
	f := newFixture(t, func(c *warden.Config, _ *wardentest.Issuer) { c.AllowQueryToken, c.AllowFormToken = true, true })
	h := f.mw.Require("Entry_Read")(echoPrincipal)
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
	f := newFixture(t, func(c *warden.Config, _ *wardentest.Issuer) {
		c.Realm = `my "quoted" \ realm`
		c.OmitScopeInChallenge = true
		c.ExposeReason = true
	})
	h := f.mw.Require("Entry_Read")(echoPrincipal)
	w := request{auth: []string{"Bearer " + f.iss.Scoped("Other")}}.do(h)
	assert.Equal(t, 403, w.Code)
	assert.Equal(t, []string{`Bearer realm="my \"quoted\" \\ realm", error="insufficient_scope"`}, w.Header().Values("WWW-Authenticate"))
	assert.Equal(t, `{"error":"insufficient_scope","error_description":"The request requires higher privileges than provided by the access token","reason":"insufficient_scope"}`+"\n", w.Body.String())
}

// TestPermissionResolverFailure: an outage of the permission resolver is a
// 503, never a 200.
func TestPermissionResolverFailure(t *testing.T) {
	f := newFixture(t, func(c *warden.Config, _ *wardentest.Issuer) {
		c.Permissions = func(context.Context, *warden.Principal) ([]string, error) { return nil, errors.New("directory down") }
	})
	h := f.mw.Require("Entry_Read")(echoPrincipal)
	token := f.iss.Mint(wardentest.Token{Claims: wardentest.Claims{"sub": "c1", "act_as": "alice", "scope": "Entry_Read"}})
	w := request{auth: []string{"Bearer " + token}}.do(h)
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.NotEmpty(t, w.Header().Get("Retry-After"))
	assert.Empty(t, w.Header().Values("WWW-Authenticate"))
	assert.False(t, strings.Contains(w.Body.String(), "directory down"), "cause leaked: %s", w.Body)
	// Tokens without impersonation never consult the resolver.
	w = request{auth: []string{"Bearer " + f.iss.Scoped("Entry_Read")}}.do(h)
	assert.Equal(t, http.StatusOK, w.Code)
}

// TestClientStoreRejectsMixedHashes: a store whose hashes differ in kind or
// cost would let timing separate known from unknown client ids.
func TestClientStoreRejectsMixedHashes(t *testing.T) {
	cost4, err := bcrypt.GenerateFromPassword([]byte("a"), 4)
	require.NoError(t, err)
	cost5, err := bcrypt.GenerateFromPassword([]byte("b"), 5)
	require.NoError(t, err)
	const argon = "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA"
	cases := []struct {
		name    string
		clients []warden.Client
		want    string
	}{
		{"bcrypt costs differ", []warden.Client{{ID: "a", SecretHash: string(cost4)}, {ID: "b", SecretHash: string(cost5)}}, "differ"},
		{"bcrypt and argon2id", []warden.Client{{ID: "a", SecretHash: string(cost4)}, {ID: "b", SecretHash: argon}}, "differ"},
		{"malformed hash", []warden.Client{{ID: "a", SecretHash: "plaintext"}}, "bcrypt or argon2id"},
		{"duplicate id", []warden.Client{{ID: "a", SecretHash: string(cost4)}, {ID: "a", SecretHash: string(cost4)}}, "listed twice"},
		{"bad scope", []warden.Client{{ID: "a", SecretHash: string(cost4), Scopes: []string{"a b"}}}, "not a valid scope"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := warden.NewClientStore(tc.clients)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	_, err = warden.NewClientStore([]warden.Client{{ID: "a", SecretHash: string(cost4)}, {ID: "b", SecretHash: string(cost4)}})
	assert.NoError(t, err)
}

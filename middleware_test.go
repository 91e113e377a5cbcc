package warden_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// rfc6750Mux mounts the routes the table exercises: routes taking one
// scheme only, and all-of and any-of requirements.
func rfc6750Mux(mw *warden.Middleware) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/entries", mw.Require(warden.Scopes("Entry_Read"))(echoPrincipal))
	mux.Handle("/entries/write", mw.Require(warden.Scopes("Entry_Read", "Entry_Write"))(echoPrincipal))
	mux.Handle("/search", mw.Require(warden.AnyScope("Entry_Read", "Entry_Admin"))(echoPrincipal))
	mux.Handle("/organisations", mw.Accept(warden.SchemeBasic).Require(warden.Scopes("Organisation_Read"))(echoPrincipal))
	return mux
}

// TestRFC6750Table walks the RFC 6750 §3 and RFC 7617 responses the attack
// table (attack_*_test.go, our documented contract) does not: routes that
// take Bearer or Basic alone, whose challenges name only their scheme;
// valid RSA, EC and Ed25519 tokens whose keys are fetched from a JWKS on
// loopback; the default leeway; all-of and any-of requirements. Every other
// class of credentials, on a route taking both schemes, is a row of the
// attack table. It asserts the status, every WWW-Authenticate line, and the
// exact body, Cache-Control and Content-Type of a refusal.
func TestRFC6750Table(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	iss, h := f.iss, rfc6750Mux(f.mw)
	mint := func(claims wardentest.Claims) string { return iss.Mint(wardentest.Token{Claims: claims}) }
	read := mint(wardentest.Claims{"scope": "Entry_Read"})
	ec := iss.Mint(wardentest.Token{Claims: wardentest.Claims{"scope": "Entry_Read"}, Key: iss.Key("ec-1")})
	ed := iss.Mint(wardentest.Token{Claims: wardentest.Claims{"scope": "Entry_Read"}, Key: iss.Key("ed-1")})
	now := f.clock.Now()

	type want struct {
		status     int
		challenges []string
		body       string
		subject    string
	}
	ok := func(subject string) want { return want{status: 200, subject: subject} }
	cases := []struct {
		name string
		req  request
		want want
	}{
		// Credentials (RFC 6750 §2.1, §3.1) on a route taking one scheme.
		{"no credentials", request{path: "/entries"}, want{401, []string{bareBearer, bareDPoP}, bodyNone, ""}},
		{"empty Authorization", request{path: "/entries", auth: []string{""}}, want{401, []string{bareBearer, bareDPoP}, bodyNone, ""}},
		{"valid RS256 token", request{path: "/entries", auth: []string{"Bearer " + read}}, ok("user-1")},
		{"valid ES256 token", request{path: "/entries", auth: []string{"Bearer " + ec}}, ok("user-1")},
		{"valid EdDSA token", request{path: "/entries", auth: []string{"Bearer " + ed}}, ok("user-1")},
		{"unsupported scheme", request{path: "/entries", auth: []string{"Token " + read}}, want{401, []string{bareBearer, bareDPoP}, bodyNone, ""}},
		{"scheme without separator", request{path: "/entries", auth: []string{"Bearer" + read}}, want{401, []string{bareBearer, bareDPoP}, bodyNone, ""}},
		{"Basic on a Bearer-only route", request{path: "/entries", auth: []string{basicAuth("dir-client:dir-secret")}}, want{401, []string{bareBearer, bareDPoP}, bodyNone, ""}},
		{"Bearer on a Basic-only route", request{path: "/organisations", auth: []string{"Bearer " + read}}, want{401, []string{bareBasic}, bodyNone, ""}},
		{"query token when disabled", request{path: "/entries?access_token=" + read}, want{401, []string{bareBearer, bareDPoP}, bodyNone, ""}},
		{"form token when disabled", request{method: "POST", path: "/entries", body: "access_token=" + read}, want{401, []string{bareBearer, bareDPoP}, bodyNone, ""}},

		// The default leeway (60 s; the attack table configures 30 s).
		{"expired", request{path: "/entries", auth: []string{"Bearer " + mint(wardentest.Claims{"exp": now.Add(-2 * time.Minute).Unix(), "scope": "Entry_Read"})}}, want{401, tokChallenge(descExpired), tokBody(descExpired), ""}},
		{"expired within leeway", request{path: "/entries", auth: []string{"Bearer " + mint(wardentest.Claims{"exp": now.Add(-30 * time.Second).Unix(), "scope": "Entry_Read"})}}, ok("user-1")},

		// Requirements of several scopes (RFC 6750 §3.1 insufficient_scope).
		{"all-of satisfied", request{path: "/entries/write", auth: []string{"Bearer " + mint(wardentest.Claims{"scope": "Entry_Write Entry_Read"})}}, ok("user-1")},
		{"any-of satisfied by the second", request{path: "/search", auth: []string{"Bearer " + mint(wardentest.Claims{"scope": "Entry_Admin"})}}, ok("user-1")},
		{"any-of unsatisfied", request{path: "/search", auth: []string{"Bearer " + mint(wardentest.Claims{"scope": "X"})}}, want{403, scopeChallenge("Entry_Read Entry_Admin"), bodyScope, ""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := tc.req.do(h)
			assert.Equal(t, tc.want.status, w.Code, "status; body %s", w.Body)
			assert.Equal(t, tc.want.challenges, w.Header().Values("WWW-Authenticate"), "WWW-Authenticate")
			if tc.want.status == http.StatusOK {
				var got echo
				require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
				assert.Equal(t, tc.want.subject, got.Subject, "subject")
				return
			}
			assert.Equal(t, tc.want.body, w.Body.String(), "body")
			assert.Equal(t, "no-store", w.Header().Get("Cache-Control"), "Cache-Control")
			assert.Equal(t, "application/json", w.Header().Get("Content-Type"), "Content-Type")
		})
	}
}

// TestKeysUnavailable: when no key set could ever be fetched, requests get
// 503 with Retry-After, not 401, and the cause stays in the logs.
func TestKeysUnavailable(t *testing.T) {
	t.Parallel()
	deadURL := refusedURL(t) + "/jwks.json"
	iss := wardentest.NewIssuer(t)
	mw := newMiddleware(t, warden.Config{
		Issuers: []warden.IssuerConfig{{
			URL:      iss.URL,
			Audience: iss.Audience,
			JWKSURL:  deadURL,
		}},
		KeySetPolicy: warden.KeySetPolicy{LazyStart: true},
	})
	w := bearerRequest(iss.Scoped("Entry_Read")).do(mw.Require(warden.Scopes("Entry_Read"))(echoPrincipal))
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.Empty(t, w.Header().Values("WWW-Authenticate"))
	assert.NotEmpty(t, w.Header().Get("Retry-After"))
	assert.Equal(t, bodyKeys, w.Body.String())

	// Without LazyStart the same configuration fails at construction.
	_, err := warden.New(warden.Config{Issuers: []warden.IssuerConfig{{URL: iss.URL, Audience: iss.Audience, JWKSURL: deadURL}}})
	assert.Error(t, err)
}

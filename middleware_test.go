package warden_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// rfc6750Mux mounts the routes the table exercises.
func rfc6750Mux(mw *warden.Middleware) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/entries", mw.Require(warden.Scopes("Entry_Read"))(echoPrincipal))
	mux.Handle("/entries/write", mw.Require(warden.Scopes("Entry_Read", "Entry_Write"))(echoPrincipal))
	mux.Handle("/search", mw.Require(warden.AnyScope("Entry_Read", "Entry_Admin"))(echoPrincipal))
	mux.Handle("/whoami", mw.Accept(warden.SchemeBearer, warden.SchemeBasic).Authenticate(echoPrincipal))
	mux.Handle("/both", mw.Accept(warden.SchemeBearer, warden.SchemeBasic).Require(warden.Scopes("Organisation_Read"))(echoPrincipal))
	mux.Handle("/organisations", mw.Accept(warden.SchemeBasic).Require(warden.Scopes("Organisation_Read"))(echoPrincipal))
	return mux
}

// impersonationConfig: client-1 may act for users, client-2 may not; alice
// holds Entry_Read, bob nothing.
func impersonationConfig(cfg *warden.Config, _ *wardentest.Issuer) {
	cfg.Issuers[0].ActAs = true
	cfg.Impersonation.Allow = func(_ context.Context, actor, _ string) bool { return actor == "client-1" }
	cfg.Impersonation.Permissions = func(_ context.Context, p *warden.Principal) ([]string, error) {
		if p.Subject() == "alice" {
			return []string{"Entry_Read"}, nil
		}
		return nil, nil
	}
}

// TestRFC6750Table walks the RFC 6750 §3 and RFC 7617 response table: every
// class of credentials a client can send, over RSA, EC and Ed25519 keys
// fetched from a JWKS on loopback, asserting status, every WWW-Authenticate
// line and the exact body.
func TestRFC6750Table(t *testing.T) {
	f := newFixture(t, impersonationConfig)
	iss, h := f.iss, rfc6750Mux(f.mw)
	mint := func(claims wardentest.Claims) string { return iss.Mint(wardentest.Token{Claims: claims}) }
	read := mint(wardentest.Claims{"scope": "Entry_Read"})
	ec := iss.Mint(wardentest.Token{Claims: wardentest.Claims{"scope": "Entry_Read"}, Key: iss.Key("ec-1")})
	ed := iss.Mint(wardentest.Token{Claims: wardentest.Claims{"scope": "Entry_Read"}, Key: iss.Key("ed-1")})
	now := f.clock.Now()
	sigFlipped := read[:len(read)-4] + flip(read[len(read)-4:])
	foreign := wardentest.NewRSAKey("rsa-1") // same kid, key the issuer never published

	type want struct {
		status     int
		challenges []string
		body       string
		subject    string
	}
	tok := func(desc string) want { return want{401, []string{tokChallenge(desc)}, tokBody(desc), ""} }
	ok := func(subject string) want { return want{status: 200, subject: subject} }
	cases := []struct {
		name string
		req  request
		want want
	}{
		// Credentials (RFC 6750 §2.1, §3.1)
		{"no credentials", request{path: "/entries"}, want{401, []string{bareBearer}, bodyAuthn, ""}},
		{"empty Authorization", request{path: "/entries", auth: []string{""}}, want{401, []string{bareBearer}, bodyAuthn, ""}},
		{"valid RS256 token", request{path: "/entries", auth: []string{"Bearer " + read}}, ok("user-1")},
		{"lower-case scheme", request{path: "/entries", auth: []string{"bearer " + read}}, ok("user-1")},
		{"upper-case scheme", request{path: "/entries", auth: []string{"BEARER " + read}}, ok("user-1")},
		{"several spaces after the scheme", request{path: "/entries", auth: []string{"Bearer   " + read}}, ok("user-1")},
		{"surrounding whitespace", request{path: "/entries", auth: []string{"  Bearer " + read + "  "}}, ok("user-1")},
		{"valid ES256 token", request{path: "/entries", auth: []string{"Bearer " + ec}}, ok("user-1")},
		{"valid EdDSA token", request{path: "/entries", auth: []string{"Bearer " + ed}}, ok("user-1")},
		{"unsupported scheme", request{path: "/entries", auth: []string{"Token " + read}}, want{401, []string{bareBearer}, bodyAuthn, ""}},
		{"scheme without separator", request{path: "/entries", auth: []string{"Bearer" + read}}, want{401, []string{bareBearer}, bodyAuthn, ""}},
		{"Basic on a Bearer-only route", request{path: "/entries", auth: []string{basicAuth("dir-client", "dir-secret")}}, want{401, []string{bareBearer}, bodyAuthn, ""}},
		{"Bearer on a Basic-only route", request{path: "/organisations", auth: []string{"Bearer " + read}}, want{401, []string{bareBasic}, bodyAuthn, ""}},
		{"no credentials, both schemes", request{path: "/whoami"}, want{401, []string{bareBearer, bareBasic}, bodyAuthn, ""}},
		{"Bearer without token", request{path: "/entries", auth: []string{"Bearer"}}, want{400, []string{reqChallenge()}, bodyReq, ""}},
		{"Bearer with only spaces", request{path: "/entries", auth: []string{"Bearer   "}}, want{400, []string{reqChallenge()}, bodyReq, ""}},
		{"garbage after the token", request{path: "/entries", auth: []string{"Bearer " + read + " extra"}}, want{400, []string{reqChallenge()}, bodyReq, ""}},
		{"two Authorization fields", request{path: "/entries", auth: []string{"Bearer " + read, "Bearer " + read}}, want{400, []string{reqChallenge()}, bodyReq, ""}},
		{"header and query token", request{path: "/entries?access_token=" + read, auth: []string{"Bearer " + read}}, want{400, []string{reqChallenge()}, bodyReq, ""}},
		{"query token when disabled", request{path: "/entries?access_token=" + read}, want{401, []string{bareBearer}, bodyAuthn, ""}},
		{"form token when disabled", request{method: "POST", path: "/entries", body: "access_token=" + read}, want{401, []string{bareBearer}, bodyAuthn, ""}},
		{"TAB separator", request{path: "/entries", auth: []string{"Bearer\t" + read}}, tok("The access token is malformed")},
		{"token outside b64token", request{path: "/entries", auth: []string{"Bearer café.x.y"}}, tok("The access token is malformed")},
		{"comma-joined tokens", request{path: "/entries", auth: []string{"Bearer " + read + ", Bearer " + read}}, tok("The access token is malformed")},
		{"token over the size limit", request{path: "/entries", auth: []string{"Bearer " + strings.Repeat("a", 9000)}}, tok("The access token is too large")},
		{"two segments", request{path: "/entries", auth: []string{"Bearer abc.def"}}, tok("The access token is malformed")},

		// Token validation (RFC 9068 §4)
		{"bad signature", request{path: "/entries", auth: []string{"Bearer " + sigFlipped}}, tok("The access token signature is invalid")},
		{"signed by an unpublished key", request{path: "/entries", auth: []string{"Bearer " + iss.Mint(wardentest.Token{Key: foreign, Claims: wardentest.Claims{"scope": "Entry_Read"}})}}, tok("The access token signature is invalid")},
		{"unknown kid", request{path: "/entries", auth: []string{"Bearer " + iss.Mint(wardentest.Token{Header: map[string]any{"kid": "nope"}})}}, tok("The access token signing key is unknown")},
		{"alg none", request{path: "/entries", auth: []string{"Bearer " + unsigned(read, `{"alg":"none","typ":"at+jwt"}`)}}, tok("The access token signing algorithm is not accepted")},
		{"HS256 without a shared secret", request{path: "/entries", auth: []string{"Bearer " + hmacToken(read, "k")}}, tok("The access token signing algorithm is not accepted")},
		{"wrong issuer", request{path: "/entries", auth: []string{"Bearer " + mint(wardentest.Claims{"iss": iss.URL + "/", "scope": "Entry_Read"})}}, tok("The access token issuer is not trusted")},
		{"missing issuer", request{path: "/entries", auth: []string{"Bearer " + mint(wardentest.Claims{"iss": nil})}}, tok("The access token lacks a required claim")},
		{"wrong audience", request{path: "/entries", auth: []string{"Bearer " + mint(wardentest.Claims{"aud": "https://other.test", "scope": "Entry_Read"})}}, tok("The access token is not intended for this resource")},
		{"audience array containing ours", request{path: "/entries", auth: []string{"Bearer " + mint(wardentest.Claims{"aud": []string{"x", iss.Audience}, "scope": "Entry_Read"})}}, ok("user-1")},
		{"missing audience", request{path: "/entries", auth: []string{"Bearer " + mint(wardentest.Claims{"aud": nil})}}, tok("The access token is not intended for this resource")},
		{"missing exp", request{path: "/entries", auth: []string{"Bearer " + mint(wardentest.Claims{"exp": nil})}}, tok("The access token lacks a required claim")},
		{"expired", request{path: "/entries", auth: []string{"Bearer " + mint(wardentest.Claims{"exp": now.Add(-2 * time.Minute).Unix(), "scope": "Entry_Read"})}}, tok("The access token expired")},
		{"expired within leeway", request{path: "/entries", auth: []string{"Bearer " + mint(wardentest.Claims{"exp": now.Add(-30 * time.Second).Unix(), "scope": "Entry_Read"})}}, ok("user-1")},
		{"exp as a string", request{path: "/entries", auth: []string{"Bearer " + mint(wardentest.Claims{"exp": "1999999999"})}}, tok("The access token has an invalid claim")},
		{"exp beyond the maximum lifetime", request{path: "/entries", auth: []string{"Bearer " + mint(wardentest.Claims{"exp": int64(1) << 62})}}, tok("The access token lifetime exceeds the accepted maximum")},
		{"not yet valid", request{path: "/entries", auth: []string{"Bearer " + mint(wardentest.Claims{"nbf": now.Add(time.Hour).Unix()})}}, tok("The access token is not valid yet")},
		{"issued in the future", request{path: "/entries", auth: []string{"Bearer " + mint(wardentest.Claims{"iat": now.Add(time.Hour).Unix()})}}, tok("The access token was issued in the future")},
		{"crit header", request{path: "/entries", auth: []string{"Bearer " + iss.Mint(wardentest.Token{Header: map[string]any{"crit": []string{"x"}, "x": 1}})}}, tok("The access token uses an unsupported header")},

		// Scopes (RFC 6750 §3.1 insufficient_scope)
		{"missing scope", request{path: "/entries", auth: []string{"Bearer " + mint(wardentest.Claims{"scope": "ContentType_Read"})}}, want{403, []string{scopeChallenge("Entry_Read")}, bodyScope, ""}},
		{"scope differs in case", request{path: "/entries", auth: []string{"Bearer " + mint(wardentest.Claims{"scope": "entry_read"})}}, want{403, []string{scopeChallenge("Entry_Read")}, bodyScope, ""}},
		{"scope prefix is not a match", request{path: "/entries", auth: []string{"Bearer " + mint(wardentest.Claims{"scope": "Entry_ReadOnly Entry"})}}, want{403, []string{scopeChallenge("Entry_Read")}, bodyScope, ""}},
		{"all-of needs every scope", request{path: "/entries/write", auth: []string{"Bearer " + read}}, want{403, []string{scopeChallenge("Entry_Read Entry_Write")}, bodyScope, ""}},
		{"all-of satisfied", request{path: "/entries/write", auth: []string{"Bearer " + mint(wardentest.Claims{"scope": "Entry_Write Entry_Read"})}}, ok("user-1")},
		{"any-of satisfied by the second", request{path: "/search", auth: []string{"Bearer " + mint(wardentest.Claims{"scope": "Entry_Admin"})}}, ok("user-1")},
		{"any-of unsatisfied", request{path: "/search", auth: []string{"Bearer " + mint(wardentest.Claims{"scope": "X"})}}, want{403, []string{scopeChallenge("Entry_Read Entry_Admin")}, bodyScope, ""}},
		{"scope as a JSON array", request{path: "/entries", auth: []string{"Bearer " + mint(wardentest.Claims{"scope": []string{"Entry_Read"}})}}, ok("user-1")},
		{"scp claim", request{path: "/entries", auth: []string{"Bearer " + mint(wardentest.Claims{"scp": "Entry_Read"})}}, ok("user-1")},
		{"scope of the wrong type", request{path: "/entries", auth: []string{"Bearer " + mint(wardentest.Claims{"scope": 5})}}, tok("The access token has an invalid claim")},

		// Impersonation (RFC 8693 §4.1 act, vendor act_as)
		{"act: user acting through a permitted client", request{path: "/entries", auth: []string{"Bearer " + mint(wardentest.Claims{"sub": "alice", "act": map[string]any{"sub": "client-1"}, "scope": "Entry_Read"})}}, ok("alice")},
		{"act_as: same meaning", request{path: "/entries", auth: []string{"Bearer " + mint(wardentest.Claims{"sub": "client-1", "act_as": "alice", "scope": "Entry_Read"})}}, ok("alice")},
		{"impersonation by a forbidden client", request{path: "/entries", auth: []string{"Bearer " + mint(wardentest.Claims{"sub": "alice", "client_id": "client-2", "act": map[string]any{"sub": "client-2"}, "scope": "Entry_Read"})}},
			want{403, []string{`Bearer realm="api", error="insufficient_scope", error_description="The client is not permitted to act for this subject"`}, `{"error":"insufficient_scope","error_description":"The client is not permitted to act for this subject"}` + "\n", ""}},
		{"impersonated user lacks the permission", request{path: "/entries", auth: []string{"Bearer " + mint(wardentest.Claims{"sub": "bob", "act": map[string]any{"sub": "client-1"}, "scope": "Entry_Read"})}}, want{403, []string{scopeChallenge("Entry_Read")}, bodyScope, ""}},
		{"act is not an object", request{path: "/entries", auth: []string{"Bearer " + mint(wardentest.Claims{"act": "admin"})}}, tok("The access token has an invalid claim")},
		{"act_as on a user's token", request{path: "/entries", auth: []string{"Bearer " + mint(wardentest.Claims{"sub": "bob", "client_id": "client-1", "act_as": "alice", "scope": "Entry_Read"})}}, tok("The access token has an invalid claim")},
		{"act and act_as disagree", request{path: "/entries", auth: []string{"Bearer " + mint(wardentest.Claims{"sub": "alice", "act": map[string]any{"sub": "client-1"}, "act_as": "bob"})}}, tok("The access token has an invalid claim")},

		// Basic client credentials (RFC 7617, RFC 6749 §2.3.1)
		{"Basic valid", request{path: "/organisations", auth: []string{basicAuth("dir-client", "dir-secret")}}, ok("dir-client")},
		{"Basic lower-case scheme", request{path: "/organisations", auth: []string{"basic " + strings.TrimPrefix(basicAuth("dir-client", "dir-secret"), "Basic ")}}, ok("dir-client")},
		{"Basic wrong secret", request{path: "/organisations", auth: []string{basicAuth("dir-client", "nope")}}, want{401, []string{bareBasic}, bodyBasic, ""}},
		{"Basic unknown client", request{path: "/organisations", auth: []string{basicAuth("ghost", "dir-secret")}}, want{401, []string{bareBasic}, bodyBasic, ""}},
		{"Basic not base64", request{path: "/organisations", auth: []string{"Basic !!!notbase64"}}, want{401, []string{bareBasic}, bodyBasic, ""}},
		{"Basic without colon", request{path: "/organisations", auth: []string{"Basic " + b64std("dir-client")}}, want{401, []string{bareBasic}, bodyBasic, ""}},
		{"Basic with empty id", request{path: "/organisations", auth: []string{basicAuth("", "dir-secret")}}, want{401, []string{bareBasic}, bodyBasic, ""}},
		{"Basic client without the permission", request{path: "/organisations", auth: []string{basicAuth("plain-client", "plain-secret")}}, want{403, nil, bodyScope, ""}},
		{"Basic on a route taking both", request{path: "/both", auth: []string{basicAuth("dir-client", "dir-secret")}}, ok("dir-client")},
		{"Bearer on a route taking both", request{path: "/whoami", auth: []string{"Bearer " + read}}, ok("user-1")},
		{"bad Basic on a route taking both", request{path: "/both", auth: []string{basicAuth("dir-client", "x")}}, want{401, []string{bareBasic}, bodyBasic, ""}},
		{"Bearer and Basic fields together", request{path: "/whoami", auth: []string{"Bearer " + read, basicAuth("dir-client", "dir-secret")}}, want{400, []string{reqChallenge()}, bodyReq, ""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := tc.req.do(h)
			assert.Equal(t, tc.want.status, w.Code, "status; body %s", w.Body)
			assert.Equal(t, tc.want.challenges, w.Header().Values("WWW-Authenticate"), "WWW-Authenticate")
			if tc.want.status == http.StatusOK {
				var got struct{ Subject string }
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

func flip(s string) string {
	b := []byte(s)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	return string(b)
}

func b64std(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// unsigned replaces a token's header and drops its signature.
func unsigned(token, header string) string {
	parts := strings.Split(token, ".")
	return base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + parts[1] + "."
}

// hmacToken re-signs token's payload with HS256 and the given secret.
func hmacToken(token, secret string) string {
	parts := strings.Split(token, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	return wardentest.SignHMAC("HS256", []byte(secret), []byte(`{"alg":"HS256","kid":"rsa-1","typ":"at+jwt"}`), payload)
}

// TestKeysUnavailable: when no key set could ever be fetched, requests get
// 503 with Retry-After, not 401, and the cause stays in the logs.
func TestKeysUnavailable(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL + "/jwks.json"
	dead.Close() // connections are now refused
	iss := wardentest.NewIssuer(t)
	mw, err := warden.New(warden.Config{
		Issuers: []warden.IssuerConfig{{
			URL:      iss.URL,
			Audience: iss.Audience,
			JWKSURL:  deadURL,
		}},
		KeySetPolicy: warden.KeySetPolicy{LazyStart: true},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = mw.Close() })
	w := request{path: "/", auth: []string{"Bearer " + iss.Scoped("Entry_Read")}}.do(mw.Require(warden.Scopes("Entry_Read"))(echoPrincipal))
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.Empty(t, w.Header().Values("WWW-Authenticate"))
	assert.NotEmpty(t, w.Header().Get("Retry-After"))
	assert.Equal(t, `{"error":"temporarily_unavailable","error_description":"The access token cannot be verified right now"}`+"\n", w.Body.String())

	// Without LazyStart the same configuration fails at construction.
	_, err = warden.New(warden.Config{Issuers: []warden.IssuerConfig{{URL: iss.URL, Audience: iss.Audience, JWKSURL: deadURL}}})
	assert.Error(t, err)
}

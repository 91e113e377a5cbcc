package wardentest_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/wardentest"
)

// introspect posts form to the issuer's introspection endpoint with the
// given Basic credentials (none when id is empty) and Accept.
func introspect(t *testing.T, iss *wardentest.Issuer, path, id, secret, accept string, form url.Values) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, iss.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if id != "" {
		req.SetBasicAuth(id, secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// TestIntrospectionEndpoint: the issuer's RFC 7662 endpoint authenticates
// its callers, answers for its opaque tokens and JWTs until they expire or
// are revoked, and signs its answer when asked (RFC 9701).
func TestIntrospectionEndpoint(t *testing.T) {
	iss := wardentest.NewIssuer(t)
	iss.AddClient(wardentest.Client{ID: "rs", Secret: "rs-secret"})
	iss.AddClient(wardentest.Client{ID: "app", Secret: "app-secret", Scopes: []string{"read"}, Opaque: true})
	opaque := iss.MintOpaque(wardentest.Token{Claims: wardentest.Claims{"scope": "read", "sub": "alice"}})
	jwt := iss.Scoped("read")
	tok := func(v string) url.Values { return url.Values{"token": {v}, "token_type_hint": {"access_token"}} }

	var doc map[string]any
	resp, err := http.Get(iss.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if doc["introspection_endpoint"] != iss.IntrospectionURL() || doc["revocation_endpoint"] != iss.URL+"/oauth/revoke" {
		t.Errorf("discovery names %v and %v", doc["introspection_endpoint"], doc["revocation_endpoint"])
	}

	for _, tc := range []struct {
		name       string
		id, secret string
		form       url.Values
		status     int
		want       string
	}{
		{"opaque, Basic", "rs", "rs-secret", tok(opaque), 200, `"active":true`},
		{"opaque claims", "rs", "rs-secret", tok(opaque), 200, `"sub":"alice"`},
		{"JWT", "rs", "rs-secret", tok(jwt), 200, `"token_type":"Bearer"`},
		{"unknown", "rs", "rs-secret", tok("nope"), 200, `{"active":false}`},
		{"client_secret_post", "", "", url.Values{"token": {opaque}, "client_id": {"rs"}, "client_secret": {"rs-secret"}}, 200, `"active":true`},
		{"no credentials", "", "", tok(opaque), 401, "invalid_client"},
		{"wrong secret", "rs", "nope", tok(opaque), 401, "invalid_client"},
		{"no token", "rs", "rs-secret", url.Values{}, 400, "invalid_request"},
	} {
		status, _, body := introspect(t, iss, "/oauth/introspect", tc.id, tc.secret, "", tc.form)
		if status != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("%s: got %d %s, want %d and %s", tc.name, status, body, tc.status, tc.want)
		}
	}

	// RFC 9701: signed with the first key, typed, addressed to the caller.
	status, h, body := introspect(t, iss, "/oauth/introspect", "rs", "rs-secret", "application/token-introspection+jwt", tok(opaque))
	parts := strings.Split(body, ".")
	if status != 200 || h.Get("Content-Type") != "application/token-introspection+jwt" || len(parts) != 3 {
		t.Fatalf("signed answer: %d %q %q", status, h.Get("Content-Type"), body)
	}
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	pb, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if !strings.Contains(string(hb), `"typ":"token-introspection+jwt"`) || !strings.Contains(string(pb), `"aud":"rs"`) ||
		!strings.Contains(string(pb), `"token_introspection":{"active":true`) {
		t.Errorf("signed answer header %s payload %s", hb, pb)
	}

	// Revocation: RFC 7009 by the token's own client only; the method.
	appTok := iss.MintOpaque(wardentest.Token{Claims: wardentest.Claims{"client_id": "app", "scope": "read"}})
	if s, _, _ := introspect(t, iss, "/oauth/revoke", "rs", "rs-secret", "", tok(appTok)); s != 200 {
		t.Errorf("revocation by another client: %d, want 200 (and no effect)", s)
	}
	if _, _, body := introspect(t, iss, "/oauth/introspect", "rs", "rs-secret", "", tok(appTok)); !strings.Contains(body, `"active":true`) {
		t.Errorf("another client revoked the token: %s", body)
	}
	if s, _, _ := introspect(t, iss, "/oauth/revoke", "app", "app-secret", "", tok(appTok)); s != 200 {
		t.Errorf("revocation: %d, want 200", s)
	}
	iss.Revoke(jwt)
	for _, v := range []string{appTok, jwt} {
		if _, _, body := introspect(t, iss, "/oauth/introspect", "rs", "rs-secret", "", tok(v)); body != "{\"active\":false}\n" {
			t.Errorf("revoked token answered %s", body)
		}
	}
	iss.SetClock(func() time.Time { return time.Now().Add(time.Hour) })
	if _, _, body := introspect(t, iss, "/oauth/introspect", "rs", "rs-secret", "", tok(opaque)); !strings.Contains(body, `"active":false`) {
		t.Errorf("expired token answered %s", body)
	}
	resp, err = http.Get(iss.IntrospectionURL())
	if err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %v %v, want 405", resp, err)
	}
	resp.Body.Close()
	if n := iss.Introspections(); n < 10 {
		t.Errorf("Introspections() = %d, want every request counted", n)
	}
}

// TestIntrospectionEndpointOpaqueClient: a client registered with Opaque
// gets opaque tokens at the token endpoint.
func TestIntrospectionEndpointOpaqueClient(t *testing.T) {
	iss := wardentest.NewIssuer(t)
	iss.AddClient(wardentest.Client{ID: "app", Secret: "app-secret", Scopes: []string{"read"}, Opaque: true})
	form := url.Values{"grant_type": {"client_credentials"}}
	status, _, body := introspect(t, iss, "/oauth/token", "app", "app-secret", "", form)
	var r struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.Unmarshal([]byte(body), &r)
	if status != 200 || r.AccessToken == "" || strings.Contains(r.AccessToken, ".") {
		t.Fatalf("token endpoint: %d %s, want an opaque token", status, body)
	}
	iss.AddClient(wardentest.Client{ID: "rs", Secret: "rs-secret"})
	_, _, answer := introspect(t, iss, "/oauth/introspect", "rs", "rs-secret", "", url.Values{"token": {r.AccessToken}})
	if !strings.Contains(answer, `"active":true`) || !strings.Contains(answer, `"client_id":"app"`) || !strings.Contains(answer, `"scope":"read"`) {
		t.Errorf("introspection of the issued token: %s", answer)
	}
}

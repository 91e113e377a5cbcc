package main

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/wardenhq/warden/wardentest"
)

// TestDemoOpaque: the demo's opaque tokens reach every route with the
// same scope rules as its JWTs; a token revoked at the demo issuer is
// refused once its cached answer is older than -introspect-cache-ttl.
func TestDemoOpaque(t *testing.T) {
	s := start(t, "-introspect-cache-ttl", "1ns")
	opaque := s.token(t, "demo-opaque", "demo-opaque-secret", nil)
	if strings.Count(opaque, ".") == 2 {
		t.Fatalf("demo-opaque got a JWT")
	}
	for _, line := range []string{"demo-opaque        demo-opaque-secret", "OPAQUE=$(curl -s -u demo-opaque:demo-opaque-secret", "/oauth/revoke"} {
		if !strings.Contains(s.stdout.String(), line) {
			t.Errorf("the banner lacks %q", line)
		}
	}
	for _, c := range []call{
		{"entries, opaque", "GET", "/entries", bearer(opaque), 200, nil, "Hello, warden", "ok"},
		{"contenttypes, opaque", "GET", "/contenttypes", bearer(opaque), 200, nil, "blogPost", "ok"},
		{"create, opaque", "POST", "/entries", bearer(opaque), 403,
			[]string{`Bearer realm="api", error="insufficient_scope", scope="Entry_Write"`}, "insufficient_scope", "insufficient_scope"},
		{"whoami, opaque", "GET", "/whoami", bearer(opaque), 200, nil,
			`"subject":"demo-opaque","client_id":"demo-opaque","scopes":["Entry_Read","ContentType_Read"],"scheme":"Bearer"`, "ok"},
		{"unknown opaque token", "GET", "/entries", bearer("no-such-opaque-token"), 401,
			[]string{`Bearer realm="api", error="invalid_token", error_description="The access token is not active"`}, "invalid_token", "token_inactive"},
	} {
		t.Run(c.name, func(t *testing.T) { s.check(t, c) })
	}
	form := url.Values{"token": {opaque}}
	req, _ := http.NewRequest(http.MethodPost, s.base+"/oauth/revoke", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("demo-opaque", "demo-opaque-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %v %v", resp, err)
	}
	resp.Body.Close()
	s.check(t, call{"entries, revoked", "GET", "/entries", bearer(opaque), 401,
		[]string{`Bearer realm="api", error="invalid_token", error_description="The access token is not active"`}, "invalid_token", "token_inactive"})
	if strings.Contains(s.stderr.String(), opaque) {
		t.Errorf("the log contains the opaque token")
	}
}

// TestIssuerModeIntrospection: with -issuer, opaque tokens are
// introspected at -introspect, or at the endpoint of the issuer's
// discovery document when only the client credentials are given.
func TestIssuerModeIntrospection(t *testing.T) {
	iss := wardentest.NewIssuer(t)
	iss.Audience = "https://orders.example"
	iss.AddClient(wardentest.Client{ID: "orders-api", Secret: "orders-secret"})
	creds := []string{"-issuer", iss.URL, "-audience", iss.Audience, "-introspect-client-id", "orders-api", "-introspect-client-secret", "orders-secret"}
	for name, extra := range map[string][]string{
		"explicit":  {"-introspect", iss.IntrospectionURL()},
		"discovery": nil,
		"jwt":       {"-introspect-jwt"},
	} {
		t.Run(name, func(t *testing.T) {
			s := start(t, append(creds, extra...)...)
			tok := iss.MintOpaque(wardentest.Token{Claims: wardentest.Claims{"scope": "Project_Read"}})
			jwt := iss.Scoped("Project_Read")
			s.check(t, call{"projects, opaque", "GET", "/projects", bearer(tok), 200, nil, "Website", "ok"})
			s.check(t, call{"entries, opaque", "GET", "/entries", bearer(tok), 403,
				[]string{`Bearer realm="api", error="insufficient_scope", scope="Entry_Read"`}, "", "insufficient_scope"})
			s.check(t, call{"projects, JWT", "GET", "/projects", bearer(jwt), 200, nil, "Website", "ok"})
			before := iss.Introspections()
			iss.Revoke(jwt)
			s.check(t, call{"projects, JWT revoked at the issuer, cached", "GET", "/projects", bearer(jwt), 200, nil, "Website", "ok"})
			if name == "jwt" && iss.Introspections() != before {
				t.Errorf("a cached answer was asked again")
			}
		})
	}
}

// TestIntrospectFlagErrors: the introspection flags that make no sense.
func TestIntrospectFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-introspect", "https://as.example/introspect"}, "need -issuer"},
		{[]string{"-introspect-client-id", "x", "-introspect-client-secret", "y"}, "need -issuer"},
		{[]string{"-issuer", "https://as.example", "-audience", "a", "-introspect", "https://as.example/i"}, "-introspect needs -introspect-client-id"},
		{[]string{"-issuer", "https://as.example", "-audience", "a", "-introspect-client-id", "x"}, "go together"},
		{[]string{"-introspect-cache-ttl", "0s"}, "must be positive"},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append([]string{"-addr", "127.0.0.1:0"}, tc.args...), &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run(%q) = %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
}

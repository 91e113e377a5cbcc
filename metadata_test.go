package warden_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// TestMetadataURL checks the RFC 9728 §3.1 location of the document.
func TestMetadataURL(t *testing.T) {
	for _, tc := range []struct{ resource, want string }{
		{"https://api.example", "https://api.example/.well-known/oauth-protected-resource"},
		{"https://api.example/", "https://api.example/.well-known/oauth-protected-resource"},
		{"https://api.example/v1", "https://api.example/.well-known/oauth-protected-resource/v1"},
		{"https://api.example/v1/", "https://api.example/.well-known/oauth-protected-resource/v1"},
		{"https://api.example:8443/a/b?tenant=x", "https://api.example:8443/.well-known/oauth-protected-resource/a/b?tenant=x"},
		{"http://127.0.0.1:8080/api", "http://127.0.0.1:8080/.well-known/oauth-protected-resource/api"},
	} {
		got, err := warden.MetadataURL(tc.resource)
		if err != nil || got != tc.want {
			t.Errorf("MetadataURL(%q) = %q, %v; want %q", tc.resource, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "api.example", "/v1", "http://api.example", "https://api.example/#top", "https://api.example/#", "https://u:p@api.example", "ftp://api.example"} {
		if got, err := warden.MetadataURL(bad); err == nil {
			t.Errorf("MetadataURL(%q) = %q, want an error", bad, got)
		}
	}
}

func metadataMiddleware(t *testing.T, mutate func(*warden.Config)) (*warden.Middleware, *wardentest.Issuer) {
	t.Helper()
	iss := wardentest.NewIssuer(t)
	cfg := warden.Config{
		Issuers: []warden.IssuerConfig{{
			URL:      iss.URL,
			Audience: iss.Audience,
			JWKS:     wardentest.JWKS(iss.Keys()...),
		}},
		Clients: decClients{},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	mw, err := warden.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return mw, iss
}

func getMetadata(t *testing.T, h http.Handler) map[string]any {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/.well-known/oauth-protected-resource", nil))
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("got %d %q, want 200 application/json", w.Code, w.Header().Get("Content-Type"))
	}
	var doc map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatalf("document %q: %v", w.Body, err)
	}
	return doc
}

func strs(v any) []string {
	var out []string
	for _, s := range v.([]any) {
		out = append(out, s.(string))
	}
	return out
}

// TestMetadataDocument checks every member of the document (RFC 9728 §2).
func TestMetadataDocument(t *testing.T) {
	const other = "https://login.other.example"
	mw, iss := metadataMiddleware(t, func(c *warden.Config) {
		c.Issuers = append(c.Issuers, warden.IssuerConfig{URL: other, SkipAudienceCheck: true, JWKS: wardentest.JWKS(wardentest.NewECKey("o-1"))})
	})
	mw.Require(warden.Scopes("entry:read", "entry:write"))
	mw.Require(warden.AnyScope("entry:admin", "entry:read"))
	mw.Accept(warden.SchemeBearer, warden.SchemeBasic).Require(warden.Scopes("report:run"))
	mw.Authenticate(http.NotFoundHandler())

	h, err := mw.MetadataHandler(warden.ResourceMetadata{
		Resource:              "https://api.example.test",
		ResourceName:          "Entries API",
		ResourceDocumentation: "https://docs.example.test/api",
		ResourcePolicyURI:     "https://example.test/policy",
		ResourceTOSURI:        "https://example.test/tos",
	})
	if err != nil {
		t.Fatal(err)
	}
	doc := getMetadata(t, h)
	want := map[string]any{
		"resource":                 "https://api.example.test",
		"authorization_servers":    []string{iss.URL, other},
		"scopes_supported":         []string{"entry:admin", "entry:read", "entry:write", "report:run"},
		"bearer_methods_supported": []string{"header"},
		"resource_name":            "Entries API",
		"resource_documentation":   "https://docs.example.test/api",
		"resource_policy_uri":      "https://example.test/policy",
		"resource_tos_uri":         "https://example.test/tos",
	}
	if got, w := slices.Sorted(maps.Keys(doc)), slices.Sorted(maps.Keys(want)); !slices.Equal(got, w) {
		t.Fatalf("got members %v, want exactly %v", got, w)
	}
	for k, v := range want {
		if s, ok := v.([]string); ok {
			if got := strs(doc[k]); !slices.Equal(got, s) {
				t.Errorf("%s: got %v, want %v", k, got, s)
			}
		} else if doc[k] != v {
			t.Errorf("%s: got %v, want %v", k, doc[k], v)
		}
	}

	// A route built after the handler is advertised too.
	mw.Require(warden.Scopes("audit:read"))
	if got := strs(getMetadata(t, h)["scopes_supported"]); !slices.Contains(got, "audit:read") {
		t.Errorf("scopes_supported %v lacks a route added later", got)
	}
}

// TestMetadataDefaultsAndOverrides: only resource and the derived members
// appear by default; explicit servers and scopes replace the derived ones.
func TestMetadataDefaultsAndOverrides(t *testing.T) {
	mw, iss := metadataMiddleware(t, nil)
	h, err := mw.MetadataHandler(warden.ResourceMetadata{Resource: "https://api.example.test/v1"})
	if err != nil {
		t.Fatal(err)
	}
	doc := getMetadata(t, h)
	if got := slices.Sorted(maps.Keys(doc)); !slices.Equal(got, []string{"authorization_servers", "bearer_methods_supported", "resource"}) {
		t.Errorf("no routes, no names: got members %v", got)
	}
	if got := strs(doc["authorization_servers"]); !slices.Equal(got, []string{iss.URL}) {
		t.Errorf("got authorization_servers %v", got)
	}

	h, err = mw.MetadataHandler(warden.ResourceMetadata{
		Resource:             "https://api.example.test/v1",
		AuthorizationServers: []string{"https://as.example.test"},
		ScopesSupported:      []string{"b", "a"},
	})
	if err != nil {
		t.Fatal(err)
	}
	mw.Require(warden.Scopes("ignored"))
	doc = getMetadata(t, h)
	if got := strs(doc["authorization_servers"]); !slices.Equal(got, []string{"https://as.example.test"}) {
		t.Errorf("override: got authorization_servers %v", got)
	}
	if got := strs(doc["scopes_supported"]); !slices.Equal(got, []string{"b", "a"}) {
		t.Errorf("override: got scopes_supported %v", got)
	}
}

// TestMetadataBearerMethods: RFC 6750 §2.2 body and §2.3 query appear only
// when enabled.
func TestMetadataBearerMethods(t *testing.T) {
	for _, tc := range []struct {
		query, form bool
		want        []string
	}{
		{false, false, []string{"header"}},
		{false, true, []string{"header", "body"}},
		{true, false, []string{"header", "query"}},
		{true, true, []string{"header", "body", "query"}},
	} {
		mw, _ := metadataMiddleware(t, func(c *warden.Config) { c.AllowQueryToken, c.AllowFormToken = tc.query, tc.form })
		h, err := mw.MetadataHandler(warden.ResourceMetadata{Resource: "https://api.example.test"})
		if err != nil {
			t.Fatal(err)
		}
		if got := strs(getMetadata(t, h)["bearer_methods_supported"]); !slices.Equal(got, tc.want) {
			t.Errorf("query %v form %v: got %v, want %v", tc.query, tc.form, got, tc.want)
		}
	}
}

// TestMetadataHandlerErrors: a document warden cannot publish correctly is
// refused when the handler is built.
func TestMetadataHandlerErrors(t *testing.T) {
	mw, _ := metadataMiddleware(t, nil)
	for name, md := range map[string]warden.ResourceMetadata{
		"no resource":            {},
		"http resource":          {Resource: "http://api.example.test"},
		"fragment":               {Resource: "https://api.example.test/#x"},
		"relative documentation": {Resource: "https://api.example.test", ResourceDocumentation: "/docs"},
		"bad scope":              {Resource: "https://api.example.test", ScopesSupported: []string{`a"b`}},
	} {
		if _, err := mw.MetadataHandler(md); err == nil {
			t.Errorf("%s: got no error", name)
		}
	}
}

// TestMetadataHandlerMethods: GET and HEAD only; no authentication needed.
func TestMetadataHandlerMethods(t *testing.T) {
	mw, _ := metadataMiddleware(t, nil)
	h, err := mw.MetadataHandler(warden.ResourceMetadata{Resource: "https://api.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		method   string
		code     int
		withBody bool
	}{{http.MethodGet, 200, true}, {http.MethodHead, 200, false}, {http.MethodPost, 405, true}, {http.MethodDelete, 405, true}} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(tc.method, "/.well-known/oauth-protected-resource", nil))
		if w.Code != tc.code || (w.Body.Len() > 0) != tc.withBody {
			t.Errorf("%s: got %d with %d body bytes, want %d", tc.method, w.Code, w.Body.Len(), tc.code)
		}
	}
}

// TestResourceMetadataChallenge checks the RFC 9728 §5.1 resource_metadata
// auth-param: in every Bearer challenge when configured, never in Basic ones
// or when unset.
func TestResourceMetadataChallenge(t *testing.T) {
	const mdURL = "https://api.example.test/.well-known/oauth-protected-resource"
	const param = `resource_metadata="` + mdURL + `"`
	for _, configured := range []bool{true, false} {
		mw, iss := metadataMiddleware(t, func(c *warden.Config) {
			if configured {
				c.ResourceMetadataURL = mdURL
			}
		})
		h := mw.Accept(warden.SchemeBearer, warden.SchemeBasic).Require(warden.Scopes("entry:read"))(http.NotFoundHandler())
		for _, tc := range []struct {
			name, auth string
			status     int
			want       []string // challenges, with {} where the parameter goes
		}{
			{"no credentials", "", 401, []string{`Bearer realm="api"{}`, `Basic realm="api", charset="UTF-8"`}},
			{"invalid token", "Bearer abc.def", 401, []string{`Bearer realm="api"{}, error="invalid_token", error_description="The access token is malformed"`}},
			{"insufficient scope", "Bearer " + iss.Scoped("other"), 403, []string{`Bearer realm="api"{}, error="insufficient_scope", scope="entry:read"`}},
			{"bad basic", decBasic("c1", "nope"), 401, []string{`Basic realm="api", charset="UTF-8"`}},
		} {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			var want []string
			for _, c := range tc.want {
				p := ""
				if configured {
					p = ", " + param
				}
				want = append(want, strings.Replace(c, "{}", p, 1))
			}
			if got := w.Header().Values("WWW-Authenticate"); w.Code != tc.status || !slices.Equal(got, want) {
				t.Errorf("configured %v, %s: got %d %q, want %d %q", configured, tc.name, w.Code, got, tc.status, want)
			}
		}
	}
	if _, err := warden.New(warden.Config{
		Issuers: []warden.IssuerConfig{{
			URL:               "https://i.example",
			SkipAudienceCheck: true,
			HMACSecret:        make([]byte, 32),
		}},
		ResourceMetadataURL: "http://api.example.test/.well-known/oauth-protected-resource"}); err == nil {
		t.Error("a plain-http ResourceMetadataURL on a public host was accepted")
	}
}

// ExampleMiddleware_MetadataHandler publishes the RFC 9728 document of an
// API and points clients at it from every Bearer challenge.
func ExampleMiddleware_MetadataHandler() {
	const resource = "https://api.example/v1"
	mdURL, err := warden.MetadataURL(resource)
	if err != nil {
		panic(err)
	}
	mw, err := warden.New(warden.Config{
		Issuers: []warden.IssuerConfig{{
			URL:      "https://idp.example",
			Audience: resource,
			JWKS:     wardentest.JWKS(wardentest.NewECKey("k1")),
		}},
		ResourceMetadataURL: mdURL,
	})
	if err != nil {
		panic(err)
	}
	md, err := mw.MetadataHandler(warden.ResourceMetadata{Resource: resource, ResourceName: "Entries"})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /v1/entries", mw.Require(warden.AnyScope("entry:read", "entry:admin"))(http.NotFoundHandler()))
	mux.Handle("GET /.well-known/oauth-protected-resource/v1", md)

	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/v1/entries", nil))
	fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"))

	w = httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/.well-known/oauth-protected-resource/v1", nil))
	fmt.Print(w.Body)
	// Output:
	// 401 Bearer realm="api", resource_metadata="https://api.example/.well-known/oauth-protected-resource/v1"
	// {"resource":"https://api.example/v1","authorization_servers":["https://idp.example"],"scopes_supported":["entry:admin","entry:read"],"bearer_methods_supported":["header"],"resource_name":"Entries"}
}

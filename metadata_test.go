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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// TestMetadataURL checks the RFC 9728 §3.1 location of the document.
func TestMetadataURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ resource, want string }{
		{"https://api.example", "https://api.example/.well-known/oauth-protected-resource"},
		{"https://api.example/", "https://api.example/.well-known/oauth-protected-resource"},
		{"https://api.example/v1", "https://api.example/.well-known/oauth-protected-resource/v1"},
		{"https://api.example/v1/", "https://api.example/.well-known/oauth-protected-resource/v1"},
		{"https://api.example:8443/a/b?tenant=x", "https://api.example:8443/.well-known/oauth-protected-resource/a/b?tenant=x"},
		{"http://127.0.0.1:8080/api", "http://127.0.0.1:8080/.well-known/oauth-protected-resource/api"},
	} {
		got, err := warden.MetadataURL(tc.resource)
		if assert.NoError(t, err, tc.resource) {
			assert.Equal(t, tc.want, got, tc.resource)
		}
	}
	for _, bad := range []string{"", "api.example", "/v1", "http://api.example", "https://api.example/#top", "https://api.example/#", "https://u:p@api.example", "ftp://api.example"} {
		got, err := warden.MetadataURL(bad)
		assert.Error(t, err, "MetadataURL(%q) = %q", bad, got)
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
		Clients: stubClients{},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	return newMiddleware(t, cfg), iss
}

func getMetadata(t *testing.T, h http.Handler) map[string]any {
	t.Helper()
	w := request{path: "/.well-known/oauth-protected-resource"}.do(h)
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, "application/json", w.Header().Get("Content-Type"))
	var doc map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &doc), "document %q", w.Body)
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
	t.Parallel()
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
	require.NoError(t, err)
	doc := getMetadata(t, h)
	want := map[string]any{
		"resource":                                   "https://api.example.test",
		"authorization_servers":                      []string{iss.URL, other},
		"scopes_supported":                           []string{"entry:admin", "entry:read", "entry:write", "report:run"},
		"bearer_methods_supported":                   []string{"header"},
		"resource_name":                              "Entries API",
		"resource_documentation":                     "https://docs.example.test/api",
		"resource_policy_uri":                        "https://example.test/policy",
		"resource_tos_uri":                           "https://example.test/tos",
		"dpop_signing_alg_values_supported":          []string{"ES256", "ES384", "ES512", "EdDSA", "PS256", "PS384", "PS512", "RS256", "RS384", "RS512"},
		"tls_client_certificate_bound_access_tokens": true,
	}
	require.Equal(t, slices.Sorted(maps.Keys(want)), slices.Sorted(maps.Keys(doc)), "members")
	for k, v := range want {
		if s, ok := v.([]string); ok {
			assert.Equal(t, s, strs(doc[k]), k)
		} else {
			assert.Equal(t, v, doc[k], k)
		}
	}

	// A route built after the handler is advertised too.
	mw.Require(warden.Scopes("audit:read"))
	assert.Contains(t, strs(getMetadata(t, h)["scopes_supported"]), "audit:read", "scopes_supported lacks a route added later")
}

// TestMetadataDefaultsAndOverrides: only resource and the derived members
// appear by default; explicit servers and scopes replace the derived ones.
func TestMetadataDefaultsAndOverrides(t *testing.T) {
	t.Parallel()
	mw, iss := metadataMiddleware(t, nil)
	h, err := mw.MetadataHandler(warden.ResourceMetadata{Resource: "https://api.example.test/v1"})
	require.NoError(t, err)
	doc := getMetadata(t, h)
	assert.Equal(t, []string{"authorization_servers", "bearer_methods_supported", "dpop_signing_alg_values_supported", "resource", "tls_client_certificate_bound_access_tokens"}, slices.Sorted(maps.Keys(doc)), "no routes, no names: members")
	assert.Equal(t, []string{iss.URL}, strs(doc["authorization_servers"]))

	h, err = mw.MetadataHandler(warden.ResourceMetadata{
		Resource:             "https://api.example.test/v1",
		AuthorizationServers: []string{"https://as.example.test"},
		ScopesSupported:      []string{"b", "a"},
	})
	require.NoError(t, err)
	mw.Require(warden.Scopes("ignored"))
	doc = getMetadata(t, h)
	assert.Equal(t, []string{"https://as.example.test"}, strs(doc["authorization_servers"]), "override")
	assert.Equal(t, []string{"b", "a"}, strs(doc["scopes_supported"]), "override")
}

// TestMetadataBearerMethods: RFC 6750 §2.2 body and §2.3 query appear only
// when enabled.
func TestMetadataBearerMethods(t *testing.T) {
	t.Parallel()
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
		require.NoError(t, err)
		assert.Equal(t, tc.want, strs(getMetadata(t, h)["bearer_methods_supported"]), "query %v form %v", tc.query, tc.form)
	}
}

// TestMetadataHandlerErrors: a document warden cannot publish correctly is
// refused when the handler is built.
func TestMetadataHandlerErrors(t *testing.T) {
	t.Parallel()
	mw, _ := metadataMiddleware(t, nil)
	for name, md := range map[string]warden.ResourceMetadata{
		"no resource":            {},
		"http resource":          {Resource: "http://api.example.test"},
		"fragment":               {Resource: "https://api.example.test/#x"},
		"relative documentation": {Resource: "https://api.example.test", ResourceDocumentation: "/docs"},
		"bad scope":              {Resource: "https://api.example.test", ScopesSupported: []string{`a"b`}},
	} {
		_, err := mw.MetadataHandler(md)
		assert.Error(t, err, name)
	}
}

// TestMetadataHandlerMethods: GET and HEAD only; no authentication needed.
func TestMetadataHandlerMethods(t *testing.T) {
	t.Parallel()
	mw, _ := metadataMiddleware(t, nil)
	h, err := mw.MetadataHandler(warden.ResourceMetadata{Resource: "https://api.example.test"})
	require.NoError(t, err)
	for _, tc := range []struct {
		method   string
		code     int
		withBody bool
	}{{http.MethodGet, 200, true}, {http.MethodHead, 200, false}, {http.MethodPost, 405, true}, {http.MethodDelete, 405, true}} {
		w := request{method: tc.method, path: "/.well-known/oauth-protected-resource"}.do(h)
		assert.Equal(t, tc.code, w.Code, tc.method)
		assert.Equal(t, tc.withBody, w.Body.Len() > 0, "%s: a body of %d bytes", tc.method, w.Body.Len())
	}
}

// TestResourceMetadataChallenge checks the RFC 9728 §5.1 resource_metadata
// auth-param: in every Bearer challenge when configured, never in Basic ones
// or when unset.
func TestResourceMetadataChallenge(t *testing.T) {
	t.Parallel()
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
			{"no credentials", "", 401, []string{`Bearer realm="api"{}`, `DPoP realm="api"{}, algs="ES256 ES384 ES512 EdDSA PS256 PS384 PS512 RS256 RS384 RS512"`, `Basic realm="api", charset="UTF-8"`}},
			{"invalid token", "Bearer abc.def", 401, []string{`Bearer realm="api"{}, error="invalid_token", error_description="The access token is malformed"`}},
			{"insufficient scope", "Bearer " + iss.Scoped("other"), 403, []string{`Bearer realm="api"{}, error="insufficient_scope", scope="entry:read"`}},
			{"bad basic", basicAuth("c1:nope"), 401, []string{`Basic realm="api", charset="UTF-8"`}},
		} {
			rq := request{}
			if tc.auth != "" {
				rq.auth = []string{tc.auth}
			}
			w := rq.do(h)
			var want []string
			for _, c := range tc.want {
				p := ""
				if configured {
					p = ", " + param
				}
				want = append(want, strings.Replace(c, "{}", p, 1))
			}
			assert.Equal(t, tc.status, w.Code, "configured %v, %s", configured, tc.name)
			assert.Equal(t, want, w.Header().Values("WWW-Authenticate"), "configured %v, %s", configured, tc.name)
		}
	}
	_, err := warden.New(warden.Config{
		Issuers: []warden.IssuerConfig{{
			URL:               "https://i.example",
			SkipAudienceCheck: true,
			HMACSecret:        make([]byte, 32),
		}},
		ResourceMetadataURL: "http://api.example.test/.well-known/oauth-protected-resource"})
	assert.Error(t, err, "a plain-http ResourceMetadataURL on a public host")
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
	// {"resource":"https://api.example/v1","authorization_servers":["https://idp.example"],"scopes_supported":["entry:admin","entry:read"],"bearer_methods_supported":["header"],"resource_name":"Entries","tls_client_certificate_bound_access_tokens":true,"dpop_signing_alg_values_supported":["ES256","ES384","ES512","EdDSA","PS256","PS384","PS512","RS256","RS384","RS512"]}
}

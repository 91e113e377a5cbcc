package warden_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// exampleIdP stands in for a real identity provider in the examples of
// requirements: one in-process issuer, started on first use.
var exampleIdP = sync.OnceValue(wardentest.StartIssuer)

// exampleMiddleware trusts exampleIdP, with cfg's other settings.
func exampleMiddleware(cfg warden.Config) *warden.Middleware {
	idp := exampleIdP()
	cfg.Issuers = []warden.IssuerConfig{{URL: idp.URL, Audience: idp.Audience, JWKS: wardentest.JWKS(idp.Keys()...)}}
	mw, err := warden.New(cfg)
	if err != nil {
		panic(err)
	}
	return mw
}

// show sends one request with token (none when empty) to h and prints the
// status, each challenge and the body.
func show(h http.Handler, token string) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Println(w.Code, strings.Join(w.Header().Values("WWW-Authenticate"), " | "), strings.TrimSpace(w.Body.String()))
}

var exampleOK = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") })

// A route that needs Entry_Read and one of Report_Read or Report_Admin.
// The challenge names every scope the requirement names.
func ExampleAll() {
	idp := exampleIdP()
	mw := exampleMiddleware(warden.Config{})
	reports := mw.Require(warden.All(warden.Scopes("Entry_Read"), warden.AnyScope("Report_Read", "Report_Admin")))(exampleOK)
	// The same: mw.Require(warden.Scopes("Entry_Read"), warden.AnyScope("Report_Read", "Report_Admin"))

	show(reports, idp.Scoped("Entry_Read Report_Admin"))
	show(reports, idp.Scoped("Entry_Read"))
	// Output:
	// 200  ok
	// 403 Bearer realm="api", error="insufficient_scope", scope="Entry_Read Report_Read Report_Admin" {"error":"insufficient_scope","error_description":"The request requires higher privileges than provided by the access token"}
}

// Any admits a request meeting one of its alternatives; when none is met,
// the refusal is the one closest to passing.
func ExampleAny() {
	idp := exampleIdP()
	mw := exampleMiddleware(warden.Config{RoleClaims: []string{"realm_access.roles"}})
	admin := mw.Require(warden.Any(warden.Roles("admin"), warden.Scopes("Entry_Admin")))(exampleOK)

	show(admin, idp.Mint(wardentest.Token{Claims: wardentest.Claims{"realm_access": map[string]any{"roles": []string{"admin"}}}}))
	show(admin, idp.Scoped("Entry_Read"))
	// Output:
	// 200  ok
	// 403 Bearer realm="api", error="insufficient_scope", scope="Entry_Admin" {"error":"insufficient_scope","error_description":"The request requires higher privileges than provided by the access token"}
}

// Roles are read from the claims Config.RoleClaims names, here Keycloak's
// realm roles and one client's roles. A missing role is a 403 without a
// challenge: roles are not scopes a client could ask for.
func ExampleRoles() {
	idp := exampleIdP()
	mw := exampleMiddleware(warden.Config{RoleClaims: []string{"realm_access.roles", "resource_access.reports-api.roles"}})
	h := mw.Require(warden.Roles("report-viewer"))(exampleOK)

	show(h, idp.Mint(wardentest.Token{Claims: wardentest.Claims{
		"resource_access": map[string]any{"reports-api": map[string]any{"roles": []string{"report-viewer"}}},
	}}))
	show(h, idp.Mint(wardentest.Token{Claims: wardentest.Claims{"realm_access": map[string]any{"roles": []string{"Report-Viewer"}}}}))
	// Output:
	// 200  ok
	// 403  {"error":"access_denied","error_description":"The principal lacks a role this resource requires"}
}

// Step-up authentication (RFC 9470): the route needs a multi-factor login
// no older than five minutes; the challenge tells the client what to ask
// the authorization server for.
func ExampleStepUp() {
	idp := exampleIdP()
	mw := exampleMiddleware(warden.Config{})
	h := mw.Require(warden.StepUp(5*time.Minute, "mfa"))(exampleOK)

	now := time.Now().Unix()
	show(h, idp.Mint(wardentest.Token{Claims: wardentest.Claims{"acr": "mfa", "auth_time": now - 60}}))
	show(h, idp.Mint(wardentest.Token{Claims: wardentest.Claims{"acr": "pwd", "auth_time": now - 60}}))
	// Output:
	// 200  ok
	// 401 Bearer realm="api", error="insufficient_user_authentication", error_description="A different or more recent user authentication is required", acr_values="mfa", max_age="300" {"error":"insufficient_user_authentication","error_description":"A different or more recent user authentication is required"}
}

// Claim checks a claim warden does not model, typed: here the tenant of a
// multi-tenant token.
func ExampleClaim() {
	idp := exampleIdP()
	mw := exampleMiddleware(warden.Config{})
	h := mw.Require(warden.Claim("tid", func(tid string) bool { return tid == "contoso" }))(exampleOK)

	show(h, idp.Mint(wardentest.Token{Claims: wardentest.Claims{"tid": "contoso"}}))
	show(h, idp.Mint(wardentest.Token{Claims: wardentest.Claims{"tid": "fabrikam"}}))
	// Output:
	// 200  ok
	// 403  {"error":"access_denied","error_description":"The access token's claims do not permit this request"}
}

// Clients restricts a route to some clients of the issuer: another
// client's valid token is refused 403.
func ExampleClients() {
	idp := exampleIdP()
	mw := exampleMiddleware(warden.Config{})
	h := mw.Require(warden.Clients("billing-service"))(exampleOK)

	show(h, idp.Mint(wardentest.Token{Claims: wardentest.Claims{"client_id": "billing-service"}}))
	show(h, idp.Mint(wardentest.Token{Claims: wardentest.Claims{"client_id": "web-app"}}))
	// Output:
	// 200  ok
	// 403  {"error":"access_denied","error_description":"The client is not allowed to use this resource"}
}

// An issuer trusted for two audiences; one route takes only tokens minted
// for its own, and a token for the other is invalid there.
func ExampleAudience() {
	idp := exampleIdP()
	mw, _ := warden.New(warden.Config{Issuers: []warden.IssuerConfig{{
		URL: idp.URL, Audience: idp.Audience, Audiences: []string{"https://reports.example.test"}, JWKS: wardentest.JWKS(idp.Keys()...),
	}}})
	h := mw.Require(warden.Audience("https://reports.example.test"))(exampleOK)

	show(h, idp.Mint(wardentest.Token{Claims: wardentest.Claims{"aud": "https://reports.example.test"}}))
	show(h, idp.Mint(wardentest.Token{}))
	// Output:
	// 200  ok
	// 401 Bearer realm="api", error="invalid_token", error_description="The access token is not intended for this resource" {"error":"invalid_token","error_description":"The access token is not intended for this resource"}
}

// Issuer restricts a route to the tokens of one of several trusted
// issuers.
func ExampleIssuer() {
	idp, partner := exampleIdP(), wardentest.StartIssuer()
	defer partner.Close()
	mw, _ := warden.New(warden.Config{Issuers: []warden.IssuerConfig{
		{URL: idp.URL, Audience: idp.Audience, JWKS: wardentest.JWKS(idp.Keys()...)},
		{URL: partner.URL, Audience: partner.Audience, JWKS: wardentest.JWKS(partner.Keys()...)},
	}})
	internal := mw.Require(warden.Issuer(idp.URL))(exampleOK)

	show(internal, idp.Mint(wardentest.Token{}))
	show(internal, partner.Mint(wardentest.Token{}))
	// Output:
	// 200  ok
	// 401 Bearer realm="api", error="invalid_token", error_description="The access token issuer is not trusted" {"error":"invalid_token","error_description":"The access token issuer is not trusted"}
}

// Optional admits anonymous requests and authenticated ones, but never a
// request with a bad token.
func ExampleMiddleware_Optional() {
	idp := exampleIdP()
	mw := exampleMiddleware(warden.Config{})
	feed := mw.Optional(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, ok := warden.PrincipalFrom(r.Context()); ok {
			fmt.Fprint(w, "feed for ", p.Subject())
			return
		}
		fmt.Fprint(w, "public feed")
	}))

	show(feed, "")
	show(feed, idp.Mint(wardentest.Token{}))
	show(feed, idp.Mint(wardentest.Token{Claims: wardentest.Claims{"exp": time.Now().Add(-time.Hour).Unix()}}))
	// Output:
	// 200  public feed
	// 200  feed for user-1
	// 401 Bearer realm="api", error="invalid_token", error_description="The access token expired" {"error":"invalid_token","error_description":"The access token expired"}
}

// Check makes a check only the handler can make: an MCP-style endpoint
// where each tool has a scope of its own. A refusal is the one a route
// requiring the scope would write.
func ExampleMiddleware_Check() {
	idp := exampleIdP()
	mw := exampleMiddleware(warden.Config{})
	tools := mw.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tool := r.URL.Query().Get("name") // in MCP: the tools/call request's name
		if tool != "search" && tool != "delete" {
			http.NotFound(w, r) // only known tool names reach the challenge
			return
		}
		if !mw.Check(w, r, warden.Scopes("tool:"+tool)) {
			return
		}
		fmt.Fprint(w, "ran ", tool)
	}))

	token := idp.Scoped("tool:search")
	for _, tool := range []string{"search", "delete"} {
		r := httptest.NewRequest(http.MethodPost, "/tools?name="+tool, nil)
		r.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		tools.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"), strings.TrimSpace(w.Body.String()))
	}
	// Output:
	// 200  ran search
	// 403 Bearer realm="api", error="insufficient_scope", scope="tool:delete" {"error":"insufficient_scope","error_description":"The request requires higher privileges than provided by the access token"}
}

// Authorize checks a requirement without HTTP, for example in a gRPC
// interceptor that maps each method to a Requirement.
func ExampleMiddleware_Authorize() {
	idp := exampleIdP()
	mw := exampleMiddleware(warden.Config{})
	methods := map[string]warden.Requirement{
		"/reports.v1.Reports/Get":    warden.Scopes("Report_Read"),
		"/reports.v1.Reports/Delete": warden.All(warden.Scopes("Report_Admin"), warden.StepUp(5*time.Minute)),
	}
	ctx := context.Background()
	p, err := mw.Verify(ctx, idp.Scoped("Report_Read"))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range []string{"/reports.v1.Reports/Get", "/reports.v1.Reports/Delete"} {
		err := mw.Authorize(ctx, p, methods[m])
		var we *warden.Error
		if errors.As(err, &we) {
			fmt.Println(m, we.Status(), we.Reason)
			continue
		}
		fmt.Println(m, err)
	}
	// Output:
	// /reports.v1.Reports/Get <nil>
	// /reports.v1.Reports/Delete 401 insufficient_user_authentication
}

// A multi-tenant issuer: one template URL, an allow-list of tenants, and a
// discovery document per tenant that must name that tenant's issuer.
func ExampleTenantPolicy() {
	// Two tenants of one identity provider, each a path on one server.
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	tenants := map[string]*wardentest.Issuer{}
	for _, t := range []string{"contoso", "fabrikam"} {
		tenants[t] = wardentest.NewIssuerAt(srv.URL + "/" + t + "/v2.0")
		mux.Handle("/"+t+"/v2.0/", http.StripPrefix("/"+t+"/v2.0", tenants[t]))
	}

	mw, err := warden.New(warden.Config{Issuers: []warden.IssuerConfig{{
		URL:      srv.URL + "/{tenant}/v2.0",
		Audience: wardentest.DefaultAudience,
		Tenants:  warden.TenantPolicy{Allowed: []string{"contoso"}},
	}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer mw.Close()
	h := mw.Authenticate(exampleOK)

	show(h, tenants["contoso"].Mint(wardentest.Token{}))
	show(h, tenants["fabrikam"].Mint(wardentest.Token{}))
	// Output:
	// 200  ok
	// 401 Bearer realm="api", error="invalid_token", error_description="The access token issuer is not trusted" {"error":"invalid_token","error_description":"The access token issuer is not trusted"}
}

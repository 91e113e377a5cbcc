package warden_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// This file tests optional authentication (Middleware.Optional) and the
// checks made inside handlers (Middleware.Check, Middleware.Authorize).

// TestOptional checks that a route open to anonymous callers admits a
// request without credentials, and refuses any credentials that are not
// valid exactly as an authenticated route does.
func TestOptional(t *testing.T) {
	t.Parallel()
	f := newReqFixture(t, nil)
	var anonymous, named int
	h := f.mw.Optional(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, ok := warden.PrincipalFrom(r.Context()); ok {
			named++
			w.Header().Set("X-Subject", p.Subject())
		} else {
			anonymous++
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	expired := f.token(wardentest.Claims{"exp": reqNow.Add(-time.Hour).Unix()})
	rows := []struct {
		name string
		auth []string
		want reqWant
	}{
		{"no credentials: anonymous", nil, reqOK},
		{"empty Authorization: anonymous", []string{""}, reqOK},
		{"valid token: the principal", []string{"Bearer " + f.token(nil)}, reqOK},
		{"expired token: refused", []string{"Bearer " + expired}, reqWant{401,
			[]string{`Bearer realm="api", error="invalid_token", error_description="The access token expired"`},
			`{"error":"invalid_token","error_description":"The access token expired"}` + "\n", warden.ReasonExpired}},
		{"garbage token: refused", []string{"Bearer abc.def"}, reqWant{401,
			[]string{`Bearer realm="api", error="invalid_token", error_description="The access token is malformed"`},
			`{"error":"invalid_token","error_description":"The access token is malformed"}` + "\n", warden.ReasonMalformedToken}},
		{"scheme not taken: refused", []string{"Token abc"}, reqWant{401, []string{bareBearer, bareDPoP}, bodyNone, warden.ReasonUnsupportedScheme}},
		{"Basic on a Bearer route: refused", []string{basicAuth("dir-client:dir-secret")}, reqWant{401, []string{bareBearer, bareDPoP}, bodyNone, warden.ReasonUnsupportedScheme}},
		{"two Authorization fields: refused", []string{"Bearer a", "Bearer b"}, reqWant{400,
			[]string{`Bearer realm="api", error="invalid_request", error_description="The request is malformed"`},
			`{"error":"invalid_request","error_description":"The request is malformed"}` + "\n", warden.ReasonMalformedRequest}},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			f.decisions.take()
			anonymous, named = 0, 0
			r := httptest.NewRequest(http.MethodGet, "/feed", nil)
			for _, a := range row.auth {
				r.Header.Add("Authorization", a)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			checkResponse(t, w, row.want)
			if ds := f.decisions.take(); len(ds) != 1 || ds[0].Reason != row.want.reason {
				t.Errorf("got decisions %+v, want one %q", ds, row.want.reason)
			}
			switch {
			case row.want.reason != warden.ReasonOK && anonymous+named != 0:
				t.Errorf("the handler ran for a refused request")
			case row.name == "valid token: the principal" && (named != 1 || w.Header().Get("X-Subject") != "user-1"):
				t.Errorf("the handler did not see the principal")
			case row.want.reason == warden.ReasonOK && row.name != "valid token: the principal" && anonymous != 1:
				t.Errorf("the handler did not run anonymously")
			}
		})
	}
}

// toolHandler is an MCP-like endpoint: one route, a scope per tool,
// checked inside the handler.
func toolHandler(mw *warden.Middleware, ran *[]string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("tool")
		if !mw.Check(w, r, warden.Scopes("tool:"+name)) {
			return
		}
		*ran = append(*ran, name)
		w.WriteHeader(http.StatusNoContent)
	})
}

// TestCheckWritesTheRouteRefusal checks that a refusal written by Check is
// byte for byte the one a route with the same requirement writes, with the
// same decision, for every kind of refusal.
func TestCheckWritesTheRouteRefusal(t *testing.T) {
	t.Parallel()
	for _, cfg := range []struct {
		name   string
		mutate func(*warden.Config)
	}{
		{"default", nil},
		{"resource metadata and exposed reason", func(c *warden.Config) {
			c.ResourceMetadataURL = "https://api.example.test/.well-known/oauth-protected-resource"
			c.ExposeReason = true
		}},
		{"error handler", func(c *warden.Config) {
			c.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, e *warden.Error) {
				fmt.Fprintf(w, "custom %s %v", e.Reason, e.Scopes)
			}
		}},
		{"accumulated scopes", func(c *warden.Config) { c.AccumulateScopesInChallenge = true }},
	} {
		t.Run(cfg.name, func(t *testing.T) {
			t.Parallel()
			f := newReqFixture(t, cfg.mutate)
			view := f.mw.Accept(warden.SchemeBearer, warden.SchemeBasic)
			reqs := map[string]warden.Requirement{
				"scope":    warden.All(warden.Scopes("tool:x"), warden.AnyScope("a", "b")),
				"role":     warden.Roles("admin"),
				"client":   warden.Clients("c9"),
				"claim":    warden.Claim("tid", func(string) bool { return true }),
				"step-up":  warden.StepUp(time.Minute, "mfa"),
				"audience": warden.Audience(reportsAud),
				"issuer":   warden.Issuer(f.other.URL),
				"invalid":  warden.Scopes(`a"b`, "ok"),
				"met":      warden.Scopes("read"),
			}
			f.decisions.take()
			for name, req := range reqs {
				for _, auth := range []string{"Bearer " + f.token(wardentest.Claims{"scope": "read write"}), basicAuth("dir-client:dir-secret")} {
					t.Run(name+" "+auth[:5], func(t *testing.T) {
						// The route refuses ...
						route := view.Require(func() warden.Requirement {
							if req.Err() != nil {
								return warden.Requirement{} // a route cannot be built with it
							}
							return req
						}())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
							if view.Check(w, r, req) {
								w.WriteHeader(http.StatusNoContent)
							}
						}))
						direct := view.Require()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
							if view.Check(w, r, req) {
								w.WriteHeader(http.StatusNoContent)
							}
						}))
						a, da := run(f, route, auth)
						b, db := run(f, direct, auth)
						if len(db) == 0 || db[0].Reason != warden.ReasonOK {
							t.Fatalf("the authenticate-only route refused: %+v", db)
						}
						db = db[1:] // Check's own, if it refused
						if req.Err() != nil {
							da = da[1:] // the route could not take it: Check refused there too
						} else if a.Code == http.StatusNoContent {
							da = da[1:] // admitted by the route; Check passed and added none
						}
						if a.Code != b.Code || !slices.Equal(a.Header().Values("WWW-Authenticate"), b.Header().Values("WWW-Authenticate")) ||
							a.Body.String() != b.Body.String() || a.Header().Get("Cache-Control") != b.Header().Get("Cache-Control") {
							t.Errorf("route wrote %d %q %q\ncheck wrote %d %q %q", a.Code, a.Header().Values("WWW-Authenticate"), a.Body,
								b.Code, b.Header().Values("WWW-Authenticate"), b.Body)
						}
						if len(da) != len(db) || (len(da) == 1 && !sameDecision(da[0], db[0])) {
							t.Errorf("decisions differ: route %+v, check %+v", da, db)
						}
					})
				}
			}
		})
	}
}

func run(f *reqFixture, h http.Handler, auth string) (*httptest.ResponseRecorder, []warden.Decision) {
	f.decisions.take()
	r := httptest.NewRequest(http.MethodPost, "/tools", nil)
	r.Header.Set("Authorization", auth)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w, f.decisions.take()
}

func sameDecision(a, b warden.Decision) bool {
	a.Duration, b.Duration = 0, 0
	ae, be := a.Err, b.Err
	a.Err, b.Err = nil, nil
	return a == b && (ae == nil) == (be == nil) && (ae == nil || ae.Reason == be.Reason && slices.Equal(ae.Scopes, be.Scopes))
}

// TestCheckTools runs an MCP-like tool endpoint: the scope of each tool is
// checked in the handler; a refusal names that tool's scope.
func TestCheckTools(t *testing.T) {
	t.Parallel()
	f := newReqFixture(t, nil)
	var ran []string
	h := f.mw.Authenticate(toolHandler(f.mw, &ran))
	tok := "Bearer " + f.token(wardentest.Claims{"scope": "tool:search tool:fetch"})
	for _, row := range []struct {
		tool string
		want reqWant
	}{
		{"search", reqWant{status: 204, reason: warden.ReasonOK}},
		{"fetch", reqWant{status: 204, reason: warden.ReasonOK}},
		{"delete", scopeRefusal("tool:delete")},
	} {
		t.Run(row.tool, func(t *testing.T) {
			ran = nil
			f.decisions.take()
			r := httptest.NewRequest(http.MethodPost, "/mcp?tool="+row.tool, nil)
			r.Header.Set("Authorization", tok)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			checkResponse(t, w, row.want)
			ds := f.decisions.take()
			if row.want.reason == warden.ReasonOK {
				if len(ds) != 1 || ds[0].Reason != warden.ReasonOK || !slices.Equal(ran, []string{row.tool}) {
					t.Errorf("got decisions %+v and tools %q", ds, ran)
				}
				return
			}
			// The route admitted the request; Check refused the tool call.
			if len(ds) != 2 || ds[0].Reason != warden.ReasonOK || ds[1].Reason != row.want.reason ||
				ds[1].Requirement != "tool:"+row.tool || ds[1].Subject != "user-1" || ds[1].Status != 403 || len(ran) != 0 {
				t.Errorf("got decisions %+v and tools %q", ds, ran)
			}
		})
	}
}

// TestCheckWithoutPrincipal checks Check on an Optional route (and outside
// any route): the refusal is the one for missing credentials, with the
// challenges of the route's schemes.
func TestCheckWithoutPrincipal(t *testing.T) {
	t.Parallel()
	f := newReqFixture(t, nil)
	var ran []string
	both := f.mw.Accept(warden.SchemeBearer, warden.SchemeBasic)
	bare := reqWant{401, []string{bareBearer, bareDPoP}, bodyNone, warden.ReasonMissingCredentials}
	bareAll := reqWant{401, bareBoth, bodyNone, warden.ReasonMissingCredentials}
	for name, c := range map[string]struct {
		h    http.Handler
		want reqWant
	}{
		"optional bearer route":                {f.mw.Optional(toolHandler(f.mw, &ran)), bare},
		"optional route of a view taking both": {both.Optional(toolHandler(f.mw, &ran)), bareAll},
		"no route at all":                      {toolHandler(f.mw, &ran), bare},
		"no route, a view taking both":         {toolHandler(both, &ran), bareAll},
	} {
		t.Run(name, func(t *testing.T) {
			ran = nil
			f.decisions.take()
			r := httptest.NewRequest(http.MethodPost, "/mcp?tool=search", nil)
			w := httptest.NewRecorder()
			c.h.ServeHTTP(w, r)
			checkResponse(t, w, c.want)
			ds := f.decisions.take()
			if last := ds[len(ds)-1]; last.Reason != warden.ReasonMissingCredentials || last.Requirement != "tool:search" || len(ran) != 0 {
				t.Errorf("got decisions %+v, tools %q", ds, ran)
			}
		})
	}
}

// TestAccumulateScopes checks the MCP opt-in: the challenge lists the
// token's scopes, then the requirement's; off by default.
func TestAccumulateScopes(t *testing.T) {
	t.Parallel()
	tokScopes := wardentest.Claims{"scope": "read tool:search"}
	for _, c := range []struct {
		accumulate bool
		want       string
	}{
		{false, "tool:write read"},
		{true, "read tool:search tool:write"},
	} {
		f := newReqFixture(t, func(cfg *warden.Config) { cfg.AccumulateScopesInChallenge = c.accumulate })
		auth := "Bearer " + f.token(tokScopes)
		req := warden.Scopes("tool:write", "read")
		f.send(t, f.mw.Require(req)(reqNoContent), auth, scopeRefusal(c.want), "tool:write read")
		h := f.mw.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			f.mw.Check(w, r, req)
		}))
		w, _ := run(f, h, auth)
		if got := w.Header().Values("WWW-Authenticate"); !slices.Equal(got, []string{reqChScope(c.want)}) {
			t.Errorf("accumulate %v: Check challenge %q", c.accumulate, got)
		}
	}
	_, err := warden.New(warden.Config{Issuers: []warden.IssuerConfig{{URL: "https://idp.example", Audience: "a", JWKS: wardentest.JWKS(wardentest.NewECKey("k"))}},
		OmitScopeInChallenge: true, AccumulateScopesInChallenge: true})
	if err == nil {
		t.Errorf("OmitScopeInChallenge with AccumulateScopesInChallenge: no error")
	}
}

// TestAuthorize checks the check without HTTP, for other transports.
func TestAuthorize(t *testing.T) {
	t.Parallel()
	f := newReqFixture(t, func(c *warden.Config) {
		c.Impersonation.Allow = func(_ context.Context, actor, _ string) bool { return actor != "rogue" }
	})
	ctx := context.Background()
	p, err := f.mw.Verify(ctx, f.token(wardentest.Claims{"scope": "a", "acr": "pwd"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.mw.Authorize(ctx, p); err != nil {
		t.Errorf("no requirement: %v", err)
	}
	if err := f.mw.Authorize(ctx, p, warden.Scopes("a"), warden.AnyScope("a", "b")); err != nil {
		t.Errorf("met: %v", err)
	}
	for _, c := range []struct {
		p      *warden.Principal
		req    warden.Requirement
		reason warden.Reason
		status int
		scopes []string
	}{
		{p, warden.All(warden.Scopes("a"), warden.AnyScope("b", "c")), warden.ReasonInsufficientScope, 403, []string{"a", "b", "c"}},
		{p, warden.StepUp(0, "mfa"), warden.ReasonInsufficientUserAuthentication, 401, nil},
		{p, warden.Audience(reportsAud), warden.ReasonWrongAudience, 401, nil},
		{nil, warden.Scopes("a"), warden.ReasonMissingCredentials, 401, nil},
	} {
		err := f.mw.Authorize(ctx, c.p, c.req)
		var we *warden.Error
		if !errors.As(err, &we) || we.Reason != c.reason || we.Status() != c.status || !slices.Equal(we.Scopes, c.scopes) {
			t.Errorf("%s: got %v, want %s %d %q", c.req, err, c.reason, c.status, c.scopes)
		}
	}
	// The impersonation policy applies, as on a route.
	acting, err := f.mw.Verify(ctx, f.token(wardentest.Claims{"act": map[string]any{"sub": "app"}, "scope": "a"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.mw.Authorize(ctx, acting, warden.Scopes("a")); err != nil {
		t.Errorf("allowed actor: %v", err)
	}
	_, err = f.mw.Verify(ctx, f.token(wardentest.Claims{"act": map[string]any{"sub": "rogue"}, "scope": "a"}))
	var we *warden.Error
	if !errors.As(err, &we) || we.Reason != warden.ReasonImpersonationDenied {
		t.Errorf("denied actor: Verify got %v", err)
	}
}

package warden_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// This file tests requirements (requirement.go, scopes.go): every kind,
// their compositions, and what each refusal writes.

// reqNow is the clock of these tests.
var reqNow = time.Unix(1_800_000_000, 0)

// Expected wire values of the refusals of requirements.
const (
	reqBodyRole   = `{"error":"access_denied","error_description":"The principal lacks a role this resource requires"}` + "\n"
	reqBodyClient = `{"error":"access_denied","error_description":"The client is not allowed to use this resource"}` + "\n"
	reqBodyClaim  = `{"error":"access_denied","error_description":"The access token's claims do not permit this request"}` + "\n"
	reqBodyStepUp = `{"error":"insufficient_user_authentication","error_description":"A different or more recent user authentication is required"}` + "\n"
	reqBodyAud    = `{"error":"invalid_token","error_description":"The access token is not intended for this resource"}` + "\n"
	reqBodyIss    = `{"error":"invalid_token","error_description":"The access token issuer is not trusted"}` + "\n"
	reqChAud      = `Bearer realm="api", error="invalid_token", error_description="The access token is not intended for this resource"`
	reqChIss      = `Bearer realm="api", error="invalid_token", error_description="The access token issuer is not trusted"`
	reqChStepUp   = `Bearer realm="api", error="insufficient_user_authentication", error_description="A different or more recent user authentication is required"`
	reportsAud    = "https://reports.example.test"
)

func reqChScope(scopes string) string {
	return `Bearer realm="api", error="insufficient_scope", scope="` + scopes + `"`
}

// reqFixture is two issuers with static keys and a middleware trusting
// both: the first for its own audience and reportsAud, the second for its
// own; roles come from Keycloak-style claims and "groups".
type reqFixture struct {
	iss, other *wardentest.Issuer
	mw         *warden.Middleware
	decisions  *decRecorder
}

func newReqFixture(t testing.TB, mutate func(*warden.Config)) *reqFixture {
	t.Helper()
	f := &reqFixture{iss: wardentest.NewIssuer(t), other: wardentest.NewIssuer(t), decisions: &decRecorder{}}
	clock := func() time.Time { return reqNow }
	f.iss.SetClock(clock)
	f.other.SetClock(clock)
	f.other.Audience = "https://other-api.example.test"
	cfg := warden.Config{
		Issuers: []warden.IssuerConfig{
			{URL: f.iss.URL, Audience: f.iss.Audience, Audiences: []string{reportsAud}, JWKS: wardentest.JWKS(f.iss.Keys()...)},
			{URL: f.other.URL, Audience: f.other.Audience, JWKS: wardentest.JWKS(f.other.Keys()...)},
		},
		RoleClaims: []string{"realm_access.roles", "resource_access.api.roles", "groups"},
		Clients:    testClients(),
		OnDecision: f.decisions.hook,
		Now:        clock,
		Logger:     slog.New(slog.DiscardHandler),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	mw, err := warden.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = mw.Close() })
	f.mw = mw
	return f
}

// token mints a token of the first issuer with the given claims over the
// defaults (scope "" unless given).
func (f *reqFixture) token(claims wardentest.Claims) string {
	return f.iss.Mint(wardentest.Token{Claims: claims})
}

// reqWant is what one request must produce.
type reqWant struct {
	status     int
	challenges []string // every WWW-Authenticate line, in order
	body       string   // exact body of a refusal
	reason     warden.Reason
}

// send runs one request through h and checks the response and that exactly
// one decision, with the wanted reason and requirement, was made.
func (f *reqFixture) send(t *testing.T, h http.Handler, auth string, want reqWant, requirement string) *httptest.ResponseRecorder {
	t.Helper()
	f.decisions.take()
	r := httptest.NewRequest(http.MethodGet, "/r", nil)
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	checkResponse(t, w, want)
	ds := f.decisions.take()
	if len(ds) != 1 {
		t.Fatalf("got %d decisions, want exactly 1: %+v", len(ds), ds)
	}
	if ds[0].Reason != want.reason || ds[0].Status != map[bool]int{true: 0, false: want.status}[want.reason == warden.ReasonOK] {
		t.Errorf("decision: got reason %q status %d, want %q %d", ds[0].Reason, ds[0].Status, want.reason, want.status)
	}
	if ds[0].Requirement != requirement {
		t.Errorf("decision requirement: got %q, want %q", ds[0].Requirement, requirement)
	}
	return w
}

// checkResponse checks status, every challenge line and, for a refusal,
// the exact body and the no-store header.
func checkResponse(t *testing.T, w *httptest.ResponseRecorder, want reqWant) {
	t.Helper()
	if w.Code != want.status {
		t.Fatalf("got status %d, want %d (challenges %q, body %q)", w.Code, want.status, w.Header().Values("WWW-Authenticate"), w.Body)
	}
	if got := w.Header().Values("WWW-Authenticate"); !slices.Equal(got, want.challenges) {
		t.Errorf("got challenges\n  %q\nwant\n  %q", got, want.challenges)
	}
	if want.reason == warden.ReasonOK {
		return
	}
	if got := w.Body.String(); got != want.body {
		t.Errorf("got body %q, want %q", got, want.body)
	}
	if got := w.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("got Cache-Control %q, want no-store", got)
	}
}

var reqOK = reqWant{status: http.StatusNoContent, reason: warden.ReasonOK}

var reqNoContent = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })

func scopeRefusal(scopes string) reqWant {
	return reqWant{http.StatusForbidden, []string{reqChScope(scopes)}, bodyScope, warden.ReasonInsufficientScope}
}

var (
	roleRefusal   = reqWant{http.StatusForbidden, nil, reqBodyRole, warden.ReasonInsufficientRole}
	clientRefusal = reqWant{http.StatusForbidden, nil, reqBodyClient, warden.ReasonClientNotAllowed}
	claimRefusal  = reqWant{http.StatusForbidden, nil, reqBodyClaim, warden.ReasonClaimRejected}
	audRefusal    = reqWant{http.StatusUnauthorized, []string{reqChAud}, reqBodyAud, warden.ReasonWrongAudience}
	issRefusal    = reqWant{http.StatusUnauthorized, []string{reqChIss}, reqBodyIss, warden.ReasonWrongIssuer}
)

func stepUpRefusal(params string) reqWant {
	return reqWant{http.StatusUnauthorized, []string{reqChStepUp + params}, reqBodyStepUp, warden.ReasonInsufficientUserAuthentication}
}

// TestRequirementKinds runs every kind of requirement and every
// composition against tokens that meet it and tokens that do not.
func TestRequirementKinds(t *testing.T) {
	t.Parallel()
	f := newReqFixture(t, nil)
	tok := func(kv ...any) string {
		c := wardentest.Claims{}
		for i := 0; i+1 < len(kv); i += 2 {
			c[kv[i].(string)] = kv[i+1]
		}
		return "Bearer " + f.token(c)
	}
	realm := func(roles ...string) map[string]any { return map[string]any{"roles": roles} }
	clientRoles := func(roles ...string) map[string]any {
		return map[string]any{"api": map[string]any{"roles": roles}, "other": map[string]any{"roles": []string{"admin"}}}
	}
	tenantIs := func(want string) func(string) bool { return func(s string) bool { return s == want } }
	type org struct {
		ID   int    `json:"id"`
		Plan string `json:"plan"`
	}
	now := reqNow.Unix()
	reports := warden.All(warden.Scopes("Entry_Read"), warden.AnyScope("Report_Read", "Report_Admin"))

	rows := []struct {
		name        string
		req         warden.Requirement
		requirement string // Decision.Requirement
		auth        string
		want        reqWant
	}{
		// Scopes: all of, any of.
		{"scopes: all held", warden.Scopes("a", "b"), "a b", tok("scope", "b a"), reqOK},
		{"scopes: one missing", warden.Scopes("a", "b"), "a b", tok("scope", "a"), scopeRefusal("a b")},
		{"scopes: none needed", warden.Scopes(), "", tok(), reqOK},
		{"scopes: case-sensitive", warden.Scopes("a"), "a", tok("scope", "A"), scopeRefusal("a")},
		{"any scope: second held", warden.AnyScope("a", "b"), "a|b", tok("scope", "b"), reqOK},
		{"any scope: none held", warden.AnyScope("a", "b"), "a|b", tok("scope", "c"), scopeRefusal("a b")},

		// A and (B or C): one decision, scope= names every scope.
		{"A and (B or C): A and C", reports, "Entry_Read (Report_Read|Report_Admin)", tok("scope", "Entry_Read Report_Admin"), reqOK},
		{"A and (B or C): A only", reports, "Entry_Read (Report_Read|Report_Admin)", tok("scope", "Entry_Read"),
			scopeRefusal("Entry_Read Report_Read Report_Admin")},
		{"A and (B or C): C only", reports, "Entry_Read (Report_Read|Report_Admin)", tok("scope", "Report_Admin"),
			scopeRefusal("Entry_Read Report_Read Report_Admin")},
		{"(A and B) or C: C", warden.Any(warden.Scopes("a", "b"), warden.Scopes("c")), "(a b)|c", tok("scope", "c"), reqOK},
		{"(A and B) or C: A", warden.Any(warden.Scopes("a", "b"), warden.Scopes("c")), "(a b)|c", tok("scope", "a"), scopeRefusal("a b c")},
		{"nested all of all", warden.All(warden.All(warden.Scopes("a")), warden.Scopes("b")), "a b", tok("scope", "a b"), reqOK},
		{"empty All admits", warden.All(), "", tok(), reqOK},
		{"zero Requirement in Any admits", warden.Any(warden.Requirement{}, warden.Scopes("x")), "x", tok(), reqOK},

		// Audience: a route's own audience among the issuer's.
		{"audience: route's own", warden.Audience(reportsAud), "audience(" + reportsAud + ")", tok("aud", reportsAud), reqOK},
		{"audience: one of several in aud", warden.Audience(reportsAud), "audience(" + reportsAud + ")", tok("aud", []string{"x", reportsAud}), reqOK},
		{"audience: the issuer's other one", warden.Audience(reportsAud), "audience(" + reportsAud + ")", tok(), audRefusal},

		// Clients: client_id, else azp.
		{"clients: client_id allowed", warden.Clients("client-1", "client-2"), "client(client-1|client-2)", tok(), reqOK},
		{"clients: azp allowed", warden.Clients("spa"), "client(spa)", tok("client_id", nil, "azp", "spa"), reqOK},
		{"clients: another client", warden.Clients("client-2"), "client(client-2)", tok(), clientRefusal},
		{"clients: client_id wins over azp", warden.Clients("spa"), "client(spa)", tok("azp", "spa"), clientRefusal},

		// Issuer, among two trusted ones.
		{"issuer: the one required", warden.Issuer(f.iss.URL), "issuer(" + f.iss.URL + ")", tok(), reqOK},
		{"issuer: another trusted one", warden.Issuer(f.other.URL), "issuer(" + f.other.URL + ")", tok(), issRefusal},

		// Roles from nested claim paths, a string claim, case-sensitive.
		{"roles: realm_access.roles", warden.Roles("admin"), "roles(admin)", tok("realm_access", realm("admin", "user")), reqOK},
		{"roles: resource_access.api.roles", warden.Roles("editor"), "roles(editor)", tok("resource_access", clientRoles("editor")), reqOK},
		{"roles: another client's roles do not count", warden.Roles("admin"), "roles(admin)", tok("resource_access", clientRoles("editor")), roleRefusal},
		{"roles: groups as one string", warden.Roles("eng"), "roles(eng)", tok("groups", "eng"), reqOK},
		{"roles: union of claims, all of", warden.Roles("admin", "eng"), "roles(admin eng)", tok("realm_access", realm("admin"), "groups", []string{"eng"}), reqOK},
		{"roles: one of two held", warden.Roles("admin", "eng"), "roles(admin eng)", tok("realm_access", realm("admin")), roleRefusal},
		{"roles: case-sensitive value", warden.Roles("Admin"), "roles(Admin)", tok("realm_access", realm("admin")), roleRefusal},
		{"roles: case-sensitive claim name", warden.Roles("admin"), "roles(admin)", tok("Realm_Access", realm("admin")), roleRefusal},
		{"roles: malformed claim", warden.Roles("admin"), "roles(admin)", tok("realm_access", map[string]any{"roles": 7}), roleRefusal},
		{"roles: array with a number", warden.Roles("admin"), "roles(admin)", tok("groups", []any{"admin", 1}), roleRefusal},
		{"roles: a scope is not a role", warden.Roles("admin"), "roles(admin)", tok("scope", "admin"), roleRefusal},
		{"roles: a role with a space", warden.Roles("Global Admin"), `roles("Global Admin")`, tok("groups", []string{"Global Admin"}), reqOK},

		// Claim predicates, typed.
		{"claim: string matches", warden.Claim("tid", tenantIs("t1")), "claim(tid)", tok("tid", "t1"), reqOK},
		{"claim: string differs", warden.Claim("tid", tenantIs("t1")), "claim(tid)", tok("tid", "t2"), claimRefusal},
		{"claim: absent", warden.Claim("tid", tenantIs("t1")), "claim(tid)", tok(), claimRefusal},
		{"claim: wrong type", warden.Claim("tid", tenantIs("t1")), "claim(tid)", tok("tid", 1), claimRefusal},
		{"claim: nested number", warden.Claim("org.id", func(id int) bool { return id == 42 }), "claim(org.id)", tok("org", map[string]any{"id": 42}), reqOK},
		{"claim: struct, exact names", warden.Claim("org", func(o org) bool { return o.Plan == "gold" }), "claim(org)",
			tok("org", map[string]any{"id": 1, "plan": "gold"}), reqOK},
		{"claim: struct, case variant ignored", warden.Claim("org", func(o org) bool { return o.Plan == "gold" }), "claim(org)",
			tok("org", map[string]any{"PLAN": "gold"}), claimRefusal},

		// Step-up (RFC 9470).
		{"step-up: acr held", warden.StepUp(0, "mfa"), "step_up(acr=mfa)", tok("acr", "mfa"), reqOK},
		{"step-up: other acr", warden.StepUp(0, "mfa"), "step_up(acr=mfa)", tok("acr", "pwd"), stepUpRefusal(`, acr_values="mfa"`)},
		{"step-up: no acr", warden.StepUp(0, "mfa"), "step_up(acr=mfa)", tok(), stepUpRefusal(`, acr_values="mfa"`)},
		{"step-up: recent", warden.StepUp(5 * time.Minute), "step_up(max_age=300)", tok("auth_time", now-60), reqOK},
		{"step-up: exactly max_age", warden.StepUp(5 * time.Minute), "step_up(max_age=300)", tok("auth_time", now-300), reqOK},
		{"step-up: too old", warden.StepUp(5 * time.Minute), "step_up(max_age=300)", tok("auth_time", now-301), stepUpRefusal(`, max_age="300"`)},
		{"step-up: no auth_time", warden.StepUp(5 * time.Minute), "step_up(max_age=300)", tok(), stepUpRefusal(`, max_age="300"`)},
		{"step-up: both, both met", warden.StepUp(5*time.Minute, "mfa", "phr"), "step_up(acr=mfa|phr max_age=300)",
			tok("acr", "phr", "auth_time", now), reqOK},
		{"step-up: both, acr missing", warden.StepUp(5*time.Minute, "mfa", "phr"), "step_up(acr=mfa|phr max_age=300)",
			tok("auth_time", now), stepUpRefusal(`, acr_values="mfa phr", max_age="300"`)},

		// One refusal however composed: All reports the most fundamental
		// failure, Any the least.
		{"all: audience beats scope", warden.All(warden.Scopes("x"), warden.Audience(reportsAud)), "x audience(" + reportsAud + ")", tok(), audRefusal},
		{"all: issuer beats audience", warden.All(warden.Audience(reportsAud), warden.Issuer(f.other.URL)),
			"audience(" + reportsAud + ") issuer(" + f.other.URL + ")", tok(), issRefusal},
		{"all: client beats role", warden.All(warden.Roles("r"), warden.Clients("c9")), "roles(r) client(c9)", tok(), clientRefusal},
		{"all: step-up beats scope", warden.All(warden.Scopes("x"), warden.StepUp(0, "mfa")), "x step_up(acr=mfa)", tok(), stepUpRefusal(`, acr_values="mfa"`)},
		{"all: claim beats role", warden.All(warden.Roles("r"), warden.Claim("tid", tenantIs("t"))), "roles(r) claim(tid)", tok(), claimRefusal},
		{"all: only the scope part fails", warden.All(warden.Roles("admin"), warden.Scopes("x")), "roles(admin) x",
			tok("realm_access", realm("admin")), scopeRefusal("x")},
		{"any: scope is closest", warden.Any(warden.Audience(reportsAud), warden.Scopes("x")), "audience(" + reportsAud + ")|x", tok(), scopeRefusal("x")},
		{"any: role or scope, role held", warden.Any(warden.Scopes("x"), warden.Roles("admin")), "x|roles(admin)", tok("realm_access", realm("admin")), reqOK},
		{"any: role or scope, neither", warden.Any(warden.Roles("admin"), warden.Scopes("x")), "roles(admin)|x", tok(), scopeRefusal("x")},
		{"any: of two roles, neither", warden.Any(warden.Roles("a"), warden.Roles("b")), "roles(a)|roles(b)", tok(), roleRefusal},
		{"any: equal failures report the first", warden.Any(warden.StepUp(0, "mfa"), warden.StepUp(0, "hwk")), "step_up(acr=mfa)|step_up(acr=hwk)",
			tok(), stepUpRefusal(`, acr_values="mfa"`)},
		{"nested: all(any(aud, client), scope)", warden.All(warden.Any(warden.Audience(reportsAud), warden.Clients("c9")), warden.Scopes("x")),
			"(audience(" + reportsAud + ")|client(c9)) x", tok("scope", "x"), clientRefusal},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			h := f.mw.Require(row.req)(reqNoContent)
			f.send(t, h, row.auth, row.want, row.requirement)
		})
	}
}

// TestRequirementBasic checks requirements against Basic principals: they
// have a client id and permissions, but no claims.
func TestRequirementBasic(t *testing.T) {
	t.Parallel()
	f := newReqFixture(t, nil)
	basic := f.mw.Accept(warden.SchemeBasic)
	dir := basicAuth("dir-client:dir-secret")
	bare := `Basic realm="api", charset="UTF-8"`
	rows := []struct {
		name string
		req  warden.Requirement
		want reqWant
	}{
		{"permission as scope", warden.Scopes("Organisation_Read"), reqOK},
		{"missing permission: 403 without challenge", warden.Scopes("Organisation_Write"), reqWant{403, nil, bodyScope, warden.ReasonInsufficientScope}},
		{"client allowed", warden.Clients("dir-client"), reqOK},
		{"client not allowed", warden.Clients("other"), clientRefusal},
		{"no roles", warden.Roles("admin"), roleRefusal},
		{"no claims", warden.Claim("tid", func(string) bool { return true }), claimRefusal},
		{"no user authentication", warden.StepUp(0, "mfa"), reqWant{401, []string{bare}, reqBodyStepUp, warden.ReasonInsufficientUserAuthentication}},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			f.send(t, basic.Require(row.req)(reqNoContent), dir, row.want, row.req.String())
		})
	}
}

// TestRequirementReasons produces each reason of a requirement beyond
// scopes with ExposeReason on, and checks the body names it (the complement
// of TestDecisionReasons, whose route requires one scope).
func TestRequirementReasons(t *testing.T) {
	t.Parallel()
	f := newReqFixture(t, func(c *warden.Config) { c.ExposeReason = true })
	for reason, req := range map[warden.Reason]warden.Requirement{
		warden.ReasonClientNotAllowed:               warden.Clients("nobody"),
		warden.ReasonInsufficientRole:               warden.Roles("nobody"),
		warden.ReasonClaimRejected:                  warden.Claim("nobody", func(any) bool { return true }),
		warden.ReasonInsufficientUserAuthentication: warden.StepUp(time.Minute),
	} {
		t.Run(string(reason), func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Authorization", "Bearer "+f.token(nil))
			w := httptest.NewRecorder()
			f.mw.Require(req)(reqNoContent).ServeHTTP(w, r)
			ds := f.decisions.take()
			if len(ds) != 1 || ds[0].Reason != reason || w.Code != reason.Status() {
				t.Fatalf("got status %d, decisions %+v; want one %q", w.Code, ds, reason)
			}
			if !strings.Contains(w.Body.String(), `"reason":"`+string(reason)+`"`) {
				t.Errorf("body %q does not name the reason", w.Body)
			}
		})
	}
}

// TestRequirementInvalid checks that invalid values are reported by Err,
// make Require panic, and are never met when checked anyway.
func TestRequirementInvalid(t *testing.T) {
	t.Parallel()
	f := newReqFixture(t, nil)
	for name, req := range map[string]warden.Requirement{
		"scope with a quote":   warden.Scopes(`a"b`),
		"one bad scope of two": warden.Scopes("a", "b c"),
		"empty any scope":      warden.AnyScope(),
		"empty any":            warden.Any(),
		"bad part of all":      warden.All(warden.Scopes("a"), warden.Roles("")),
		"role with a newline":  warden.Roles("a\nb"),
		"no roles":             warden.Roles(),
		"empty client":         warden.Clients(""),
		"no audience":          warden.Audience(),
		"claim path":           warden.Claim("a..b", func(string) bool { return true }),
		"nil predicate":        warden.Claim[string]("a", nil),
		"step-up: nothing":     warden.StepUp(0),
		"step-up: fraction":    warden.StepUp(1500 * time.Millisecond),
		"step-up: negative":    warden.StepUp(-time.Second, "mfa"),
		"step-up: bad acr":     warden.StepUp(0, "a b"),
	} {
		t.Run(name, func(t *testing.T) {
			if req.Err() == nil {
				t.Fatalf("Err is nil")
			}
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("Require did not panic")
					}
				}()
				f.mw.Require(req)
			}()
			// Checked from a handler, it refuses instead.
			p, err := f.mw.Verify(context.Background(), f.token(wardentest.Claims{"scope": "a b", "realm_access": map[string]any{"roles": []string{"a"}}}))
			if err != nil {
				t.Fatal(err)
			}
			if err := f.mw.Authorize(context.Background(), p, req); err == nil {
				t.Errorf("an invalid requirement was met")
			}
		})
	}
	if err := (warden.Requirement{}).Err(); err != nil {
		t.Errorf("zero Requirement: Err %v", err)
	}
}

// TestRequireUnmeetable checks that routes naming an audience or issuer
// the configuration never accepts panic at start-up.
func TestRequireUnmeetable(t *testing.T) {
	t.Parallel()
	f := newReqFixture(t, nil)
	for _, req := range []warden.Requirement{
		warden.Audience("https://nobody.example"),
		warden.Issuer("https://nobody.example"),
		warden.Any(warden.Scopes("a"), warden.Issuer(f.iss.URL+"/")),
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Require(%s) did not panic", req)
				}
			}()
			f.mw.Require(req)
		}()
	}
	f.mw.Require(warden.Audience(reportsAud), warden.Issuer(f.other.URL)) // both configured: no panic
}

// TestRequirementString checks the renderings decisions carry.
func TestRequirementString(t *testing.T) {
	t.Parallel()
	for want, req := range map[string]warden.Requirement{
		"":                            {},
		"a b":                         warden.Scopes("a", "b", "a"),
		"a|b":                         warden.AnyScope("a", "b"),
		"a (b|c)":                     warden.All(warden.Scopes("a"), warden.AnyScope("b", "c")),
		"(a b)|c":                     warden.Any(warden.Scopes("a", "b"), warden.Scopes("c")),
		`a|"b c"`:                     warden.Any(warden.Scopes("a"), warden.AnyScope("b c")),
		"a (b|(c d))":                 warden.All(warden.Scopes("a"), warden.Any(warden.Scopes("b"), warden.Scopes("c", "d"))),
		`roles("a b" "x|y")`:          warden.Roles("a b", "x|y"),
		"client(c1|c2) audience(aud)": warden.All(warden.Clients("c1", "c2"), warden.Audience("aud")),
		"step_up(acr=mfa max_age=60)": warden.StepUp(time.Minute, "mfa"),
		`claim("urn:x y")`:            warden.Claim("urn:x y", func(string) bool { return true }),
	} {
		if got := req.String(); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

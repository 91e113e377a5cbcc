package warden_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// The introspection tests run warden against a real RFC 7662 endpoint on
// loopback: introEndpoint, whose answers each test writes, or the
// wardentest issuer's own.

// introEndpoint is an introspection endpoint on loopback whose answer is
// set by the test; it records every request.
type introEndpoint struct {
	*httptest.Server
	calls  atomic.Int64
	mu     sync.Mutex
	answer http.HandlerFunc
	forms  []url.Values
	auths  []string
}

func newIntroEndpoint(t *testing.T, answer http.HandlerFunc) *introEndpoint {
	t.Helper()
	e := &introEndpoint{answer: answer}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.calls.Add(1)
		_ = r.ParseForm()
		e.mu.Lock()
		e.forms = append(e.forms, r.PostForm)
		e.auths = append(e.auths, r.Header.Get("Authorization"))
		h := e.answer
		e.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(e.Close)
	return e
}

func (e *introEndpoint) setAnswer(h http.HandlerFunc) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.answer = h
}

func (e *introEndpoint) lastForm() (url.Values, string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.forms) == 0 {
		return nil, ""
	}
	return e.forms[len(e.forms)-1], e.auths[len(e.auths)-1]
}

// jsonAnswer answers 200 with body as application/json.
func jsonAnswer(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	}
}

const (
	introIssuer   = "https://as.example.test"
	introAudience = "https://api.example.test"
)

// introAnswer renders an active answer of introIssuer for a token valid
// for 5 minutes on clock, with kv merged over the defaults (a nil value
// removes a member).
func introAnswer(clock *testClock, kv ...any) string {
	b, _ := json.Marshal(activeAnswer(introIssuer, introAudience, clock.Now(), kv...))
	return string(b)
}

// activeAnswer is an active RFC 7662 answer of iss for aud, for a token
// issued at now and valid for 5 minutes, with kv merged over the defaults
// (a nil value removes a member).
func activeAnswer(iss, aud string, now time.Time, kv ...any) map[string]any {
	m := map[string]any{
		"active": true, "iss": iss, "aud": aud, "client_id": "c1", "sub": "u1",
		"scope": "read", "exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(), "jti": "jti-1", "token_type": "Bearer",
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(m, kv[i].(string))
		} else {
			m[kv[i].(string)] = kv[i+1]
		}
	}
	return m
}

// introFixture is a middleware that introspects at an endpoint, with its
// clock, log and decisions.
type introFixture struct {
	mw        *warden.Middleware
	clock     *testClock
	log       *introLog
	decisions *decRecorder
}

// introLog collects log output from concurrent writers.
type introLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *introLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *introLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// newIntroFixture builds a middleware trusting introIssuer (static keys of
// iss, which may be nil) whose Introspection is in, with mutate applied.
func newIntroFixture(t *testing.T, iss *wardentest.Issuer, in warden.Introspection, mutate func(*warden.Config)) *introFixture {
	t.Helper()
	f := &introFixture{clock: &testClock{t: time.Unix(1_900_000_000, 0)}, log: &introLog{}, decisions: &decRecorder{}}
	keys := wardentest.JWKS(wardentest.NewEd25519Key("ed-intro"))
	url := introIssuer
	if iss != nil {
		keys, url = wardentest.JWKS(iss.Keys()...), iss.URL
	}
	cfg := warden.Config{
		Issuers:    []warden.IssuerConfig{{URL: url, Audience: introAudience, JWKS: keys, Introspection: in}},
		Now:        f.clock.Now,
		Logger:     slog.New(slog.NewTextHandler(f.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnDecision: f.decisions.hook,
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

// introResult is what one request got.
type introResult struct {
	status     int
	challenges []string
	retryAfter string
	body       string
	decision   warden.Decision
	scopes     []string // the route's
}

// do sends token to a route requiring scopes and returns the response and
// its one decision.
func (f *introFixture) do(t *testing.T, token string, scopes ...string) introResult {
	t.Helper()
	h := f.mw.Require(warden.Scopes(scopes...))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := warden.PrincipalFrom(r.Context())
		b, _ := p.MarshalJSON()
		_, _ = w.Write(b)
	}))
	w, d := serveBearer(t, h, f.decisions, token)
	return introResult{status: w.Code, challenges: w.Header().Values("WWW-Authenticate"),
		retryAfter: w.Header().Get("Retry-After"), body: w.Body.String(), decision: d, scopes: scopes}
}

// serveBearer sends token as a bearer token to h and returns the response
// and the one decision recorded in decisions.
func serveBearer(t *testing.T, h http.Handler, decisions *decRecorder, token string) (*httptest.ResponseRecorder, warden.Decision) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/resource", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	ds := decisions.take()
	if len(ds) != 1 {
		t.Fatalf("%d decisions for one request, want 1", len(ds))
	}
	return w, ds[0]
}

// Expected refusals, spelled out as the wire shows them.
func introInvalid(desc string) (string, string) {
	return `Bearer realm="api", error="invalid_token", error_description="` + desc + `"`,
		`{"error":"invalid_token","error_description":"` + desc + `"}` + "\n"
}

const introUnavailableBody = `{"error":"temporarily_unavailable","error_description":"The access token cannot be checked right now"}` + "\n"

// check asserts a refusal with reason, or admission when reason is ok.
func (r introResult) check(t *testing.T, reason warden.Reason) {
	t.Helper()
	if r.decision.Reason != reason {
		t.Fatalf("reason %q (cause %v), want %q", r.decision.Reason, r.decision.Err, reason)
	}
	switch status := reason.Status(); status {
	case 0:
		if r.status != http.StatusOK || r.challenges != nil {
			t.Errorf("admitted: status %d, challenges %q", r.status, r.challenges)
		}
	case http.StatusServiceUnavailable:
		if r.status != status || r.challenges != nil || r.retryAfter != "5" || r.body != introUnavailableBody {
			t.Errorf("got %d %q Retry-After %q body %q, want 503, no challenge, Retry-After 5, %q",
				r.status, r.challenges, r.retryAfter, r.body, introUnavailableBody)
		}
	case http.StatusUnauthorized:
		desc := (&warden.Error{Reason: reason}).Description()
		challenge, body := introInvalid(desc)
		if r.status != status || !slices.Equal(r.challenges, []string{challenge}) || r.body != body || r.retryAfter != "" {
			t.Errorf("got %d %q body %q, want 401 %q %q", r.status, r.challenges, r.body, challenge, body)
		}
	case http.StatusForbidden:
		challenge := `Bearer realm="api", error="insufficient_scope", scope="` + strings.Join(r.scopes, " ") + `"`
		body := `{"error":"insufficient_scope","error_description":"The request requires higher privileges than provided by the access token"}` + "\n"
		if r.status != status || !slices.Equal(r.challenges, []string{challenge}) || r.body != body {
			t.Errorf("got %d %q body %q, want 403 %q %q", r.status, r.challenges, r.body, challenge, body)
		}
	default:
		t.Fatalf("no check for status %d", status)
	}
}

// introBasic is the client_secret_basic configuration of the tests. The
// timeout is the default (5 s): only the tests of a hanging endpoint wait
// for it, and a loaded machine must not make a healthy answer late.
func introBasic(endpoint string) warden.Introspection {
	return warden.Introspection{Endpoint: endpoint, ClientID: "rs", ClientSecret: "rs-secret"}
}

// TestIntrospectionAnswers: every check of an answer, and every way an
// endpoint fails, each against a fresh middleware (nothing cached).
func TestIntrospectionAnswers(t *testing.T) {
	t.Parallel()
	clock := &testClock{t: time.Unix(1_900_000_000, 0)} // the fixtures' clocks start at the same instant
	now := clock.Now()
	status := func(code int) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "no", code) }
	}
	typed := func(ct, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", ct)
			_, _ = io.WriteString(w, body)
		}
	}
	other := httptest.NewServer(jsonAnswer(introAnswer(clock)))
	t.Cleanup(other.Close)
	for _, tc := range []struct {
		name   string
		answer http.HandlerFunc
		want   warden.Reason
	}{
		{"active", jsonAnswer(introAnswer(clock)), warden.ReasonOK},
		{"active, charset parameter", typed("application/json; charset=utf-8", introAnswer(clock)), warden.ReasonOK},
		{"aud array containing the audience", jsonAnswer(introAnswer(clock, "aud", []string{"x", introAudience})), warden.ReasonOK},
		{"no iss: the issuer asked answers", jsonAnswer(introAnswer(clock, "iss", nil)), warden.ReasonOK},
		{"no exp", jsonAnswer(introAnswer(clock, "exp", nil)), warden.ReasonOK},
		{"exp passed, within the leeway", jsonAnswer(introAnswer(clock, "exp", now.Add(-30*time.Second).Unix())), warden.ReasonOK},
		{"token_type DPoP without cnf", jsonAnswer(introAnswer(clock, "token_type", "DPoP")), warden.ReasonMissingClaim},
		{"token_type bearer, any case", jsonAnswer(introAnswer(clock, "token_type", "bearer")), warden.ReasonOK},
		{"no token_type", jsonAnswer(introAnswer(clock, "token_type", nil)), warden.ReasonOK},
		{"sub absent, client_id speaks", jsonAnswer(introAnswer(clock, "sub", nil)), warden.ReasonOK},
		{"inactive", jsonAnswer(`{"active":false}`), warden.ReasonTokenInactive},
		{"inactive, with claims", jsonAnswer(introAnswer(clock, "active", false)), warden.ReasonTokenInactive},
		{"other issuer", jsonAnswer(introAnswer(clock, "iss", "https://evil.example")), warden.ReasonWrongIssuer},
		{"no aud", jsonAnswer(introAnswer(clock, "aud", nil)), warden.ReasonWrongAudience},
		{"other aud", jsonAnswer(introAnswer(clock, "aud", "https://other.example")), warden.ReasonWrongAudience},
		{"expired beyond the leeway", jsonAnswer(introAnswer(clock, "exp", now.Add(-61*time.Second).Unix())), warden.ReasonExpired},
		{"nbf in an hour", jsonAnswer(introAnswer(clock, "nbf", now.Add(time.Hour).Unix())), warden.ReasonNotYetValid},
		{"iat in an hour", jsonAnswer(introAnswer(clock, "iat", now.Add(time.Hour).Unix())), warden.ReasonIssuedInFuture},
		{"refresh token", jsonAnswer(introAnswer(clock, "token_type", "refresh_token")), warden.ReasonWrongType},
		{"token_use id", jsonAnswer(introAnswer(clock, "token_use", "id")), warden.ReasonWrongType},
		{"token_type not a string", jsonAnswer(introAnswer(clock, "token_type", 1)), warden.ReasonWrongType},
		{"no sub, no client_id", jsonAnswer(introAnswer(clock, "sub", nil, "client_id", nil)), warden.ReasonMissingClaim},
		{"scope with NBSP", jsonAnswer(introAnswer(clock, "scope", "read\u00a0admin")), warden.ReasonInvalidClaim},
		{"exp not a number", jsonAnswer(introAnswer(clock, "exp", "soon")), warden.ReasonInvalidClaim},
		{"act not an object", jsonAnswer(introAnswer(clock, "act", "admin")), warden.ReasonInvalidClaim},
		{"active is a string", jsonAnswer(introAnswer(clock, "active", "true")), warden.ReasonIntrospectionUnavailable},
		{"active is 1", jsonAnswer(introAnswer(clock, "active", 1)), warden.ReasonIntrospectionUnavailable},
		{"no active member", jsonAnswer(`{}`), warden.ReasonIntrospectionUnavailable},
		{"a JSON array", jsonAnswer(`[{"active":true}]`), warden.ReasonIntrospectionUnavailable},
		{"malformed JSON", jsonAnswer(`{"active":true,"scope":`), warden.ReasonIntrospectionUnavailable},
		{"HTML page", typed("text/html", "<html>maintenance</html>"), warden.ReasonIntrospectionUnavailable},
		{"JSON as text/plain", typed("text/plain", introAnswer(clock)), warden.ReasonIntrospectionUnavailable},
		{"no Content-Type", func(w http.ResponseWriter, _ *http.Request) {
			w.Header()["Content-Type"] = nil
			_, _ = io.WriteString(w, introAnswer(clock))
		}, warden.ReasonIntrospectionUnavailable},
		{"500", status(http.StatusInternalServerError), warden.ReasonIntrospectionUnavailable},
		{"502", status(http.StatusBadGateway), warden.ReasonIntrospectionUnavailable},
		{"401 to our credentials", status(http.StatusUnauthorized), warden.ReasonIntrospectionUnavailable},
		{"403 to our credentials", status(http.StatusForbidden), warden.ReasonIntrospectionUnavailable},
		{"400", status(http.StatusBadRequest), warden.ReasonIntrospectionUnavailable},
		{"oversized", jsonAnswer(`{"active":true,"pad":"` + strings.Repeat("x", 64<<10) + `"}`), warden.ReasonIntrospectionUnavailable},
		{"no answer within the timeout", func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done() // until warden gives up
		}, warden.ReasonIntrospectionUnavailable},
		{"connection reset", func(w http.ResponseWriter, _ *http.Request) {
			if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
				_ = c.Close()
			}
		}, warden.ReasonIntrospectionUnavailable},
		{"redirect to another host", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL, http.StatusTemporaryRedirect)
		}, warden.ReasonIntrospectionUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ep := newIntroEndpoint(t, tc.answer)
			in := introBasic(ep.URL)
			if tc.name == "no answer within the timeout" {
				in.Timeout = 200 * time.Millisecond // waited in full: not the default 5 s
			}
			f := newIntroFixture(t, nil, in, nil)
			f.do(t, "opaque-token-1", "read").check(t, tc.want)
		})
	}
}

// TestIntrospectionPrincipal: an answer makes the principal a JWT with the
// same claims would make, impersonation included; its issuer is the one
// asked.
func TestIntrospectionPrincipal(t *testing.T) {
	t.Parallel()
	clock := &testClock{t: time.Unix(1_900_000_000, 0)}
	ep := newIntroEndpoint(t, jsonAnswer(introAnswer(clock, "iss", nil, "sub", "bob", "client_id", "agent",
		"scope", "read write", "act", map[string]any{"sub": "agent"}, "aud", []string{introAudience, "other"})))
	f := newIntroFixture(t, nil, introBasic(ep.URL), nil)
	r := f.do(t, "opaque-token-2", "write")
	r.check(t, warden.ReasonOK)
	want := `{"subject":"bob","client_id":"agent","scopes":["read","write"],"scheme":"Bearer","actor":{"sub":"agent"},` +
		`"issuer":"` + introIssuer + `","audience":["` + introAudience + `","other"],"expires_at":` +
		strings.TrimSpace(jsonNumber(clock.Now().Add(5*time.Minute).Unix())) + `,"token_id":"jti-1"}`
	if r.body != want {
		t.Errorf("principal\n got %s\nwant %s", r.body, want)
	}
	if r.decision.Issuer != introIssuer || r.decision.Subject != "bob" || r.decision.ClientID != "agent" {
		t.Errorf("decision names %q %q %q", r.decision.Issuer, r.decision.Subject, r.decision.ClientID)
	}
}

func jsonNumber(n int64) string { b, _ := json.Marshal(n); return string(b) }

// TestIntrospectionCache: an active answer is remembered until the earlier
// of exp and CacheTTL, a refusal for InactiveCacheTTL; the route's
// requirement is checked on every request, cached or not.
func TestIntrospectionCache(t *testing.T) {
	t.Parallel()
	t.Run("scope re-checked on a hit", func(t *testing.T) {
		t.Parallel()
		clock := &testClock{t: time.Unix(1_900_000_000, 0)}
		ep := newIntroEndpoint(t, jsonAnswer(introAnswer(clock, "scope", "read")))
		f := newIntroFixture(t, nil, introBasic(ep.URL), nil)
		f.do(t, "tok", "read").check(t, warden.ReasonOK)
		f.do(t, "tok", "write").check(t, warden.ReasonInsufficientScope)
		f.do(t, "tok", "read").check(t, warden.ReasonOK)
		if n := ep.calls.Load(); n != 1 {
			t.Errorf("%d introspection calls, want 1", n)
		}
	})
	t.Run("until CacheTTL", func(t *testing.T) {
		t.Parallel()
		f0 := &testClock{t: time.Unix(1_900_000_000, 0)}
		ep := newIntroEndpoint(t, jsonAnswer(introAnswer(f0, "exp", f0.Now().Add(time.Hour).Unix())))
		in := introBasic(ep.URL)
		in.CacheTTL = 10 * time.Second
		f := newIntroFixture(t, nil, in, func(c *warden.Config) { c.MaxTokenLifetime = 2 * time.Hour })
		for _, step := range []struct {
			advance time.Duration
			calls   int64
		}{{0, 1}, {10*time.Second - time.Nanosecond, 1}, {time.Nanosecond, 2}, {5 * time.Second, 2}} {
			f.clock.Advance(step.advance)
			f.do(t, "tok", "read").check(t, warden.ReasonOK)
			if n := ep.calls.Load(); n != step.calls {
				t.Errorf("after %v more: %d calls, want %d", step.advance, n, step.calls)
			}
		}
	})
	t.Run("until exp", func(t *testing.T) {
		t.Parallel()
		c0 := &testClock{t: time.Unix(1_900_000_000, 0)}
		ep := newIntroEndpoint(t, jsonAnswer(introAnswer(c0, "exp", c0.Now().Add(5*time.Second).Unix())))
		f := newIntroFixture(t, nil, introBasic(ep.URL), nil)
		f.do(t, "tok", "read").check(t, warden.ReasonOK)
		f.clock.Advance(5*time.Second - time.Nanosecond)
		f.do(t, "tok", "read").check(t, warden.ReasonOK)
		if n := ep.calls.Load(); n != 1 {
			t.Errorf("before exp: %d calls, want 1", n)
		}
		f.clock.Advance(time.Nanosecond) // at exp: asked again (and, within the leeway, still active)
		f.do(t, "tok", "read").check(t, warden.ReasonOK)
		if n := ep.calls.Load(); n != 2 {
			t.Errorf("at exp: %d calls, want 2", n)
		}
	})
	t.Run("inactive for InactiveCacheTTL", func(t *testing.T) {
		t.Parallel()
		ep := newIntroEndpoint(t, jsonAnswer(`{"active":false}`))
		in := introBasic(ep.URL)
		in.InactiveCacheTTL = 3 * time.Second
		f := newIntroFixture(t, nil, in, nil)
		for _, step := range []struct {
			advance time.Duration
			calls   int64
		}{{0, 1}, {3*time.Second - time.Nanosecond, 1}, {time.Nanosecond, 2}} {
			f.clock.Advance(step.advance)
			f.do(t, "bad", "read").check(t, warden.ReasonTokenInactive)
			if n := ep.calls.Load(); n != step.calls {
				t.Errorf("after %v more: %d calls, want %d", step.advance, n, step.calls)
			}
		}
	})
	t.Run("failures are not remembered", func(t *testing.T) {
		t.Parallel()
		ep := newIntroEndpoint(t, func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) })
		f := newIntroFixture(t, nil, introBasic(ep.URL), nil)
		f.do(t, "tok", "read").check(t, warden.ReasonIntrospectionUnavailable)
		ep.setAnswer(jsonAnswer(introAnswer(f.clock)))
		f.do(t, "tok", "read").check(t, warden.ReasonOK)
	})
	t.Run("revoked at the issuer: refused once CacheTTL passes", func(t *testing.T) {
		t.Parallel()
		c0 := &testClock{t: time.Unix(1_900_000_000, 0)}
		ep := newIntroEndpoint(t, jsonAnswer(introAnswer(c0)))
		f := newIntroFixture(t, nil, introBasic(ep.URL), nil) // default CacheTTL: 30 s
		f.do(t, "tok", "read").check(t, warden.ReasonOK)
		ep.setAnswer(jsonAnswer(`{"active":false}`)) // the issuer revokes it
		f.clock.Advance(30*time.Second - time.Nanosecond)
		f.do(t, "tok", "read").check(t, warden.ReasonOK) // the accepted delay
		f.clock.Advance(time.Nanosecond)
		f.do(t, "tok", "read").check(t, warden.ReasonTokenInactive)
	})
}

// TestIntrospectionRequest: what warden sends: the token with the hint,
// authenticated as configured, and nothing of it in the logs.
func TestIntrospectionRequest(t *testing.T) {
	t.Parallel()
	clock := &testClock{t: time.Unix(1_900_000_000, 0)}
	for _, tc := range []struct {
		name     string
		in       func(url string) warden.Introspection
		wantAuth string
		wantForm url.Values
	}{
		{"client_secret_basic", introBasic,
			"Basic " + base64.StdEncoding.EncodeToString([]byte("rs:rs-secret")), url.Values{}},
		{"client_secret_basic, form-encoded", func(u string) warden.Introspection {
			return warden.Introspection{Endpoint: u, ClientID: "rs one", ClientSecret: "s:e/c"}
		}, "Basic " + base64.StdEncoding.EncodeToString([]byte("rs+one:s%3Ae%2Fc")), url.Values{}},
		{"client_secret_post", func(u string) warden.Introspection {
			return warden.Introspection{Endpoint: u, ClientID: "rs", ClientSecret: "rs-secret", AuthMethod: "client_secret_post"}
		}, "", url.Values{"client_id": {"rs"}, "client_secret": {"rs-secret"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ep := newIntroEndpoint(t, jsonAnswer(introAnswer(clock)))
			f := newIntroFixture(t, nil, tc.in(ep.URL), nil)
			f.do(t, "the-opaque-token", "read").check(t, warden.ReasonOK)
			form, auth := ep.lastForm()
			want := url.Values{"token": {"the-opaque-token"}, "token_type_hint": {"access_token"}}
			for k, v := range tc.wantForm {
				want[k] = v
			}
			if auth != tc.wantAuth || !equalForms(form, want) {
				t.Errorf("sent Authorization %q form %v, want %q %v", auth, form, tc.wantAuth, want)
			}
			if strings.Contains(f.log.String(), "the-opaque-token") {
				t.Errorf("the token is in the log")
			}
		})
	}
}

func equalForms(a, b url.Values) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// TestIntrospectionCredentialsRefused: a 401 from the endpoint is warden's
// misconfiguration: 503 for the request, and a loud log line naming it,
// once per outage rather than once per request.
func TestIntrospectionCredentialsRefused(t *testing.T) {
	t.Parallel()
	ep := newIntroEndpoint(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("WWW-Authenticate", `Basic realm="as"`)
		http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
	})
	f := newIntroFixture(t, nil, introBasic(ep.URL), nil)
	for i := range 3 {
		f.do(t, "tok-"+string(rune('a'+i)), "read").check(t, warden.ReasonIntrospectionUnavailable)
	}
	log := f.log.String()
	if n := strings.Count(log, "level=ERROR"); n != 1 || !strings.Contains(log, "refused warden's client credentials") {
		t.Errorf("want one ERROR line naming the refused credentials; log:\n%s", log)
	}
	ep.setAnswer(jsonAnswer(introAnswer(f.clock)))
	f.do(t, "tok-z", "read").check(t, warden.ReasonOK)
	if !strings.Contains(f.log.String(), "introspection recovered") {
		t.Errorf("no recovery line; log:\n%s", f.log.String())
	}
}

// TestIntrospectionJWT: JWTs are verified, not introspected, unless the
// issuer opts in; then a verified JWT must also be active.
func TestIntrospectionJWT(t *testing.T) {
	t.Parallel()
	iss := wardentest.NewIssuer(t)
	iss.Audience = introAudience
	for _, opt := range []bool{false, true} {
		t.Run(map[bool]string{false: "default", true: "Introspection.JWT"}[opt], func(t *testing.T) {
			t.Parallel()
			ep := newIntroEndpoint(t, jsonAnswer(`{"active":false}`))
			in := introBasic(ep.URL)
			in.JWT = opt
			f := newIntroFixture(t, iss, in, nil)
			iss.SetClock(f.clock.Now)
			tok := iss.Scoped("read")
			want := warden.ReasonOK
			if opt {
				want = warden.ReasonTokenInactive
			}
			f.do(t, tok, "read").check(t, want)
			f.do(t, tok, "read").check(t, want) // the cached JWT, and the remembered answer
			if n, wantCalls := ep.calls.Load(), map[bool]int64{false: 0, true: 1}[opt]; n != wantCalls {
				t.Errorf("%d introspection calls, want %d", n, wantCalls)
			}
			if opt {
				ep.setAnswer(jsonAnswer(`{"active":true}`)) // a bare answer suffices for a JWT
				tok2 := iss.Scoped("read")
				f.do(t, tok2, "read").check(t, warden.ReasonOK)
				f.do(t, iss.Scoped("write"), "read").check(t, warden.ReasonInsufficientScope)
			}
			// A bad JWT is refused on its own: never sent.
			calls := ep.calls.Load()
			f.do(t, tok[:len(tok)-4]+"AAAA", "read").check(t, warden.ReasonBadSignature)
			if ep.calls.Load() != calls {
				t.Errorf("a JWT with a bad signature was introspected")
			}
		})
	}
}

// TestIntrospectionIssuerOutage: every way the wardentest issuer's
// endpoint can fail is a 503 with Retry-After, never a 401 and never an
// admission; once it recovers, the token is admitted. The endpoint is
// found by discovery.
func TestIntrospectionIssuerOutage(t *testing.T) {
	t.Parallel()
	for _, failure := range wardentest.Failures() {
		t.Run(failure.String(), func(t *testing.T) {
			t.Parallel()
			iss := wardentest.NewIssuer(t)
			iss.Audience = introAudience
			iss.AddClient(wardentest.Client{ID: "rs", Secret: "rs-secret"})
			// Hang waits for the Timeout in full: 200 ms here, not the
			// default 5 s. Slow answers in 100 ms, within the default.
			in := warden.Introspection{ClientID: "rs", ClientSecret: "rs-secret"}
			if failure == wardentest.Hang {
				in.Timeout = 200 * time.Millisecond
			}
			f := newIntroFixture(t, nil, in,
				func(c *warden.Config) {
					c.Issuers[0].URL, c.Issuers[0].JWKS, c.Issuers[0].JWKSURL = iss.URL, nil, iss.JWKSURL()
				})
			iss.SetClock(f.clock.Now)
			tok := iss.MintOpaque(wardentest.Token{Claims: wardentest.Claims{"scope": "read"}})
			iss.FailIntrospection(failure)
			want := warden.ReasonIntrospectionUnavailable
			if failure == wardentest.Slow {
				want = warden.ReasonOK // 100 ms, within the timeout
			}
			f.do(t, tok, "read").check(t, want)
			iss.FailIntrospection(wardentest.Healthy)
			f.do(t, tok, "read").check(t, warden.ReasonOK)
		})
	}
}

// TestIntrospectionLazyDiscovery: with KeySetPolicy.LazyStart, New does
// not wait for the discovery document; requests get 503 until the
// endpoint is found, then are answered.
func TestIntrospectionLazyDiscovery(t *testing.T) {
	t.Parallel()
	iss := wardentest.NewIssuer(t)
	iss.Audience = introAudience
	iss.AddClient(wardentest.Client{ID: "rs", Secret: "rs-secret"})
	docs := newIntroEndpoint(t, func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) })
	f := newIntroFixture(t, nil, warden.Introspection{ClientID: "rs", ClientSecret: "rs-secret"}, func(c *warden.Config) {
		c.Issuers[0].URL, c.Issuers[0].DiscoveryURL, c.Issuers[0].JWKS = iss.URL, docs.URL, nil
		c.KeySetPolicy.LazyStart = true
	})
	iss.SetClock(f.clock.Now)
	tok := iss.MintOpaque(wardentest.Token{Claims: wardentest.Claims{"scope": "read"}})
	f.do(t, tok, "read").check(t, warden.ReasonIntrospectionUnavailable)
	if iss.Introspections() != 0 {
		t.Errorf("an introspection call without an endpoint")
	}
	// The next discovery is due 5 s of real time later: a new middleware
	// shows the success path.
	ok := newIntroFixture(t, nil, warden.Introspection{ClientID: "rs", ClientSecret: "rs-secret"}, func(c *warden.Config) {
		c.Issuers[0].URL = iss.URL
		c.KeySetPolicy.LazyStart = true
	})
	iss.SetClock(ok.clock.Now)
	tok = iss.MintOpaque(wardentest.Token{Claims: wardentest.Claims{"scope": "read"}})
	ok.do(t, tok, "read").check(t, warden.ReasonOK)
}

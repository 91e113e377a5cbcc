package warden_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// The helpers of the review tests (review_*_test.go): an injected clock, a
// decision recorder, introspection endpoints on loopback, and the wire
// check of a refusal.

const (
	rvIssuer   = "https://as.review.test"
	rvAudience = "https://api.review.test"
)

// rvAnswer is an active answer of rvIssuer (see activeAnswer).
func rvAnswer(now time.Time, kv ...any) map[string]any {
	return activeAnswer(rvIssuer, rvAudience, now, kv...)
}

func rvMarshal(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// rvFixture is a middleware with its clock and decisions.
type rvFixture struct {
	mw        *warden.Middleware
	clock     *testClock
	decisions *decRecorder
}

// newRVFixture builds a middleware from cfg, with the fixture's clock and
// decision hook.
func newRVFixture(t *testing.T, clock *testClock, cfg warden.Config) *rvFixture {
	t.Helper()
	f := &rvFixture{clock: clock, decisions: &decRecorder{}}
	cfg.Now = clock.Now
	cfg.OnDecision = f.decisions.hook
	cfg.Logger = slog.New(slog.DiscardHandler)
	mw, err := warden.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = mw.Close() })
	f.mw = mw
	return f
}

// rvIntrospecting is a config trusting rvIssuer (static key k) that
// introspects at endpoint as client "rs".
func rvIntrospecting(k *wardentest.Key, endpoint string) warden.Config {
	return warden.Config{Issuers: []warden.IssuerConfig{{URL: rvIssuer, Audience: rvAudience, JWKS: wardentest.JWKS(k),
		Introspection: warden.Introspection{Endpoint: endpoint, ClientID: "rs", ClientSecret: "rs-secret"}}}}
}

// rvResult is what one request got.
type rvResult struct {
	status     int
	challenges []string
	retryAfter string
	body       string
	decision   warden.Decision
}

// do sends token as a bearer token to a route requiring scope "read", and
// returns the response and its one decision.
func (f *rvFixture) do(t *testing.T, token string) rvResult {
	t.Helper()
	h := f.mw.Require(warden.Scopes("read"))(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	w, d := serveBearer(t, h, f.decisions, token)
	return rvResult{status: w.Code, challenges: w.Header().Values("WWW-Authenticate"),
		retryAfter: w.Header().Get("Retry-After"), body: w.Body.String(), decision: d}
}

// check asserts admission (ReasonOK), or the refusal of reason as the wire
// shows it: status, every challenge (the Bearer one, then extra),
// Retry-After and the exact body.
func (r rvResult) check(t *testing.T, reason warden.Reason, extra ...string) {
	t.Helper()
	if r.decision.Reason != reason {
		t.Fatalf("reason %q (cause %v), want %q", r.decision.Reason, r.decision.Err, reason)
	}
	desc := (&warden.Error{Reason: reason}).Description()
	switch reason.Status() {
	case 0:
		if r.status != http.StatusOK || r.challenges != nil || r.body != "ok" {
			t.Errorf("admitted: status %d, challenges %q, body %q", r.status, r.challenges, r.body)
		}
	case http.StatusServiceUnavailable:
		body := `{"error":"temporarily_unavailable","error_description":"` + desc + `"}` + "\n"
		if r.status != http.StatusServiceUnavailable || r.challenges != nil || r.retryAfter != "5" || r.body != body {
			t.Errorf("got %d %q Retry-After %q body %q, want 503, no challenge, Retry-After 5, %q", r.status, r.challenges, r.retryAfter, r.body, body)
		}
	case http.StatusUnauthorized:
		challenge := `Bearer realm="api", error="invalid_token", error_description="` + desc + `"`
		body := `{"error":"invalid_token","error_description":"` + desc + `"}` + "\n"
		if r.status != http.StatusUnauthorized || !slices.Equal(r.challenges, append([]string{challenge}, extra...)) || r.retryAfter != "" || r.body != body {
			t.Errorf("got %d %q Retry-After %q body %q, want 401 %q %q", r.status, r.challenges, r.retryAfter, r.body, append([]string{challenge}, extra...), body)
		}
	default:
		t.Fatalf("no check for status %d", reason.Status())
	}
}

package warden_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// Helpers of the DPoP and mTLS tests (dpop_test.go, mtls_test.go), kept
// apart from the shared root helpers.

// bindingReasons are the reasons of bound tokens; each has its case in the
// DPoP and mTLS tables, which check them all.
var bindingReasons = map[warden.Reason]bool{
	warden.ReasonDPoPProofMissing: true, warden.ReasonDPoPProofRepeated: true, warden.ReasonDPoPProofMalformed: true,
	warden.ReasonDPoPWrongType: true, warden.ReasonDPoPDisallowedAlg: true, warden.ReasonDPoPBadKey: true,
	warden.ReasonDPoPBadSignature: true, warden.ReasonDPoPWrongMethod: true, warden.ReasonDPoPWrongURI: true,
	warden.ReasonDPoPStale: true, warden.ReasonDPoPNonceMissing: true, warden.ReasonDPoPNonceInvalid: true,
	warden.ReasonDPoPTokenHash: true, warden.ReasonDPoPKeyMismatch: true, warden.ReasonDPoPReplayed: true,
	warden.ReasonDPoPUnboundToken: true, warden.ReasonDPoPDowngrade: true, warden.ReasonReplayUnavailable: true,
	warden.ReasonCertificateMissing: true, warden.ReasonCertificateMismatch: true,
}

// bindFixture is an issuer whose keys the middleware holds statically, a
// clock both share, and a route requiring entry:read.
type bindFixture struct {
	iss       *wardentest.Issuer
	clock     *testClock
	mw        *warden.Middleware
	h         http.Handler
	decisions *decRecorder
}

func newBindFixture(t *testing.T, mutate func(*warden.Config)) *bindFixture {
	t.Helper()
	f := &bindFixture{iss: wardentest.NewIssuer(t), clock: newTestClock(), decisions: &decRecorder{}}
	f.iss.SetClock(f.clock.Now)
	cfg := f.iss.StaticConfig()
	cfg.Now = f.clock.Now
	cfg.OnDecision = f.decisions.hook
	cfg.Logger = slog.New(slog.DiscardHandler)
	if mutate != nil {
		mutate(&cfg)
	}
	mw, err := warden.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { mw.Close() })
	f.mw = mw
	f.h = mw.Require(warden.Scopes("entry:read"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := warden.PrincipalFrom(r.Context())
		w.Header().Set("X-Scheme", p.Scheme().String())
		_, _ = w.Write([]byte("ok"))
	}))
	return f
}

// outcome is what one request must produce.
type outcome struct {
	status     int
	challenges []string // every WWW-Authenticate line, in order
	body       string   // the exact body
	reason     warden.Reason
}

// check asserts status, every challenge line, the body and exactly one
// decision with the reason.
func (f *bindFixture) check(t *testing.T, w *httptest.ResponseRecorder, want outcome) {
	t.Helper()
	if w.Code != want.status {
		t.Errorf("status: got %d, want %d (body %q)", w.Code, want.status, w.Body)
	}
	if got := w.Header().Values("WWW-Authenticate"); !slices.Equal(got, want.challenges) {
		t.Errorf("WWW-Authenticate:\n got %q\nwant %q", got, want.challenges)
	}
	if got := w.Body.String(); got != want.body {
		t.Errorf("body: got %q, want %q", got, want.body)
	}
	ds := f.decisions.take()
	if len(ds) != 1 {
		t.Fatalf("got %d decisions, want 1", len(ds))
	}
	if ds[0].Reason != want.reason {
		t.Errorf("reason: got %q (cause %v), want %q", ds[0].Reason, ds[0].Err, want.reason)
	}
	if want.status >= 400 && w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("refusal without Cache-Control: no-store")
	}
}

// refusal is the outcome of a refusal with the standard JSON body.
func refusal(status int, reason warden.Reason, code, desc string, challenges ...string) outcome {
	return outcome{status: status, challenges: challenges, reason: reason,
		body: `{"error":"` + code + `","error_description":"` + desc + `"}` + "\n"}
}

var admitted = outcome{status: http.StatusOK, body: "ok", reason: warden.ReasonOK}

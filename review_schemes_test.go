package warden_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// The answers of these tests, spelled out here rather than shared, so the
// file stands on its own.
const (
	rvBareBearer = `Bearer realm="api"`
	rvBareBasic  = `Basic realm="api", charset="UTF-8"`
	rvBodyNone   = `{"error":"unauthorized","error_description":"Authentication is required"}` + "\n"
)

// rvClients accepts client c1 with secret s3cr3t.
type rvClients struct{}

func (rvClients) VerifyClient(_ context.Context, id, secret string) ([]string, error) {
	if id == "c1" && secret == "s3cr3t" {
		return []string{"entry:read"}, nil
	}
	return nil, warden.ErrInvalidClient
}

// rvMiddleware builds a middleware trusting a new test issuer, realm
// "api", with cfg adjusted by mutate, recording its Decisions.
func rvMiddleware(t *testing.T, mutate func(*warden.Config)) (*warden.Middleware, *wardentest.Issuer, *decRecorder) {
	t.Helper()
	iss := wardentest.NewIssuer(t)
	cfg := iss.StaticConfig()
	cfg.Realm = "api"
	dec := &decRecorder{}
	cfg.OnDecision = dec.hook
	mutate(&cfg)
	mw, err := warden.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mw.Close() })
	return mw, iss, dec
}

// rvServe sends one request with the given Authorization lines to h and
// checks the refusal: status, every WWW-Authenticate line, the exact body
// and exactly one Decision with reason.
func rvServe(t *testing.T, h http.Handler, dec *decRecorder, auth []string, status int, challenges []string, body string, reason warden.Reason) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "https://api.example/x", nil)
	for _, a := range auth {
		r.Header.Add("Authorization", a)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != status {
		t.Errorf("status %d, want %d", w.Code, status)
	}
	if got := w.Result().Header.Values("WWW-Authenticate"); strings.Join(got, "\n") != strings.Join(challenges, "\n") {
		t.Errorf("WWW-Authenticate\n%q\nwant\n%q", got, challenges)
	}
	if w.Body.String() != body {
		t.Errorf("body %q, want %q", w.Body.String(), body)
	}
	ds := dec.take()
	if len(ds) != 1 || ds[0].Reason != reason {
		t.Errorf("decisions %+v, want one with reason %s", ds, reason)
	}
}

// TestReviewUnsupportedScheme: credentials of a scheme the route does not
// take are no credentials at all (RFC 6750 §3.1, RFC 9110 §11.6.1), however
// malformed: 401 unsupported_scheme with the route's bare challenges, never
// a malformed-credentials refusal of a scheme the route does not speak.
// Before the fix, Basic garbage on a Bearer-only route was answered as
// basic_invalid (401 with a Basic challenge the route does not offer), and
// Bearer garbage on a Basic-only route as malformed_token.
func TestReviewUnsupportedScheme(t *testing.T) {
	t.Parallel()
	mw, _, dec := rvMiddleware(t, func(cfg *warden.Config) {
		cfg.Clients = rvClients{}
		cfg.DPoP.Mode = warden.DPoPOff // a route without DPoP
	})
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	bearerOnly := mw.Accept(warden.SchemeBearer).Require()(ok)
	basicOnly := mw.Accept(warden.SchemeBasic).Require()(ok)
	huge := strings.Repeat("A", 20<<10)
	for _, tc := range []struct {
		name       string
		h          http.Handler
		auth       string
		challenges []string
	}{
		{"bearer route, Basic garbage", bearerOnly, "Basic !!!", []string{rvBareBearer}},
		{"bearer route, Basic without credentials", bearerOnly, "Basic", []string{rvBareBearer}},
		{"bearer route, Basic with trailing data", bearerOnly, "Basic YTpi xyz", []string{rvBareBearer}},
		{"bearer route, Basic too large", bearerOnly, "Basic " + huge, []string{rvBareBearer}},
		{"bearer route, Basic TAB", bearerOnly, "Basic\tYTpi", []string{rvBareBearer}},
		{"bearer route without DPoP, DPoP garbage", bearerOnly, "DPoP !!!", []string{rvBareBearer}},
		{"bearer route without DPoP, DPoP without token", bearerOnly, "DPoP", []string{rvBareBearer}},
		{"basic route, Bearer garbage", basicOnly, "Bearer café", []string{rvBareBasic}},
		{"basic route, Bearer without token", basicOnly, "Bearer", []string{rvBareBasic}},
		{"basic route, Bearer too large", basicOnly, "Bearer " + huge, []string{rvBareBasic}},
		{"basic route, Bearer with trailing data", basicOnly, "Bearer abc xyz", []string{rvBareBasic}},
		{"basic route, DPoP garbage", basicOnly, "DPoP !!!", []string{rvBareBasic}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rvServe(t, tc.h, dec, []string{tc.auth}, http.StatusUnauthorized, tc.challenges, rvBodyNone, warden.ReasonUnsupportedScheme)
		})
	}
	// Two Authorization lines are a malformed request whatever their
	// schemes: the request, not a scheme, is wrong.
	t.Run("two lines stay invalid_request", func(t *testing.T) {
		rvServe(t, bearerOnly, dec, []string{"Basic !!!", "Basic !!!"}, http.StatusBadRequest,
			[]string{`Bearer realm="api", error="invalid_request", error_description="The request is malformed"`},
			`{"error":"invalid_request","error_description":"The request is malformed"}`+"\n", warden.ReasonMalformedRequest)
	})
}

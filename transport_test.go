package warden_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// This file tests Middleware.RequireCall, the request path for transports
// other than net/http, against the HTTP path itself: every case is sent
// both ways and must give the same decision and the same header fields.

// callFixture is a Middleware with recorded decisions.
type callFixture struct {
	iss *wardentest.Issuer
	mw  *warden.Middleware
	mu  sync.Mutex
	got []warden.Decision
}

func newCallFixture(t *testing.T, mutate func(*warden.Config)) *callFixture {
	t.Helper()
	f := &callFixture{iss: wardentest.NewIssuer(t)}
	cfg := f.iss.StaticConfig()
	cfg.Clients = callClients{"reader": "reader-secret"}
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.OnDecision = func(_ context.Context, d warden.Decision) {
		f.mu.Lock()
		f.got = append(f.got, d)
		f.mu.Unlock()
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

// decisions returns and forgets the decisions made so far.
func (f *callFixture) decisions() []warden.Decision {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.got
	f.got = nil
	return d
}

// callClients is a ClientVerifier of plain secrets, for tests only.
type callClients map[string]string

func (c callClients) VerifyClient(_ context.Context, id, secret string) ([]string, error) {
	if s, ok := c[id]; ok && s == secret {
		return []string{"Entry_Read"}, nil
	}
	return nil, warden.ErrInvalidClient
}

// callCase is one call, presented over HTTP and as a warden.Call.
type callCase struct {
	name   string
	auth   []string
	dpop   func(uri string) []string // the proofs for the URI the call is made to
	cert   bool                      // present the client certificate
	reason warden.Reason
}

const callURI = "https://api.example.test/entries"

func callCases(t *testing.T, iss *wardentest.Issuer, cert *wardentest.Certificate) []callCase {
	t.Helper()
	now := time.Now()
	key := wardentest.NewECKey("client")
	bound := iss.Mint(wardentest.Token{DPoPKey: key, Claims: wardentest.Claims{"scope": "Entry_Read"}})
	proof := func(tok string) func(string) []string {
		return func(uri string) []string {
			return []string{key.Proof(wardentest.Proof{Method: http.MethodPost, URL: uri, AccessToken: tok})}
		}
	}
	certBound := iss.Mint(wardentest.Token{Certificate: cert.Cert, Claims: wardentest.Claims{"scope": "Entry_Read"}})
	bearer := func(tok string) []string { return []string{"Bearer " + tok} }
	basic := func(id, secret string) []string {
		return []string{"Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))}
	}
	return []callCase{
		{name: "no credentials", reason: warden.ReasonMissingCredentials},
		{name: "empty value", auth: []string{""}, reason: warden.ReasonMissingCredentials},
		{name: "two values", auth: []string{"Bearer a", "Bearer b"}, reason: warden.ReasonMalformedRequest},
		{name: "Bearer without token", auth: []string{"Bearer"}, reason: warden.ReasonMalformedRequest},
		{name: "unknown scheme", auth: []string{"Token abc"}, reason: warden.ReasonUnsupportedScheme},
		{name: "malformed token", auth: bearer("not-a-jwt"), reason: warden.ReasonMalformedToken},
		{name: "bad signature", auth: bearer(iss.Mint(wardentest.Token{Claims: wardentest.Claims{"scope": "Entry_Read"},
			Key: wardentest.NewRSAKey("rsa-1")})), reason: warden.ReasonBadSignature},
		{name: "expired", auth: bearer(iss.Mint(wardentest.Token{Claims: wardentest.Claims{"scope": "Entry_Read",
			"iat": now.Add(-time.Hour).Unix(), "exp": now.Add(-30 * time.Minute).Unix()}})), reason: warden.ReasonExpired},
		{name: "wrong audience", auth: bearer(iss.Mint(wardentest.Token{Claims: wardentest.Claims{"scope": "Entry_Read",
			"aud": "https://other.example.test"}})), reason: warden.ReasonWrongAudience},
		{name: "insufficient scope", auth: bearer(iss.Scoped("Other")), reason: warden.ReasonInsufficientScope},
		{name: "good", auth: bearer(iss.Scoped("Entry_Read")), reason: warden.ReasonOK},
		{name: "good, lower-case scheme", auth: []string{"bearer " + iss.Scoped("Entry_Read")}, reason: warden.ReasonOK},
		{name: "Basic good", auth: basic("reader", "reader-secret"), reason: warden.ReasonOK},
		{name: "Basic bad", auth: basic("reader", "wrong"), reason: warden.ReasonBasicInvalid},
		{name: "DPoP good", auth: []string{"DPoP " + bound}, dpop: proof(bound), reason: warden.ReasonOK},
		{name: "DPoP without proof", auth: []string{"DPoP " + bound}, reason: warden.ReasonDPoPProofMissing},
		{name: "DPoP proof for another URI", auth: []string{"DPoP " + bound},
			dpop: func(string) []string { return proof(bound)("https://api.example.test/other") }, reason: warden.ReasonDPoPWrongURI},
		{name: "DPoP-bound token as Bearer", auth: bearer(bound), reason: warden.ReasonDPoPDowngrade},
		{name: "certificate-bound, no certificate", auth: bearer(certBound), reason: warden.ReasonCertificateMissing},
		{name: "certificate-bound, with it", auth: bearer(certBound), cert: true, reason: warden.ReasonOK},
	}
}

// TestRequireCallMatchesHTTP sends every case to a route over HTTP and to
// the same requirement's RequireCall: the same one decision, the same
// refusal, and Error.Header holding exactly the challenges, Retry-After and
// DPoP-Nonce the HTTP response carries.
func TestRequireCallMatchesHTTP(t *testing.T) {
	t.Parallel()
	f := newCallFixture(t, func(c *warden.Config) { c.DPoP.PublicURL = "https://api.example.test" })
	cert := wardentest.NewCA("ca").Issue("client")
	req := warden.Scopes("Entry_Read")
	view := f.mw.Accept(warden.SchemeBearer, warden.SchemeBasic)
	route := view.Require(req)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := warden.PrincipalFrom(r.Context())
		w.Header().Set("X-Subject", p.Subject())
	}))
	check := view.RequireCall(req)
	for _, tc := range callCases(t, f.iss, cert) {
		t.Run(tc.name, func(t *testing.T) {
			// Over HTTP.
			r := httptest.NewRequest(http.MethodPost, callURI, nil)
			for _, a := range tc.auth {
				r.Header.Add("Authorization", a)
			}
			if tc.dpop != nil {
				r.Header["Dpop"] = tc.dpop(callURI)
			}
			if tc.cert {
				r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert.Cert}}
			}
			w := httptest.NewRecorder()
			route.ServeHTTP(w, r)
			httpDecisions := f.decisions()

			// As a call.
			c := warden.Call{Authorization: tc.auth, Method: http.MethodPost, URI: "https://internal:8443/entries"}
			if tc.dpop != nil {
				c.DPoP = tc.dpop(callURI)
			}
			if tc.cert {
				c.PeerCertificate = cert.Cert
			}
			ctx, e := check(context.Background(), c)
			callDecisions := f.decisions()

			if len(httpDecisions) != 1 || len(callDecisions) != 1 {
				t.Fatalf("decisions: HTTP %d, call %d, want one each", len(httpDecisions), len(callDecisions))
			}
			hd, cd := httpDecisions[0], callDecisions[0]
			if hd.Reason != tc.reason || cd.Reason != tc.reason {
				t.Fatalf("reason: HTTP %q, call %q, want %q", hd.Reason, cd.Reason, tc.reason)
			}
			if hd.Status != cd.Status || hd.Scheme != cd.Scheme || hd.Subject != cd.Subject || hd.Requirement != cd.Requirement {
				t.Errorf("decisions differ:\nHTTP %+v\ncall %+v", hd, cd)
			}
			p, ok := warden.PrincipalFrom(ctx)
			if tc.reason == warden.ReasonOK {
				if e != nil || !ok || p.Subject() != w.Header().Get("X-Subject") {
					t.Fatalf("call refused (%v) or principal %v, %v; HTTP saw %q", e, p, ok, w.Header().Get("X-Subject"))
				}
				return
			}
			if e == nil || ok {
				t.Fatalf("call admitted, want %q", tc.reason)
			}
			if e.Status() != w.Code {
				t.Errorf("status: call %d, HTTP %d", e.Status(), w.Code)
			}
			h := e.Header()
			for _, k := range []string{"WWW-Authenticate", "Retry-After", "DPoP-Nonce"} {
				if got, want := h.Values(k), w.Header().Values(k); !slices.Equal(got, want) {
					t.Errorf("%s: call %q, HTTP %q", k, got, want)
				}
			}
			for k := range h {
				if k != "Www-Authenticate" && k != "Retry-After" && k != "Dpop-Nonce" {
					t.Errorf("Header holds %s, not a field of the refusal's own", k)
				}
			}
		})
	}
}

// TestRequireCallHeaders checks the refusals whose Header carries more
// than challenges: Retry-After of a 503 and the DPoP-Nonce a proof must
// use; and that an Error warden did not return has an empty Header.
func TestRequireCallHeaders(t *testing.T) {
	t.Parallel()
	t.Run("keys unavailable", func(t *testing.T) {
		t.Parallel()
		iss := wardentest.NewIssuer(t)
		iss.FailJWKS(wardentest.Status500)
		f := newCallFixture(t, func(c *warden.Config) {
			*c = iss.Config()
			c.KeySetPolicy.LazyStart = true
			c.Logger = slog.New(slog.DiscardHandler)
		})
		_, e := f.mw.RequireCall()(context.Background(), warden.Call{Authorization: []string{"Bearer " + iss.Scoped("")}})
		if e == nil || e.Reason != warden.ReasonKeysUnavailable {
			t.Fatalf("got %v, want keys_unavailable", e)
		}
		h := e.Header()
		if h.Get("Retry-After") != "5" || h.Values("WWW-Authenticate") != nil {
			t.Errorf("Header %v, want Retry-After 5 and no challenge", h)
		}
	})
	t.Run("nonce required", func(t *testing.T) {
		t.Parallel()
		f := newCallFixture(t, func(c *warden.Config) { c.DPoP.NonceKey = make([]byte, 32) })
		key := wardentest.NewECKey("client")
		tok := f.iss.Mint(wardentest.Token{DPoPKey: key})
		c := warden.Call{Authorization: []string{"DPoP " + tok}, Method: "POST", URI: callURI,
			DPoP: []string{key.Proof(wardentest.Proof{Method: "POST", URL: callURI, AccessToken: tok})}}
		_, e := f.mw.RequireCall()(context.Background(), c)
		if e == nil || e.Reason != warden.ReasonDPoPNonceMissing {
			t.Fatalf("got %v, want dpop_nonce_missing", e)
		}
		nonce := e.Header().Get("DPoP-Nonce")
		if nonce == "" || !slices.ContainsFunc(e.Header().Values("WWW-Authenticate"), func(v string) bool {
			return len(v) > 4 && v[:4] == "DPoP"
		}) {
			t.Fatalf("Header %v, want a DPoP challenge and DPoP-Nonce", e.Header())
		}
		c.DPoP = []string{key.Proof(wardentest.Proof{Method: "POST", URL: callURI, AccessToken: tok, Nonce: nonce})}
		if _, e := f.mw.RequireCall()(context.Background(), c); e != nil {
			t.Fatalf("with the nonce: %v", e)
		}
	})
	t.Run("Authorize and Verify", func(t *testing.T) {
		t.Parallel()
		f := newCallFixture(t, nil)
		p, err := f.mw.Verify(context.Background(), f.iss.Scoped("Entry_Read"))
		if err != nil {
			t.Fatal(err)
		}
		var e *warden.Error
		if err := f.mw.Authorize(context.Background(), p, warden.Scopes("Entry_Write")); !errors.As(err, &e) {
			t.Fatalf("Authorize: %v", err)
		}
		if got := e.Header().Values("WWW-Authenticate"); !slices.Equal(got, []string{`Bearer realm="api", error="insufficient_scope", scope="Entry_Write"`}) {
			t.Errorf("Authorize's challenge %q", got)
		}
		_, err = f.mw.Verify(context.Background(), "not-a-jwt")
		if !errors.As(err, &e) || len(e.Header().Values("WWW-Authenticate")) != 1 {
			t.Errorf("Verify's refusal %v has Header %v", err, e.Header())
		}
		if h := (&warden.Error{Reason: warden.ReasonExpired}).Header(); len(h) != 0 {
			t.Errorf("an Error warden did not return has Header %v", h)
		}
	})
}

// TestRequireCallPanics: an invalid requirement is a programming error
// found at start-up, as with Require.
func TestRequireCallPanics(t *testing.T) {
	t.Parallel()
	f := newCallFixture(t, nil)
	defer func() {
		if recover() == nil {
			t.Error("RequireCall(Scopes(\"a b\")) did not panic")
		}
	}()
	f.mw.RequireCall(warden.Scopes("a b"))
}

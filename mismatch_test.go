package warden_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// This file tests that warden explains a wrong issuer or audience: for a
// token whose signature verified, the refusal carries what the
// configuration expected and what the token holds (Error.Expected and
// Got, Verify's error text, the Debug log line), and a configured issuer
// that differs from the real one only in spelling is named as such, at
// start-up and per request.

// TestMismatchExplained runs Verify and a route for each case and checks
// the error text, Expected and Got, and the decision's log line at Debug
// and at Info.
func TestMismatchExplained(t *testing.T) {
	t.Parallel()
	iss := wardentest.NewIssuer(t)
	other := wardentest.NewIssuer(t)
	keys := wardentest.JWKS(iss.Keys()...)
	rows := []struct {
		name       string
		configured string // the issuer URL configured
		token      string
		reason     warden.Reason
		text       string   // Verify's error, exactly
		expected   []string // Error.Expected; nil: none, and no Got either
		got        []string
	}{
		{name: "wrong audience", configured: iss.URL,
			token:    iss.Mint(wardentest.Token{Claims: wardentest.Claims{"aud": []string{"https://a.example", "https://b.example"}}}),
			reason:   warden.ReasonWrongAudience,
			text:     `warden: wrong_audience: expected audience "` + iss.Audience + `" got ["https://a.example" "https://b.example"]`,
			expected: []string{iss.Audience}, got: []string{"https://a.example", "https://b.example"}},
		{name: "no audience", configured: iss.URL,
			token:    iss.Mint(wardentest.Token{Claims: wardentest.Claims{"aud": nil}}),
			reason:   warden.ReasonWrongAudience,
			text:     `warden: wrong_audience: expected audience "` + iss.Audience + `", token has no "aud"`,
			expected: []string{iss.Audience}},
		{name: "issuer configured with a trailing slash", configured: iss.URL + "/", token: iss.Scoped(""),
			reason: warden.ReasonWrongIssuer,
			text: `warden: wrong_issuer: expected issuer "` + iss.URL + `/" got "` + iss.URL +
				`": they differ only by a trailing slash; configure the issuer exactly as its tokens name it`,
			expected: []string{iss.URL + "/"}, got: []string{iss.URL}},
		{name: "issuer configured in upper case", configured: strings.ToUpper(iss.URL), token: iss.Scoped(""),
			reason: warden.ReasonWrongIssuer,
			text: `warden: wrong_issuer: expected issuer "` + strings.ToUpper(iss.URL) + `" got "` + iss.URL +
				`": they differ only in letter case; configure the issuer exactly as its tokens name it`,
			expected: []string{strings.ToUpper(iss.URL)}, got: []string{iss.URL}},
		{name: "misspelled issuer, signature not verified", configured: iss.URL + "/",
			token:  iss.Mint(wardentest.Token{Key: wardentest.NewRSAKey("rsa-1")}),
			reason: warden.ReasonWrongIssuer, text: `warden: wrong_issuer`},
		{name: "another issuer altogether", configured: iss.URL, token: other.Scoped(""),
			reason: warden.ReasonWrongIssuer, text: `warden: wrong_issuer`},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			var mu sync.Mutex
			debug := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			var decisions []warden.Decision
			mw, err := warden.New(warden.Config{
				Issuers: []warden.IssuerConfig{{URL: row.configured, Audience: iss.Audience, JWKS: keys}},
				OnDecision: warden.ChainDecisions(warden.LogDecisions(debug), func(_ context.Context, d warden.Decision) {
					mu.Lock()
					decisions = append(decisions, d)
					mu.Unlock()
				}),
				Logger: slog.New(slog.DiscardHandler),
			})
			if err != nil {
				t.Fatal(err)
			}
			defer mw.Close()

			_, err = mw.Verify(context.Background(), row.token)
			var e *warden.Error
			if !errors.As(err, &e) || e.Reason != row.reason {
				t.Fatalf("Verify: %v, want %s", err, row.reason)
			}
			if err.Error() != row.text {
				t.Errorf("Verify's error:\n got %s\nwant %s", err, row.text)
			}
			if !slices.Equal(e.Expected, row.expected) || !slices.Equal(e.Got, row.got) {
				t.Errorf("Expected %q Got %q, want %q and %q", e.Expected, e.Got, row.expected, row.got)
			}

			w := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Authorization", "Bearer "+row.token)
			mw.Authenticate(http.NotFoundHandler()).ServeHTTP(w, r)
			if len(decisions) != 1 || decisions[0].Err == nil || !slices.Equal(decisions[0].Err.Got, row.got) ||
				!slices.Equal(decisions[0].Err.Expected, row.expected) {
				t.Fatalf("decisions %+v, want one carrying Expected %q, Got %q", decisions, row.expected, row.got)
			}
			if strings.Contains(w.Body.String()+strings.Join(w.Header().Values("WWW-Authenticate"), ""), "expected") {
				t.Errorf("the response explains the mismatch: %v %s", w.Header(), w.Body)
			}
			line := logs.String()
			if strings.Count(line, "\n") != 1 {
				t.Fatalf("log %q, want one line", line)
			}
			if has := strings.Contains(line, " expected=") && strings.Contains(line, " got="); has != (row.expected != nil) {
				t.Errorf("Debug line %q: expected/got present %v, want %v", line, has, row.expected != nil)
			}
			if strings.Contains(line, row.token) {
				t.Errorf("the log holds the token")
			}
		})
	}
}

// TestMismatchNotAtInfo: at Info the decision line stays as it was.
func TestMismatchNotAtInfo(t *testing.T) {
	t.Parallel()
	iss := wardentest.NewIssuer(t)
	var logs bytes.Buffer
	cfg := iss.StaticConfig()
	cfg.OnDecision = warden.LogDecisions(slog.New(slog.NewTextHandler(&logs, nil)))
	mw, err := warden.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer mw.Close()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+iss.Mint(wardentest.Token{Claims: wardentest.Claims{"aud": "https://a.example"}}))
	mw.Authenticate(http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), r)
	if line := logs.String(); !strings.Contains(line, "reason=wrong_audience") || strings.Contains(line, "a.example") {
		t.Errorf("Info line %q", line)
	}
}

// TestMismatchOfRouteRequirement: a route's own Audience or Issuer
// requirement explains its refusal the same way.
func TestMismatchOfRouteRequirement(t *testing.T) {
	t.Parallel()
	iss := wardentest.NewIssuer(t)
	cfg := iss.StaticConfig()
	cfg.Issuers[0].Audiences = []string{"https://reports.example"}
	mw, err := warden.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer mw.Close()
	p, err := mw.Verify(context.Background(), iss.Scoped(""))
	if err != nil {
		t.Fatal(err)
	}
	var e *warden.Error
	err = mw.Authorize(context.Background(), p, warden.Audience("https://reports.example"))
	if !errors.As(err, &e) || !slices.Equal(e.Expected, []string{"https://reports.example"}) || !slices.Equal(e.Got, []string{iss.Audience}) {
		t.Errorf("Audience: %v (%q, %q)", err, e.Expected, e.Got)
	}
	if want := `warden: wrong_audience: expected audience "https://reports.example" got "` + iss.Audience + `"`; err.Error() != want {
		t.Errorf("Audience: %s, want %s", err, want)
	}
	cfg.Issuers = append(cfg.Issuers, warden.IssuerConfig{URL: "https://idp2.example", Audience: iss.Audience, JWKS: cfg.Issuers[0].JWKS})
	mw2, err := warden.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer mw2.Close()
	err = mw2.Authorize(context.Background(), p, warden.Issuer("https://idp2.example"))
	if !errors.As(err, &e) || !slices.Equal(e.Expected, []string{"https://idp2.example"}) || !slices.Equal(e.Got, []string{iss.URL}) {
		t.Errorf("Issuer: %v (%q, %q)", err, e.Expected, e.Got)
	}
}

// TestStartupIssuerSpelling: an issuer configured with a trailing slash or
// in another letter case than its discovery document names it is an error
// from New that says exactly that.
func TestStartupIssuerSpelling(t *testing.T) {
	t.Parallel()
	iss := wardentest.NewIssuer(t)
	for _, row := range []struct{ configured, says string }{
		{iss.URL + "/", "they differ only by a trailing slash"},
		{strings.Replace(iss.URL, "http://", "HTTP://", 1), "they differ only in letter case"},
	} {
		_, err := warden.New(warden.Config{
			Issuers: []warden.IssuerConfig{{URL: row.configured, Audience: iss.Audience}},
			Logger:  slog.New(slog.DiscardHandler),
		})
		var kfe *warden.KeyFetchError
		if !errors.As(err, &kfe) || kfe.Issuer != row.configured {
			t.Fatalf("%s: New: %v, want a *KeyFetchError", row.configured, err)
		}
		want := `document names "` + iss.URL + `", configured "` + row.configured + `": ` + row.says +
			"; configure the issuer exactly as the document names it"
		if !strings.Contains(err.Error(), want) {
			t.Errorf("New's error:\n%s\ndoes not say\n%s", err, want)
		}
	}
}

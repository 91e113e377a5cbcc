package warden_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// breakableJWKS serves iss's JWK Set on 127.0.0.1 until broken, then 500.
type breakableJWKS struct {
	srv     *httptest.Server
	broken  atomic.Bool
	fetches atomic.Int64
}

func newBreakableJWKS(t *testing.T, iss *wardentest.Issuer) *breakableJWKS {
	t.Helper()
	b := &breakableJWKS{}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		b.fetches.Add(1)
		if b.broken.Load() {
			http.Error(w, "down for maintenance", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "max-age=300")
		_, _ = w.Write(wardentest.JWKS(iss.Keys()...))
	}))
	t.Cleanup(b.srv.Close)
	return b
}

type readyReply struct {
	code int
	body struct {
		Status  string `json:"status"`
		Issuers []struct {
			Issuer           string   `json:"issuer"`
			Usable           bool     `json:"usable"`
			KeyIDs           []string `json:"key_ids"`
			LastRefresh      string   `json:"last_refresh"`
			StalenessSeconds int64    `json:"staleness_seconds"`
			RefreshFailing   bool     `json:"refresh_failing"`
		} `json:"issuers"`
	}
	raw string
}

func probe(t *testing.T, mw *warden.Middleware) readyReply {
	t.Helper()
	w := httptest.NewRecorder()
	mw.ReadyHandler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	var r readyReply
	r.code, r.raw = w.Code, w.Body.String()
	if err := json.Unmarshal(w.Body.Bytes(), &r.body); err != nil {
		t.Fatalf("readiness body %q: %v", r.raw, err)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("got Content-Type %q", ct)
	}
	if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("got Cache-Control %q, want no-store", cc)
	}
	if (r.code == http.StatusOK) != ready(mw) {
		t.Errorf("handler says %d but KeyStatus says usable=%v", r.code, ready(mw))
	}
	return r
}

// TestReadyStatic: static JWKS and HMAC issuers hold their keys from New on.
func TestReadyStatic(t *testing.T) {
	iss := wardentest.NewIssuer(t)
	mw, err := warden.New(warden.Config{
		Issuers: []warden.IssuerConfig{{
			URL:      iss.URL,
			Audience: iss.Audience,
			JWKS:     wardentest.JWKS(iss.Keys()...),
		}, {URL: "https://hmac.example", SkipAudienceCheck: true, HMACSecret: make([]byte, 32)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := probe(t, mw)
	if r.code != http.StatusOK || r.body.Status != "ready" || len(r.body.Issuers) != 2 {
		t.Fatalf("got %d %s, want 200 ready with two issuers", r.code, r.raw)
	}
	if got := r.body.Issuers[0].KeyIDs; len(got) != 3 {
		t.Errorf("got key ids %v, want the issuer's three", got)
	}
}

// TestReadyStates walks one remote issuer through the readiness states:
// never fetched, fresh, stale within MaxStaleness, stale beyond it, and
// fresh again, on an injected clock.
func TestReadyStates(t *testing.T) {
	iss := wardentest.NewIssuer(t)
	clock := &testClock{t: time.Now()}
	iss.SetClock(clock.Now)
	jwks := newBreakableJWKS(t, iss)
	jwks.broken.Store(true)

	mw, err := warden.New(warden.Config{
		Issuers: []warden.IssuerConfig{{
			URL:      iss.URL,
			Audience: iss.Audience,
			JWKSURL:  jwks.srv.URL + "/jwks.json",
		}},
		KeySetPolicy: warden.KeySetPolicy{LazyStart: true, MaxStaleness: time.Hour, UnknownKIDWait: 100 * time.Millisecond},
		Now:          clock.Now, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mw.Close() })
	api := mw.Require(warden.Scopes("entry:read"))(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	call := func() int {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", "Bearer "+iss.Scoped("entry:read"))
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
		return w.Code
	}

	// Never fetched: the issuer refuses to serve its keys.
	r := probe(t, mw)
	if r.code != http.StatusServiceUnavailable || r.body.Status != "not_ready" || r.body.Issuers[0].Usable || r.body.Issuers[0].LastRefresh != "" {
		t.Fatalf("never fetched: got %d %s, want 503 not_ready", r.code, r.raw)
	}

	// Fresh: the issuer recovers; the next request's refresh fetches keys.
	jwks.broken.Store(false)
	waitFor(t, "first key set", func() bool { clock.Advance(time.Minute); call(); return ready(mw) })
	r = probe(t, mw)
	if r.code != http.StatusOK || !r.body.Issuers[0].Usable || len(r.body.Issuers[0].KeyIDs) != 3 || r.body.Issuers[0].LastRefresh == "" || r.body.Issuers[0].RefreshFailing {
		t.Fatalf("fresh: got %d %s, want 200 with three key ids", r.code, r.raw)
	}

	// Stale within the bound: the issuer fails again and 40 minutes pass;
	// a refresh has failed but the held keys still serve.
	jwks.broken.Store(true)
	clock.Advance(40 * time.Minute)
	waitFor(t, "a failed refresh", func() bool { call(); return mw.KeyStatus()[0].LastError != "" })
	r = probe(t, mw)
	if r.code != http.StatusOK || !r.body.Issuers[0].RefreshFailing || r.body.Issuers[0].StalenessSeconds < 40*60 {
		t.Fatalf("stale within bound: got %d %s, want 200, refresh_failing, staleness ≥ 2400 s", r.code, r.raw)
	}
	if got := call(); got != http.StatusNoContent {
		t.Errorf("stale within bound: request got %d, want 204", got)
	}

	// Stale beyond the bound: more than MaxStaleness since the last success.
	clock.Advance(30 * time.Minute)
	r = probe(t, mw)
	if r.code != http.StatusServiceUnavailable || r.body.Status != "not_ready" || r.body.Issuers[0].Usable {
		t.Fatalf("stale beyond bound: got %d %s, want 503", r.code, r.raw)
	}
	if got := call(); got != http.StatusServiceUnavailable {
		t.Errorf("stale beyond bound: request got %d, want 503", got)
	}

	// Recovery: the issuer is back; readiness follows.
	jwks.broken.Store(false)
	waitFor(t, "recovery", func() bool { clock.Advance(time.Minute); call(); return ready(mw) })
	if r = probe(t, mw); r.code != http.StatusOK {
		t.Fatalf("recovered: got %d %s, want 200", r.code, r.raw)
	}
}

// waitFor retries cond until it holds: key refreshes run in the background,
// so the test waits for the event, not for a fixed time.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestReadyHandlerMethods: probes use GET or HEAD; anything else is 405.
func TestReadyHandlerMethods(t *testing.T) {
	iss := wardentest.NewIssuer(t)
	mw, err := warden.New(warden.Config{Issuers: []warden.IssuerConfig{{URL: iss.URL, Audience: iss.Audience, JWKS: wardentest.JWKS(iss.Keys()...)}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		method   string
		code     int
		withBody bool
	}{{http.MethodGet, 200, true}, {http.MethodHead, 200, false}, {http.MethodPost, 405, true}} {
		w := httptest.NewRecorder()
		mw.ReadyHandler().ServeHTTP(w, httptest.NewRequest(tc.method, "/readyz", nil))
		if w.Code != tc.code || (w.Body.Len() > 0) != tc.withBody {
			t.Errorf("%s: got %d with %d body bytes, want %d (body %v)", tc.method, w.Code, w.Body.Len(), tc.code, tc.withBody)
		}
		if tc.code == 405 && w.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: got Allow %q", tc.method, w.Header().Get("Allow"))
		}
	}
}

// ExampleMiddleware_ReadyHandler serves a readiness probe next to the API.
// An issuer with a static JWK Set is always ready.
func ExampleMiddleware_ReadyHandler() {
	mw, err := warden.New(warden.Config{
		Issuers: []warden.IssuerConfig{{
			URL:      "https://idp.example",
			Audience: "https://api.example",
			JWKS:     wardentest.JWKS(wardentest.NewECKey("k1")),
		}},
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /readyz", mw.ReadyHandler())

	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	var body struct {
		Status  string `json:"status"`
		Issuers []struct {
			Issuer string   `json:"issuer"`
			KeyIDs []string `json:"key_ids"`
		} `json:"issuers"`
	}
	_ = json.Unmarshal(w.Body.Bytes(), &body)
	fmt.Println(w.Code, body.Status, body.Issuers[0].Issuer, body.Issuers[0].KeyIDs)
	// Output:
	// 200 ready https://idp.example [k1]
}

// ready reports whether every issuer's keys are usable, as ReadyHandler
// decides.
func ready(mw *warden.Middleware) bool {
	for _, st := range mw.KeyStatus() {
		if !st.Usable {
			return false
		}
	}
	return true
}

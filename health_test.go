package warden_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

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
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &r.body), "readiness body %q", r.raw)
	assert.Equal(t, "application/json", w.Header().Get("Content-Type"))
	assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))
	assert.Equal(t, ready(mw), r.code == http.StatusOK, "handler says %d but KeyStatus says usable=%v", r.code, ready(mw))
	return r
}

// TestReadyStatic: static JWKS and HMAC issuers hold their keys from New on.
func TestReadyStatic(t *testing.T) {
	t.Parallel()
	iss := wardentest.NewIssuer(t)
	mw := newMiddleware(t, warden.Config{
		Issuers: []warden.IssuerConfig{{
			URL:      iss.URL,
			Audience: iss.Audience,
			JWKS:     wardentest.JWKS(iss.Keys()...),
		}, {URL: "https://hmac.example", SkipAudienceCheck: true, HMACSecret: make([]byte, 32)}},
	})
	r := probe(t, mw)
	require.Equal(t, http.StatusOK, r.code, r.raw)
	require.Equal(t, "ready", r.body.Status, r.raw)
	require.Len(t, r.body.Issuers, 2, r.raw)
	assert.Len(t, r.body.Issuers[0].KeyIDs, 3, "the issuer's three key ids")
}

// TestReadyStates walks one remote issuer through the readiness states:
// never fetched, fresh, stale within MaxStaleness, stale beyond it, and
// fresh again, on an injected clock.
func TestReadyStates(t *testing.T) {
	t.Parallel()
	iss := wardentest.NewIssuer(t)
	clock := newTestClock()
	iss.SetClock(clock.Now)
	jwks := wardentest.NewJWKSServer(t, iss.Keys()...)
	jwks.SetCacheControl("max-age=300")
	jwks.Fail(wardentest.Status500)

	cfg := warden.Config{
		Issuers: []warden.IssuerConfig{{
			URL:      iss.URL,
			Audience: iss.Audience,
			JWKSURL:  jwks.URL,
		}},
		KeySetPolicy: warden.KeySetPolicy{LazyStart: true, MaxStaleness: time.Hour, UnknownKIDWait: 100 * time.Millisecond},
		Now:          clock.Now, Logger: slog.New(slog.DiscardHandler),
	}
	refreshes := recordRefreshes(&cfg)
	mw := newMiddleware(t, cfg)
	api := mw.Require(warden.Scopes("entry:read"))(noContent)
	call := func() int { return bearerRequest(iss.Scoped("entry:read")).do(api).Code }
	// refresh moves the clock by d, sends a request and waits for the
	// refresh it starts (or the one running).
	refresh := func(d time.Duration) warden.KeyRefresh {
		done := refreshes.count()
		clock.Advance(d)
		call()
		return refreshes.await(t, done+1)
	}

	// Never fetched: the issuer refuses to serve its keys.
	require.Error(t, refreshes.await(t, 1).Err, "the first fetch")
	r := probe(t, mw)
	require.Equal(t, http.StatusServiceUnavailable, r.code, "never fetched: %s", r.raw)
	require.Equal(t, "not_ready", r.body.Status, "never fetched: %s", r.raw)
	require.False(t, r.body.Issuers[0].Usable, "never fetched: %s", r.raw)
	require.Empty(t, r.body.Issuers[0].LastRefresh, "never fetched: %s", r.raw)

	// Fresh: the issuer recovers; the next request's refresh fetches keys.
	jwks.Fail(wardentest.Healthy)
	require.NoError(t, refresh(time.Minute).Err, "the first key set")
	r = probe(t, mw)
	require.Equal(t, http.StatusOK, r.code, "fresh: %s", r.raw)
	require.True(t, r.body.Issuers[0].Usable, "fresh: %s", r.raw)
	require.Len(t, r.body.Issuers[0].KeyIDs, 3, "fresh: %s", r.raw)
	require.NotEmpty(t, r.body.Issuers[0].LastRefresh, "fresh: %s", r.raw)
	require.False(t, r.body.Issuers[0].RefreshFailing, "fresh: %s", r.raw)

	// Stale within the bound: the issuer fails again and 40 minutes pass;
	// a refresh has failed but the held keys still serve.
	jwks.Fail(wardentest.Status500)
	require.Error(t, refresh(40*time.Minute).Err, "a failed refresh")
	r = probe(t, mw)
	require.Equal(t, http.StatusOK, r.code, "stale within bound: %s", r.raw)
	require.True(t, r.body.Issuers[0].RefreshFailing, "stale within bound: %s", r.raw)
	require.GreaterOrEqual(t, r.body.Issuers[0].StalenessSeconds, int64(40*60), "stale within bound: %s", r.raw)
	assert.Equal(t, http.StatusNoContent, call(), "stale within bound: request")

	// Stale beyond the bound: more than MaxStaleness since the last success.
	clock.Advance(30 * time.Minute)
	r = probe(t, mw)
	require.Equal(t, http.StatusServiceUnavailable, r.code, "stale beyond bound: %s", r.raw)
	require.Equal(t, "not_ready", r.body.Status, "stale beyond bound: %s", r.raw)
	require.False(t, r.body.Issuers[0].Usable, "stale beyond bound: %s", r.raw)
	assert.Equal(t, http.StatusServiceUnavailable, call(), "stale beyond bound: request")

	// Recovery: the issuer is back; readiness follows.
	jwks.Fail(wardentest.Healthy)
	for i := 0; refresh(time.Minute).Err != nil; i++ {
		require.Less(t, i, 100, "no recovery after %d refreshes", i)
	}
	r = probe(t, mw)
	require.Equal(t, http.StatusOK, r.code, "recovered: %s", r.raw)
}

// TestReadyHandlerMethods: probes use GET or HEAD; anything else is 405.
func TestReadyHandlerMethods(t *testing.T) {
	t.Parallel()
	iss := wardentest.NewIssuer(t)
	mw := newMiddleware(t, iss.StaticConfig())
	for _, tc := range []struct {
		method   string
		code     int
		withBody bool
	}{{http.MethodGet, 200, true}, {http.MethodHead, 200, false}, {http.MethodPost, 405, true}} {
		w := request{method: tc.method, path: "/readyz"}.do(mw.ReadyHandler())
		assert.Equal(t, tc.code, w.Code, tc.method)
		assert.Equal(t, tc.withBody, w.Body.Len() > 0, "%s: a body of %d bytes", tc.method, w.Body.Len())
		if tc.code == 405 {
			assert.Equal(t, "GET, HEAD", w.Header().Get("Allow"), tc.method)
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

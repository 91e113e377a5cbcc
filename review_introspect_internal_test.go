package warden

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// TestReviewCoalescedRefusalsAreCopies: the requests that share one
// introspection call each get a refusal of their own. The endpoint fails
// (503, never remembered) only once every other request has joined the
// call, on two routes; each decision hook then writes to its Error, as a
// user's hook or ErrorHandler may. The requests used to share one *Error:
// the pointers were equal, and under -race the writes raced.
func TestReviewCoalescedRefusalsAreCopies(t *testing.T) {
	t.Parallel()
	const n = 200
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		<-release
		http.Error(w, "down", http.StatusInternalServerError)
	}))
	defer srv.Close()
	var mu sync.Mutex
	seen := map[*Error]int{}
	mw, err := New(Config{
		Issuers: []IssuerConfig{{URL: "https://as.review-internal.test", Audience: "https://api.review-internal.test",
			HMACSecret:    []byte("0123456789abcdef0123456789abcdef"),
			Introspection: Introspection{Endpoint: srv.URL, ClientID: "rs", ClientSecret: "s", Timeout: time.Minute}}},
		Logger: slog.New(slog.DiscardHandler),
		OnDecision: func(_ context.Context, d Decision) {
			if d.Err == nil {
				return
			}
			d.Err.Scopes = append(d.Err.Scopes, "written-by-a-hook") // each request's own
			d.Err.Expected = []string{"hook"}
			mu.Lock()
			seen[d.Err]++
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mw.Close() })
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	routes := []http.Handler{mw.Require(Scopes("read"))(next), mw.Require(Scopes("write", "admin"))(next)}
	var wg sync.WaitGroup
	results := make([]*httptest.ResponseRecorder, n)
	for i := range n {
		wg.Go(func() {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Authorization", "Bearer one-opaque-token-for-all")
			results[i] = httptest.NewRecorder()
			routes[i%len(routes)].ServeHTTP(results[i], r)
		})
	}
	awaitWaiters(&mw.tokens.opaque.flights, n-1)
	close(release)
	wg.Wait()
	const body = `{"error":"temporarily_unavailable","error_description":"The access token cannot be checked right now"}` + "\n"
	for i, w := range results {
		if w.Code != http.StatusServiceUnavailable || w.Header().Values("WWW-Authenticate") != nil ||
			w.Header().Get("Retry-After") != "5" || w.Body.String() != body {
			t.Fatalf("request %d: %d %q Retry-After %q body %q, want 503, no challenge, Retry-After 5, %q",
				i, w.Code, w.Header().Values("WWW-Authenticate"), w.Header().Get("Retry-After"), w.Body.String(), body)
		}
	}
	if len(seen) != n {
		t.Errorf("%d distinct *Error values for %d requests, want %d: waiters share one", len(seen), n, n)
	}
	for e, count := range seen {
		if count != 1 || len(e.Scopes) != 1 {
			t.Errorf("an Error seen by %d decisions holds %d scopes written by hooks, want 1 and 1", count, len(e.Scopes))
			break
		}
	}
}

package warden

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// introInternalMiddleware builds a middleware whose one issuer introspects
// at endpoint (never called when the test only uses the introspector's
// parts).
func introInternalMiddleware(t testing.TB, endpoint string, now func() time.Time) *Middleware {
	t.Helper()
	mw, err := New(Config{
		Issuers: []IssuerConfig{{URL: "https://as.internal.test", Audience: "https://api.internal.test",
			HMACSecret: []byte("0123456789abcdef0123456789abcdef"),
			// A long bound: the coalescing test holds the call until 999
			// requests joined it, however loaded the machine.
			Introspection: Introspection{Endpoint: endpoint, ClientID: "rs", ClientSecret: "s", Timeout: time.Minute}}},
		Now:    now,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mw.Close() })
	return mw
}

// TestIntrospectionCoalesced: 1,000 concurrent first requests for one
// opaque token make exactly one introspection call. The endpoint holds its
// answer until the other 999 requests have joined the call in flight, so
// every one of them really waited for it (none came late to a cached
// answer).
func TestIntrospectionCoalesced(t *testing.T) {
	t.Parallel()
	const n = 1000
	var calls atomic.Int64
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		<-release
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"active":true,"iss":"https://as.internal.test","aud":"https://api.internal.test","client_id":"c","scope":"read"}`)
	}))
	defer srv.Close()
	mw := introInternalMiddleware(t, srv.URL, nil)
	h := mw.Require(Scopes("read"))(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		wg.Go(func() {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Authorization", "Bearer one-opaque-token")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			statuses[i] = w.Code
		})
	}
	awaitWaiters(&mw.tokens.opaque.flights, n-1)
	close(release)
	wg.Wait()
	if c := calls.Load(); c != 1 {
		t.Errorf("%d introspection calls for %d concurrent requests, want 1", c, n)
	}
	for i, s := range statuses {
		if s != http.StatusNoContent {
			t.Fatalf("request %d: status %d, want 204", i, s)
		}
	}
}

// introPrincipals returns n principals as the introspector builds them
// from answers with scopes scopes each.
func introPrincipals(t testing.TB, in *introspector, n, scopes int) []*Principal {
	t.Helper()
	now := in.now()
	out := make([]*Principal, n)
	var sc []string
	for i := range scopes {
		sc = append(sc, fmt.Sprintf("scope:%04d", i))
	}
	for i := range out {
		body, _ := json.Marshal(map[string]any{
			"active": true, "aud": "https://api.internal.test", "client_id": fmt.Sprintf("client-%08d", i),
			"sub": fmt.Sprintf("user-%08d", i), "jti": fmt.Sprintf("jti-%016d", i), "scope": strings.Join(sc, " "),
			"exp": now.Add(time.Hour).Unix(),
		})
		p, e, _, err := in.judge(body, now, jwtBinding{})
		if err != nil || e != nil {
			t.Fatalf("judge: %v %v", err, e)
		}
		out[i] = p
	}
	return out
}

// introHeap returns the live heap after a full collection.
func introHeap() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// TestIntrospectionCacheCostMatchesHeap: the bytes the cache counts are
// never fewer than the heap its entries really retain, measured with
// runtime.MemStats, and at most 25 % more.
func TestIntrospectionCacheCostMatchesHeap(t *testing.T) {
	// Not parallel: the heap is measured.
	mw := introInternalMiddleware(t, "https://as.internal.test/introspect", nil)
	in := mw.tokens.opaque
	for _, shape := range []struct {
		name      string
		n, scopes int
	}{{"typical", 4000, 3}, {"large", 800, 200}} {
		t.Run(shape.name, func(t *testing.T) {
			ps := introPrincipals(t, in, shape.n, shape.scopes)
			digests := make([]digest, shape.n)
			c := newIntrospectionCache(shape.n)
			c.maxBytes = 1 << 40
			for i := range digests {
				digests[i] = c.digest(fmt.Sprint("token-", i))
			}
			now := in.now()
			counted0 := c.bytes
			before := introHeap()
			for i, p := range ps {
				c.put(digests[i], p, ReasonOK, now.Add(time.Minute), now)
			}
			measured := introHeap() - before
			counted := int64(c.bytes - counted0)
			runtime.KeepAlive(ps)
			runtime.KeepAlive(digests)
			if c.len() != shape.n {
				t.Fatalf("%d entries, want %d", c.len(), shape.n)
			}
			t.Logf("%d entries: counted %d B (%d B each), heap grew %d B", shape.n, counted, counted/int64(shape.n), measured)
			if counted < measured {
				t.Errorf("counted %d bytes, fewer than the %d the heap grew", counted, measured)
			}
			if counted > measured*5/4 {
				t.Errorf("counted %d bytes, more than 1.25 × the %d the heap grew", counted, measured)
			}
		})
	}
}

// TestIntrospectionCacheMemoryBound floods a cache with large answers,
// many times what its byte bound holds, and reads runtime.MemStats: the
// heap it retains stays within the bound (plus a fixed slack for the
// measurement itself), and the bound is what limits it.
func TestIntrospectionCacheMemoryBound(t *testing.T) {
	// Not parallel: the heap is measured.
	const bound, slack = 8 << 20, 1 << 20
	mw := introInternalMiddleware(t, "https://as.internal.test/introspect", nil)
	in := mw.tokens.opaque
	ps := introPrincipals(t, in, 200, 200) // reused: the cache copies each
	now := in.now()
	before := introHeap()
	c := newIntrospectionCache(defaultTokenCacheSize)
	c.maxBytes = bound
	n := 0
	for ; n < 4*defaultTokenCacheSize; n++ {
		c.put(c.digest(fmt.Sprint("flood-", n)), ps[n%len(ps)], ReasonOK, now.Add(time.Minute), now)
	}
	retained := introHeap() - before
	entries := c.len()
	runtime.KeepAlive(c)
	runtime.KeepAlive(ps)
	t.Logf("%d answers: %d entries, %d bytes counted, heap retains %d bytes (bound %d)", n, entries, c.bytes, retained, bound)
	if c.bytes > bound {
		t.Errorf("counted %d bytes, bound %d", c.bytes, bound)
	}
	if retained > bound+slack {
		t.Errorf("the cache retains %d bytes, bound %d (+%d slack)", retained, bound, slack)
	}
	if retained < bound*3/4 || entries == 0 || entries >= n {
		t.Errorf("%d entries retaining %d bytes: the byte bound %d is not what limits the cache", entries, retained, bound)
	}
}

// TestIntrospectionCacheEntries: the cache holds its number of entries,
// keeps hot entries against a flood of new ones (CLOCK), and never serves
// an entry at or past its deadline.
func TestIntrospectionCacheEntries(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_900_000_000, 0)
	p := &Principal{subject: "s", scopes: []string{"read"}}
	const size, hot = 1000, 500
	c := newIntrospectionCache(size)
	d := func(s string, i int) digest { return c.digest(fmt.Sprint(s, i)) }
	for i := range size {
		c.put(d("fill", i), p, ReasonOK, now.Add(time.Hour), now)
	}
	if c.len() != size {
		t.Fatalf("%d entries, want %d", c.len(), size)
	}
	lost := 0
	for round := range 40 {
		lost = 0
		for i := range hot {
			if _, _, ok := c.get(d("hot", i), now); !ok {
				lost++
				c.put(d("hot", i), p, ReasonOK, now.Add(time.Hour), now)
			}
		}
		for i := range 100 { // 4000 one-shot answers in all: four times the size
			c.put(d(fmt.Sprint("cold-", round, "-"), i), p, ReasonOK, now.Add(time.Hour), now)
		}
		if c.len() > size {
			t.Fatalf("%d entries, bound %d", c.len(), size)
		}
	}
	if lost > hot/20 {
		t.Errorf("%d of %d hot entries lost to one-shot answers in the last round, want ≤ %d", lost, hot, hot/20)
	}
	c.put(d("short", 0), nil, ReasonTokenInactive, now.Add(time.Second), now)
	if _, r, ok := c.get(d("short", 0), now.Add(time.Second-1)); !ok || r != ReasonTokenInactive {
		t.Errorf("refusal not served before its deadline: %v %q", ok, r)
	}
	if _, _, ok := c.get(d("short", 0), now.Add(time.Second)); ok {
		t.Errorf("refusal served at its deadline")
	}
}

// awaitWaiters returns once n requests wait on introspection calls in
// flight (polling a state, not timing anything).
func awaitWaiters(fl *flights, n int) {
	for {
		fl.mu.Lock()
		waiting := 0
		for _, c := range fl.calls {
			waiting += c.waiters
		}
		fl.mu.Unlock()
		if waiting == n {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

package redis_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/store/redis"
	"github.com/wardenhq/warden/wardentest"
)

const apiURL = "http://api.test/entries"

// fleet is an issuer, a client's DPoP key and token, and replicas of one
// API, each with its own middleware and Redis client, sharing one Redis.
type fleet struct {
	iss      *wardentest.Issuer
	key      *wardentest.Key
	token    string
	replicas []http.Handler
	mu       sync.Mutex
	reasons  map[warden.Reason]int
}

func newFleet(t testing.TB, addr string, n int) *fleet {
	t.Helper()
	f := &fleet{iss: wardentest.NewIssuer(t), key: wardentest.NewECKey("client"), reasons: map[warden.Reason]int{}}
	f.token = f.iss.Mint(wardentest.Token{DPoPKey: f.key, Claims: wardentest.Claims{"scope": "entry:read"}})
	for range n {
		cfg := f.iss.StaticConfig()
		cfg.DPoP.ReplayStore = redis.New(newClient(t, addr), redis.Options{})
		cfg.Logger = slog.New(slog.DiscardHandler)
		cfg.OnDecision = func(_ context.Context, d warden.Decision) {
			f.mu.Lock()
			f.reasons[d.Reason]++
			f.mu.Unlock()
		}
		mw, err := warden.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { mw.Close() })
		f.replicas = append(f.replicas, mw.Require(warden.Scopes("entry:read"))(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte("ok"))
		})))
	}
	return f
}

func (f *fleet) proof() string {
	return f.key.Proof(wardentest.Proof{URL: apiURL, AccessToken: f.token})
}

// send sends one request with proof to replica i.
func (f *fleet) send(i int, proof string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, apiURL, nil)
	r.Header.Set("Authorization", "DPoP "+f.token)
	r.Header.Set("DPoP", proof)
	w := httptest.NewRecorder()
	f.replicas[i].ServeHTTP(w, r)
	return w
}

func (f *fleet) takeReasons() map[warden.Reason]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.reasons
	f.reasons = map[warden.Reason]int{}
	return out
}

// TestReplicasShareReplays: a proof accepted by one replica is a replay on
// the other, in either order.
func TestReplicasShareReplays(t *testing.T) {
	t.Parallel()
	srv := wardentest.StartRedis(t)
	f := newFleet(t, srv.Addr, 2)
	for _, order := range [][2]int{{0, 1}, {1, 0}} {
		p := f.proof()
		if w := f.send(order[0], p); w.Code != http.StatusOK {
			t.Fatalf("replica %d: first use got %d %s, want 200", order[0], w.Code, w.Body)
		}
		w := f.send(order[1], p)
		if w.Code != http.StatusUnauthorized || w.Header().Get("WWW-Authenticate") !=
			`DPoP realm="api", algs="ES256 ES384 ES512 EdDSA PS256 PS384 PS512 RS256 RS384 RS512", error="invalid_dpop_proof", error_description="The DPoP proof was already used"` {
			t.Errorf("replica %d: replay got %d %q", order[1], w.Code, w.Header().Values("WWW-Authenticate"))
		}
	}
	if got := f.takeReasons(); got[warden.ReasonOK] != 2 || got[warden.ReasonDPoPReplayed] != 2 || len(got) != 2 {
		t.Errorf("decisions %v, want 2 ok and 2 dpop_replayed", got)
	}
}

// TestConcurrentReplaysAcrossReplicas: 1,000 concurrent uses of one proof,
// spread over two replicas, are accepted exactly once.
func TestConcurrentReplaysAcrossReplicas(t *testing.T) {
	t.Parallel()
	srv := wardentest.StartRedis(t)
	f := newFleet(t, srv.Addr, 2)
	p := f.proof()
	const n = 1000
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { codes[i] = f.send(i%2, p).Code })
	}
	wg.Wait()
	count := map[int]int{}
	for _, c := range codes {
		count[c]++
	}
	if count[http.StatusOK] != 1 || count[http.StatusUnauthorized] != n-1 {
		t.Errorf("statuses %v, want exactly one 200 and %d 401", count, n-1)
	}
	if got := f.takeReasons(); got[warden.ReasonOK] != 1 || got[warden.ReasonDPoPReplayed] != n-1 {
		t.Errorf("decisions %v, want 1 ok and %d dpop_replayed", got, n-1)
	}
	t.Logf("1,000 concurrent replays over 2 replicas: %v", count)
}

// TestRedisOutage: with Redis stopped mid-run every DPoP request is 503
// with Retry-After and none is accepted; when Redis returns, requests are
// accepted again, and replays refused again.
func TestRedisOutage(t *testing.T) {
	t.Parallel()
	srv := wardentest.StartRedis(t)
	f := newFleet(t, srv.Addr, 2)
	if w := f.send(0, f.proof()); w.Code != http.StatusOK {
		t.Fatalf("before the outage: got %d", w.Code)
	}
	srv.Stop()
	for i := range 20 {
		w := f.send(i%2, f.proof())
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" || len(w.Header().Values("WWW-Authenticate")) != 0 {
			t.Fatalf("during the outage: got %d, Retry-After %q, challenges %q; want 503, Retry-After, none",
				w.Code, w.Header().Get("Retry-After"), w.Header().Values("WWW-Authenticate"))
		}
		if body := w.Body.String(); body != `{"error":"temporarily_unavailable","error_description":"The DPoP proof cannot be checked right now"}`+"\n" {
			t.Fatalf("during the outage: body %q", body)
		}
	}
	if got := f.takeReasons(); got[warden.ReasonOK] != 1 || got[warden.ReasonReplayUnavailable] != 20 || len(got) != 2 {
		t.Errorf("decisions %v, want 1 ok, then 20 replay_unavailable", got)
	}
	srv.Start()
	p := f.proof()
	deadline := time.Now().Add(10 * time.Second)
	for {
		w := f.send(1, p)
		if w.Code == http.StatusOK {
			break
		}
		if w.Code != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("after the outage: got %d %s", w.Code, w.Body)
		}
		time.Sleep(50 * time.Millisecond) // the client reconnects
	}
	if w := f.send(0, p); w.Code != http.StatusUnauthorized {
		t.Errorf("replay after the outage: got %d, want 401", w.Code)
	}
}

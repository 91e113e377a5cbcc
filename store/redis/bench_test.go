package redis_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/store/redis"
	"github.com/wardenhq/warden/wardentest"
)

// BenchmarkRequest measures a DPoP request with a cached token whose proof
// is recorded in memory (store=memory) or in a real redis-server on
// loopback (store=redis): the difference is the latency Redis adds to a
// request.
//
//	go test -run '^$' -bench '^BenchmarkRequest$' -benchmem -count=10 . | tee request.txt
//	benchstat -col /store request.txt
func BenchmarkRequest(b *testing.B) {
	srv := wardentest.StartRedis(b)
	for _, name := range []string{"memory", "redis"} {
		b.Run("store="+name, func(b *testing.B) {
			var store warden.Store // nil: the default memory store
			if name == "redis" {
				store = redis.New(newClient(b, srv.Addr), redis.Options{})
			}
			f := newBenchFleet(b, store, 1)
			proofs := f.proofs(b.N + 1)
			f.mustServe(b, 0, proofs[b.N]) // caches the token
			runtime.GC()                   // the garbage of signing is not the requests'
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				f.mustServe(b, 0, proofs[i])
			}
		})
	}
}

// BenchmarkTwoReplicas measures the throughput of two replicas, each with
// its own Redis client, sharing one redis-server, with GOMAXPROCS
// goroutines sending DPoP requests to both in turn. It reports requests
// per second.
func BenchmarkTwoReplicas(b *testing.B) {
	srv := wardentest.StartRedis(b)
	f := newBenchFleet(b, nil, 2, srv.Addr)
	proofs := f.proofs(b.N + 2)
	f.mustServe(b, 0, proofs[b.N])
	f.mustServe(b, 1, proofs[b.N+1])
	runtime.GC()
	var next, turn atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		replica := int(turn.Add(1) % 2)
		for pb.Next() {
			i := next.Add(1) - 1
			f.mustServe(b, replica, proofs[i])
			replica ^= 1
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// benchFleet is replicas of one API sharing a store (a Redis server, when
// addr is given, each replica with its own client).
type benchFleet struct {
	key      *wardentest.Key
	token    string
	replicas []http.Handler
}

func newBenchFleet(b *testing.B, store warden.Store, n int, addr ...string) *benchFleet {
	b.Helper()
	iss := wardentest.NewIssuer(b)
	f := &benchFleet{key: wardentest.NewECKey("client")}
	f.token = iss.Mint(wardentest.Token{DPoPKey: f.key, Claims: wardentest.Claims{"scope": "entry:read"}})
	for range n {
		cfg := iss.StaticConfig()
		cfg.Logger = slog.New(slog.DiscardHandler)
		cfg.DPoP.ReplayStore = store
		if len(addr) > 0 {
			cfg.DPoP.ReplayStore = redis.New(newClient(b, addr[0]), redis.Options{})
		}
		mw, err := warden.New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { mw.Close() })
		f.replicas = append(f.replicas, mw.Require(warden.Scopes("entry:read"))(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusNoContent)
		})))
	}
	return f
}

// proofs signs n distinct proofs, before any timer runs.
func (f *benchFleet) proofs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = f.key.Proof(wardentest.Proof{URL: apiURL, AccessToken: f.token})
	}
	return out
}

func (f *benchFleet) mustServe(b *testing.B, replica int, proof string) {
	r := httptest.NewRequest(http.MethodGet, apiURL, nil)
	r.Header.Set("Authorization", "DPoP "+f.token)
	r.Header.Set("DPoP", proof)
	w := httptest.NewRecorder()
	f.replicas[replica].ServeHTTP(w, r)
	if w.Code != http.StatusNoContent {
		b.Errorf("status %d: %s", w.Code, w.Body)
	}
}

// BenchmarkClaim measures one Claim, a SET NX PX round trip to a real
// redis-server on loopback: the latency the Redis store adds to a DPoP
// request, beside the memory store's (BenchmarkMemoryStoreClaim in the
// core module).
func BenchmarkClaim(b *testing.B) {
	srv := wardentest.StartRedis(b)
	s := redis.New(newClient(b, srv.Addr), redis.Options{})
	ctx := context.Background()
	exp := time.Now().Add(time.Minute)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := s.Claim(ctx, "dpop:bench:"+strconv.Itoa(i), exp); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

package redis_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/wardenhq/warden/store/redis"
	"github.com/wardenhq/warden/wardentest"
)

func newClient(t testing.TB, addr string) *goredis.Client {
	t.Helper()
	rdb := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second,
		ReadTimeout: time.Second, WriteTimeout: time.Second, PoolSize: 64})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// TestClaim: SET NX PX against a real redis-server: a key is claimed once,
// namespaced, with a time to live rounded up to the millisecond.
func TestClaim(t *testing.T) {
	t.Parallel()
	srv := wardentest.StartRedis(t)
	rdb := newClient(t, srv.Addr)
	now := time.Unix(1_800_000_000, 0)
	s := redis.New(rdb, redis.Options{Prefix: "svc:", Now: func() time.Time { return now }})
	ctx := context.Background()
	for _, step := range []struct {
		key  string
		want bool
	}{{"dpop:a", true}, {"dpop:a", false}, {"dpop:b", true}, {"dpop:a", false}} {
		got, err := s.Claim(ctx, step.key, now.Add(10*time.Second+time.Microsecond))
		if err != nil || got != step.want {
			t.Fatalf("Claim(%s) = %v, %v; want %v", step.key, got, err, step.want)
		}
	}
	ttl, err := rdb.PTTL(ctx, "svc:dpop:a").Result()
	if err != nil || ttl <= 10*time.Second-time.Second || ttl > 10*time.Second+time.Millisecond {
		t.Errorf("PTTL = %v, %v; want just over 10 s", ttl, err)
	}
	if has, err := s.Contains(ctx, "dpop:a"); !has || err != nil {
		t.Errorf("Contains(dpop:a) = %v, %v", has, err)
	}
	if has, err := s.Contains(ctx, "dpop:c"); has || err != nil {
		t.Errorf("Contains(dpop:c) = %v, %v", has, err)
	}
	if n, _ := rdb.Exists(ctx, "dpop:a").Result(); n != 0 {
		t.Error("a key was written without the prefix")
	}
	got, err := s.Claim(ctx, "dpop:past", now.Add(-time.Second))
	if got || err == nil {
		t.Errorf("Claim with a past deadline = %v, %v; want false and an error (review_expiry_test.go)", got, err)
	}
	if n, _ := rdb.Exists(ctx, "svc:dpop:past").Result(); n != 0 {
		t.Error("a key with a past deadline was stored")
	}
	// The default prefix.
	d := redis.New(rdb, redis.Options{})
	if ok, err := d.Claim(ctx, "k", time.Now().Add(time.Minute)); !ok || err != nil {
		t.Fatalf("Claim = %v, %v", ok, err)
	}
	if n, _ := rdb.Exists(ctx, "warden:k").Result(); n != 1 {
		t.Error(`default prefix is not "warden:"`)
	}
}

// TestConcurrentClaims: of 1,000 concurrent claims of one key through two
// clients (two replicas), exactly one wins.
func TestConcurrentClaims(t *testing.T) {
	t.Parallel()
	srv := wardentest.StartRedis(t)
	stores := []*redis.Store{redis.New(newClient(t, srv.Addr), redis.Options{}), redis.New(newClient(t, srv.Addr), redis.Options{})}
	var wins, errs atomic.Int64
	var wg sync.WaitGroup
	for i := range 1000 {
		wg.Go(func() {
			ok, err := stores[i%2].Claim(context.Background(), "dpop:one", time.Now().Add(time.Minute))
			switch {
			case err != nil:
				errs.Add(1)
			case ok:
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 || errs.Load() != 0 {
		t.Errorf("got %d wins and %d errors, want 1 and 0", wins.Load(), errs.Load())
	}
}

// TestClaimErrors: when Redis is down every call fails; nothing is claimed.
func TestClaimErrors(t *testing.T) {
	t.Parallel()
	srv := wardentest.StartRedis(t)
	s := redis.New(newClient(t, srv.Addr), redis.Options{})
	srv.Stop()
	if ok, err := s.Claim(context.Background(), "k", time.Now().Add(time.Minute)); ok || err == nil {
		t.Errorf("Claim with Redis down = %v, %v; want false and an error", ok, err)
	}
	if _, err := s.Contains(context.Background(), "k"); err == nil {
		t.Error("Contains with Redis down: no error")
	}
}

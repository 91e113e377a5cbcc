package interop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// redisStore is a minimal warden.Store in Redis, for these tests only: the
// store/redis module is the one to use in production, and these tests
// are written against warden.Store so they can run on it unchanged.
type redisStore struct{ c *redis.Client }

// Claim records key until expires with SET NX PXAT: atomic across every
// client of the server.
func (s redisStore) Claim(ctx context.Context, key string, expires time.Time) (bool, error) {
	if !time.Now().Before(expires) {
		return true, nil
	}
	err := s.c.SetArgs(ctx, key, 1, redis.SetArgs{Mode: "NX", ExpireAt: expires}).Err()
	switch {
	case errors.Is(err, redis.Nil):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

func (s redisStore) Contains(ctx context.Context, key string) (bool, error) {
	n, err := s.c.Exists(ctx, key).Result()
	return n > 0, err
}

// redisServer is a redis-server on a free port of 127.0.0.1, stopped when
// the test ends.
type redisServer struct {
	addr string
	cmd  *exec.Cmd
}

func startRedis(t *testing.T) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		skipOrFail(t, "redis-server is not installed (apt-get install redis-server): %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	s := &redisServer{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	s.cmd = exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := s.cmd.Start(); err != nil {
		skipOrFail(t, "redis-server did not start: %v", err)
	}
	t.Cleanup(s.stop)
	c := redis.NewClient(&redis.Options{Addr: s.addr})
	defer c.Close()
	for deadline := time.Now().Add(30 * time.Second); ; {
		if c.Ping(context.Background()).Err() == nil {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s answers no PING within 30 s", s.addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *redisServer) stop() {
	if s.cmd.ProcessState == nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	}
}

// client is a go-redis client of its own, as another replica would have.
func (s *redisServer) client(t *testing.T) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.addr, DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second, MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// replica is one resource server of a fleet: its own middleware and its
// own connection to the shared store.
type replica struct {
	h       http.Handler
	mw      *warden.Middleware
	reasons *reasonLog
}

func newReplica(t *testing.T, iss *wardentest.Issuer, rev warden.Revocation) *replica {
	t.Helper()
	cfg := iss.StaticConfig()
	cfg.Revocation = rev
	r := &replica{reasons: &reasonLog{}}
	cfg.OnDecision = r.reasons.hook
	cfg.Logger = slog.New(slog.NewTextHandler(&prefixWriter{t: t, prefix: "warden: "}, nil))
	mw, err := warden.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mw.Close() })
	r.mw = mw
	r.h = mw.Require(warden.Scopes("Entry_Read"))(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	return r
}

func (r *replica) status(t *testing.T, token string) (int, warden.Reason) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/entries", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	r.h.ServeHTTP(w, req)
	return w.Code, r.reasons.last()
}

// TestRedisDenyListFleet: replicas sharing a deny-list in a real
// redis-server: a token revoked on replica A is refused by replica B from
// B's very next request, whether B had the token cached or not. The delay
// (from the start of A's Revoke to B's refusal) is measured and logged; an
// entry expires with the token, at exp plus the leeway.
func TestRedisDenyListFleet(t *testing.T) {
	srv := startRedis(t)
	iss := wardentest.NewIssuer(t)
	a := newReplica(t, iss, warden.Revocation{Store: redisStore{srv.client(t)}})
	b := newReplica(t, iss, warden.Revocation{Store: redisStore{srv.client(t)}})
	ctx := context.Background()
	const n = 200
	delays := make([]time.Duration, 0, n)
	exps := map[int64]bool{}
	for i := range n {
		jti := fmt.Sprintf("fleet-%d", i)
		exp := iss.Now().Add(5 * time.Minute).Truncate(time.Second)
		exps[exp.Unix()] = true
		tok := iss.Mint(wardentest.Token{Claims: wardentest.Claims{"scope": "Entry_Read", "jti": jti, "exp": exp.Unix()}})
		if s, r := b.status(t, tok); s != http.StatusNoContent { // cached on B from now on
			t.Fatalf("before revocation: replica B answered %d %s", s, r)
		}
		start := time.Now()
		if err := a.mw.Revoke(ctx, iss.URL, jti, exp); err != nil {
			t.Fatal(err)
		}
		s, r := b.status(t, tok)
		delays = append(delays, time.Since(start))
		if s != http.StatusUnauthorized || r != warden.ReasonTokenRevoked {
			t.Fatalf("token %d revoked on A: replica B answered %d %s at its next request, want 401 token_revoked", i, s, r)
		}
	}
	slices.Sort(delays)
	t.Logf("revocation on replica A seen by replica B at its next request in all %d cases; "+
		"delay from the start of Revoke to B's refusal (one SET on A, one EXISTS on B): p50 %v, p90 %v, p99 %v, max %v",
		n, delays[n/2], delays[n*9/10], delays[n*99/100], delays[n-1])

	// The entry lives until exp plus the leeway (60 s by default), when the
	// token is refused by its exp anyway.
	c := srv.client(t)
	keys, err := c.Keys(ctx, "warden/revoked/*").Result()
	if err != nil || len(keys) != n {
		t.Fatalf("%d deny-list keys (%v), want %d", len(keys), err, n)
	}
	for _, k := range keys {
		at, err := c.PExpireTime(ctx, k).Result()
		ms := at.Milliseconds()
		if err != nil || ms%1000 != 0 || !exps[ms/1000-60] {
			t.Fatalf("entry %s expires at %d ms (%v), want a token's exp plus the 60 s leeway", k, ms, err)
		}
	}
}

// TestRedisDenyListDown: when the shared store is down, replicas refuse
// bearer tokens with 503 (the default) or, with FailOpen, admit them.
func TestRedisDenyListDown(t *testing.T) {
	srv := startRedis(t)
	iss := wardentest.NewIssuer(t)
	closed := newReplica(t, iss, warden.Revocation{Store: redisStore{srv.client(t)}})
	open := newReplica(t, iss, warden.Revocation{Store: redisStore{srv.client(t)}, FailOpen: true})
	tok := iss.Scoped("Entry_Read")
	for _, r := range []*replica{closed, open} {
		if s, reason := r.status(t, tok); s != http.StatusNoContent {
			t.Fatalf("store up: %d %s", s, reason)
		}
	}
	srv.stop()
	if s, r := closed.status(t, tok); s != http.StatusServiceUnavailable || r != warden.ReasonRevocationUnavailable {
		t.Errorf("store down, fail closed: %d %s, want 503 revocation_unavailable", s, r)
	}
	if s, r := open.status(t, tok); s != http.StatusNoContent || r != warden.ReasonOK {
		t.Errorf("store down, FailOpen: %d %s, want 204", s, r)
	}
}

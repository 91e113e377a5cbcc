package warden_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// This file tests the cache of Impersonation.Permissions answers.

// permFixture is a middleware whose permission resolver counts its calls
// and can be held or made to fail.
type permFixture struct {
	*reqFixture
	clock *testClock
	calls atomic.Int64
	fail  atomic.Bool
	gate  chan struct{} // when non-nil, every call waits for it
	h     http.Handler
}

func newPermFixture(t *testing.T, ttl time.Duration, gate chan struct{}) *permFixture {
	t.Helper()
	pf := &permFixture{clock: newTestClock(), gate: gate}
	pf.reqFixture = newReqFixture(t, func(c *warden.Config) {
		c.Now = pf.clock.Now
		c.Impersonation.PermissionsTTL = ttl
		c.Impersonation.Permissions = func(ctx context.Context, p *warden.Principal) ([]string, error) {
			pf.calls.Add(1)
			if pf.gate != nil {
				select {
				case <-pf.gate:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
			if pf.fail.Load() {
				return nil, errors.New("directory down")
			}
			if p.Subject() == "bob" {
				return []string{"read", "write"}, nil
			}
			return []string{"read"}, nil
		}
	})
	pf.iss.SetClock(pf.clock.Now)
	pf.h = pf.mw.Require(warden.Scopes("write"))(reqNoContent)
	return pf
}

// acting mints a token in which app acts for subject with read and write.
func (pf *permFixture) acting(subject string) string {
	return "Bearer " + pf.token(wardentest.Claims{"sub": subject, "act": map[string]any{"sub": "app"}, "scope": "read write"})
}

func (pf *permFixture) status(auth string) int {
	r := httptest.NewRequest(http.MethodPost, "/entries", nil)
	r.Header.Set("Authorization", auth)
	w := httptest.NewRecorder()
	pf.h.ServeHTTP(w, r)
	return w.Code
}

// TestPermissionsCached checks that the resolver is asked once per subject
// and TTL, that its answer decides, and that failures are not remembered.
func TestPermissionsCached(t *testing.T) {
	t.Parallel()
	pf := newPermFixture(t, time.Minute, nil)
	bob, alice := pf.acting("bob"), pf.acting("alice")
	for i := range 3 {
		if got := pf.status(bob); got != http.StatusNoContent {
			t.Fatalf("bob, request %d: got %d, want 204", i, got)
		}
		if got := pf.status(alice); got != http.StatusForbidden {
			t.Fatalf("alice, request %d: got %d, want 403 (her permissions lack write)", i, got)
		}
	}
	if got := pf.calls.Load(); got != 2 {
		t.Errorf("got %d resolver calls for 6 requests of 2 subjects, want 2", got)
	}
	pf.clock.Advance(59 * time.Second)
	pf.status(bob)
	if got := pf.calls.Load(); got != 2 {
		t.Errorf("within the TTL: got %d calls, want 2", got)
	}
	pf.clock.Advance(time.Second)
	pf.status(bob)
	if got := pf.calls.Load(); got != 3 {
		t.Errorf("after the TTL: got %d calls, want 3", got)
	}

	// An outage is 503 and asked again each time.
	pf.fail.Store(true)
	pf.clock.Advance(time.Minute)
	for range 2 {
		if got := pf.status(bob); got != http.StatusServiceUnavailable {
			t.Errorf("resolver down: got %d, want 503", got)
		}
	}
	if got := pf.calls.Load(); got != 5 {
		t.Errorf("failures: got %d calls, want 5 (not cached)", got)
	}
	pf.fail.Store(false)
	if got := pf.status(bob); got != http.StatusNoContent {
		t.Errorf("resolver back: got %d, want 204", got)
	}
}

// TestPermissionsShared checks that concurrent requests for one subject
// share one call of a slow resolver.
func TestPermissionsShared(t *testing.T) {
	t.Parallel()
	gate := make(chan struct{})
	pf := newPermFixture(t, time.Minute, gate)
	bob := pf.acting("bob")
	const n = 20
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		wg.Go(func() { codes[i] = pf.status(bob) })
	}
	for pf.calls.Load() == 0 {
		time.Sleep(time.Millisecond) // until the first request is in the resolver
	}
	close(gate)
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusNoContent {
			t.Errorf("request %d: got %d, want 204", i, c)
		}
	}
	if got := pf.calls.Load(); got != 1 {
		t.Errorf("got %d resolver calls for %d concurrent requests, want 1", got, n)
	}
}

// TestPermissionsLeaderGone checks that requests waiting for a call whose
// own request went away ask again instead of failing.
func TestPermissionsLeaderGone(t *testing.T) {
	t.Parallel()
	gate := make(chan struct{})
	pf := newPermFixture(t, time.Minute, gate)
	bob := pf.acting("bob")
	ctx, cancel := context.WithCancel(context.Background())
	leader := make(chan int)
	go func() {
		r := httptest.NewRequestWithContext(ctx, http.MethodPost, "/entries", nil)
		r.Header.Set("Authorization", bob)
		w := httptest.NewRecorder()
		pf.h.ServeHTTP(w, r)
		leader <- w.Code
	}()
	for pf.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	follower := make(chan int)
	go func() { follower <- pf.status(bob) }()
	time.Sleep(10 * time.Millisecond) // let the follower wait; either order passes
	cancel()
	if got := <-leader; got != http.StatusServiceUnavailable {
		t.Errorf("cancelled leader: got %d, want 503", got)
	}
	close(gate)
	if got := <-follower; got != http.StatusNoContent {
		t.Errorf("follower: got %d, want 204", got)
	}
}

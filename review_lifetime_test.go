package warden_test

import (
	"testing"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// An independent review found that an introspection answer's exp was not
// bounded by MaxTokenLifetime, as a JWT's is.

// TestReviewIntrospectionLifetime: an answer's exp is bounded by
// Config.MaxTokenLifetime (plus the leeway) exactly as a JWT's is; it used
// to be admitted whatever it said. An active answer without exp is
// remembered at most MaxTokenLifetime, even when CacheTTL is longer (it
// used to be remembered for CacheTTL).
func TestReviewIntrospectionLifetime(t *testing.T) {
	t.Parallel()
	const lifetime = time.Hour
	const leeway = time.Minute // the default
	start := time.Unix(1_950_000_000, 0)
	for _, tc := range []struct {
		name string
		exp  any
		want warden.Reason
	}{
		{"exp at the bound", start.Add(lifetime).Unix(), warden.ReasonOK},
		{"exp at the bound plus the leeway", start.Add(lifetime + leeway).Unix(), warden.ReasonOK},
		{"exp a second beyond", start.Add(lifetime + leeway + time.Second).Unix(), warden.ReasonLifetimeTooLong},
		{"exp in ten years", start.Add(10 * 365 * 24 * time.Hour).Unix(), warden.ReasonLifetimeTooLong},
		{"exp far in the future", float64(1e15), warden.ReasonLifetimeTooLong},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := &testClock{t: time.Unix(1_950_000_000, 0)}
			ep := newIntroEndpoint(t, jsonAnswer(rvMarshal(rvAnswer(clock.Now(), "exp", tc.exp))))
			cfg := rvIntrospecting(wardentest.NewECKey("k"), ep.URL)
			cfg.MaxTokenLifetime = lifetime
			f := newRVFixture(t, clock, cfg)
			f.do(t, "opaque-lifetime").check(t, tc.want)
			f.do(t, "opaque-lifetime").check(t, tc.want) // and so is the remembered answer
			if c := ep.calls.Load(); c != 1 {
				t.Errorf("%d calls, want 1", c)
			}
		})
	}
	t.Run("no exp, CacheTTL beyond the lifetime", func(t *testing.T) {
		t.Parallel()
		clock := &testClock{t: time.Unix(1_950_000_000, 0)}
		ep := newIntroEndpoint(t, jsonAnswer(rvMarshal(rvAnswer(clock.Now(), "exp", nil))))
		cfg := rvIntrospecting(wardentest.NewECKey("k"), ep.URL)
		cfg.MaxTokenLifetime = lifetime
		cfg.Issuers[0].Introspection.CacheTTL = 3 * lifetime
		f := newRVFixture(t, clock, cfg)
		f.do(t, "opaque-no-exp").check(t, warden.ReasonOK)
		clock.Advance(lifetime - time.Second)
		f.do(t, "opaque-no-exp").check(t, warden.ReasonOK)
		if c := ep.calls.Load(); c != 1 {
			t.Fatalf("%d calls within the lifetime, want 1 (remembered)", c)
		}
		clock.Advance(time.Second)
		f.do(t, "opaque-no-exp").check(t, warden.ReasonOK)
		if c := ep.calls.Load(); c != 2 {
			t.Errorf("%d calls once MaxTokenLifetime passed, want 2: the answer outlived the lifetime bound", c)
		}
	})
}

package redis_test

import (
	"context"
	"testing"
	"time"

	"github.com/wardenhq/warden/store/redis"
	"github.com/wardenhq/warden/wardentest"
)

// TestReviewClaimExpiry: every deadline either records a key that expires
// by itself or fails the Claim; none claims without recording (a replay or
// a revocation silently lost) and none writes a key without a time to
// live. A deadline not after the store's clock means the caller's clock
// and the store's disagree (warden never asks to record a proof whose
// window has passed), so the Claim fails and warden answers 503. Before
// the fix, the past and skewed rows returned true without recording, and a
// far deadline overflowed the rounding into a negative PX, which Redis
// refused.
func TestReviewClaimExpiry(t *testing.T) {
	t.Parallel()
	srv := wardentest.StartRedis(t)
	rdb := newClient(t, srv.Addr)
	now := time.Unix(1_800_000_000, 0)
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		store    time.Duration // the store's clock minus the caller's
		deadline time.Time
		claimed  bool // false: an error, and no key
		minTTL   time.Duration
	}{
		{name: "ahead", deadline: now.Add(time.Minute), claimed: true, minTTL: 59 * time.Second},
		{name: "one nanosecond ahead", deadline: now.Add(time.Nanosecond), claimed: true},
		{name: "exactly now", deadline: now},
		{name: "one nanosecond past", deadline: now.Add(-time.Nanosecond)},
		{name: "an hour past", deadline: now.Add(-time.Hour)},
		{name: "zero time", deadline: time.Time{}},
		{name: "store clock ahead of the deadline", store: 2 * time.Minute, deadline: now.Add(time.Minute)},
		{name: "year 3000", deadline: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), claimed: true, minTTL: 24 * time.Hour},
		{name: "latest NumericDate", deadline: time.Unix(1<<40, 0), claimed: true, minTTL: 24 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			storeNow := now.Add(tc.store)
			s := redis.New(rdb, redis.Options{Prefix: "expiry:", Now: func() time.Time { return storeNow }})
			key := tc.name
			ok, err := s.Claim(ctx, key, tc.deadline)
			if ok != tc.claimed || (err == nil) != tc.claimed {
				t.Fatalf("Claim = %v, %v; want claimed %v (an error otherwise)", ok, err, tc.claimed)
			}
			// PTTL in milliseconds, read raw: go-redis's Duration overflows
			// for centuries. -2: no key; -1: a key without a time to live.
			ms, err := rdb.Do(ctx, "PTTL", "expiry:"+key).Int64()
			if err != nil {
				t.Fatal(err)
			}
			ttl := time.Duration(min(ms, int64(1<<40))) * time.Millisecond
			switch {
			case !tc.claimed && ms != -2:
				t.Fatalf("a failed Claim left a key (PTTL %d ms)", ms)
			case tc.claimed && ms == -1:
				t.Fatal("a key without a time to live")
			case tc.claimed && ms != -2 && ttl < tc.minTTL:
				t.Fatalf("PTTL %v, want at least %v", ttl, tc.minTTL)
			}
			if tc.claimed {
				if again, err := s.Claim(ctx, key, tc.deadline); again && err == nil && ttl > time.Millisecond {
					t.Fatal("claimed twice")
				}
			}
		})
	}
}

package warden_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// pastRefusingStore refuses a deadline its clock has passed, as
// store/redis does, and counts the Claims it is asked.
type pastRefusingStore struct {
	warden.Store
	now    func() time.Time
	claims atomic.Int32
}

func (s *pastRefusingStore) Claim(ctx context.Context, key string, expires time.Time) (bool, error) {
	s.claims.Add(1)
	if !expires.After(s.now()) {
		return false, errors.New("deadline passed")
	}
	return s.Store.Claim(ctx, key, expires)
}

// TestReviewRevokeExpiredToken: revoking a token whose exp plus the leeway
// has passed records nothing and succeeds, whatever the Store: the token is
// refused by its exp already. Before, a Store that refuses past deadlines
// (store/redis) made Revoke fail.
func TestReviewRevokeExpiredToken(t *testing.T) {
	t.Parallel()
	idp := wardentest.NewIssuer(t)
	cfg := idp.StaticConfig()
	cfg.Leeway = time.Minute
	now := idp.Now()
	cases := []struct {
		name   string
		exp    time.Time
		claims int32
	}{
		{"expired beyond the leeway", now.Add(-2 * time.Minute), 0},
		{"expired exactly at the leeway", now.Add(-time.Minute), 0},
		{"expired within the leeway", now.Add(-30 * time.Second), 1},
		{"unexpired", now.Add(time.Hour), 1},
		{"no exp: MaxTokenLifetime", time.Time{}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			store := &pastRefusingStore{Store: warden.NewMemoryStore(100, idp.Now), now: idp.Now}
			c := cfg
			c.Revocation = warden.Revocation{Store: store}
			mw, err := warden.New(c)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = mw.Close() })
			if err := mw.Revoke(context.Background(), idp.URL, "jti-1", tc.exp); err != nil {
				t.Fatalf("Revoke: %v", err)
			}
			if got := store.claims.Load(); got != tc.claims {
				t.Errorf("the store was asked %d times, want %d", got, tc.claims)
			}
		})
	}
}

package warden

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// TestPermissionCacheBound checks that the cache holds at most
// maxPermissionEntries subjects, whatever number it is asked for.
func TestPermissionCacheBound(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := newPermissionCache(func(context.Context, *Principal) ([]string, error) { return []string{"read"}, nil },
		time.Hour, func() time.Time { return now })
	for i := range 3 * maxPermissionEntries {
		p := &Principal{issuer: "https://idp.example", subject: "user-" + strconv.Itoa(i)}
		if perms, err := c.get(context.Background(), p); err != nil || len(perms) != 1 {
			t.Fatalf("subject %d: %v %v", i, perms, err)
		}
		if n := len(c.m); n > maxPermissionEntries {
			t.Fatalf("after %d subjects the cache holds %d, want ≤ %d", i+1, n, maxPermissionEntries)
		}
	}
}

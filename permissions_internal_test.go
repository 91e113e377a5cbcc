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
	c := newPermissionCache(time.Hour, func() time.Time { return now })
	resolve := func(context.Context) ([]string, error) { return []string{"read"}, nil }
	for i := range 3 * maxPermissionEntries {
		key := "https://idp.example\x00user-" + strconv.Itoa(i)
		if perms, err := c.get(context.Background(), key, resolve); err != nil || len(perms) != 1 {
			t.Fatalf("subject %d: %v %v", i, perms, err)
		}
		if n := len(c.m); n > maxPermissionEntries {
			t.Fatalf("after %d subjects the cache holds %d, want ≤ %d", i+1, n, maxPermissionEntries)
		}
	}
}

package warden

import (
	"fmt"
	"testing"
	"time"
)

// TestTokenCacheCyclicPoolMisses is the property the cold-path benchmarks
// (BenchmarkVerify path=new, bench.BenchmarkCold) rest on: tokens presented
// in cyclic order from a pool larger than the cache miss every time, each
// evicted before it recurs, because without hits no reference bit is set and
// the CLOCK hand evicts in insertion order. The converse, a pool the cache
// holds, hits from its second cycle on, so the check can fail.
func TestTokenCacheCyclicPoolMisses(t *testing.T) {
	t.Parallel()
	_, src, key, now := ctFixture(t)
	p := &Principal{subject: "s", expiresAt: now.Add(time.Hour)}
	for _, tc := range []struct{ size, pool, wantHits int }{
		{size: 1, pool: 2},
		{size: 16, pool: 17},
		{size: 1024, pool: 1536},
		{size: 100, pool: 100, wantHits: 2 * 100},
	} {
		t.Run(fmt.Sprintf("size=%d/pool=%d", tc.size, tc.pool), func(t *testing.T) {
			t.Parallel()
			c := newTokenCache(tc.size)
			hits := 0
			for range 3 {
				for i := range tc.pool {
					raw := fmt.Sprint("token-", i)
					if _, ok := c.get(raw, now); ok {
						hits++
						continue
					}
					c.put(raw, p, src, key, 0, now)
				}
			}
			if hits != tc.wantHits {
				t.Errorf("3 cycles: %d hits, want %d", hits, tc.wantHits)
			}
		})
	}
}

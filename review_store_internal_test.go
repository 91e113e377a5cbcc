package warden

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"
)

// rvClock is a settable clock for the store's tests.
type rvClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *rvClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *rvClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// checkHeap fails unless the store's map and heap hold the same keys, the
// heap is ordered, and both respect the bound.
func checkHeap(t *testing.T, s *memoryStore) {
	t.Helper()
	if len(s.keys) != len(s.heap) || len(s.keys) > s.max {
		t.Fatalf("%d keys, %d in the heap, max %d", len(s.keys), len(s.heap), s.max)
	}
	for i, k := range s.heap {
		if k.index != i || s.keys[k.key] != k {
			t.Fatalf("heap[%d] = %+v is not the map's", i, k)
		}
		if i > 0 && s.heap[(i-1)/2].expires > k.expires {
			t.Fatalf("heap out of order at %d", i)
		}
	}
}

// TestReviewMemoryStoreBound: the memory store never holds more than its
// maximum, refuses a new key with ErrStoreFull while every key held is
// unexpired, and makes room as soon as one has expired, in deadline order
// whatever the insertion order.
func TestReviewMemoryStoreBound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		// ttl gives key i its lifetime.
		ttl func(i int) time.Duration
	}{
		{"one deadline", func(int) time.Duration { return time.Minute }},
		{"increasing", func(i int) time.Duration { return time.Duration(i+1) * time.Second }},
		{"decreasing", func(i int) time.Duration { return time.Duration(1000-i) * time.Second }},
		{"scattered", func(i int) time.Duration { return time.Duration((i*7919)%1000+1) * time.Second }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := &rvClock{t: time.Unix(1_800_000_000, 0)}
			const max = 100
			s := NewMemoryStore(max, clock.Now).(*memoryStore)
			deadlines := map[string]time.Time{}
			for i := range max {
				k := "k" + strconv.Itoa(i)
				deadlines[k] = clock.Now().Add(tc.ttl(i))
				if ok, err := s.Claim(ctx, k, deadlines[k]); !ok || err != nil {
					t.Fatalf("Claim %s = %v, %v", k, ok, err)
				}
			}
			checkHeap(t, s)
			for i := range 1000 { // a flood of new keys while full
				if _, err := s.Claim(ctx, "new"+strconv.Itoa(i), clock.Now().Add(time.Hour)); !errors.Is(err, ErrStoreFull) {
					t.Fatalf("Claim while full: %v, want ErrStoreFull", err)
				}
			}
			checkHeap(t, s)
			// Step the clock to each deadline in turn: exactly the keys
			// expired by then make room, the unexpired ones stay recorded.
			for step := range 20 {
				clock.Advance(50 * time.Second)
				now := clock.Now()
				k := fmt.Sprintf("step%d", step)
				expired := 0
				for key, d := range deadlines {
					if !now.Before(d) {
						expired++
						delete(deadlines, key)
					}
				}
				for i := range expired + 1 {
					ok, err := s.Claim(ctx, k+"."+strconv.Itoa(i), now.Add(time.Hour))
					if i < expired && (!ok || err != nil) {
						t.Fatalf("step %d: Claim %d of %d freed places = %v, %v", step, i, expired, ok, err)
					}
					if i == expired && !errors.Is(err, ErrStoreFull) {
						t.Fatalf("step %d: Claim beyond the %d freed places = %v, %v; want ErrStoreFull", step, expired, ok, err)
					}
				}
				for key := range deadlines {
					if ok, _ := s.Contains(ctx, key); !ok {
						t.Fatalf("step %d: unexpired %s forgotten", step, key)
					}
					if ok, err := s.Claim(ctx, key, now.Add(time.Hour)); ok || err != nil {
						t.Fatalf("step %d: replay of %s = %v, %v", step, key, ok, err)
					}
				}
				checkHeap(t, s)
			}
		})
	}
}

// TestReviewMemoryStoreFarDeadline: a deadline beyond what UnixNano can
// hold (year 3000) stays in the future.
func TestReviewMemoryStoreFarDeadline(t *testing.T) {
	t.Parallel()
	clock := &rvClock{t: time.Unix(1_800_000_000, 0)}
	s := NewMemoryStore(10, clock.Now)
	ctx := context.Background()
	far := time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
	if ok, err := s.Claim(ctx, "k", far); !ok || err != nil {
		t.Fatalf("Claim = %v, %v", ok, err)
	}
	if ok, _ := s.Contains(ctx, "k"); !ok {
		t.Fatal("a key recorded until year 3000 is not held")
	}
	if ok, _ := s.Claim(ctx, "k", far); ok {
		t.Fatal("a key recorded until year 3000 was claimed twice")
	}
}

// BenchmarkReviewMemoryStoreClaim measures one Claim of a new key on a
// store holding n unexpired keys: accepted (room left) and refused (full).
// Neither may grow with n; before the fix, a refused Claim scanned all n.
func BenchmarkReviewMemoryStoreClaim(b *testing.B) {
	ctx := context.Background()
	for _, full := range []bool{false, true} {
		for _, n := range []int{1_000, 100_000} {
			b.Run(fmt.Sprintf("full=%v/held=%d", full, n), func(b *testing.B) {
				clock := &rvClock{t: time.Unix(1_800_000_000, 0)}
				max := n
				if !full {
					max = 1 << 30
				}
				s := NewMemoryStore(max, clock.Now)
				exp := clock.Now().Add(time.Hour)
				for i := range n {
					if _, err := s.Claim(ctx, "held"+strconv.Itoa(i), exp.Add(time.Duration(i)*time.Millisecond)); err != nil {
						b.Fatal(err)
					}
				}
				keys := make([]string, 1<<16)
				for i := range keys {
					keys[i] = "new" + strconv.Itoa(i)
				}
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					// Each new key expires at once on the next step of the
					// clock, so the accepted case holds n keys throughout.
					_, err := s.Claim(ctx, keys[i&(len(keys)-1)], clock.Now().Add(time.Nanosecond))
					if full != errors.Is(err, ErrStoreFull) {
						b.Fatal(err)
					}
					clock.Advance(time.Nanosecond)
					i++
				}
			})
		}
	}
}

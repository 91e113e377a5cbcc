package jwks

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// acquire is Registry.Source, through one name the tests call.
func acquire(r *Registry, issuer string) (Source, func(), error) { return r.Source(issuer) }

// TestReviewRegistryKeepsNewSource: making room never evicts the source
// being created, even when every other source has its second chance. Before
// the fix, with Size 1 and a used source held, creating a second one
// evicted the new source itself: its caller's lookup failed (unavailable)
// and the registry kept the old one.
func TestReviewRegistryKeepsNewSource(t *testing.T) {
	t.Parallel()
	s := newRegServer(t)
	for _, size := range []int{1, 2, 3} {
		t.Run(fmt.Sprintf("size=%d", size), func(t *testing.T) {
			t.Parallel()
			r, _ := newTestRegistry(t, s, size, 1000)
			for i := range 3 * size {
				name := s.srv.URL + fmt.Sprintf("/t%d", i)
				src, release, err := acquire(r, name)
				if err != nil {
					t.Fatal(err)
				}
				k, err := src.Key(context.Background(), "k1", true, "ES256")
				release()
				if err != nil {
					t.Fatalf("tenant %d: the new source cannot look up its key: %v", i, err)
				}
				if !src.Holds(k) { // a cached token presented: the source is used
					t.Fatalf("tenant %d: the new source was evicted", i)
				}
				if r.Len() > size {
					t.Fatalf("%d sources held, size %d", r.Len(), size)
				}
			}
		})
	}
}

// TestReviewRegistryInFlight: many tenants at once on a registry of two
// sources. Every lookup finds its key: a source is never closed while a
// request holds it, whatever evictions its neighbours cause; the bound
// holds; and every source evicted is closed once released. Run with -race.
// Before the fix, lookups failed with ErrUnavailable because another
// request's eviction closed the source under them.
func TestReviewRegistryInFlight(t *testing.T) {
	t.Parallel()
	s := newRegServer(t)
	const size, tenants, workers, rounds = 2, 12, 8, 6
	r, _ := newTestRegistry(t, s, size, 1_000_000)
	var mu sync.Mutex
	seen := map[*Remote]bool{}
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds*tenants)
	for w := range workers {
		wg.Go(func() {
			for i := range rounds * tenants {
				name := s.srv.URL + fmt.Sprintf("/t%d", (i*7+w)%tenants)
				src, release, err := acquire(r, name)
				if err != nil {
					errs <- fmt.Errorf("Source: %w", err)
					continue
				}
				mu.Lock()
				seen[src.(*Remote)] = true
				mu.Unlock()
				k, err := src.Key(context.Background(), "k1", true, "ES256")
				if err == nil && !src.Holds(k) && !src.(*Remote).retired.Load() {
					err = fmt.Errorf("a held source lost its key")
				}
				release()
				if err != nil {
					errs <- fmt.Errorf("%s: %w", name, err)
				}
				if n := r.Len(); n > size {
					errs <- fmt.Errorf("%d sources held, size %d", n, size)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	r.mu.Lock()
	held := map[*Remote]bool{}
	for el := r.lru.Front(); el != nil; el = el.Next() {
		held[el.Value.(*regEntry).src] = true
	}
	r.mu.Unlock()
	for src := range seen {
		if !held[src] && !src.retired.Load() {
			t.Errorf("source of %s evicted but never closed", src.issuer)
		}
	}
}

package warden

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Store records keys until a deadline: the memory of what must be seen only
// once (a DPoP proof's jti, RFC 9449 §11.1) or never again (a revoked
// token's jti). On a fleet of replicas, one Store shared by all of them
// (for example the Redis store in the store/redis module) makes a key
// recorded by one replica count for every other.
//
// Implementations must be safe for concurrent use. A Store that cannot
// answer returns an error; warden then refuses the request with 503 and
// Retry-After, never accepting what it could not check.
type Store interface {
	// Claim records key until expires and reports whether it was absent
	// (true) or already recorded and unexpired (false). It must be atomic:
	// of any number of concurrent Claims of one key, on any number of
	// replicas sharing the store, exactly one returns true.
	Claim(ctx context.Context, key string, expires time.Time) (claimed bool, err error)
	// Contains reports whether key is recorded and unexpired.
	Contains(ctx context.Context, key string) (bool, error)
}

// ErrStoreFull is returned by the memory store when it holds its maximum
// number of unexpired keys: it refuses to record more rather than forget
// one early, which would let a replay through.
var ErrStoreFull = errors.New("warden: memory store is full")

// NewMemoryStore returns a Store held in this process's memory, for a
// single replica: at most maxKeys unexpired keys (zero means 1,000,000;
// about 100 bytes each). Expired keys are dropped as new ones arrive. When
// it is full of unexpired keys, Claim fails with ErrStoreFull (answered with
// 503) until some expire. The clock is now (nil means time.Now).
func NewMemoryStore(maxKeys int, now func() time.Time) Store {
	if maxKeys <= 0 {
		maxKeys = 1_000_000
	}
	if now == nil {
		now = time.Now
	}
	return &memoryStore{max: maxKeys, now: now, keys: make(map[string]time.Time)}
}

// memoryStore is the in-process Store: a map of deadlines under one lock.
// Expired keys are swept in bounded steps on insertion, so no Claim pays
// for a sweep of the whole map.
type memoryStore struct {
	mu   sync.Mutex
	max  int
	now  func() time.Time
	keys map[string]time.Time
	// order lists keys in insertion order, for the sweep; cursor is where
	// the next sweep resumes.
	order  []memoryKey
	cursor int
}

type memoryKey struct {
	key     string
	expires time.Time
}

// sweepStep bounds the keys one Claim examines for expiry.
const sweepStep = 8

func (s *memoryStore) Claim(_ context.Context, key string, expires time.Time) (bool, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if exp, ok := s.keys[key]; ok && now.Before(exp) {
		return false, nil
	}
	s.sweep(now, sweepStep)
	if len(s.keys) >= s.max {
		s.sweep(now, len(s.order)) // full: look at everything once before refusing
		if len(s.keys) >= s.max {
			return false, ErrStoreFull
		}
	}
	if !now.Before(expires) {
		return true, nil // already expired: nothing to remember
	}
	s.keys[key] = expires
	s.order = append(s.order, memoryKey{key, expires})
	return true, nil
}

func (s *memoryStore) Contains(_ context.Context, key string) (bool, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.keys[key]
	return ok && now.Before(exp), nil
}

// sweep examines up to n keys from the cursor, dropping the expired ones,
// and compacts the order list once the cursor has passed half of it.
func (s *memoryStore) sweep(now time.Time, n int) {
	for ; n > 0 && s.cursor < len(s.order); n-- {
		k := s.order[s.cursor]
		if now.Before(k.expires) {
			// Keys are not sorted by deadline: move the live one to the back
			// so the sweep goes on past it.
			if exp, ok := s.keys[k.key]; ok && exp.Equal(k.expires) {
				s.order = append(s.order, k)
			}
		} else if exp, ok := s.keys[k.key]; ok && !now.Before(exp) {
			delete(s.keys, k.key)
		}
		s.order[s.cursor] = memoryKey{}
		s.cursor++
	}
	if s.cursor > len(s.order)/2 && s.cursor > 64 {
		s.order = append(s.order[:0], s.order[s.cursor:]...)
		s.cursor = 0
	}
}

package warden

import (
	"context"
	"errors"
	"math"
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
// about 150 bytes each). Expired keys are dropped as new ones arrive, in
// order of deadline, at a cost that does not grow with the keys held. When
// it is full of unexpired keys, Claim fails with ErrStoreFull (answered with
// 503) until some expire. The clock is now (nil means time.Now).
func NewMemoryStore(maxKeys int, now func() time.Time) Store {
	if maxKeys <= 0 {
		maxKeys = 1_000_000
	}
	if now == nil {
		now = time.Now
	}
	return &memoryStore{max: maxKeys, now: now, keys: make(map[string]*memoryKey)}
}

// memoryStore is the in-process Store: a map of deadlines under one lock,
// with the same keys in a min-heap ordered by deadline. The earliest
// deadline is at the root, so finding what expired costs nothing when
// nothing has, and dropping an expired key costs O(log n) once per key,
// whatever the number of keys held: no Claim scans the map, not even a
// Claim refused because the store is full (the root says whether any key
// could be dropped).
type memoryStore struct {
	mu   sync.Mutex
	max  int
	now  func() time.Time
	keys map[string]*memoryKey
	heap []*memoryKey // a binary min-heap on expires
}

type memoryKey struct {
	key     string
	expires int64 // UnixNano
	index   int   // position in heap
}

// sweepStep bounds the expired keys one Claim drops beyond what it needs,
// so a burst of keys sharing one deadline is freed over several Claims.
const sweepStep = 8

func (s *memoryStore) Claim(_ context.Context, key string, expires time.Time) (bool, error) {
	now, exp := unixNano(s.now()), unixNano(expires)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropExpired(now, sweepStep)
	if k, ok := s.keys[key]; ok {
		if now < k.expires {
			return false, nil
		}
		// Expired but not dropped yet: claimed again, with its new deadline.
		if now >= exp {
			s.remove(k)
			return true, nil
		}
		k.expires = exp
		s.fix(k.index)
		return true, nil
	}
	if now >= exp {
		return true, nil // already expired: nothing to remember
	}
	if len(s.keys) >= s.max {
		// Full: one expired key makes room; the root is the only candidate.
		if len(s.heap) == 0 || s.heap[0].expires > now {
			return false, ErrStoreFull
		}
		s.remove(s.heap[0])
	}
	k := &memoryKey{key: key, expires: exp, index: len(s.heap)}
	s.keys[key] = k
	s.heap = append(s.heap, k)
	s.up(k.index)
	return true, nil
}

func (s *memoryStore) Contains(_ context.Context, key string) (bool, error) {
	now := unixNano(s.now())
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[key]
	return ok && now < k.expires, nil
}

// unixNano is t.UnixNano saturated at the ends of int64 (years 1678 and
// 2262), where UnixNano wraps: a deadline in year 3000 must stay in the
// future, not become one long past.
func unixNano(t time.Time) int64 {
	const limit = math.MaxInt64/int64(time.Second) - 1
	switch sec := t.Unix(); {
	case sec > limit:
		return math.MaxInt64
	case sec < -limit:
		return math.MinInt64
	}
	return t.UnixNano()
}

// dropExpired drops up to n keys whose deadline is not after now.
func (s *memoryStore) dropExpired(now int64, n int) {
	for ; n > 0 && len(s.heap) > 0 && s.heap[0].expires <= now; n-- {
		s.remove(s.heap[0])
	}
}

// remove takes k out of the map and the heap.
func (s *memoryStore) remove(k *memoryKey) {
	delete(s.keys, k.key)
	last := len(s.heap) - 1
	i := k.index
	if i != last {
		s.swap(i, last)
	}
	s.heap[last] = nil
	s.heap = s.heap[:last]
	if i != last {
		s.fix(i)
	}
	if cap(s.heap) > 64 && len(s.heap) < cap(s.heap)/4 {
		// Give back the memory of a burst long gone.
		s.heap = append(make([]*memoryKey, 0, cap(s.heap)/2), s.heap...)
	}
}

func (s *memoryStore) swap(i, j int) {
	s.heap[i], s.heap[j] = s.heap[j], s.heap[i]
	s.heap[i].index, s.heap[j].index = i, j
}

func (s *memoryStore) fix(i int) {
	if !s.down(i) {
		s.up(i)
	}
}

func (s *memoryStore) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if s.heap[p].expires <= s.heap[i].expires {
			return
		}
		s.swap(i, p)
		i = p
	}
}

// down moves the key at i towards the leaves and reports whether it moved.
func (s *memoryStore) down(i int) bool {
	start := i
	for {
		l := 2*i + 1
		if l >= len(s.heap) {
			break
		}
		m := l
		if r := l + 1; r < len(s.heap) && s.heap[r].expires < s.heap[l].expires {
			m = r
		}
		if s.heap[i].expires <= s.heap[m].expires {
			break
		}
		s.swap(i, m)
		i = m
	}
	return i > start
}

package warden

import (
	"hash/maphash"
	"sync"
	"time"
)

// tokenCache remembers verified tokens until they expire, so a repeated
// token costs a hash and a map lookup instead of a signature check. Entries
// are keyed by a seeded hash of the raw token and confirmed by comparing the
// token itself, so a hash collision can never return another token's
// principal. A nil *tokenCache caches nothing.
type tokenCache struct {
	seed    maphash.Seed
	max     int
	mu      sync.RWMutex
	entries map[uint64]*tokenEntry
}

type tokenEntry struct {
	raw       string
	principal *Principal
	source    keySource
	key       *verificationKey
	expires   time.Time // exp + leeway: never served past it
}

func newTokenCache(size int) *tokenCache {
	return &tokenCache{seed: maphash.MakeSeed(), max: size, entries: make(map[uint64]*tokenEntry)}
}

// get returns the principal for raw if it is cached, unexpired, and the key
// that verified it is still in its issuer's key set.
func (c *tokenCache) get(raw string, now time.Time, _ time.Duration) (*Principal, bool) {
	if c == nil {
		return nil, false
	}
	h := maphash.String(c.seed, raw)
	c.mu.RLock()
	e := c.entries[h]
	c.mu.RUnlock()
	if e == nil || e.raw != raw {
		return nil, false
	}
	if !now.Before(e.expires) || !e.source.holds(e.key) {
		c.mu.Lock()
		if c.entries[h] == e {
			delete(c.entries, h)
		}
		c.mu.Unlock()
		return nil, false
	}
	return e.principal, true
}

func (c *tokenCache) put(raw string, p *Principal, src keySource, key *verificationKey, leeway time.Duration, now time.Time) {
	if c == nil {
		return
	}
	e := &tokenEntry{raw: raw, principal: p, source: src, key: key, expires: p.expiresAt.Add(leeway)}
	h := maphash.String(c.seed, raw)
	c.mu.Lock()
	if len(c.entries) >= c.max {
		c.evict(now)
	}
	c.entries[h] = e
	c.mu.Unlock()
}

// evict drops expired entries and, if the cache is still full, arbitrary
// ones (Go's map iteration order is randomised) down to 3/4 of its size, so
// a flood of unique tokens costs bounded memory and amortised O(1) work.
func (c *tokenCache) evict(now time.Time) {
	target := c.max * 3 / 4
	for h, e := range c.entries {
		if !now.Before(e.expires) || len(c.entries) > target {
			delete(c.entries, h)
		}
	}
}

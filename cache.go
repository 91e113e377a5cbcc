package warden

import (
	"crypto"
	"hash/maphash"
	"sync"
	"time"
)

// tokenCache remembers verified tokens until they expire, so a repeated
// token costs a hash and a map lookup instead of a signature check.
//
// Entries are keyed by a seeded hash of the raw token and confirmed by
// comparing the token itself, so a hash collision can never return another
// token's principal. An entry is served only while the clock is before the
// token's exp plus the leeway (the same bound checkClaims applies, RFC 7519
// §4.1.4) and while the key that verified it is still in its issuer's key
// set: a key that leaves the set, or a source that is reset, revokes every
// token it verified. A hit skips only the signature and claim checks; the
// caller still applies the route's scope requirement and the impersonation
// policy on every request.
//
// The cache is split into shards, each with its own lock, so concurrent
// requests with different tokens rarely meet on one mutex. It is bounded
// both in entries (Config.TokenCacheSize, default DefaultTokenCacheSize) and
// in bytes (tokenCacheMaxBytes), so a flood of unique valid tokens costs
// bounded memory. A nil *tokenCache caches nothing.
type tokenCache struct {
	seed     maphash.Seed
	mask     uint64 // len(shards)-1; len(shards) is a power of two
	perShard int    // entry bound of one shard
	perBytes int    // byte bound of one shard
	shards   []tokenShard
}

// tokenShard is one independently locked part of the cache. The padding
// keeps two shards' locks off one cache line.
type tokenShard struct {
	mu      sync.RWMutex
	entries map[uint64]*tokenEntry
	bytes   int
	_       [64]byte
}

type tokenEntry struct {
	raw       string
	principal *Principal
	source    keySource
	key       *verificationKey
	expires   time.Time // exp + leeway: never served at or past it
	cost      int
}

const (
	// maxTokenCacheShards is the most shards a cache is split into.
	maxTokenCacheShards = 16
	// tokenCacheMaxBytes bounds the memory held by cached tokens and their
	// payloads, whatever their size (a token may be up to MaxTokenSize).
	tokenCacheMaxBytes = 64 << 20
	// tokenEntryOverhead approximates an entry's memory beyond the token and
	// payload bytes: the entry, the principal and the map slot.
	tokenEntryOverhead = 256
)

// newTokenCache returns a cache of at most size entries (size ≥ 1).
func newTokenCache(size int) *tokenCache {
	size = max(size, 1)
	n := 1
	for n*2 <= maxTokenCacheShards && n*2 <= size {
		n *= 2
	}
	c := &tokenCache{
		seed:     maphash.MakeSeed(),
		mask:     uint64(n - 1),
		perShard: size / n, // n ≤ size, so ≥ 1, and n*perShard ≤ size
		perBytes: tokenCacheMaxBytes / n,
		shards:   make([]tokenShard, n),
	}
	for i := range c.shards {
		c.shards[i].entries = make(map[uint64]*tokenEntry)
	}
	return c
}

func (c *tokenCache) shard(h uint64) *tokenShard {
	// The high bits pick the shard; Go maps use the low bits of their own
	// hash, which is independent of this one anyway.
	return &c.shards[(h>>32)&c.mask]
}

// get returns the principal for raw if it is cached, unexpired at now, and
// the key that verified it is still in its issuer's key set.
func (c *tokenCache) get(raw string, now time.Time, _ time.Duration) (*Principal, bool) {
	if c == nil {
		return nil, false
	}
	h := maphash.String(c.seed, raw)
	s := c.shard(h)
	s.mu.RLock()
	e := s.entries[h]
	s.mu.RUnlock()
	if e == nil || e.raw != raw {
		return nil, false
	}
	if !now.Before(e.expires) || !e.source.holds(e.key) {
		s.mu.Lock()
		if s.entries[h] == e {
			s.remove(h, e)
		}
		s.mu.Unlock()
		return nil, false
	}
	return e.principal, true
}

// put caches the principal that src's key verified for raw.
func (c *tokenCache) put(raw string, p *Principal, src keySource, key *verificationKey, leeway time.Duration, now time.Time) {
	if c == nil {
		return
	}
	e := &tokenEntry{raw: raw, principal: p, source: src, key: key, expires: p.expiresAt.Add(leeway),
		cost: len(raw) + len(p.claims) + tokenEntryOverhead}
	if !now.Before(e.expires) || e.cost > c.perBytes {
		return // would never be served, or would crowd out a whole shard
	}
	h := maphash.String(c.seed, raw)
	s := c.shard(h)
	s.mu.Lock()
	if old := s.entries[h]; old != nil {
		s.remove(h, old)
	}
	if len(s.entries) >= c.perShard || s.bytes+e.cost > c.perBytes {
		s.evict(now, c.perShard*3/4, c.perBytes*3/4-e.cost)
	}
	s.entries[h] = e
	s.bytes += e.cost
	s.mu.Unlock()
}

func (s *tokenShard) remove(h uint64, e *tokenEntry) {
	delete(s.entries, h)
	s.bytes -= e.cost
}

// evict drops expired entries and, while the shard is still over either
// target, arbitrary ones (Go's map iteration order is randomised). Shrinking
// to 3/4 rather than by one entry makes a flood of unique tokens cost
// amortised O(1) work per insert.
func (s *tokenShard) evict(now time.Time, maxEntries, maxBytes int) {
	for h, e := range s.entries {
		if !now.Before(e.expires) || len(s.entries) > maxEntries || s.bytes > maxBytes {
			s.remove(h, e)
		}
	}
}

// len returns the number of cached entries.
func (c *tokenCache) len() int {
	if c == nil {
		return 0
	}
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.entries)
		s.mu.RUnlock()
	}
	return n
}

// keepUnchanged replaces every key of s (a freshly fetched set, not yet
// published) that prev already held, with the same kid, alg and public key,
// by prev's own *verificationKey. Cached tokens are tied to the key pointer
// that verified them, so without this every refresh, including one an
// attacker triggers with unknown kids, would empty the token cache; with it
// only a key that really left the set revokes its tokens.
func (s *keySet) keepUnchanged(prev *keySet) {
	if s == nil || prev == nil {
		return
	}
	for i, k := range s.all {
		for _, old := range prev.all {
			if sameKey(k, old) {
				s.all[i] = old
				if k.kid != "" {
					s.byKID[k.kid] = old
				}
				break
			}
		}
	}
}

func sameKey(a, b *verificationKey) bool {
	if a.kid != b.kid || a.alg != b.alg {
		return false
	}
	pa, ok := a.public.(interface{ Equal(crypto.PublicKey) bool })
	return ok && pa.Equal(b.public)
}

package warden

import (
	"hash/maphash"
	"time"
	"unsafe"

	"github.com/wardenhq/warden/internal/jwks"
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
// The shards, the CLOCK ring and the byte count are clockCache's
// (clockcache.go). The cache holds up to size entries
// (Config.TokenCacheSize, default defaultTokenCacheSize) and up to
// tokenCacheMaxBytes of memory, counted as the bytes it really retains. An
// entry owns all of its bytes because put copies the principal into one
// arena (newTokenEntry): what it retains does not depend on how the
// verifier built the principal. A nil *tokenCache caches nothing.
type tokenCache struct {
	seed maphash.Seed
	clockCache[tokenHash, *tokenEntry]
}

const (
	// tokenCacheMaxBytes bounds the memory the cache retains, whatever the
	// tokens' size (a token may be up to MaxTokenSize).
	tokenCacheMaxBytes = 64 << 20
	// entrySlotBytes is charged, once and for good, for every slot a shard's
	// map and the ring have grown to hold, because neither shrinks: the
	// ring's backing array is at most twice its longest length (8 bytes a
	// slot: 16 B), and a map[tokenHash]*tokenEntry keeps the tables it grew,
	// 17 bytes a slot (key, value, control byte). Deletes leave tombstones
	// that make a Swiss table grow before it is 7/8 full: under churn, Go
	// 1.26 maps of 16 to 7000 entries peaked at 53 B per entry held. 64 B
	// covers that with a margin.
	entrySlotBytes = 16 + 64
)

// tokenCacheBytes is the allocation size of the cache's fixed part.
var tokenCacheBytes = allocSize(int(unsafe.Sizeof(tokenCache{})), true)

// newTokenCache returns a cache of at most size entries (size ≥ 1).
func newTokenCache(size int) *tokenCache {
	c := &tokenCache{seed: maphash.MakeSeed()}
	c.init(size, tokenCacheMaxBytes, entrySlotBytes, tokenCacheBytes)
	return c
}

// get returns the principal for raw if it is cached, unexpired at now, and
// the key that verified it is still in its issuer's key set.
func (c *tokenCache) get(raw string, now time.Time) (*Principal, bool) {
	if c == nil {
		return nil, false
	}
	e := c.lookup(tokenHash(maphash.String(c.seed, raw)))
	if e == nil || e.raw != raw {
		return nil, false
	}
	if !now.Before(e.expires) || !e.source.Holds(e.key) {
		c.drop(e)
		return nil, false
	}
	e.touch()
	return &e.principal, true
}

// put caches the principal that src's key verified for raw.
func (c *tokenCache) put(raw string, p *Principal, src jwks.Source, key *jwks.Key, leeway time.Duration, now time.Time) {
	if c == nil {
		return
	}
	expires := p.expiresAt.Add(leeway)
	if !now.Before(expires) {
		return // would never be served
	}
	e := newTokenEntry(raw, p)
	e.source, e.key, e.expires = src, key, expires
	e.hash = tokenHash(maphash.String(c.seed, raw))
	c.insert(e, now)
}

// len returns the number of cached entries.
func (c *tokenCache) len() int {
	if c == nil {
		return 0
	}
	return c.clockCache.len()
}

package warden

import (
	"crypto"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
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
// Lookups go through shards, each a map under its own RWMutex, so
// concurrent hits with different tokens rarely meet on one lock; besides
// that read lock, a hit writes only its entry's reference bit, at most once
// per sweep. Every change (put, removal, eviction) is serialised by mu,
// which a hit never takes; a change holds a shard's write lock only for one
// map assignment or deletion.
//
// The cache holds up to size entries (Config.TokenCacheSize, default
// DefaultTokenCacheSize), whichever shards they hash to, and up to maxBytes
// (tokenCacheMaxBytes) of memory, counted as the bytes it really retains:
// every allocation an entry owns, rounded to the allocator's size class,
// and the ring and map slots it has used (see newTokenEntry, entrySlotBytes).
// An entry owns all of it because put copies the principal into one arena:
// what it retains does not depend on how the verifier built the principal.
//
// Eviction is CLOCK (second chance): the cached entries form a ring; a hit
// sets its entry's reference bit; to make room, the hand sweeps the ring,
// clearing set bits and evicting the first entry whose bit is clear or that
// has expired. An entry hit since the hand last passed survives, so a
// working set that is used keeps its place against a flood of tokens seen
// once, which are inserted with the bit clear and leave first. Each put
// evicts only what it needs and the hand examines at most clockMaxScan
// entries per eviction, so no insert pauses the cache. A nil *tokenCache
// caches nothing.
type tokenCache struct {
	seed   maphash.Seed
	mask   uint64 // len(shards)-1; len(shards) is a power of two
	shards []tokenShard

	mu       sync.Mutex    // guards the fields below and every map write
	ring     []*tokenEntry // the cached entries in CLOCK order; entry.index is the position
	hand     int           // the ring position the CLOCK hand examines next
	size     int           // entry bound: len(ring) ≤ size
	maxBytes int           // byte bound: bytes ≤ maxBytes
	bytes    int           // retained bytes counted: entries, slots, the fixed structure
}

// tokenShard is one independently locked part of the lookup index. The
// padding keeps two shards' locks off one cache line.
type tokenShard struct {
	mu      sync.RWMutex
	entries map[uint64]*tokenEntry
	peak    int // the most entries the map has held: a Go map never shrinks
	_       [64]byte
}

// tokenEntry is one cached token. All but ref and index are immutable once
// the entry is published in a shard, so a hit reads them without a lock.
// What a hit reads comes first, within the entry's first 64 bytes (one cache
// line: time.Time.Before reads only the first 16 bytes of expires).
type tokenEntry struct {
	raw       string // the token, a prefix of the entry's arena
	source    keySource
	key       *verificationKey
	ref       atomic.Bool // CLOCK reference bit: set by a hit, cleared by the hand
	expires   time.Time   // exp + leeway: never served at or past it
	principal Principal   // the entry's own copy (newTokenEntry)
	inline    [4]string   // backs principal's scopes and audiences when they are few
	hash      uint64
	cost      int // bytes the entry owns (entryCost)
	index     int // position in the ring, -1 once removed; guarded by tokenCache.mu
}

const (
	// maxTokenCacheShards is the most shards the index is split into.
	maxTokenCacheShards = 16
	// tokenCacheMaxBytes bounds the memory the cache retains, whatever the
	// tokens' size (a token may be up to MaxTokenSize).
	tokenCacheMaxBytes = 64 << 20
	// tokenCacheMaxEntryShare: an entry costing more than 1/16 of the byte
	// bound is not cached, so no single token can crowd out the rest.
	tokenCacheMaxEntryShare = 16
	// clockMaxScan bounds the entries the hand examines for one eviction;
	// past it the entry at the hand goes even if recently hit. Without a
	// bound, a ring whose every bit is set costs one insert a sweep of all
	// size entries.
	clockMaxScan = 64
	// entrySlotBytes is charged, once and for good, for every slot a shard's
	// map and the ring have grown to hold, because neither shrinks: the
	// ring's backing array is at most twice its longest length (8 bytes a
	// slot: 16 B), and a map[uint64]*tokenEntry keeps the tables it grew,
	// 17 bytes a slot (key, value, control byte). Deletes leave tombstones
	// that make a Swiss table grow before it is 7/8 full: under churn, Go
	// 1.26 maps of 16 to 7000 entries peaked at 53 B per entry held. 64 B
	// covers that with a margin.
	entrySlotBytes = 16 + 64
	// tokenShardMapBytes covers a shard map's fixed part: its header and
	// first group, or its directory and tables' headers.
	tokenShardMapBytes = 512
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
		shards:   make([]tokenShard, n),
		size:     size,
		maxBytes: tokenCacheMaxBytes,
	}
	for i := range c.shards {
		c.shards[i].entries = make(map[uint64]*tokenEntry)
	}
	c.bytes = tokenCacheBytes + allocSize(n*int(unsafe.Sizeof(tokenShard{})), true) + n*tokenShardMapBytes
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
		c.mu.Lock()
		if e.index >= 0 {
			c.remove(e, nil)
		}
		c.mu.Unlock()
		return nil, false
	}
	// Set the bit only when clear: a hit on a hot entry then writes
	// nothing, and its cache line stays shared between cores.
	if !e.ref.Load() {
		e.ref.Store(true)
	}
	return &e.principal, true
}

// put caches the principal that src's key verified for raw.
func (c *tokenCache) put(raw string, p *Principal, src keySource, key *verificationKey, leeway time.Duration, now time.Time) {
	if c == nil {
		return
	}
	expires := p.expiresAt.Add(leeway)
	if !now.Before(expires) {
		return // would never be served
	}
	e := newTokenEntry(raw, p)
	if e.cost > c.maxBytes/tokenCacheMaxEntryShare {
		return
	}
	e.source, e.key, e.expires = src, key, expires
	e.hash = maphash.String(c.seed, raw)
	s := c.shard(e.hash)

	c.mu.Lock()
	defer c.mu.Unlock()
	// Only holders of c.mu write a shard's map, so reading it here needs no
	// shard lock.
	if old := s.entries[e.hash]; old != nil {
		c.remove(old, nil)
	}
	need := e.cost
	if len(s.entries) >= s.peak {
		need += entrySlotBytes // the shard's map grows a slot
	}
	// Make room: the first victim's ring slot takes the new entry, right
	// behind the hand, as CLOCK places it; further victims (for bytes) are
	// compacted away.
	hole, live := -1, len(c.ring)
	for live >= c.size || c.bytes+need > c.maxBytes {
		if live == 0 {
			// Only the slots the maps have grown to are left: the entry
			// does not fit, so it is not cached.
			if hole >= 0 {
				c.compact(hole, nil)
			}
			return
		}
		i := c.evict(now)
		live--
		if hole < 0 {
			hole = i
		} else {
			c.compact(i, &hole)
		}
	}
	if hole >= 0 {
		e.index = hole
		c.ring[hole] = e
	} else {
		e.index = len(c.ring)
		c.ring = append(c.ring, e)
	}
	s.mu.Lock()
	s.entries[e.hash] = e
	s.mu.Unlock()
	c.bytes += e.cost
	if len(s.entries) > s.peak {
		s.peak = len(s.entries)
		c.bytes += entrySlotBytes
	}
}

// evict removes the entry the CLOCK hand chooses and returns its ring
// position, left empty (nil) for the caller to fill or compact. The hand
// skips an empty position, clears set reference bits, and stops at the
// first entry that has expired or whose bit is clear, or at the
// clockMaxScan-th entry it examines. The caller holds c.mu and ensures the
// ring holds at least one entry.
func (c *tokenCache) evict(now time.Time) int {
	for scanned := 0; ; {
		if c.hand >= len(c.ring) {
			c.hand = 0
		}
		i := c.hand
		c.hand++
		e := c.ring[i]
		if e == nil {
			continue // the put's own hole: at most one
		}
		scanned++
		if scanned >= clockMaxScan || !now.Before(e.expires) || !e.ref.Load() {
			c.unlink(e)
			c.ring[i] = nil
			return i
		}
		e.ref.Store(false)
	}
}

// remove drops e, which the cache holds, and compacts its ring position.
func (c *tokenCache) remove(e *tokenEntry, hole *int) {
	i := e.index
	c.unlink(e)
	c.ring[i] = nil
	c.compact(i, hole)
}

// unlink drops e from its shard and from the count of bytes.
func (c *tokenCache) unlink(e *tokenEntry) {
	s := c.shard(e.hash)
	s.mu.Lock()
	if s.entries[e.hash] == e {
		delete(s.entries, e.hash)
	}
	s.mu.Unlock()
	c.bytes -= e.cost
	e.index = -1
}

// compact closes the empty ring position i by moving the last entry into
// it; hole, if not nil, is a position the caller keeps empty, followed if
// it moves.
func (c *tokenCache) compact(i int, hole *int) {
	last := len(c.ring) - 1
	if i != last {
		moved := c.ring[last]
		c.ring[i] = moved
		if moved != nil {
			moved.index = i
		} else if hole != nil && *hole == last {
			*hole = i
		}
	}
	c.ring[last] = nil
	c.ring = c.ring[:last]
}

// len returns the number of cached entries.
func (c *tokenCache) len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.ring)
}

// keepUnchanged replaces every key of s (a freshly fetched set, not yet
// published) that prev already held, with the same kid, alg and public key,
// by prev's own *verificationKey. Cached tokens are tied to the key pointer
// that verified them, so without this every refresh, including one an
// attacker triggers with unknown kids, would empty the token cache; with it
// only a key that really left the set revokes its tokens.
//
// It is linear in the size of both sets: a key with a kid is compared only
// with the held key of that kid, and keys without kid, which parseJWKS
// keeps only in sets of at most maxKeysWithoutKID keys, with each other.
// (Comparing every fetched key with every held one made a refresh of
// thousands of kid-less keys cost seconds of CPU, and anyone can trigger a
// refresh every UnknownKIDInterval.)
func (s *keySet) keepUnchanged(prev *keySet) { s.keep(prev, sameKey) }

// keep is keepUnchanged with the comparison as a parameter, so a test can
// count the comparisons.
func (s *keySet) keep(prev *keySet, same func(a, b *verificationKey) bool) {
	if s == nil || prev == nil {
		return
	}
	var held []*verificationKey // prev's keys without kid: at most maxKeysWithoutKID
	if prev.searchable {
		for _, old := range prev.all {
			if old.kid == "" {
				held = append(held, old)
			}
		}
	}
	for i, k := range s.all {
		if k.kid != "" {
			if old, ok := prev.byKID[k.kid]; ok && same(k, old) {
				s.all[i] = old
				s.byKID[k.kid] = old
			}
			continue
		}
		for _, old := range held {
			if same(k, old) {
				s.all[i] = old
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

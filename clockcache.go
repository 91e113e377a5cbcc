package warden

import (
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// This file is the machinery the verified-token cache (cache.go) and the
// introspection answer cache (introspectcache.go) share: a lookup index in
// shards, a CLOCK ring, and the count of the bytes they retain. Each cache
// keeps only what is its own: its key, what an entry holds, when an entry
// may be served.

// clockKey is a cache's key: a hash of the token (never the token itself),
// whose spread bits pick the shard.
type clockKey interface {
	comparable
	spread() uint64
}

// clockEntry is what the ring knows of an entry; each cache's entry type
// embeds it. All but ref and index are immutable once the entry is
// published in a shard, so a hit reads them without a lock. A hit reads
// ref and expires (time.Time.Before reads only its first 16 bytes), so
// they come first.
type clockEntry[K clockKey] struct {
	ref     atomic.Bool // CLOCK reference bit: set by a hit, cleared by the hand
	expires time.Time   // never served at or past it, and evicted first
	hash    K
	cost    int // bytes the entry owns, charged while it is cached
	index   int // position in the ring, -1 once removed; guarded by clockCache.mu
}

// clock returns the entry's ring fields: the method that lets clockCache
// reach them in any entry type that embeds a clockEntry.
func (n *clockEntry[K]) clock() *clockEntry[K] { return n }

// touch records a hit. It sets the bit only when clear: a hit on a hot
// entry then writes nothing, and its cache line stays shared between cores.
func (n *clockEntry[K]) touch() {
	if !n.ref.Load() {
		n.ref.Store(true)
	}
}

// clockNode is a pointer to a cache's entry type, which embeds a
// clockEntry[K].
type clockNode[K clockKey] interface {
	comparable
	clock() *clockEntry[K]
}

// clockCache is a set of entries E keyed by K, bounded in entries and in
// bytes, evicting by CLOCK. Each cache embeds one and initialises it with
// init.
//
// Lookups go through shards, each a map under its own RWMutex, so
// concurrent hits with different keys rarely meet on one lock; besides
// that read lock, a hit writes only its entry's reference bit, at most once
// per sweep (clockEntry.touch). Every change (insert, removal, eviction) is
// serialised by mu, which a hit never takes; a change holds a shard's write
// lock only for one map assignment or deletion.
//
// It holds up to size entries, whichever shards they hash to, and up to
// maxBytes of memory, counted as the bytes it really retains: each entry's
// cost (what the entry owns, as the allocator rounds it), the ring and map
// slots it has used (slotBytes, charged once for good for each slot a
// shard's map and the ring have grown to hold, because neither shrinks),
// and the fixed structure.
//
// Eviction is CLOCK (second chance): the cached entries form a ring; a hit
// sets its entry's reference bit; to make room, the hand sweeps the ring,
// clearing set bits and evicting the first entry whose bit is clear or that
// has expired. An entry hit since the hand last passed survives, so a
// working set that is used keeps its place against a flood of keys seen
// once, which are inserted with the bit clear and leave first. Each insert
// evicts only what it needs and the hand examines at most clockMaxScan
// entries per eviction, so no insert pauses the cache.
type clockCache[K clockKey, E clockNode[K]] struct {
	mask   uint64 // len(shards)-1; len(shards) is a power of two
	shards []clockShard[K, E]

	mu        sync.Mutex // guards the fields below and every map write
	ring      []E        // the cached entries in CLOCK order; an entry's index is its position
	hand      int        // the ring position the CLOCK hand examines next
	size      int        // entry bound: len(ring) ≤ size
	maxBytes  int        // byte bound: bytes ≤ maxBytes
	slotBytes int        // charged once for each slot a shard's map has grown to
	bytes     int        // retained bytes counted: entries, slots, the fixed structure
}

// clockShard is one independently locked part of the lookup index. The
// padding keeps two shards' locks off one cache line.
type clockShard[K clockKey, E clockNode[K]] struct {
	mu      sync.RWMutex
	entries map[K]E
	peak    int // the most entries the map has held: a Go map never shrinks
	_       [64]byte
}

const (
	// maxClockShards is the most shards the index is split into.
	maxClockShards = 16
	// clockShardMapBytes covers a shard map's fixed part: its header and
	// first group, or its directory and tables' headers.
	clockShardMapBytes = 512
	// clockMaxEntryShare: an entry costing more than 1/16 of the byte bound
	// is not cached, so no single token can crowd out the rest.
	clockMaxEntryShare = 16
	// clockMaxScan bounds the entries the hand examines for one eviction;
	// past it the entry at the hand goes even if recently hit. Without a
	// bound, a ring whose every bit is set costs one insert a sweep of all
	// size entries.
	clockMaxScan = 64
)

// init makes c a cache of at most size entries (at least one) and maxBytes
// bytes, charging slotBytes for each map slot and fixed for the structure
// that embeds c. The index has 16 shards, or the largest power of two not
// above size, so a small cache does not count 16 maps it cannot fill.
func (c *clockCache[K, E]) init(size, maxBytes, slotBytes, fixed int) {
	size = max(size, 1)
	n := 1
	for n*2 <= maxClockShards && n*2 <= size {
		n *= 2
	}
	c.mask = uint64(n - 1)
	c.shards = make([]clockShard[K, E], n)
	for i := range c.shards {
		c.shards[i].entries = make(map[K]E)
	}
	c.size, c.maxBytes, c.slotBytes = size, maxBytes, slotBytes
	c.bytes = fixed + allocSize(n*int(unsafe.Sizeof(c.shards[0])), true) + n*clockShardMapBytes
}

// shard returns the part of the index that holds k.
func (c *clockCache[K, E]) shard(k K) *clockShard[K, E] {
	return &c.shards[k.spread()&c.mask]
}

// lookup returns the entry for k, or the zero E. The caller decides whether
// it may be served, then touches it or drops it.
func (c *clockCache[K, E]) lookup(k K) E {
	s := c.shard(k)
	s.mu.RLock()
	e := s.entries[k]
	s.mu.RUnlock()
	return e
}

// drop removes e unless it is already gone: a lookup found it expired or
// no longer valid.
func (c *clockCache[K, E]) drop(e E) {
	c.mu.Lock()
	if e.clock().index >= 0 {
		c.remove(e, nil)
	}
	c.mu.Unlock()
}

// insert caches e, whose hash, expires and cost are set, in place of any
// entry of the same hash, evicting what it needs to make room. An entry
// costing more than 1/clockMaxEntryShare of the byte bound, or one that does
// not fit beside the slots the maps have grown to, is not cached.
func (c *clockCache[K, E]) insert(e E, now time.Time) {
	n := e.clock()
	if n.cost > c.maxBytes/clockMaxEntryShare {
		return
	}
	n.index = -1
	s := c.shard(n.hash)

	c.mu.Lock()
	defer c.mu.Unlock()
	// Only holders of c.mu write a shard's map, so reading it here needs no
	// shard lock.
	var zero E
	if old := s.entries[n.hash]; old != zero {
		c.remove(old, nil)
	}
	need := n.cost
	if len(s.entries) >= s.peak {
		need += c.slotBytes // the shard's map grows a slot
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
		n.index = hole
		c.ring[hole] = e
	} else {
		n.index = len(c.ring)
		c.ring = append(c.ring, e)
	}
	s.mu.Lock()
	s.entries[n.hash] = e
	s.mu.Unlock()
	c.bytes += n.cost
	if len(s.entries) > s.peak {
		s.peak = len(s.entries)
		c.bytes += c.slotBytes
	}
}

// evict removes the entry the CLOCK hand chooses and returns its ring
// position, left empty (zero) for the caller to fill or compact. The hand
// skips an empty position, clears set reference bits, and stops at the
// first entry that has expired or whose bit is clear, or at the
// clockMaxScan-th entry it examines. The caller holds c.mu and ensures the
// ring holds at least one entry.
func (c *clockCache[K, E]) evict(now time.Time) int {
	var zero E
	for scanned := 0; ; {
		if c.hand >= len(c.ring) {
			c.hand = 0
		}
		i := c.hand
		c.hand++
		e := c.ring[i]
		if e == zero {
			continue // the insert's own hole: at most one
		}
		n := e.clock()
		scanned++
		if scanned >= clockMaxScan || !now.Before(n.expires) || !n.ref.Load() {
			c.unlink(e)
			c.ring[i] = zero
			return i
		}
		n.ref.Store(false)
	}
}

// remove drops e, which the cache holds, and compacts its ring position.
func (c *clockCache[K, E]) remove(e E, hole *int) {
	i := e.clock().index
	c.unlink(e)
	var zero E
	c.ring[i] = zero
	c.compact(i, hole)
}

// unlink drops e from its shard and from the count of bytes.
func (c *clockCache[K, E]) unlink(e E) {
	n := e.clock()
	s := c.shard(n.hash)
	s.mu.Lock()
	if s.entries[n.hash] == e {
		delete(s.entries, n.hash)
	}
	s.mu.Unlock()
	c.bytes -= n.cost
	n.index = -1
}

// compact closes the empty ring position i by moving the last entry into
// it; hole, if not nil, is a position the caller keeps empty, followed if
// it moves.
func (c *clockCache[K, E]) compact(i int, hole *int) {
	var zero E
	last := len(c.ring) - 1
	if i != last {
		moved := c.ring[last]
		c.ring[i] = moved
		if moved != zero {
			moved.clock().index = i
		} else if hole != nil && *hole == last {
			*hole = i
		}
	}
	c.ring[last] = zero
	c.ring = c.ring[:last]
}

// len returns the number of cached entries.
func (c *clockCache[K, E]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.ring)
}

// allocSize returns the bytes the Go allocator uses for an n-byte object:
// its size class, which growslice reports as the capacity it rounds to,
// plus the 8-byte malloc header that objects with pointers over 512 bytes
// carry. It allocates n bytes, so it serves fixed sizes, at package init
// and when a cache is made.
func allocSize(n int, pointers bool) int {
	c := cap(append([]byte(nil), make([]byte, n)...))
	if pointers && n > 512 {
		c = cap(append([]byte(nil), make([]byte, n+8)...))
	}
	return c
}

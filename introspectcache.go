package warden

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// introspectionCache remembers introspection answers: an active token's
// principal until the earlier of its exp and Introspection.CacheTTL, a
// refusal for Introspection.InactiveCacheTTL. It never holds the token: an
// entry is keyed by a keyed SHA-256 of it (digest), whose key is drawn at
// random for each cache, so neither a memory dump of the entries nor a
// timing of lookups tells which tokens were presented, and one token can
// never be taken for another (a collision of SHA-256). A hit answers only
// who the token speaks for; the route's requirement and the deny-list are
// checked on every request, hit or not.
//
// Its shape is the token cache's (cache.go): lookups through shards, each a
// map under its own RWMutex, so hits with different tokens rarely meet on a
// lock; changes serialised by mu; at most size entries and maxBytes of
// retained memory, counted as the allocator counts it (the principal is
// copied by newTokenEntry, whose cost is exact); eviction by CLOCK, an
// expired entry first.
type introspectionCache struct {
	key    [32]byte
	shards [introspectionShards]introspectionShard

	mu       sync.Mutex
	ring     []*introspectionEntry
	hand     int
	size     int
	maxBytes int
	bytes    int
}

// digest is the keyed SHA-256 of a token.
type digest [sha256.Size]byte

const (
	introspectionShards = 16
	// introspectionCacheMaxBytes bounds the memory the cache retains.
	introspectionCacheMaxBytes = 32 << 20
	// introspectionSlotBytes is charged once for every slot a shard's map
	// and the ring have grown to hold (neither shrinks): a map slot of a
	// 32-byte key and a pointer is 41 bytes, and under churn a Swiss table
	// holds up to about three slots per live entry; the ring, 16 bytes.
	introspectionSlotBytes = 16 + 3*41
	// introspectionShardBytes covers a shard map's fixed part.
	introspectionShardBytes = 512
)

// introspectionShard is one independently locked part of the index.
type introspectionShard struct {
	mu      sync.RWMutex
	entries map[digest]*introspectionEntry
	peak    int
	_       [64]byte
}

// introspectionEntry is one remembered answer. All but ref and index are
// immutable once published.
type introspectionEntry struct {
	until  time.Time // never served at or past it
	reason Reason    // ReasonOK: admitted
	held   *tokenEntry
	ref    atomic.Bool
	d      digest
	cost   int
	index  int // ring position, -1 once removed; guarded by introspectionCache.mu
}

var introspectionEntryBytes = allocSize(int(unsafe.Sizeof(introspectionEntry{})), true)

func newIntrospectionCache(size int) *introspectionCache {
	c := &introspectionCache{size: max(size, 1), maxBytes: introspectionCacheMaxBytes}
	_, _ = rand.Read(c.key[:])
	for i := range c.shards {
		c.shards[i].entries = map[digest]*introspectionEntry{}
	}
	c.bytes = allocSize(int(unsafe.Sizeof(introspectionCache{})), true) + introspectionShards*introspectionShardBytes
	return c
}

// digest returns the keyed hash of raw: SHA-256 of the cache's key and
// raw. Built on the stack for tokens up to 224 bytes, so a hit allocates
// nothing.
func (c *introspectionCache) digest(raw string) digest {
	var buf [256]byte
	b := buf[:0]
	if len(raw) > len(buf)-len(c.key) {
		b = make([]byte, 0, len(c.key)+len(raw))
	}
	b = append(append(b, c.key[:]...), raw...)
	return sha256.Sum256(b)
}

func (c *introspectionCache) shard(d digest) *introspectionShard {
	return &c.shards[binary.LittleEndian.Uint64(d[:8])%introspectionShards]
}

// get returns the remembered answer for d: the principal (nil for a JWT's
// answer) and ReasonOK, or the reason of a refusal.
func (c *introspectionCache) get(d digest, now time.Time) (*Principal, Reason, bool) {
	s := c.shard(d)
	s.mu.RLock()
	e := s.entries[d]
	s.mu.RUnlock()
	if e == nil {
		return nil, "", false
	}
	if !now.Before(e.until) {
		c.mu.Lock()
		if e.index >= 0 {
			c.remove(e)
		}
		c.mu.Unlock()
		return nil, "", false
	}
	if !e.ref.Load() {
		e.ref.Store(true)
	}
	if e.held == nil {
		return nil, e.reason, true
	}
	return &e.held.principal, e.reason, true
}

// put remembers an answer until until.
func (c *introspectionCache) put(d digest, p *Principal, reason Reason, until, now time.Time) {
	if !now.Before(until) {
		return
	}
	e := &introspectionEntry{until: until, reason: reason, d: d, index: -1}
	e.cost = introspectionEntryBytes
	if p != nil {
		e.held = newTokenEntry("", p) // the principal's own copy, exactly counted
		e.cost += e.held.cost
	}
	if e.cost > c.maxBytes/16 {
		return
	}
	s := c.shard(d)
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := s.entries[d]; old != nil {
		c.remove(old)
	}
	need := e.cost
	if len(s.entries) >= s.peak {
		need += introspectionSlotBytes
	}
	// Make room: the first victim's ring position takes the new entry,
	// right behind the hand, as CLOCK places it; further victims (for
	// bytes) are cut out of the ring.
	hole := -1
	for {
		live := len(c.ring)
		if hole >= 0 {
			live--
		}
		if live < c.size && c.bytes+need <= c.maxBytes {
			break
		}
		if live == 0 {
			// Only the slots the maps have grown to are left: the entry
			// does not fit, so it is not remembered.
			if hole >= 0 {
				c.cut(hole, nil)
			}
			return
		}
		v := c.victim(now)
		i := v.index
		c.unlink(v)
		c.ring[i] = nil
		if hole < 0 {
			hole = i
		} else {
			c.cut(i, &hole)
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
	s.entries[d] = e
	s.mu.Unlock()
	c.bytes += e.cost
	if len(s.entries) > s.peak {
		s.peak = len(s.entries)
		c.bytes += introspectionSlotBytes
	}
}

// victim is the entry the CLOCK hand chooses: the first that has expired
// or was not hit since the hand last passed, or the clockMaxScan-th
// examined; the hand moves past it. The ring holds at least one entry
// besides the put's own empty position.
func (c *introspectionCache) victim(now time.Time) *introspectionEntry {
	for scanned := 0; ; {
		if c.hand >= len(c.ring) {
			c.hand = 0
		}
		e := c.ring[c.hand]
		c.hand++
		if e == nil {
			continue // the put's own empty position
		}
		scanned++
		if scanned >= clockMaxScan || !now.Before(e.until) || !e.ref.Load() {
			return e
		}
		e.ref.Store(false)
	}
}

// remove drops e, which the cache holds, and closes its ring position.
func (c *introspectionCache) remove(e *introspectionEntry) {
	i := e.index
	c.unlink(e)
	c.ring[i] = nil
	c.cut(i, nil)
}

// unlink drops e from its shard and from the count of bytes.
func (c *introspectionCache) unlink(e *introspectionEntry) {
	s := c.shard(e.d)
	s.mu.Lock()
	if s.entries[e.d] == e {
		delete(s.entries, e.d)
	}
	s.mu.Unlock()
	c.bytes -= e.cost
	e.index = -1
}

// cut closes the empty ring position i by moving the last entry into it;
// hole, if not nil, is an empty position the caller keeps, followed if it
// moves.
func (c *introspectionCache) cut(i int, hole *int) {
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

// len returns the number of remembered answers.
func (c *introspectionCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.ring)
}

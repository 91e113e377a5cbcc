package warden

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
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
// The shards, the CLOCK ring (an expired entry first) and the byte count
// are clockCache's (clockcache.go), as the token cache's are: at most size
// entries and introspectionCacheMaxBytes of retained memory, counted as the
// allocator counts it (the principal is copied by newTokenEntry, whose cost
// is exact).
type introspectionCache struct {
	key [32]byte
	clockCache[digest, *introspectionEntry]
}

// digest is the keyed SHA-256 of a token.
type digest [sha256.Size]byte

// spread picks the shard by the digest's first bytes.
func (d digest) spread() uint64 { return binary.LittleEndian.Uint64(d[:8]) }

const (
	// introspectionCacheMaxBytes bounds the memory the cache retains.
	introspectionCacheMaxBytes = 32 << 20
	// introspectionSlotBytes is charged once for every slot a shard's map
	// and the ring have grown to hold (neither shrinks): a map slot of a
	// 32-byte key and a pointer is 41 bytes, and under churn a Swiss table
	// holds up to about three slots per live entry; the ring, 16 bytes.
	introspectionSlotBytes = 16 + 3*41
)

// introspectionEntry is one remembered answer, until its clockEntry's
// expires. All but the ring's ref and index are immutable once published.
type introspectionEntry struct {
	clockEntry[digest]
	reason Reason // ReasonOK: admitted
	held   *tokenEntry
}

var introspectionEntryBytes = allocSize(int(unsafe.Sizeof(introspectionEntry{})), true)

func newIntrospectionCache(size int) *introspectionCache {
	c := &introspectionCache{}
	_, _ = rand.Read(c.key[:])
	c.init(size, introspectionCacheMaxBytes, introspectionSlotBytes, allocSize(int(unsafe.Sizeof(introspectionCache{})), true))
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

// get returns the remembered answer for d: the principal (nil for a JWT's
// answer) and ReasonOK, or the reason of a refusal.
func (c *introspectionCache) get(d digest, now time.Time) (*Principal, Reason, bool) {
	e := c.lookup(d)
	if e == nil {
		return nil, "", false
	}
	if !now.Before(e.expires) {
		c.drop(e)
		return nil, "", false
	}
	e.touch()
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
	e := &introspectionEntry{reason: reason}
	e.hash, e.expires, e.cost = d, until, introspectionEntryBytes
	if p != nil {
		e.held = newTokenEntry("", p) // the principal's own copy, exactly counted
		e.cost += e.held.cost
	}
	c.insert(e, now)
}

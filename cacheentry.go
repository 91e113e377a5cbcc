package warden

import (
	"strings"
	"unsafe"

	"github.com/wardenhq/warden/internal/jwks"
)

// This file is one cached token, and counts what it retains as the allocator counts it:
// the token cache's byte bound is real bytes, not an estimate.

// tokenEntry is one cached token. All but the ring's ref and index are
// immutable once the entry is published in a shard, so a hit reads them
// without a lock. What a hit reads comes first, within the entry's first 64
// bytes (one cache line): the token, the key source and key, then the
// clockEntry's ref and expires (time.Time.Before reads only the first 16
// bytes of expires).
type tokenEntry struct {
	raw    string // the token, a prefix of the entry's arena
	source jwks.Source
	key    *jwks.Key

	clockEntry[tokenHash] // expires is exp + leeway; cost is entryCost

	principal Principal // the entry's own copy (newTokenEntry)
	inline    [4]string // backs principal's scopes and audiences when they are few
}

// tokenHash is the token cache's key: a seeded maphash of the token.
type tokenHash uint64

// spread picks the shard by the high bits; Go maps use the low bits of
// their own hash, which is independent of this one anyway.
func (h tokenHash) spread() uint64 { return uint64(h) >> 32 }

// tokenEntryBytes is the allocation size of an entry, as the runtime
// rounds it (allocSize).
var tokenEntryBytes = allocSize(int(unsafe.Sizeof(tokenEntry{})), true)

// sliceBytes bounds what a slice allocated by growslice (append, or
// slices.Grow) with capacity elems retains: the capacity is rounded down
// from the size class minus any malloc header, so the class exceeds
// elems*size by less than one element plus the header.
func sliceBytes(elems int, size uintptr, pointers bool) int {
	if elems == 0 {
		return 0
	}
	n := elems*int(size) + int(size) - 1
	if pointers && n > 512 {
		n += 8
	}
	return n
}

// entryCost is the memory an entry owns: the entry (with its principal
// inline), the arena holding the token and every string of the principal,
// the payload copy, the backing array of scopes and audiences when it is
// not inside the entry, and the actor chain. Each capacity is as growslice
// allocated it, so each size is the size class the runtime used. The key
// source and key belong to the issuer's key set and are not counted; the
// map and ring slots are charged apart (entrySlotBytes).
func entryCost(arenaCap, payloadCap, stringsCap, actorsCap int) int {
	return tokenEntryBytes + arenaCap + payloadCap +
		sliceBytes(stringsCap, unsafe.Sizeof(""), true) +
		sliceBytes(actorsCap, unsafe.Sizeof(Actor{}), true)
}

// newTokenEntry copies raw and p into an entry that owns all it retains: one
// arena string for the token and every string of the principal, one backing
// array for its scopes and audiences (inside the entry when they are few),
// one for its actor chain, and a copy of the payload. Fields without memory
// of their own are copied with the struct. Whatever the verifier's
// principal shares (the payload, a scope string split by strings.Fields) or
// whatever a caller's token is cut from, the entry's cost is then exact.
func newTokenEntry(raw string, p *Principal) *tokenEntry {
	e := &tokenEntry{principal: *p}
	q := &e.principal
	ns, na := len(p.scopes), len(p.audience)
	n := len(raw) + len(p.subject) + len(p.clientID) + len(p.issuer) + len(p.tokenID) + len(p.cnf.JKT) + len(p.cnf.X5TS256)
	for _, s := range p.scopes {
		n += len(s)
	}
	for _, s := range p.audience {
		n += len(s)
	}
	depth := 0
	for a := p.actor; a != nil; a = a.Actor {
		n += len(a.Subject) + len(a.ClientID)
		depth++
	}
	// The arena is written once, after Grow, so it never moves: a string
	// Builder.String returned stays valid as later writes append.
	var b strings.Builder
	b.Grow(n)
	e.raw = arenaCopy(&b, raw)
	q.subject, q.clientID = arenaCopy(&b, p.subject), arenaCopy(&b, p.clientID)
	q.issuer, q.tokenID = arenaCopy(&b, p.issuer), arenaCopy(&b, p.tokenID)
	q.cnf.JKT, q.cnf.X5TS256 = arenaCopy(&b, p.cnf.JKT), arenaCopy(&b, p.cnf.X5TS256)

	strs := e.inline[:0]
	if ns+na > len(e.inline) {
		strs = append([]string(nil), make([]string, ns+na)...) // growslice: the capacity is the size class
	}
	strs = strs[:ns+na]
	for i, s := range p.scopes {
		strs[i] = arenaCopy(&b, s)
	}
	for i, s := range p.audience {
		strs[ns+i] = arenaCopy(&b, s)
	}
	q.scopes, q.audience = ownSlice(p.scopes, strs, 0, ns), ownSlice(p.audience, strs, ns, ns+na)

	var actors []Actor
	if depth > 0 {
		actors = append([]Actor(nil), make([]Actor, depth)...)
		i := 0
		for a := p.actor; a != nil; a = a.Actor {
			c := &actors[i]
			c.Subject, c.ClientID = arenaCopy(&b, a.Subject), arenaCopy(&b, a.ClientID)
			if i > 0 {
				actors[i-1].Actor = c
			}
			i++
		}
		q.actor = &actors[0]
	}
	if p.claims != nil {
		q.claims = append([]byte{}, p.claims...) // growslice: the capacity is the size class
	}
	heldStrs := 0
	if ns+na > len(e.inline) {
		heldStrs = cap(strs)
	}
	e.cost = entryCost(b.Cap(), cap(q.claims), heldStrs, cap(actors))
	return e
}

// arenaCopy appends s to b and returns the appended bytes as a string.
func arenaCopy(b *strings.Builder, s string) string {
	if s == "" {
		return ""
	}
	b.WriteString(s)
	a := b.String()
	return a[len(a)-len(s):]
}

// ownSlice returns strs[from:to] capped, standing for orig: nil stays nil,
// and an empty slice is one that retains nothing.
func ownSlice(orig, strs []string, from, to int) []string {
	switch {
	case orig == nil:
		return nil
	case from == to:
		return []string{}
	}
	return strs[from:to:to]
}

package warden

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"net/url"
	"runtime"
	"sync"
	"time"
	"unicode/utf8"
)

// ErrInvalidClient is returned by a ClientVerifier for an unknown client or
// a wrong secret. Both must look the same to the caller.
var ErrInvalidClient = errors.New("warden: invalid client credentials")

// errRememberedFailure refuses credentials that failed within BasicCacheTTL.
var errRememberedFailure = fmt.Errorf("%w (failed recently, not checked again)", ErrInvalidClient)

// ClientVerifier checks OAuth client credentials presented with HTTP Basic
// (RFC 6749 §2.3.1). It returns the client's permissions, which the route's
// requirement is checked against, or ErrInvalidClient. Any other error is
// treated as an outage and answered with 503. Implementations must take the
// same time for an unknown client as for a wrong secret.
//
// Checks are costly on purpose (a password hash), so warden bounds what
// failures cost (RFC 6749 §10.10). At most GOMAXPROCS (as at New) calls run
// at once; a request that finds no free slot within 200 ms, or whose context
// ends first, is refused with ReasonBasicOverloaded (503, Retry-After).
// Credentials that failed are refused without a call for BasicCacheTTL.
// After 10 failed calls for one client id within a minute, new credentials
// for that id are refused without a call until the minute has passed, with
// ReasonBasicThrottled (429, Retry-After: 60); credentials that verified
// before are still checked, so a client is not locked out by someone failing
// in its name while it keeps its secret. Unknown ids and wrong secrets count
// alike. The bound applies to every implementation, also one that is not
// CPU-bound.
type ClientVerifier interface {
	VerifyClient(ctx context.Context, clientID, secret string) (permissions []string, err error)
}

// maxBasicCacheEntries bounds the cache of successful Basic checks.
const maxBasicCacheEntries = 4096

// basicAuth authenticates Basic credentials, remembering successful checks
// for a short time so the password hash is not paid on every request, and
// bounding what failed checks cost (basic_limits.go).
type basicAuth struct {
	clients  ClientVerifier
	ttl      time.Duration
	now      func() time.Time
	cacheKey [32]byte // HMAC key: cache keys never contain the secret or the id

	macs sync.Pool // of *basicMAC: hmac.New costs more than the lookup

	mu    sync.RWMutex
	cache map[[32]byte]basicEntry

	slots    *hashSlots
	slotWait time.Duration // basicSlotWait; tests shorten it
	failures failureMemory
	throttle failureThrottle
}

type basicMAC struct {
	h   hash.Hash
	buf []byte
}

// macOf returns HMAC-SHA256(cacheKey, token68) without allocating.
func (b *basicAuth) macOf(token68 string) (key [32]byte) {
	m := b.macs.Get().(*basicMAC)
	m.h.Reset()
	m.buf = append(m.buf[:0], token68...)
	m.h.Write(m.buf)
	m.buf = m.h.Sum(m.buf[:0])
	copy(key[:], m.buf)
	b.macs.Put(m)
	return key
}

type basicEntry struct {
	principal *Principal
	expires   time.Time
}

func newBasicAuth(v ClientVerifier, ttl time.Duration, now func() time.Time) *basicAuth {
	b := &basicAuth{clients: v, ttl: ttl, now: now, cache: map[[32]byte]basicEntry{},
		slots: newHashSlots(runtime.GOMAXPROCS(0)), slotWait: basicSlotWait,
		failures: failureMemory{m: map[[32]byte]time.Time{}},
		throttle: failureThrottle{m: map[[32]byte]throttleEntry{}}}
	if _, err := rand.Read(b.cacheKey[:]); err != nil {
		panic("warden: no randomness: " + err.Error()) // crypto/rand never fails on supported platforms
	}
	b.macs.New = func() any { return &basicMAC{h: hmac.New(sha256.New, b.cacheKey[:])} }
	return b
}

// parseBasic decodes RFC 7617 credentials whose user-id and password are
// form-urlencoded OAuth client credentials (RFC 6749 §2.3.1).
func parseBasic(token68 string) (clientID, secret string, ok bool) {
	raw, err := base64.StdEncoding.Strict().DecodeString(token68)
	if err != nil || !utf8.Valid(raw) || hasControl(raw) {
		return "", "", false // RFC 7617 §2: no control characters; charset UTF-8
	}
	rawID, rawSecret, found := bytes.Cut(raw, []byte{':'})
	if !found {
		return "", "", false
	}
	id, err1 := url.QueryUnescape(string(rawID))
	sec, err2 := url.QueryUnescape(string(rawSecret))
	if err1 != nil || err2 != nil || id == "" || sec == "" || hasControl([]byte(id)) || !utf8.ValidString(id) || !utf8.ValidString(sec) {
		return "", "", false
	}
	return id, sec, true
}

func hasControl(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c == 0x7f {
			return true
		}
	}
	return false
}

// authenticate checks Basic credentials. In order: a live success-cache
// entry admits and a remembered failure refuses, both without decoding or
// hashing; then the client id's throttle, a hashing slot, and the check.
func (b *basicAuth) authenticate(ctx context.Context, token68 string) (*Principal, *Error) {
	var key [32]byte
	knownGood := false // these exact credentials verified before
	if b.ttl > 0 {
		// Keyed by a MAC of the credentials exactly as presented, so a hit
		// skips decoding as well as the password hash; only credentials
		// that verified are ever stored.
		key = b.macOf(token68)
		p, e, good := b.remembered(key, b.now())
		if p != nil || e != nil {
			return p, e
		}
		knownGood = good
	}
	id, secret, ok := parseBasic(token68)
	if !ok {
		return nil, newError(ReasonBasicInvalid, SchemeBasic, errBadCredentials)
	}
	// The throttle is keyed by a MAC of the decoded id: every encoding of
	// an id shares its count, and no id is kept in memory.
	idKey := b.macOf(id)
	// Credentials that verified before skip the throttle, so an attacker
	// failing on purpose cannot lock out a client whose cache entry
	// expired; anyone else would need the secret to present them.
	if !knownGood && b.throttle.blocked(idKey, b.now()) {
		return nil, newError(ReasonBasicThrottled, SchemeBasic, errThrottled)
	}
	if !b.slots.acquire(ctx, b.slotWait) {
		return nil, newError(ReasonBasicOverloaded, SchemeBasic, errOverloaded)
	}
	defer b.slots.release()
	return b.check(ctx, key, idKey, knownGood, id, secret)
}

// remembered answers from the success cache or the failure memory. good
// reports a success entry, live or expired: those credentials verified.
func (b *basicAuth) remembered(key [32]byte, now time.Time) (p *Principal, e *Error, good bool) {
	b.mu.RLock()
	ent, hit := b.cache[key]
	b.mu.RUnlock()
	if hit && now.Before(ent.expires) {
		return ent.principal, nil, true
	}
	if b.failures.has(key, now) {
		return nil, newError(ReasonBasicInvalid, SchemeBasic, errRememberedFailure), false
	}
	return nil, nil, hit
}

// check runs the ClientVerifier, holding a slot, and records the outcome.
func (b *basicAuth) check(ctx context.Context, key, idKey [32]byte, knownGood bool, id, secret string) (*Principal, *Error) {
	// While this request waited for its slot, another may have settled the
	// same credentials or throttled the id: take that answer unhashed.
	if b.ttl > 0 {
		if p, e, _ := b.remembered(key, b.now()); p != nil || e != nil {
			return p, e
		}
	}
	if !knownGood && b.throttle.blocked(idKey, b.now()) {
		return nil, newError(ReasonBasicThrottled, SchemeBasic, errThrottled)
	}
	perms, err := b.clients.VerifyClient(ctx, id, secret)
	now := b.now()
	if err != nil {
		if !errors.Is(err, ErrInvalidClient) {
			return nil, newError(ReasonClientsUnavailable, SchemeBasic, err) // an outage: nothing to remember
		}
		// Unknown ids and wrong secrets both land here, so the throttle and
		// the memory treat them alike and reveal nothing about which ids exist.
		b.throttle.fail(idKey, now)
		if b.ttl > 0 {
			b.failures.add(key, now.Add(b.ttl), now)
			if knownGood {
				b.mu.Lock()
				delete(b.cache, key) // the secret changed: no more throttle bypass
				b.mu.Unlock()
			}
		}
		return nil, newError(ReasonBasicInvalid, SchemeBasic, err)
	}
	// A success does not clear the id's failures: it says nothing about
	// who made them, and clearing would give a guesser a fresh budget
	// each time the client's cache entry is renewed.
	p := newClientPrincipal(id, perms)
	if b.ttl > 0 {
		b.mu.Lock()
		if len(b.cache) >= maxBasicCacheEntries {
			for k, e := range b.cache {
				if !now.Before(e.expires) || len(b.cache) >= maxBasicCacheEntries {
					delete(b.cache, k)
				}
				if len(b.cache) < maxBasicCacheEntries/2 {
					break
				}
			}
		}
		b.cache[key] = basicEntry{principal: p, expires: now.Add(b.ttl)}
		b.mu.Unlock()
	}
	return p, nil
}

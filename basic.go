package warden

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"hash"
	"net/url"
	"sync"
	"time"
	"unicode/utf8"
)

// ErrInvalidClient is returned by a ClientVerifier for an unknown client or
// a wrong secret. Both must look the same to the caller.
var ErrInvalidClient = errors.New("warden: invalid client credentials")

// ClientVerifier checks OAuth client credentials presented with HTTP Basic
// (RFC 6749 §2.3.1). It returns the client's permissions, which the route's
// requirement is checked against, or ErrInvalidClient. Any other error is
// treated as an outage and answered with 503. Implementations must take the
// same time for an unknown client as for a wrong secret.
type ClientVerifier interface {
	VerifyClient(ctx context.Context, clientID, secret string) (permissions []string, err error)
}

// maxBasicCacheEntries bounds the cache of successful Basic checks.
const maxBasicCacheEntries = 4096

// basicAuth authenticates Basic credentials, remembering successful checks
// for a short time so the password hash is not paid on every request.
type basicAuth struct {
	verifier ClientVerifier
	ttl      time.Duration
	now      func() time.Time
	cacheKey [32]byte // HMAC key: cache keys never contain the secret

	macs sync.Pool // of *basicMAC: hmac.New costs more than the lookup

	mu    sync.RWMutex
	cache map[[32]byte]basicEntry
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
	b := &basicAuth{verifier: v, ttl: ttl, now: now, cache: map[[32]byte]basicEntry{}}
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

func (b *basicAuth) authenticate(ctx context.Context, token68 string) (*Principal, *Error) {
	var key [32]byte
	if b.ttl > 0 {
		// Keyed by a MAC of the credentials exactly as presented, so a hit
		// skips decoding as well as the password hash; only credentials
		// that verified are ever stored.
		key = b.macOf(token68)
		now := b.now()
		b.mu.RLock()
		e, hit := b.cache[key]
		b.mu.RUnlock()
		if hit && now.Before(e.expires) {
			return e.principal, nil
		}
	}
	id, secret, ok := parseBasic(token68)
	if !ok {
		return nil, newError(ReasonBasicInvalid, SchemeBasic, errBadCredentials)
	}
	perms, err := b.verifier.VerifyClient(ctx, id, secret)
	if err != nil {
		if errors.Is(err, ErrInvalidClient) {
			return nil, newError(ReasonBasicInvalid, SchemeBasic, err)
		}
		return nil, newError(ReasonClientsUnavailable, SchemeBasic, err)
	}
	p := &Principal{subject: id, clientID: id, scopes: append([]string(nil), perms...), scheme: SchemeBasic}
	if b.ttl > 0 {
		now := b.now()
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

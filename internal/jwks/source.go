package jwks

import (
	"context"
	"time"
)

// Source resolves the verification keys of one issuer.
type Source interface {
	// Key returns the key for a token header. It never blocks longer than
	// the source's configured bound. Errors wrap ErrUnknownKID or
	// ErrUnavailable.
	Key(ctx context.Context, kid string, hasKID bool, alg string) (*Key, error)
	// Holds reports, without I/O, whether k is still in the current set
	// and that set may verify tokens.
	Holds(k *Key) bool
	// Status reports the source's health.
	Status() Status
	// Close stops background work. The keys held keep serving.
	Close()
}

// Status describes the health of a Source.
type Status struct {
	// KIDs are the kids of the keys held.
	KIDs []string
	// LastRefresh is when the keys held were fetched (for a static set,
	// when it was loaded).
	LastRefresh time.Time
	// Staleness is how long ago the keys held were last confirmed.
	Staleness time.Duration
	// LastErr is the cause of the last failed refresh, or nil.
	LastErr error
	// Usable reports whether tokens can be verified now.
	Usable bool
}

// Static serves a fixed key set: a configured JWK Set or an HMAC secret.
type Static struct {
	set    *Set
	hmac   bool
	loaded time.Time
}

// NewStatic serves set, loaded at now.
func NewStatic(set *Set, now time.Time) *Static { return &Static{set: set, loaded: now} }

// NewHMAC serves one shared secret, which verifies HS256/384/512 tokens
// whatever kid they name.
func NewHMAC(secret []byte, now time.Time) *Static {
	k := &Key{Public: append([]byte(nil), secret...)}
	return &Static{set: &Set{byKID: map[string]*Key{}, all: []*Key{k}, searchable: true}, hmac: true, loaded: now}
}

// Key returns the key for a token header.
func (s *Static) Key(_ context.Context, kid string, hasKID bool, alg string) (*Key, error) {
	if s.hmac {
		// A shared secret has no kid; any kid the token names is ignored
		// because there is exactly one key to try.
		if k := s.set.all[0]; k.Fits(alg) {
			return k, nil
		}
		return nil, ErrUnknownKID
	}
	if k, ok := s.set.Find(kid, hasKID, alg); ok {
		return k, nil
	}
	return nil, ErrUnknownKID
}

// Holds reports whether k is one of the set's keys.
func (s *Static) Holds(k *Key) bool { return s.set.Holds(k) }

// Status reports a static set: always usable.
func (s *Static) Status() Status {
	return Status{KIDs: s.set.KIDs(), LastRefresh: s.loaded, Usable: true}
}

// Close does nothing: a static set has no background work.
func (s *Static) Close() {}

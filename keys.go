package warden

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"time"

	"github.com/MicahParks/jwkset"
)

// Errors a key source reports; the validator maps them to reasons.
var (
	// errUnknownKID: the key set holds no usable key for the token.
	errUnknownKID = errors.New("no key for the token's kid")
	// errKeysUnavailable: no key set could be obtained (never fetched, or
	// stale beyond the allowed bound). Answered with 503, not 401.
	errKeysUnavailable = errors.New("no key set available")
)

// verificationKey is one usable public key, bound to its issuer's source.
type verificationKey struct {
	kid    string
	alg    string // the JWK's "alg", or empty when it states none
	public any    // *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey or []byte (HMAC)
}

// fits reports whether the key may verify a token signed with alg: the JWK's
// own alg must agree, and the key type must be the one alg needs.
func (k *verificationKey) fits(alg string) bool {
	if k.alg != "" && k.alg != alg && !(k.alg == "Ed25519" && alg == "EdDSA") {
		// RFC 9864 §2.2 names EdDSA over Ed25519 "Ed25519"; a key so
		// labelled verifies tokens with the RFC 8037 name "EdDSA" (the
		// type switch below still requires an Ed25519 key).
		return false
	}
	switch pk := k.public.(type) {
	case *rsa.PublicKey:
		return len(alg) == 5 && (alg[:2] == "RS" || alg[:2] == "PS")
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			return pk.Curve == elliptic.P256()
		case "ES384":
			return pk.Curve == elliptic.P384()
		case "ES512":
			return pk.Curve == elliptic.P521()
		}
		return false
	case ed25519.PublicKey:
		return alg == "EdDSA"
	case []byte:
		return alg == "HS256" || alg == "HS384" || alg == "HS512"
	}
	return false
}

// keySet is an immutable snapshot of one issuer's keys.
type keySet struct {
	byKID map[string]*verificationKey
	all   []*verificationKey
	// searchable: a token without kid may be tried against the set's keys,
	// because it had at most maxKeysWithoutKID usable keys. Only such a set
	// holds keys without kid (see parseJWKS).
	searchable bool
}

// maxKeysWithoutKID bounds how many keys a token without "kid" is tried
// against: more would let one token cost many signature checks.
const maxKeysWithoutKID = 4

// find returns the key for kid (or, for a token without kid, the single
// fitting key of a small set).
func (s *keySet) find(kid string, hasKID bool, alg string) (*verificationKey, bool) {
	if s == nil {
		return nil, false
	}
	if hasKID {
		k, ok := s.byKID[kid]
		if !ok || !k.fits(alg) {
			return nil, false
		}
		return k, true
	}
	if !s.searchable {
		return nil, false
	}
	var found *verificationKey
	for _, k := range s.all {
		if k.fits(alg) {
			if found != nil {
				return nil, false // ambiguous: refuse rather than try several
			}
			found = k
		}
	}
	return found, found != nil
}

// holds reports whether k is still part of the set. It runs on every
// token-cache hit, so it costs a map lookup, or a scan of at most
// maxKeysWithoutKID keys for a key without kid, whatever the set's size.
func (s *keySet) holds(k *verificationKey) bool {
	if s == nil {
		return false
	}
	if k.kid != "" {
		return s.byKID[k.kid] == k
	}
	if !s.searchable {
		return false // a large set holds no key without kid
	}
	for _, c := range s.all {
		if c == k {
			return true
		}
	}
	return false
}

// keySource resolves the verification keys of one issuer.
type keySource interface {
	// key returns the key for a token header. It never blocks longer than the
	// source's configured bound. Errors wrap errUnknownKID or
	// errKeysUnavailable.
	key(ctx context.Context, kid string, hasKID bool, alg string) (*verificationKey, error)
	// holds reports, without I/O, whether k is still in the current set.
	holds(k *verificationKey) bool
	// status reports the source's health.
	status() KeySourceStatus
	// close stops background work.
	close()
}

// KeySourceStatus describes the health of one issuer's key source.
type KeySourceStatus struct {
	Issuer      string    `json:"issuer"`
	KeyIDs      []string  `json:"key_ids"`
	LastRefresh time.Time `json:"last_refresh"`
	// Staleness is how long ago the held keys were last confirmed.
	Staleness time.Duration `json:"staleness"`
	// LastError is the cause of the last failed refresh, if any.
	LastError string `json:"last_error,omitempty"`
	// Usable reports whether tokens can be verified now.
	Usable bool `json:"usable"`
}

// parseJWKS turns a JWK Set document into a key set. Keys that may not
// verify signatures ("use" other than "sig", "key_ops" without "verify" or
// inconsistent, see canVerify), keys published with their private members,
// symmetric keys (a remote JWKS must never supply an HMAC secret) and key
// types warden does not support are skipped; a malformed supported key, a
// weak one (RSA outside 2048-8192 bits or with a bad exponent or the ROCA
// fingerprint, an Ed25519 point of small order or not canonically encoded:
// see keycheck.go) or a duplicated kid rejects the whole document, so a
// corrupt refresh never replaces good keys.
func parseJWKS(doc []byte) (*keySet, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		return nil, fmt.Errorf("JWK Set is not valid JSON: %w", err)
	}
	if set.Keys == nil {
		return nil, errors.New(`JWK Set has no "keys" array`)
	}
	ks := &keySet{byKID: make(map[string]*verificationKey, len(set.Keys))}
	seen := make(map[string]bool, len(set.Keys))
	for i, raw := range set.Keys {
		var m jwkset.JWKMarshal
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("key %d is not a JWK: %w", i, err)
		}
		if m.KID != "" {
			if seen[m.KID] {
				return nil, fmt.Errorf("kid %q appears more than once", m.KID)
			}
			seen[m.KID] = true
		}
		if !canVerify(&m) {
			continue // "use" or "key_ops" forbid verifying signatures
		}
		switch m.KTY {
		case jwkset.KtyRSA, jwkset.KtyEC, jwkset.KtyOKP:
		default:
			continue // oct (never from a JWK Set) and unsupported types
		}
		if m.KTY == jwkset.KtyOKP && m.CRV != jwkset.CrvEd25519 {
			continue // X25519 and friends cannot sign
		}
		if hasPrivateMembers(&m) {
			continue // a published private key proves nothing
		}
		// Checks jwkset does not make, on the members as sent.
		var weak error
		switch m.KTY {
		case jwkset.KtyRSA:
			weak = checkRSAKey(m.N, m.E)
		case jwkset.KtyOKP:
			weak = checkEd25519Key(m.X)
		}
		if weak != nil {
			return nil, fmt.Errorf("key %d (kid %q): %w", i, m.KID, weak)
		}
		// Only public parameters are read (a key with private ones was
		// skipped above). key_ops, checked by canVerify, is not passed on:
		// jwkset's validation refuses unregistered values, which RFC 7517
		// §4.3 allows.
		pub := jwkset.JWKMarshal{KTY: m.KTY, CRV: m.CRV, X: m.X, Y: m.Y, N: m.N, E: m.E, KID: m.KID, ALG: m.ALG, USE: m.USE}
		jwk, err := jwkset.NewJWKFromMarshal(pub, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{SkipMetadata: true})
		if err != nil {
			return nil, fmt.Errorf("key %d (kid %q) is invalid: %w", i, m.KID, err)
		}
		k := &verificationKey{kid: m.KID, alg: string(m.ALG), public: jwk.Key()}
		ks.all = append(ks.all, k)
		if m.KID != "" {
			ks.byKID[m.KID] = k
		}
	}
	ks.searchable = len(ks.all) <= maxKeysWithoutKID
	if !ks.searchable {
		// No token can select a key without kid from a set this large
		// (find), so none is kept: what a refresh compares, and what a
		// cache hit checks, then stays linear in the set (keepUnchanged,
		// holds).
		ks.all = slices.DeleteFunc(ks.all, func(k *verificationKey) bool { return k.kid == "" })
	}
	return ks, nil
}

// staticSource serves a fixed key set: a configured JWKS or HMAC secret.
type staticSource struct {
	issuer string
	set    *keySet
	loaded time.Time
}

func newStaticJWKS(issuer string, doc []byte, now time.Time) (*staticSource, error) {
	set, err := parseJWKS(doc)
	if err != nil {
		return nil, configErrorf("issuer %q: JWKS: %v", issuer, err)
	}
	if len(set.all) == 0 {
		return nil, configErrorf("issuer %q: JWKS holds no usable signing key", issuer)
	}
	return &staticSource{issuer: issuer, set: set, loaded: now}, nil
}

func newHMACSource(issuer string, secret []byte, now time.Time) *staticSource {
	k := &verificationKey{public: append([]byte(nil), secret...)}
	return &staticSource{issuer: issuer, set: &keySet{byKID: map[string]*verificationKey{}, all: []*verificationKey{k}, searchable: true}, loaded: now}
}

func (s *staticSource) key(_ context.Context, kid string, hasKID bool, alg string) (*verificationKey, error) {
	if _, isHMAC := s.set.all[0].public.([]byte); isHMAC {
		// A shared secret has no kid; any kid the token names is ignored
		// because there is exactly one key to try.
		k := s.set.all[0]
		if !k.fits(alg) {
			return nil, errUnknownKID
		}
		return k, nil
	}
	k, ok := s.set.find(kid, hasKID, alg)
	if !ok {
		return nil, errUnknownKID
	}
	return k, nil
}

func (s *staticSource) holds(k *verificationKey) bool { return s.set.holds(k) }

func (s *staticSource) status() KeySourceStatus {
	return KeySourceStatus{Issuer: s.issuer, KeyIDs: s.set.kids(), LastRefresh: s.loaded, Usable: true}
}

func (s *staticSource) close() {}

func (s *keySet) kids() []string {
	if s == nil {
		return nil
	}
	out := make([]string, 0, len(s.all))
	for _, k := range s.all {
		if k.kid != "" {
			out = append(out, k.kid)
		}
	}
	return out
}

// KeySourceConfig tunes how remote JWK Sets are fetched and refreshed. Every
// zero field takes the default named in its comment; durations are measured
// with Config.Now where they concern the keys' age, so tests can inject a
// clock.
type KeySourceConfig struct {
	// MinRefreshInterval and MaxRefreshInterval clamp the refresh interval
	// taken from the JWK Set response's Cache-Control max-age (RFC 9111
	// §5.2.2.1, minus Age): the set is refreshed in the background at 80-90 %
	// of that lifetime, ahead of its expiry. A response without max-age is
	// taken to live 1 h. Defaults 1 min and 24 h. MinRefreshInterval also
	// caps the retry backoff after a failed refresh (1 s doubling, at most
	// 5 min).
	MinRefreshInterval time.Duration
	MaxRefreshInterval time.Duration
	// UnknownKIDInterval is the least time between two refreshes triggered by
	// tokens with unknown kids; a kid still unknown after a refresh is
	// refused without waiting until it passes. Default 5 s.
	UnknownKIDInterval time.Duration
	// UnknownKIDWait is the longest a request waits for a refresh, shared
	// with every other request waiting at the time. Default 1 s.
	UnknownKIDWait time.Duration
	// MaxStaleness is how long, after the last successful refresh, the key
	// set keeps serving while refreshes fail. Default 24 h; after it,
	// requests get 503 with Retry-After. A refresh that yields no usable key
	// (for example {"keys":[]}) counts as failed: the old keys stay.
	MaxStaleness time.Duration
	// MaxResponseSize caps discovery and JWK Set responses. Default 1 MiB.
	MaxResponseSize int64
	// FetchTimeout bounds one discovery or JWK Set request, and how long New
	// waits for the first key set. Default 10 s.
	FetchTimeout time.Duration
	// OnRefresh, when set, is called after every attempt to fetch an
	// issuer's key set (not for static keys), for metrics. It must not block.
	OnRefresh func(KeyRefresh)
	// LazyStart makes New return at once and answer 503 until the first key
	// set arrives. By default New waits for it and fails with a
	// *KeyFetchError if it cannot be had.
	LazyStart bool
}

// maxUnknownKIDs bounds the memory of kids found unknown after a refresh.
const maxUnknownKIDs = 4096

// kidMemo is the negative cache of a remote key source: kids still unknown
// after a refresh, until a deadline. Kids are stored as seeded hashes, so a
// flood of 8 KiB kids costs 16 bytes each, and the memo never holds more
// than maxUnknownKIDs entries. A hash collision can only make a new kid wait
// for the next interval, never accept a token. Callers hold the source's lock.
type kidMemo struct {
	seed  maphash.Seed
	until map[uint64]time.Time
}

func newKIDMemo() *kidMemo {
	return &kidMemo{seed: maphash.MakeSeed(), until: make(map[uint64]time.Time)}
}

// has reports whether kid was remembered as unknown and still is at now.
func (m *kidMemo) has(kid string, now time.Time) bool {
	until, ok := m.until[maphash.String(m.seed, kid)]
	return ok && now.Before(until)
}

// add remembers kid as unknown until the deadline. When the memo is full it
// drops expired entries first, and if it is still full it forgets the kid:
// the per-interval refresh limit still holds without it.
func (m *kidMemo) add(kid string, now, until time.Time) {
	if len(m.until) >= maxUnknownKIDs {
		for h, t := range m.until {
			if !now.Before(t) {
				delete(m.until, h)
			}
		}
		if len(m.until) >= maxUnknownKIDs {
			return
		}
	}
	m.until[maphash.String(m.seed, kid)] = until
}

// KeyRefresh describes one attempt to fetch an issuer's key set, for
// KeySourceConfig.OnRefresh.
type KeyRefresh struct {
	// Issuer is the issuer whose keys were fetched.
	Issuer string
	// Err is nil when the attempt succeeded; the previous keys stay otherwise.
	Err error
	// Keys is the number of usable keys fetched (0 on failure).
	Keys int
	// Duration is how long discovery and the fetch took.
	Duration time.Duration
}

package jwks

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/MicahParks/jwkset"
)

// Errors a Source reports.
var (
	// ErrUnknownKID: the key set holds no usable key for the token.
	ErrUnknownKID = errors.New("no key for the token's kid")
	// ErrUnavailable: no key set could be obtained (never fetched, or stale
	// beyond the allowed bound).
	ErrUnavailable = errors.New("no key set available")
)

// minRSABits is the smallest RSA modulus accepted (RFC 7518 §3.3 requires
// 2048 bits for RS*/PS*).
const minRSABits = 2048

// Key is one usable public key (or, for an HMAC issuer, the shared secret).
// A Key is immutable; the token cache ties a verified token to the *Key
// that verified it.
type Key struct {
	// KID is the JWK's "kid", or empty.
	KID string
	// Alg is the JWK's "alg", or empty when it states none.
	Alg string
	// Public is an *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey, or
	// []byte for an HMAC secret.
	Public any
}

// Fits reports whether the key may verify a token signed with alg: the
// JWK's own alg must agree, and the key type must be the one alg needs.
func (k *Key) Fits(alg string) bool {
	if k.Alg != "" && k.Alg != alg {
		return false
	}
	switch pk := k.Public.(type) {
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

// Set is an immutable snapshot of one issuer's keys.
type Set struct {
	byKID map[string]*Key
	all   []*Key
}

// maxKeysWithoutKID bounds how many keys a token without "kid" is tried
// against: more would let one token cost many signature checks.
const maxKeysWithoutKID = 4

// Find returns the key for kid (or, for a token without kid, the single
// fitting key of a small set).
func (s *Set) Find(kid string, hasKID bool, alg string) (*Key, bool) {
	if s == nil {
		return nil, false
	}
	if hasKID {
		k, ok := s.byKID[kid]
		if !ok || !k.Fits(alg) {
			return nil, false
		}
		return k, true
	}
	if len(s.all) > maxKeysWithoutKID {
		return nil, false
	}
	var found *Key
	for _, k := range s.all {
		if k.Fits(alg) {
			if found != nil {
				return nil, false // ambiguous: refuse rather than try several
			}
			found = k
		}
	}
	return found, found != nil
}

// has reports whether the set holds a key with this kid, whatever its type.
func (s *Set) has(kid string) bool {
	_, ok := s.byKID[kid]
	return ok
}

// Holds reports whether k is still part of the set.
func (s *Set) Holds(k *Key) bool {
	if s == nil || k == nil {
		return false
	}
	if k.KID != "" {
		return s.byKID[k.KID] == k
	}
	for _, c := range s.all {
		if c == k {
			return true
		}
	}
	return false
}

// Len returns the number of usable keys.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.all)
}

// KIDs returns the kids of the set's keys, in document order.
func (s *Set) KIDs() []string {
	if s == nil {
		return nil
	}
	out := make([]string, 0, len(s.all))
	for _, k := range s.all {
		if k.KID != "" {
			out = append(out, k.KID)
		}
	}
	return out
}

// Parse turns a JWK Set document into a key set. Keys that cannot sign
// ("use" other than "sig"), symmetric keys (a remote JWK Set must never
// supply an HMAC secret) and key types warden does not support are skipped;
// a malformed supported key, an RSA key under 2048 bits or a duplicated kid
// rejects the whole document, so a corrupt refresh never replaces good keys.
func Parse(doc []byte) (*Set, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		return nil, fmt.Errorf("JWK Set is not valid JSON: %w", err)
	}
	if set.Keys == nil {
		return nil, errors.New(`JWK Set has no "keys" array`)
	}
	ks := &Set{byKID: make(map[string]*Key, len(set.Keys))}
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
		if m.USE != "" && m.USE != jwkset.UseSig {
			continue
		}
		switch m.KTY {
		case jwkset.KtyRSA, jwkset.KtyEC, jwkset.KtyOKP:
		default:
			continue // oct (never from a JWK Set) and unsupported types
		}
		if m.KTY == jwkset.KtyOKP && m.CRV != jwkset.CrvEd25519 {
			continue // X25519 and friends cannot sign
		}
		// Only public parameters are read: a private key published by
		// mistake is not kept in memory.
		pub := jwkset.JWKMarshal{KTY: m.KTY, CRV: m.CRV, X: m.X, Y: m.Y, N: m.N, E: m.E, KID: m.KID, ALG: m.ALG, USE: m.USE}
		jwk, err := jwkset.NewJWKFromMarshal(pub, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{SkipMetadata: true})
		if err != nil {
			return nil, fmt.Errorf("key %d (kid %q) is invalid: %w", i, m.KID, err)
		}
		k := &Key{KID: m.KID, Alg: string(m.ALG), Public: jwk.Key()}
		if rk, ok := k.Public.(*rsa.PublicKey); ok && rk.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("key %d (kid %q): RSA key of %d bits is under %d", i, m.KID, rk.N.BitLen(), minRSABits)
		}
		ks.all = append(ks.all, k)
		if m.KID != "" {
			ks.byKID[m.KID] = k
		}
	}
	return ks, nil
}

// KeepUnchanged replaces every key of s (a freshly fetched set, not yet
// published) that prev already held, with the same kid, alg and public key,
// by prev's own *Key. Cached tokens are tied to the key pointer that
// verified them, so without this every refresh, including one an attacker
// triggers with unknown kids, would empty the token cache; with it only a
// key that really left the set revokes its tokens.
func (s *Set) KeepUnchanged(prev *Set) {
	if s == nil || prev == nil {
		return
	}
	for i, k := range s.all {
		for _, old := range prev.all {
			if sameKey(k, old) {
				s.all[i] = old
				if k.KID != "" {
					s.byKID[k.KID] = old
				}
				break
			}
		}
	}
}

func sameKey(a, b *Key) bool {
	if a.KID != b.KID || a.Alg != b.Alg {
		return false
	}
	pa, ok := a.Public.(interface{ Equal(crypto.PublicKey) bool })
	return ok && pa.Equal(b.Public)
}

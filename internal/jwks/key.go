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
	"slices"

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
	if k.Alg != "" && k.Alg != alg && !(k.Alg == "Ed25519" && alg == "EdDSA") {
		// RFC 9864 §2.2 names EdDSA over Ed25519 "Ed25519"; a key so
		// labelled verifies tokens with the RFC 8037 name "EdDSA" (the
		// type switch below still requires an Ed25519 key).
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
	// searchable: a token without kid may be tried against the set's keys,
	// because it had at most maxKeysWithoutKID usable keys. Only such a set
	// holds keys without kid (see Parse).
	searchable bool
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
	if !s.searchable {
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

// Holds reports whether k is still part of the set. It runs on every
// token-cache hit, so it costs a map lookup, or a scan of at most
// maxKeysWithoutKID keys for a key without kid, whatever the set's size.
func (s *Set) Holds(k *Key) bool {
	if s == nil || k == nil {
		return false
	}
	if k.KID != "" {
		return s.byKID[k.KID] == k
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

// Parse turns a JWK Set document into a key set. Keys that may not verify
// signatures ("use" other than "sig", "key_ops" without "verify" or
// inconsistent, see canVerify), keys published with their private members,
// symmetric keys (a remote JWK Set must never supply an HMAC secret) and
// key types warden does not support are skipped; a malformed supported key,
// a weak one (RSA outside 2048-8192 bits or with a bad exponent or the ROCA
// fingerprint, an Ed25519 point of small order or not canonically encoded:
// see keycheck.go) or a duplicated kid rejects the whole document, so a
// corrupt refresh never replaces good keys.
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
		j := judgeKey(i, raw, seen)
		if j.err != nil {
			return nil, j.err
		}
		if j.key == nil {
			continue // skipped: see j.skip
		}
		ks.all = append(ks.all, j.key)
		if j.key.KID != "" {
			ks.byKID[j.key.KID] = j.key
		}
	}
	ks.searchable = len(ks.all) <= maxKeysWithoutKID
	if !ks.searchable {
		// No token can select a key without kid from a set this large
		// (Find), so none is kept: what a refresh compares, and what a
		// cache hit checks, then stays linear in the set (KeepUnchanged,
		// Holds).
		ks.all = slices.DeleteFunc(ks.all, func(k *Key) bool { return k.KID == "" })
	}
	return ks, nil
}

// judgement is what Parse makes of one member of "keys": a usable key, a
// key skipped and why, or an error that rejects the whole set.
type judgement struct {
	jwk  jwkset.JWKMarshal // the members as sent, private ones included
	key  *Key
	skip string
	err  error
}

// judgeKey judges the i-th member of a set's "keys"; seen holds the kids
// of the members before it.
func judgeKey(i int, raw json.RawMessage, seen map[string]bool) judgement {
	var j judgement
	m := &j.jwk
	if err := json.Unmarshal(raw, m); err != nil {
		j.err = fmt.Errorf("key %d is not a JWK: %w", i, err)
		return j
	}
	if m.KID != "" {
		if seen[m.KID] {
			j.err = fmt.Errorf("kid %q appears more than once", m.KID)
			return j
		}
		seen[m.KID] = true
	}
	if !canVerify(m) {
		j.skip = `"use" or "key_ops" do not allow verifying signatures`
		return j
	}
	switch m.KTY {
	case jwkset.KtyRSA, jwkset.KtyEC, jwkset.KtyOKP:
	case jwkset.KtyOct:
		j.skip = "a symmetric key: a JWK Set never supplies an HMAC secret"
		return j
	default:
		j.skip = fmt.Sprintf("key type %q is not supported", m.KTY)
		return j
	}
	if m.KTY == jwkset.KtyOKP && m.CRV != jwkset.CrvEd25519 {
		j.skip = fmt.Sprintf("curve %q cannot sign", m.CRV) // X25519 and friends
		return j
	}
	if hasPrivateMembers(m) {
		j.skip = "published with its private members, it proves nothing"
		return j
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
		j.err = fmt.Errorf("key %d (kid %q): %w", i, m.KID, weak)
		return j
	}
	// Only public parameters are handed to jwkset, and not key_ops:
	// jwkset's validation refuses key_ops values RFC 7517 §4.3 allows
	// ("Other values MAY be used"); canVerify has judged them.
	pub := jwkset.JWKMarshal{KTY: m.KTY, CRV: m.CRV, X: m.X, Y: m.Y, N: m.N, E: m.E, KID: m.KID, ALG: m.ALG, USE: m.USE}
	jwk, err := jwkset.NewJWKFromMarshal(pub, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{SkipMetadata: true})
	if err != nil {
		j.err = fmt.Errorf("key %d (kid %q) is invalid: %w", i, m.KID, err)
		return j
	}
	j.key = &Key{KID: m.KID, Alg: string(m.ALG), Public: jwk.Key()}
	return j
}

// KeepUnchanged replaces every key of s (a freshly fetched set, not yet
// published) that prev already held, with the same kid, alg and public key,
// by prev's own *Key. Cached tokens are tied to the key pointer that
// verified them, so without this every refresh, including one an attacker
// triggers with unknown kids, would empty the token cache; with it only a
// key that really left the set revokes its tokens.
//
// It is linear in the size of both sets: a key with a kid is compared only
// with the held key of that kid, and keys without kid, which Parse keeps
// only in sets of at most maxKeysWithoutKID keys, with each other.
// (Comparing every fetched key with every held one made a refresh of
// thousands of kid-less keys cost seconds of CPU, and anyone can trigger a
// refresh every UnknownKIDInterval.)
func (s *Set) KeepUnchanged(prev *Set) { s.keep(prev, sameKey) }

// keep is KeepUnchanged with the comparison as a parameter, so a test can
// count the comparisons.
func (s *Set) keep(prev *Set, same func(a, b *Key) bool) {
	if s == nil || prev == nil {
		return
	}
	var held []*Key // prev's keys without kid: at most maxKeysWithoutKID
	if prev.searchable {
		for _, old := range prev.all {
			if old.KID == "" {
				held = append(held, old)
			}
		}
	}
	for i, k := range s.all {
		if k.KID != "" {
			if old, ok := prev.byKID[k.KID]; ok && same(k, old) {
				s.all[i] = old
				s.byKID[k.KID] = old
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

func sameKey(a, b *Key) bool {
	if a.KID != b.KID || a.Alg != b.Alg {
		return false
	}
	pa, ok := a.Public.(interface{ Equal(crypto.PublicKey) bool })
	return ok && pa.Equal(b.Public)
}

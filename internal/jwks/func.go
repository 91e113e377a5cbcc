package jwks

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"
)

// Func serves the keys a function returns for each token header: the
// boundary to a key source warden does not run (a user's keyfunc.Keyfunc,
// or any golang-jwt Keyfunc, which config.go converts to a plain function).
// It holds no set of its own: each lookup calls the function, and so does
// Holds, for the key a cached token was verified with, so a key the
// function stops returning stops admitting cached tokens too. Keys are
// checked as Parse checks a JWK; the *Key of a kid is kept while the
// function returns an equal public key, so the token cache's ties to it
// survive lookups that build a new key value each time (keyfunc does).
type Func struct {
	lookup func(kid string, hasKID bool, alg string) (any, error)
	loaded time.Time

	mu   sync.Mutex
	keys map[funcSlot]*Key // at most maxFuncKeys
}

// funcSlot is what a lookup asks for.
type funcSlot struct {
	kid    string
	hasKID bool
	alg    string
}

// maxFuncKeys bounds the keys a Func remembers; when full it forgets them
// all (they are looked up again, at the cost of one key check each).
const maxFuncKeys = 256

// errNotPublicKey: the function returned something that is no public key
// warden verifies with.
var errNotPublicKey = errors.New("not an RSA, ECDSA or Ed25519 public key")

// NewFunc serves the keys lookup returns, from now on.
func NewFunc(lookup func(kid string, hasKID bool, alg string) (any, error), now time.Time) *Func {
	return &Func{lookup: lookup, loaded: now, keys: map[funcSlot]*Key{}}
}

// Key returns the key the function gives for the header. Any error of the
// function is an unknown kid: it cannot say whether its keys are missing
// or unreachable.
func (f *Func) Key(_ context.Context, kid string, hasKID bool, alg string) (*Key, error) {
	pub, err := f.lookup(kid, hasKID, alg)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnknownKID, err)
	}
	if set, ok := pub.([]any); ok {
		// Several keys (a token without kid): the single one that fits,
		// as Set.Find decides, or none when that is ambiguous.
		if pub = fitting(set, alg); pub == nil {
			return nil, fmt.Errorf("%w: %d keys, not one of them for %s", ErrUnknownKID, len(set), alg)
		}
	}
	slot := funcSlot{kid: kid, hasKID: hasKID, alg: alg}
	f.mu.Lock()
	k := f.keys[slot]
	f.mu.Unlock()
	if k != nil && samePublic(k.Public, pub) {
		return k, nil
	}
	k = &Key{KID: kid, Alg: alg, Public: pub}
	if !k.Fits(alg) {
		return nil, fmt.Errorf("%w: the key for %s is %T", ErrUnknownKID, alg, pub)
	}
	if err := checkPublic(pub); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnknownKID, err)
	}
	f.mu.Lock()
	if len(f.keys) >= maxFuncKeys {
		clear(f.keys)
	}
	f.keys[slot] = k
	f.mu.Unlock()
	return k, nil
}

// Holds reports whether the function still returns k for its kid. It
// calls the function, which should not wait for I/O for a kid it knows.
func (f *Func) Holds(k *Key) bool {
	if k == nil {
		return false
	}
	pub, err := f.lookup(k.KID, k.KID != "", k.Alg)
	if set, ok := pub.([]any); ok {
		pub = fitting(set, k.Alg)
	}
	return err == nil && samePublic(k.Public, pub)
}

// fitting returns the one key of set that may verify alg, or nil when
// none or several may.
func fitting(set []any, alg string) any {
	var found any
	for _, pub := range set {
		if (&Key{Public: pub}).Fits(alg) {
			if found != nil {
				return nil
			}
			found = pub
		}
	}
	return found
}

// Status reports the keys looked up so far; a function's keys are always
// taken to be usable, since it cannot say otherwise.
func (f *Func) Status() Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := Status{LastRefresh: f.loaded, Usable: true}
	for s := range f.keys {
		if s.hasKID {
			st.KIDs = append(st.KIDs, s.kid)
		}
	}
	return st
}

// Close does nothing: the function's owner stops its background work.
func (f *Func) Close() {}

// samePublic reports whether two public keys are equal.
func samePublic(a, b any) bool {
	pa, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && pa.Equal(b)
}

// checkPublic applies to a parsed public key the checks Parse applies to a
// JWK's members.
func checkPublic(pub any) error {
	switch pk := pub.(type) {
	case *rsa.PublicKey:
		if pk.N == nil {
			return errRSAEncoding
		}
		return checkRSA(pk.N, big.NewInt(int64(pk.E)))
	case ed25519.PublicKey:
		return checkEd25519(pk)
	case *ecdsa.PublicKey:
		if _, err := pk.Bytes(); err != nil { // refuses a point off its curve
			return fmt.Errorf("ECDSA public key: %w", err)
		}
		return nil
	}
	return errNotPublicKey
}

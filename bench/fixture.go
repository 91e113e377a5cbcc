// Package bench compares warden with its peers and holds the fixtures of
// the load generator in ./loadgen and the report generator in ./report. It
// is its own module so the peers' dependencies (keyfunc,
// auth0/go-jwt-middleware, lestrrat-go/jwx) never reach the core go.mod.
package bench

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/wardenhq/warden/wardentest"
)

// Issuer and Audience are the "iss" and "aud" of every benchmark token.
const (
	Issuer   = "https://issuer.bench.test"
	Audience = "https://api.bench.test"
)

// Shape is the claim set of a benchmark token.
type Shape string

// The shapes measured: a typical RFC 9068 access token (~0.6 KB), and one
// carrying 200 scopes (~6 KB), where decoding rather than cryptography
// dominates a verifier's own cost.
const (
	Typical   Shape = "typical"
	Scopes200 Shape = "scopes200"
)

// Fixture holds one key per algorithm, a token signed by each, and the JWK
// Set publishing them: every library in a run verifies the same bytes with
// the same key.
type Fixture struct {
	// Keys are RS256, ES256 and EdDSA keys, in that order.
	Keys []*wardentest.Key
	// Tokens maps an algorithm to its token (Typical shape).
	Tokens map[string]string
	// JWKS is the public JWK Set of Keys.
	JWKS []byte

	mu    sync.Mutex
	pools map[poolKey][]string
}

type poolKey struct {
	alg   string
	shape Shape
}

// NewFixture generates fresh keys and mints one token per algorithm.
func NewFixture() *Fixture {
	f := &Fixture{
		Keys:   []*wardentest.Key{wardentest.NewRSAKey("rsa-1"), wardentest.NewECKey("ec-1"), wardentest.NewEd25519Key("ed-1")},
		Tokens: map[string]string{},
		pools:  map[poolKey][]string{},
	}
	f.JWKS = wardentest.JWKS(f.Keys...)
	for _, k := range f.Keys {
		f.Tokens[k.Alg] = Mint(k, k.ID, "0123456789abcdef01234567", Typical)
	}
	return f
}

// Key returns the fixture's key for alg.
func (f *Fixture) Key(alg string) *wardentest.Key {
	for _, k := range f.Keys {
		if k.Alg == alg {
			return k
		}
	}
	panic("bench: no key for " + alg)
}

// Pool returns n distinct tokens of the shape signed for alg, minted once
// (on GOMAXPROCS goroutines: an RS256 signature takes a millisecond or two)
// and shared by every caller asking for as many or fewer. Tokens differ
// only in their jti, so every one costs a verifier the same.
func (f *Fixture) Pool(alg string, shape Shape, n int) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	pk := poolKey{alg, shape}
	if p := f.pools[pk]; len(p) >= n {
		return p[:n]
	}
	k := f.Key(alg)
	toks := make([]string, n)
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				toks[i] = Mint(k, k.ID, fmt.Sprintf("pool-%08d", i), shape)
			}
		})
	}
	wg.Wait()
	f.pools[pk] = toks
	return toks
}

// Mint signs an RFC 9068 access token of the given shape with k under kid,
// valid for 12 hours. Its scope holds "read write profile", and for
// Scopes200 197 more scope-tokens of 21 bytes each.
func Mint(k *wardentest.Key, kid, jti string, shape Shape) string {
	now := time.Now()
	scope := "read write profile"
	if shape == Scopes200 {
		extra := make([]string, 197)
		for i := range extra {
			extra[i] = fmt.Sprintf("api.resource-%03d:read", i)
		}
		scope += " " + strings.Join(extra, " ")
	}
	h, _ := json.Marshal(map[string]any{"alg": k.Alg, "kid": kid, "typ": "at+jwt"})
	p, _ := json.Marshal(map[string]any{
		"iss": Issuer, "aud": Audience, "sub": "user-1", "client_id": "client-1",
		"iat": now.Unix(), "exp": now.Add(12 * time.Hour).Unix(), "jti": jti,
		"scope": scope,
	})
	return k.Sign(k.Alg, h, p)
}

// FloorInput splits a compact JWS into what FloorVerify takes: the signing
// input, and the signature decoded, for ECDSA converted from JOSE r||s to
// ASN.1 (RFC 7518 §3.4), so that none of that is timed as the floor.
func FloorInput(pub crypto.PublicKey, tok string) (input, sig []byte, err error) {
	dot := strings.LastIndexByte(tok, '.')
	if dot < 0 {
		return nil, nil, errors.New("bench: not a compact JWS")
	}
	input = []byte(tok[:dot])
	if sig, err = base64.RawURLEncoding.DecodeString(tok[dot+1:]); err != nil {
		return nil, nil, err
	}
	if _, ok := pub.(*ecdsa.PublicKey); ok {
		n := len(sig) / 2
		sig, err = asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])})
	}
	return input, sig, err
}

// FloorVerify is the cryptographic floor of verifying a token: SHA-256 of
// the signing input and the bare public-key check (rsa.VerifyPKCS1v15,
// ecdsa.VerifyASN1, or ed25519.Verify, which hashes with SHA-512 itself).
// Nothing that verifies a JWS can do less.
func FloorVerify(pub crypto.PublicKey, input, sig []byte) bool {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		d := sha256.Sum256(input)
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, d[:], sig) == nil
	case *ecdsa.PublicKey:
		d := sha256.Sum256(input)
		return ecdsa.VerifyASN1(k, d[:], sig)
	case ed25519.PublicKey:
		return ed25519.Verify(k, input, sig)
	}
	return false
}

// Discard is a ResponseWriter that keeps only the status, so that what a
// benchmark counts is the middleware's own.
type Discard struct {
	H    http.Header
	Code int
}

// Header returns the header map.
func (d *Discard) Header() http.Header { return d.H }

// Write discards p.
func (d *Discard) Write(p []byte) (int, error) { return len(p), nil }

// WriteHeader keeps the status.
func (d *Discard) WriteHeader(code int) { d.Code = code }

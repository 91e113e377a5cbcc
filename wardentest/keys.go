// Package wardentest is an in-process OAuth 2.0 issuer for testing code
// protected by warden, in the spirit of net/http/httptest: it generates real
// keys, serves a discovery document and a JWK Set over loopback, mints
// access tokens with any claims, and runs a client credentials token
// endpoint for real OAuth 2.0 clients.
//
// # Token endpoint
//
// POST /oauth/token implements the client credentials grant (RFC 6749
// §4.4) for the clients registered with AddClient:
//
//   - client authentication: client_secret_basic, checked by warden's own
//     Basic middleware, or client_secret_post in a form or JSON body; never
//     both in one request (RFC 6749 §2.3);
//   - scope: a subset of the client's scopes, else invalid_scope; absent
//     means all of them;
//   - act_as (the vendor impersonation parameter): only for a user in the
//     client's MayActAs; the user's permissions then bound the scopes. The
//     token names the user as "sub" and the client as the RFC 8693 §4.1
//     actor, "act": {"sub": client_id}; "client_id" stays the client;
//   - success: 200 {"access_token", "expires_in", "token_type": "Bearer",
//     "scope"}, the token lasting Issuer.TokenLifetime (default 5 minutes)
//     on the issuer's clock (SetClock);
//   - errors (RFC 6749 §5.2), each with a fixed error_description:
//     invalid_client 401 with a Basic challenge, invalid_request 400
//     (malformed body, repeated parameter, two authentication methods,
//     missing grant_type; 405 for a method other than POST),
//     unsupported_grant_type 400, invalid_scope 400, unauthorized_client
//     400 (act_as not permitted, or an unknown user).
//
// Every token endpoint response carries Cache-Control: no-store (RFC 6749
// §5.1).
//
// # Bound tokens
//
// A token request with a DPoP header (RFC 9449 §5) gets a token bound to
// the proof's key (cnf "jkt", token_type "DPoP"): the proof must be a
// dpop+jwt for POST to the token endpoint, signed by its public jwk, with an
// iat within a minute of the issuer's clock; otherwise the answer is 400
// invalid_dpop_proof. A token request over TLS with a client certificate
// gets a token bound to it (cnf "x5t#S256", RFC 8705 §3). Mint binds tokens
// with Token.DPoPKey and Token.Certificate; Key.Proof builds the proofs a
// client sends, and StartRedis runs a real redis-server for tests of a
// replay store shared by replicas.
package wardentest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// Key is a signing key with the kid and alg it is published under.
type Key struct {
	// ID is the key's kid.
	ID string
	// Alg is the JWS algorithm the key signs with, e.g. "RS256".
	Alg string
	// Signer is the private key.
	Signer crypto.Signer
	// Use is the JWK "use" published for the key; default "sig".
	Use string
}

// NewRSAKey generates a 2048-bit RSA key for RS256.
func NewRSAKey(kid string) *Key { return NewRSAKeyBits(kid, 2048) }

// NewRSAKeyBits generates an RSA key of the given size for RS256; sizes
// under 2048 exist to test that they are refused.
func NewRSAKeyBits(kid string, bits int) *Key {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		panic(fmt.Sprintf("wardentest: generating RSA key: %v", err))
	}
	return &Key{ID: kid, Alg: "RS256", Signer: k}
}

// rsaKeyOr wraps k as an RS256 key with the given kid, or generates one
// when k is nil.
func rsaKeyOr(k *rsa.PrivateKey, kid string) *Key {
	if k == nil {
		return NewRSAKey(kid)
	}
	return &Key{ID: kid, Alg: "RS256", Signer: k}
}

// rsaPool holds RSA keys generated for NewIssuer, handed out so that no
// two issuers of one test share one, nor an issuer of a test and one of
// its parent tests (a subtest's issuer is never the same key as the
// issuer its parent made before it), while other tests, sibling subtests
// included, reuse them (see NewIssuer): a table of a hundred rows, each
// with its own issuer, costs one key, not a hundred. Each slot's key is
// generated once, by the first issuer that needs it; issuers of tests
// running in parallel that need the same slot wait for that key rather
// than generate another.
var rsaPool struct {
	sync.Mutex
	slots []*rsaSlot
	taken map[string]int // test name: keys handed out to that test itself so far
}

type rsaSlot struct {
	once sync.Once
	key  *rsa.PrivateKey
}

// pooledRSAKey returns RSA key material no other issuer of t, or of a test
// t runs in, has.
func pooledRSAKey(t testing.TB) *rsa.PrivateKey {
	name := t.Name()
	rsaPool.Lock()
	if rsaPool.taken == nil {
		rsaPool.taken = map[string]int{}
	}
	// The slots of t's ancestors come first, then t's own: "TestA" takes 0
	// and 1, "TestA/row" then 2, its sibling "TestA/other" 2 as well.
	n := rsaPool.taken[name]
	for i := strings.LastIndexByte(name, '/'); i >= 0; i = strings.LastIndexByte(name[:i], '/') {
		n += rsaPool.taken[name[:i]]
	}
	rsaPool.taken[name]++
	for len(rsaPool.slots) <= n {
		rsaPool.slots = append(rsaPool.slots, &rsaSlot{})
	}
	slot := rsaPool.slots[n]
	rsaPool.Unlock()
	slot.once.Do(func() { slot.key = NewRSAKey("").Signer.(*rsa.PrivateKey) }) // generated outside the pool's lock
	return slot.key
}

// NewECKey generates a P-256 key for ES256.
func NewECKey(kid string) *Key {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(fmt.Sprintf("wardentest: generating EC key: %v", err))
	}
	return &Key{ID: kid, Alg: "ES256", Signer: k}
}

// NewEd25519Key generates an Ed25519 key for EdDSA.
func NewEd25519Key(kid string) *Key {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(fmt.Sprintf("wardentest: generating Ed25519 key: %v", err))
	}
	return &Key{ID: kid, Alg: "EdDSA", Signer: k}
}

// JWK returns the key's public JWK as a JSON-ready map.
func (k *Key) JWK() map[string]any {
	m := map[string]any{"kid": k.ID, "alg": k.Alg, "use": "sig"}
	if k.Use != "" {
		m["use"] = k.Use
	}
	b64 := base64.RawURLEncoding.EncodeToString
	switch pub := k.Signer.Public().(type) {
	case *rsa.PublicKey:
		m["kty"] = "RSA"
		m["n"] = b64(pub.N.Bytes())
		m["e"] = b64(big.NewInt(int64(pub.E)).Bytes())
	case *ecdsa.PublicKey:
		// Bytes is the SEC 1 uncompressed point 0x04 || X || Y, with both
		// coordinates padded to the field size as RFC 7518 §6.2.1.2 wants.
		point, err := pub.Bytes()
		if err != nil {
			panic(fmt.Sprintf("wardentest: encoding EC key %q: %v", k.ID, err))
		}
		size := (len(point) - 1) / 2
		m["kty"] = "EC"
		m["crv"] = pub.Curve.Params().Name
		m["x"] = b64(point[1 : 1+size])
		m["y"] = b64(point[1+size:])
	case ed25519.PublicKey:
		m["kty"] = "OKP"
		m["crv"] = "Ed25519"
		m["x"] = b64(pub)
	}
	return m
}

// JWKS renders a JWK Set document holding the public keys.
func JWKS(keys ...*Key) []byte {
	set := struct {
		Keys []map[string]any `json:"keys"`
	}{Keys: []map[string]any{}}
	for _, k := range keys {
		set.Keys = append(set.Keys, k.JWK())
	}
	b, _ := json.Marshal(set)
	return b
}

// Sign returns the compact JWS of header and payload, both raw JSON, signed
// with the key using header's algorithm as given by alg (default k.Alg).
// Use it to build tokens no well-behaved issuer would mint.
func (k *Key) Sign(alg string, header, payload []byte) string {
	if alg == "" {
		alg = k.Alg
	}
	input := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
	method := jwt.GetSigningMethod(alg)
	if method == nil {
		panic("wardentest: unknown algorithm " + alg)
	}
	sig, err := method.Sign(input, k.Signer)
	if err != nil {
		panic(fmt.Sprintf("wardentest: signing with %s: %v", alg, err))
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

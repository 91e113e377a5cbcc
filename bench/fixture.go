// Package bench compares warden with its peers and holds the fixtures of
// the load generator in ./loadgen. It is its own module so the peers'
// dependencies (auth0/go-jwt-middleware, lestrrat-go/jwx) never reach the
// core go.mod.
package bench

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/wardenhq/warden/wardentest"
)

// Issuer and Audience are the "iss" and "aud" of every benchmark token.
const (
	Issuer   = "https://issuer.bench.test"
	Audience = "https://api.bench.test"
)

// Fixture holds one key per algorithm, a token signed by each, and the JWK
// Set publishing them: every library in a run verifies the same bytes with
// the same key.
type Fixture struct {
	// Keys are RS256, ES256 and EdDSA keys, in that order.
	Keys []*wardentest.Key
	// Tokens maps an algorithm to its token.
	Tokens map[string]string
	// Fresh maps an algorithm to distinct tokens, for requests a cache has
	// not seen.
	Fresh map[string][]string
	// JWKS is the public JWK Set of Keys.
	JWKS []byte
}

// NewFixture generates fresh keys and mints one token per algorithm.
func NewFixture() *Fixture {
	f := &Fixture{
		Keys:   []*wardentest.Key{wardentest.NewRSAKey("rsa-1"), wardentest.NewECKey("ec-1"), wardentest.NewEd25519Key("ed-1")},
		Tokens: map[string]string{},
		Fresh:  map[string][]string{},
	}
	f.JWKS = wardentest.JWKS(f.Keys...)
	for _, k := range f.Keys {
		f.Tokens[k.Alg] = Mint(k, k.ID, "0123456789abcdef01234567")
		for i := range 64 {
			f.Fresh[k.Alg] = append(f.Fresh[k.Alg], Mint(k, k.ID, fmt.Sprintf("fresh-%08d", i)))
		}
	}
	return f
}

// Mint signs a typical RFC 9068 access token with k under kid, valid for
// 12 hours, with scope "read write profile".
func Mint(k *wardentest.Key, kid, jti string) string {
	now := time.Now()
	h, _ := json.Marshal(map[string]any{"alg": k.Alg, "kid": kid, "typ": "at+jwt"})
	p, _ := json.Marshal(map[string]any{
		"iss": Issuer, "aud": Audience, "sub": "user-1", "client_id": "client-1",
		"iat": now.Unix(), "exp": now.Add(12 * time.Hour).Unix(), "jti": jti,
		"scope": "read write profile",
	})
	return k.Sign(k.Alg, h, p)
}

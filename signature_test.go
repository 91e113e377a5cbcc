package warden

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

const (
	sigIssuer   = "https://issuer.sig.test"
	sigAudience = "https://api.sig.test"
)

// sigToken signs header and claims (JSON) with sign, which gets the signing
// input and returns the signature.
func sigToken(t testing.TB, header, claims map[string]any, sign func(input []byte) []byte) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	input := b64(h) + "." + b64(c)
	return input + "." + b64(sign([]byte(input)))
}

func sigClaims(now time.Time) map[string]any {
	return map[string]any{"iss": sigIssuer, "aud": sigAudience, "sub": "user-1", "exp": now.Add(5 * time.Minute).Unix()}
}

func sigMiddleware(t testing.TB, jwks []byte, now time.Time) *Middleware {
	t.Helper()
	m, err := New(Config{Issuer: sigIssuer, Audience: sigAudience, JWKS: jwks, TokenCacheSize: -1, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// TestPSSSaltLength checks issue 10, defect 6: RFC 7518 §3.5 fixes the
// RSASSA-PSS salt length to the size of the hash. golang-jwt's PS* methods
// verify with rsa.PSSSaltLengthAuto, which accepts any salt length; warden
// must accept exactly the hash size.
func TestPSSSaltLength(t *testing.T) {
	t.Parallel()
	key := ksRSA()
	now := time.Unix(1_800_000_000, 0)
	m := sigMiddleware(t, ksSet(t, ksJWK(t, &key.PublicKey, map[string]any{"kid": "r1", "use": "sig"})), now)
	for _, tc := range []struct {
		alg  string
		hash crypto.Hash
		salt int
		ok   bool
	}{
		{"PS256", crypto.SHA256, 32, true},
		{"PS384", crypto.SHA384, 48, true},
		{"PS512", crypto.SHA512, 64, true},
		{"PS256", crypto.SHA256, 20, false},
		{"PS256", crypto.SHA256, 33, false},
		{"PS256", crypto.SHA256, rsa.PSSSaltLengthAuto, false}, // signing: the longest salt the key allows, 222 bytes
		{"PS384", crypto.SHA384, 32, false},
		{"PS512", crypto.SHA512, 32, false},
		{"PS512", crypto.SHA512, 48, false},
	} {
		name := tc.alg + "/salt=" + itoa(tc.salt)
		if tc.salt == rsa.PSSSaltLengthAuto {
			name = tc.alg + "/salt=longest"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tok := sigToken(t, map[string]any{"alg": tc.alg, "kid": "r1"}, sigClaims(now), func(input []byte) []byte {
				h := tc.hash.New()
				h.Write(input)
				sig, err := rsa.SignPSS(rand.Reader, key, tc.hash, h.Sum(nil), &rsa.PSSOptions{SaltLength: tc.salt})
				if err != nil {
					t.Fatal(err)
				}
				return sig
			})
			_, err := m.Verify(context.Background(), tok)
			if tc.ok {
				if err != nil {
					t.Fatalf("salt of the hash size: got %v, want accepted", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Reason != ReasonBadSignature {
				t.Fatalf("salt length %d for %s: got %v, want %s", tc.salt, tc.alg, err, ReasonBadSignature)
			}
		})
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

package warden

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"math/big"
	"testing"
	"time"

	"filippo.io/edwards25519"
)

// ksEdJWK renders an Ed25519 JWK whose "x" is the given bytes.
func ksEdJWK(x []byte, kid string) map[string]any {
	return map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": base64.RawURLEncoding.EncodeToString(x)}
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// edNonCanonicalLargeOrder returns y+p for the smallest y whose canonical
// encoding is a point of large order: an encoding of a valid point that
// RFC 8032 §5.1.3 refuses and filippo.io/edwards25519 accepts.
func edNonCanonicalLargeOrder(t testing.TB) []byte {
	t.Helper()
	for y := byte(2); y < 19; y++ {
		canonical := make([]byte, 32)
		canonical[0] = y
		p, err := new(edwards25519.Point).SetBytes(canonical)
		if err != nil || new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) == 1 {
			continue
		}
		// p = 2^255 - 19: y + p = 2^255 - 19 + y, little-endian, < 2^255.
		enc := new(big.Int).Add(new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19)), big.NewInt(int64(y))).Bytes()
		out := make([]byte, 32)
		for i, b := range enc {
			out[len(enc)-1-i] = b
		}
		if q, err := new(edwards25519.Point).SetBytes(out); err != nil || q.Equal(p) != 1 {
			t.Fatalf("y+p does not decode to the point of y=%d", y)
		}
		return out
	}
	t.Fatal("no small y of large order")
	return nil
}

// TestParseJWKSEd25519 checks issue 10, defect 4: an Ed25519 key that is a
// small-order point (or not a canonical point encoding) rejects its set.
func TestParseJWKSEd25519(t *testing.T) {
	t.Parallel()
	good, _, _ := ed25519.GenerateKey(rand.Reader)
	for _, tc := range []struct {
		name string
		x    []byte
		want error // nil: the key is usable
	}{
		{"generated key", good, nil},
		// The eight points of small order (libsodium's blocklist, canonical encodings).
		{"identity (order 1)", mustHex(t, "0100000000000000000000000000000000000000000000000000000000000000"), errEd25519SmallOrder},
		{"order 2", mustHex(t, "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"), errEd25519SmallOrder},
		{"order 4, y=0", mustHex(t, "0000000000000000000000000000000000000000000000000000000000000000"), errEd25519SmallOrder},
		{"order 4, y=0, x negative", mustHex(t, "0000000000000000000000000000000000000000000000000000000000000080"), errEd25519SmallOrder},
		{"order 8 (1)", mustHex(t, "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"), errEd25519SmallOrder},
		{"order 8 (2)", mustHex(t, "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85"), errEd25519SmallOrder},
		{"order 8 (3)", mustHex(t, "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"), errEd25519SmallOrder},
		{"order 8 (4)", mustHex(t, "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa"), errEd25519SmallOrder},
		// Non-canonical encodings (RFC 8032 §5.1.3 steps 1 and 4).
		{"identity with the sign bit set", mustHex(t, "0100000000000000000000000000000000000000000000000000000000000080"), errEd25519Encoding},
		{"identity as y = p+1", mustHex(t, "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"), errEd25519Encoding},
		{"order 4 as y = p", mustHex(t, "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"), errEd25519Encoding},
		{"order 2 with the sign bit set", mustHex(t, "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"), errEd25519Encoding},
		{"large order as y+p", edNonCanonicalLargeOrder(t), errEd25519Encoding},
		// y = 2 is on no point: x² would have to be a non-square.
		{"not on the curve", mustHex(t, "0200000000000000000000000000000000000000000000000000000000000000"), errEd25519Encoding},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			set, err := parseJWKS(ksSet(t, ksEdJWK(tc.x, "ed")))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("parseJWKS: got %v, want the key accepted", err)
				}
				if _, ok := set.find("ed", true, "EdDSA"); !ok {
					t.Fatalf("the key is not usable")
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("parseJWKS: got %v, want %v", err, tc.want)
			}
		})
	}
	// Wrong lengths were refused before issue 10 too (jwkset checks them).
	for _, n := range []int{0, 31, 33, 64} {
		if _, err := parseJWKS(ksSet(t, ksEdJWK(make([]byte, n), "ed"))); err == nil {
			t.Errorf("an Ed25519 key of %d bytes was accepted", n)
		}
	}
}

// TestEd25519SmallOrderForgery shows why defect 4 matters: with the
// identity as public key, R = B and S = 1 verify every message.
func TestEd25519SmallOrderForgery(t *testing.T) {
	t.Parallel()
	identity := mustHex(t, "0100000000000000000000000000000000000000000000000000000000000000")
	now := time.Unix(1_800_000_000, 0)
	forged := sigToken(t, map[string]any{"alg": "EdDSA", "kid": "ed"}, sigClaims(now), func([]byte) []byte {
		s := make([]byte, 32)
		s[0] = 1
		return append(edwards25519.NewGeneratorPoint().Bytes(), s...)
	})
	m, err := New(Config{Issuer: sigIssuer, Audience: sigAudience, JWKS: ksSet(t, ksEdJWK(identity, "ed")), Now: func() time.Time { return now }})
	if err == nil {
		defer func() { _ = m.Close() }()
		if _, err := m.Verify(context.Background(), forged); err == nil {
			t.Fatalf("a token forged for a small-order key was accepted")
		}
		t.Fatalf("New accepted a JWK Set with a small-order Ed25519 key")
	}
	if !errors.Is(err, errEd25519SmallOrder) && !errors.Is(err, errConfig) {
		t.Fatalf("New: got %v, want a configuration error", err)
	}
}

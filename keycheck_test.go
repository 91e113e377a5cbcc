package warden

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"math/big"
	"sync"
	"testing"
	"time"

	"filippo.io/edwards25519"
)

// ksEC is one P-256 key shared by the tests of this file.
var ksEC = sync.OnceValue(func() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
})

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

// rsaJWK renders an RSA JWK from its modulus and raw exponent bytes.
func rsaJWK(n *big.Int, e []byte, kid string) map[string]any {
	b64 := base64.RawURLEncoding.EncodeToString
	return map[string]any{"kty": "RSA", "kid": kid, "n": b64(n.Bytes()), "e": b64(e)}
}

// oddModulus returns a random odd number of exactly bits bits: parseJWKS
// never factors a modulus, so a random one stands for a key of that size
// without the cost of generating an 8192-bit key.
func oddModulus(t testing.TB, bits int) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), uint(bits-1)))
	if err != nil {
		t.Fatal(err)
	}
	n.SetBit(n, bits-1, 1)
	return n.SetBit(n, 0, 1)
}

// rocaModulus is the ROCA-vulnerable modulus of the Wycheproof vectors
// (json_web_key_test.json, group jws_rsa_roca_key).
const rocaModulus = "AanFpofbj7KjD4Lf-N2hVMKR7yewSyXhhbirIMTGpfYEhZ_lnt5UoK98DnKIgArXGTu3MaW_HhFw16HGaTDUHqPrId7fe4r11CqRw09yBFuW79V8sYIwHdzCaWflUI6auImYbVfoN9_nD5n8N8SY9DwXw7mwZM9wREPXoDPgOoIWl6q_MPsp7n0zs3Z5ZaiQWOOzl1S9OhwAfSiiOwz6efnXEaxuTEtPd7BjSx7NaFka8Dx9U7YqXy2RFj1O9PjyaDGuRh7YXsX3iMUSP_wSyHQg_c_qHRtKUsNSGCT7OZg0hzm2KphtjnayKJvC64vAbROBR4Ubg6Bxg9IQVZ-QYyE"

// TestParseJWKSRSABounds checks issue 10, defect 11 (no upper bound on the
// modulus) and its siblings: an exponent that is even, 1, or too large for
// Go (or that jwkset would silently truncate), an even modulus and a ROCA
// modulus. Each rejects the whole set, as a key under 2048 bits does.
func TestParseJWKSRSABounds(t *testing.T) {
	t.Parallel()
	f4 := []byte{1, 0, 1}
	n2048 := ksRSA().N
	roca, err := base64.RawURLEncoding.DecodeString(rocaModulus)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		n    *big.Int
		e    []byte
		want error
	}{
		{"2048 bits", n2048, f4, nil},
		{"4096 bits", oddModulus(t, 4096), f4, nil},
		{"8192 bits", oddModulus(t, 8192), f4, nil},
		{"e = 3", n2048, []byte{3}, nil},
		{"e with a leading zero octet", n2048, []byte{0, 1, 0, 1}, nil},
		{"e = 2^31 - 1", n2048, []byte{0x7f, 0xff, 0xff, 0xff}, nil},
		{"2047 bits", oddModulus(t, 2047), f4, errRSASize},
		{"8193 bits", oddModulus(t, 8193), f4, errRSASize},
		{"16384 bits", oddModulus(t, 16384), f4, errRSASize},
		{"e = 1", n2048, []byte{1}, errRSAExponent},
		{"e = 0", n2048, []byte{0}, errRSAExponent},
		{"e = 2", n2048, []byte{2}, errRSAExponent},
		{"e = 65536", n2048, []byte{1, 0, 0}, errRSAExponent},
		{"e = 2^31 + 1", n2048, []byte{0x80, 0, 0, 1}, errRSAExponent},
		{"e = 2^64 + 65537 (low 64 bits: 65537)", n2048, []byte{1, 0, 0, 0, 0, 0, 1, 0, 1}, errRSAExponent},
		{"e = 2^128 + 3", n2048, append(append([]byte{1}, make([]byte, 15)...), 3), errRSAExponent},
		{"even modulus", new(big.Int).SetBit(oddModulus(t, 2048), 0, 0), f4, errRSAModulus},
		{"ROCA modulus (CVE-2017-15361)", new(big.Int).SetBytes(roca), f4, errRSAROCA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			set, err := parseJWKS(ksSet(t, rsaJWK(tc.n, tc.e, "r")))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("parseJWKS: got %v, want the key accepted", err)
				}
				if _, ok := set.find("r", true, "RS256"); !ok {
					t.Fatalf("the key is not usable")
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("parseJWKS: got %v, want %v", err, tc.want)
			}
		})
	}
}

// TestROCAFingerprint checks the fingerprint against the published masks
// of the ROCA detector for its first primes, and that generated keys do not
// match it.
func TestROCAFingerprint(t *testing.T) {
	t.Parallel()
	// From the reference detector (crocs-muni/roca, detect.py): bit r is set
	// when r is a power of 65537 modulo the prime.
	for i, want := range []uint64{6, 30, 126, 1026, 5658, 107286, 199410, 8388606, 536870910, 2147483646, 67109890, 2199023255550} {
		var got uint64
		for r, in := range rocaGroups[i] {
			if in {
				got |= 1 << r
			}
		}
		if got != want {
			t.Errorf("residues modulo %d: got mask %d, want %d", rocaPrimes[i], got, want)
		}
	}
	for range 3 {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		if rocaFingerprint(k.N) {
			t.Fatalf("a key from crypto/rsa has the ROCA fingerprint")
		}
	}
}

// TestParseJWKSKeyOps checks issue 10, defect 7: a JWK whose "key_ops"
// lacks "verify", repeats a value or contradicts "use" never verifies
// (RFC 7517 §4.2, §4.3), and its sibling: a JWK that carries private key
// members never verifies either. Such keys are skipped, like keys whose
// "use" is not "sig"; the rest of the set stays usable.
func TestParseJWKSKeyOps(t *testing.T) {
	t.Parallel()
	ec := ksEC()
	ecD, err := ec.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	rsaKey := ksRSA()
	b64 := base64.RawURLEncoding.EncodeToString
	for _, tc := range []struct {
		name    string
		key     any
		members map[string]any
		usable  bool
	}{
		{"no key_ops", &ec.PublicKey, nil, true},
		{`["verify"]`, &ec.PublicKey, map[string]any{"key_ops": []string{"verify"}}, true},
		{`["sign","verify"]`, &ec.PublicKey, map[string]any{"key_ops": []string{"sign", "verify"}}, true},
		{`["verify"], use sig`, &ec.PublicKey, map[string]any{"key_ops": []string{"verify"}, "use": "sig"}, true},
		{`["verify","x-vendor"]: unregistered values MAY be used`, &ec.PublicKey, map[string]any{"key_ops": []string{"verify", "x-vendor"}}, true},
		{`["verify","encrypt"] without use`, &ec.PublicKey, map[string]any{"key_ops": []string{"verify", "encrypt"}}, true},
		{`[]`, &ec.PublicKey, map[string]any{"key_ops": []string{}}, false},
		{`["sign"]`, &ec.PublicKey, map[string]any{"key_ops": []string{"sign"}}, false},
		{`["encrypt"]`, &rsaKey.PublicKey, map[string]any{"key_ops": []string{"encrypt"}}, false},
		{`["Verify"]: values are case-sensitive`, &ec.PublicKey, map[string]any{"key_ops": []string{"Verify"}}, false},
		{`["verify","verify"]: duplicates MUST NOT be present`, &ec.PublicKey, map[string]any{"key_ops": []string{"verify", "verify"}}, false},
		{`["verify","encrypt"] with use sig: inconsistent`, &ec.PublicKey, map[string]any{"key_ops": []string{"verify", "encrypt"}, "use": "sig"}, false},
		{`["verify"] with use enc: inconsistent`, &ec.PublicKey, map[string]any{"key_ops": []string{"verify"}, "use": "enc"}, false},
		{`RSA with key_ops ["verify"]`, &rsaKey.PublicKey, map[string]any{"key_ops": []string{"verify"}}, true},
		{"EC key with its private d", &ec.PublicKey, map[string]any{"d": b64(ecD)}, false},
		{"RSA key with its private d, p, q", &rsaKey.PublicKey, map[string]any{"d": b64(rsaKey.D.Bytes()), "p": b64(rsaKey.Primes[0].Bytes()), "q": b64(rsaKey.Primes[1].Bytes())}, false},
		{"RSA key with only p", &rsaKey.PublicKey, map[string]any{"p": b64(rsaKey.Primes[0].Bytes())}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			members := map[string]any{"kid": "k"}
			for n, v := range tc.members {
				members[n] = v
			}
			// A second, plain key: skipping one key never loses the set.
			other := ksJWK(t, &ec.PublicKey, map[string]any{"kid": "other"})
			set, err := parseJWKS(ksSet(t, ksJWK(t, tc.key, members), other))
			if err != nil {
				t.Fatalf("parseJWKS: got %v, want the set accepted", err)
			}
			alg := "ES256"
			if _, isRSA := tc.key.(*rsa.PublicKey); isRSA {
				alg = "RS256"
			}
			if _, ok := set.find("k", true, alg); ok != tc.usable {
				t.Fatalf("key usable: got %v, want %v", ok, tc.usable)
			}
			if _, ok := set.find("other", true, "ES256"); !ok {
				t.Fatalf("the other key of the set was lost")
			}
		})
	}
	// key_ops that is not an array of strings makes the JWK malformed.
	for _, ops := range []any{"verify", []any{1}, map[string]any{}} {
		if _, err := parseJWKS(ksSet(t, ksJWK(t, &ec.PublicKey, map[string]any{"kid": "k", "key_ops": ops}))); err == nil {
			t.Errorf("key_ops %v: the set was accepted", ops)
		}
	}
}

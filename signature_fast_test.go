package warden

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/asn1"
	"math/big"
	"testing"
)

// TestJOSEToASN1 compares the hand-made DER with encoding/asn1's for
// integers of every length and top bit, and checks zeros are refused.
func TestJOSEToASN1(t *testing.T) {
	t.Parallel()
	for _, size := range []int{32, 48, 66} {
		for i := range 200 {
			r, s := make([]byte, size), make([]byte, size)
			_, _ = rand.Read(r)
			_, _ = rand.Read(s)
			// Vary the leading bytes: zeros, a set top bit, small values.
			switch i % 4 {
			case 1:
				clear(r[:i%size])
			case 2:
				r[0] |= 0x80
				clear(s[:size-1])
				s[size-1] |= 1
			case 3:
				clear(s[:i%size])
				s[i%size] |= 0x80
			}
			ri, si := new(big.Int).SetBytes(r), new(big.Int).SetBytes(s)
			if ri.Sign() == 0 || si.Sign() == 0 { // the random bytes left all zero: refused
				if _, ok := joseToASN1(nil, r, s); ok {
					t.Fatalf("size %d r=%x s=%x: a zero integer accepted", size, r, s)
				}
				continue
			}
			want, err := asn1.Marshal(struct{ R, S *big.Int }{ri, si})
			if err != nil {
				t.Fatal(err)
			}
			got, ok := joseToASN1(nil, r, s)
			if !ok || !bytes.Equal(got, want) {
				t.Fatalf("size %d r=%x s=%x: got %x, want %x", size, r, s, got, want)
			}
		}
	}
	if _, ok := joseToASN1(nil, make([]byte, 32), []byte{1}); ok {
		t.Error("r = 0 accepted")
	}
}

// TestVerifySignatureAgreesWithGolangJWT: for every algorithm verified
// directly, the same verdict as golang-jwt's method on a good signature, a
// changed one, one of the wrong length, and the wrong key type.
func TestVerifySignatureAgreesWithGolangJWT(t *testing.T) {
	t.Parallel()
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ec256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	ec521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	input := "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0"
	for _, tc := range []struct {
		alg  string
		priv any
		pub  any
	}{
		{"RS256", rsaKey, &rsaKey.PublicKey}, {"RS384", rsaKey, &rsaKey.PublicKey}, {"RS512", rsaKey, &rsaKey.PublicKey},
		{"PS256", rsaKey, &rsaKey.PublicKey}, {"HS256", []byte("0123456789abcdef0123456789abcdef"), []byte("0123456789abcdef0123456789abcdef")},
		{"ES256", ec256, &ec256.PublicKey}, {"ES384", ec384, &ec384.PublicKey}, {"ES512", ec521, &ec521.PublicKey},
		{"EdDSA", edKey, edKey.Public()},
	} {
		m := signingMethods[tc.alg]
		sig, err := m.Sign(input, tc.priv)
		if err != nil {
			t.Fatal(err)
		}
		bad := bytes.Clone(sig)
		bad[len(bad)/2] ^= 1
		for name, c := range map[string]struct {
			sig []byte
			key any
		}{"good": {sig, tc.pub}, "changed": {bad, tc.pub}, "short": {sig[1:], tc.pub}, "empty": {nil, tc.pub}, "wrong key type": {sig, []byte("k")}} {
			got, want := verifySignature(m, input, c.sig, c.key), m.Verify(input, c.sig, c.key)
			if (got == nil) != (want == nil) {
				t.Errorf("%s %s: verifySignature = %v, golang-jwt = %v", tc.alg, name, got, want)
			}
		}
	}
}

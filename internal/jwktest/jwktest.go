// Package jwktest renders JWKs and JWK Sets with whatever members a test
// needs, including ones no issuer should publish (small-order points,
// odd key_ops, private members), for the tests of warden and of its
// key-set wing. It is test support: nothing in production imports it.
package jwktest

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"sync"
	"testing"
)

// RSA is one 2048-bit key shared by the tests of a process: generating RSA
// keys is slow.
var RSA = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// EC is one P-256 key shared by the tests of a process.
var EC = sync.OnceValue(func() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
})

// JWK renders the public JWK of key (an *rsa.PublicKey, *ecdsa.PublicKey or
// ed25519.PublicKey) with the given members added or overriding.
func JWK(tb testing.TB, key any, members map[string]any) map[string]any {
	tb.Helper()
	b64 := base64.RawURLEncoding.EncodeToString
	m := map[string]any{}
	switch k := key.(type) {
	case *rsa.PublicKey:
		m["kty"], m["n"], m["e"] = "RSA", b64(k.N.Bytes()), b64(big.NewInt(int64(k.E)).Bytes())
	case *ecdsa.PublicKey:
		raw, err := k.Bytes() // 0x04 || X || Y, each coordinate padded to the curve size
		if err != nil {
			tb.Fatalf("encoding EC key: %v", err)
		}
		size := (len(raw) - 1) / 2
		m["kty"], m["crv"] = "EC", k.Curve.Params().Name
		m["x"], m["y"] = b64(raw[1:1+size]), b64(raw[1+size:])
	case ed25519.PublicKey:
		m["kty"], m["crv"], m["x"] = "OKP", "Ed25519", b64(k)
	default:
		tb.Fatalf("unsupported key %T", key)
	}
	for k, v := range members {
		m[k] = v
	}
	return m
}

// Ed25519X renders an Ed25519 JWK whose "x" is the given bytes, whatever
// point they encode.
func Ed25519X(x []byte, kid string) map[string]any {
	return map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": base64.RawURLEncoding.EncodeToString(x)}
}

// Set renders a JWK Set document of jwks.
func Set(tb testing.TB, jwks ...map[string]any) []byte {
	tb.Helper()
	b, err := json.Marshal(map[string]any{"keys": jwks})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

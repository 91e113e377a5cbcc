package warden

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"hash"
	"io"
	"sync"

	"github.com/golang-jwt/jwt/v5"
)

// This file checks a token's signature with the standard library directly
// for RSASSA-PKCS1-v1_5, ECDSA and EdDSA (RFC 7518 §3.3, §3.4, RFC 8037
// §3.1), the algorithms of nearly every access token, so that a new token
// costs the cryptography and little else: golang-jwt's methods take the
// signing input as a string and copy it, allocate a hash per call, and for
// ECDSA convert r||s through two big.Ints and back to ASN.1. The checks are
// the same as golang-jwt's, which still verifies every other algorithm.

var errSignature = errors.New("signature is invalid")

// verifySignature checks sig over input with key for method's algorithm.
func verifySignature(method jwt.SigningMethod, input string, sig []byte, key any) error {
	switch m := method.(type) {
	case *jwt.SigningMethodRSA:
		k, ok := key.(*rsa.PublicKey)
		if !ok {
			return jwt.ErrInvalidKeyType
		}
		var sum [sha512.Size]byte
		return rsa.VerifyPKCS1v15(k, m.Hash, hashInput(m.Hash, input, sum[:0]), sig)
	case *jwt.SigningMethodECDSA:
		k, ok := key.(*ecdsa.PublicKey)
		if !ok {
			return jwt.ErrInvalidKeyType
		}
		// JWS carries r||s, each KeySize bytes (RFC 7518 §3.4).
		if len(sig) != 2*m.KeySize {
			return errSignature
		}
		var der [2*(2+1+66) + 3]byte
		asn1Sig, ok := joseToASN1(der[:0], sig[:m.KeySize], sig[m.KeySize:])
		var sum [sha512.Size]byte
		if !ok || !ecdsa.VerifyASN1(k, hashInput(m.Hash, input, sum[:0]), asn1Sig) {
			return errSignature
		}
		return nil
	case *jwt.SigningMethodEd25519:
		k, ok := key.(ed25519.PublicKey)
		if !ok {
			return jwt.ErrInvalidKeyType
		}
		if len(k) != ed25519.PublicKeySize || !ed25519.Verify(k, []byte(input), sig) {
			return errSignature
		}
		return nil
	}
	return method.Verify(input, sig, key)
}

// hashes pools the hash states of SHA-256/384/512, so a check allocates
// none.
var hashes = map[crypto.Hash]*sync.Pool{
	crypto.SHA256: {New: func() any { return sha256.New() }},
	crypto.SHA384: {New: func() any { return sha512.New384() }},
	crypto.SHA512: {New: func() any { return sha512.New() }},
}

// hashInput appends the hash h of input to dst, writing input as a string, so
// it is never copied.
func hashInput(h crypto.Hash, input string, dst []byte) []byte {
	pool := hashes[h]
	d := pool.Get().(hash.Hash)
	d.Reset()
	_, _ = io.WriteString(d, input)
	dst = d.Sum(dst)
	pool.Put(d)
	return dst
}

// joseToASN1 appends to dst the DER encoding of the ECDSA signature (r, s)
// given as big-endian unsigned integers: SEQUENCE { INTEGER r, INTEGER s }.
// It refuses a zero r or s, as ecdsa.Verify does.
func joseToASN1(dst, r, s []byte) ([]byte, bool) {
	r, s = trimZeros(r), trimZeros(s)
	if len(r) == 0 || len(s) == 0 {
		return nil, false
	}
	n := intLen(r) + intLen(s)
	dst = append(dst, 0x30)
	if n >= 0x80 {
		dst = append(dst, 0x81) // at most 2 × (2+1+66) bytes: one length byte
	}
	dst = append(dst, byte(n))
	return appendInt(appendInt(dst, r), s), true
}

func trimZeros(b []byte) []byte {
	for len(b) > 0 && b[0] == 0 {
		b = b[1:]
	}
	return b
}

// intLen is the DER length of the INTEGER holding the unsigned v: a zero
// byte goes first when v's top bit is set, so it does not read as negative.
func intLen(v []byte) int {
	if v[0]&0x80 != 0 {
		return 2 + 1 + len(v)
	}
	return 2 + len(v)
}

func appendInt(dst, v []byte) []byte {
	n := len(v)
	if v[0]&0x80 != 0 {
		n++
	}
	dst = append(dst, 0x02, byte(n))
	if n > len(v) {
		dst = append(dst, 0)
	}
	return append(dst, v...)
}

// decodeSegment decodes the base64url segment seg into the free capacity of
// *buf, which it then extends, and returns the decoded bytes.
func decodeSegment(buf *[]byte, seg string) ([]byte, error) {
	b := *buf
	dst := b[len(b):cap(b)]
	n, err := b64.Decode(dst, []byte(seg))
	if err != nil {
		return nil, err
	}
	*buf = b[:len(b)+n]
	return dst[:n:n], nil
}

// b64 is base64url without padding, rejecting non-canonical encodings
// (RFC 7515 §2; trailing bits must be zero).
var b64 = base64.RawURLEncoding.Strict()

// signingMethods holds golang-jwt's method for every JWS algorithm warden
// can verify (RFC 7518 §3, RFC 8037 §3.1), looked up once here instead of
// under golang-jwt's registry lock on every request. Which of them a token
// may use is the configuration's policy (trustedIssuer.algs).
var signingMethods = func() map[string]jwt.SigningMethod {
	m := map[string]jwt.SigningMethod{}
	for _, alg := range []string{"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "EdDSA", "HS256", "HS384", "HS512"} {
		m[alg] = jwt.GetSigningMethod(alg)
	}
	m["PS256"] = pssMethod("PS256", crypto.SHA256)
	m["PS384"] = pssMethod("PS384", crypto.SHA384)
	m["PS512"] = pssMethod("PS512", crypto.SHA512)
	return m
}()

// pssMethod returns an RSASSA-PSS method that verifies with the salt length
// equal to the hash size, as RFC 7518 §3.5 requires ("The size of the salt
// value is the same size as the hash function output"). golang-jwt's own
// PS256/384/512 verify with rsa.PSSSaltLengthAuto, which accepts any salt
// length; they are package globals, so warden makes its own values rather
// than changing them for every other user of golang-jwt in the process.
func pssMethod(name string, hash crypto.Hash) *jwt.SigningMethodRSAPSS {
	exact := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: hash}
	return &jwt.SigningMethodRSAPSS{
		SigningMethodRSA: &jwt.SigningMethodRSA{Name: name, Hash: hash},
		Options:          exact,
		VerifyOptions:    exact,
	}
}

package warden

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"strings"

	"filippo.io/edwards25519"
)

// What parseJWKS checks in each key beyond what jwkset parses. A key that
// fails one of these checks rejects its whole document, as a malformed key
// does (see parseJWKS).
var (
	// errEd25519Encoding: x is not the canonical encoding of a point.
	errEd25519Encoding = errors.New("Ed25519 public key is not a canonical point encoding")
	// errEd25519SmallOrder: x is a point of small order.
	errEd25519SmallOrder = errors.New("Ed25519 public key is a small-order point")
)

// checkEd25519Key checks the member "x" of an Ed25519 JWK (RFC 8037 §2). It
// refuses what RFC 8032 §5.1.3 does not decode (a y at or over p, or x = 0
// with the sign bit set: filippo.io/edwards25519 accepts both, so the point
// is re-encoded and compared) and, as §5.1.7 leaves to the verifier, points
// of small order: with a public key A of order 1, 2, 4 or 8, [k]A takes at
// most 8 values whatever the message, so anyone can produce signatures that
// verify (with A the identity, R = B and S = 1 verify every message). A key
// derived as RFC 8032 §5.1.5 says is never of small order.
func checkEd25519Key(rawX string) error {
	x, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(rawX, "="))
	if err != nil || len(x) != ed25519.PublicKeySize {
		return errEd25519Encoding
	}
	p, err := new(edwards25519.Point).SetBytes(x)
	if err != nil || !bytes.Equal(p.Bytes(), x) {
		return errEd25519Encoding
	}
	if new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) == 1 {
		return errEd25519SmallOrder
	}
	return nil
}

package warden

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"math/big"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/wardenhq/warden/internal/jwks"
)

// This file reads a DPoP proof (RFC 9449 §4.2): a compact JWS whose header
// carries the public key that signs it. parseProof performs every check of
// §4.3 that depends on the proof alone: syntax, typ, alg, key and
// signature. What depends on the request, the token and time is checked in
// dpop.go.

// dpopProof is a proof whose signature verified under its own jwk.
type dpopProof struct {
	jkt   string // RFC 7638 thumbprint of the jwk
	jti   string
	htm   string
	htu   string
	iat   int64
	ath   string
	nonce string
}

// RSA proof keys are bounded in size too: an 8192-bit key would make every
// forged proof cost an attacker nothing and the server a slow verification.
const (
	minProofRSABits = 2048
	maxProofRSABits = 4096
)

// maxProofHeader bounds a proof's encoded JOSE header, checked before it is
// decoded: a header with the largest key accepted (RSA 4096: a 683-byte
// "n") encodes in about 1,050 bytes, so 2 KiB leaves room for other
// members, while a header carrying a huge jwk costs nothing to refuse,
// whatever MaxTokenSize allows.
const maxProofHeader = 2 << 10

// viewString returns a JSON string value without copying it when it needs
// no unescaping: the proof's decoded header and payload are fresh buffers
// that nothing writes again, so the strings may share their bytes. A
// proof's members live no longer than its request.
func viewString(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' {
		return "", false
	}
	inner := v[1 : len(v)-1]
	for _, c := range inner {
		if c == '\\' || c < 0x20 || c >= 0x80 {
			return jsonString(v) // escapes or non-ASCII: the careful path
		}
	}
	return unsafe.String(unsafe.SliceData(inner), len(inner)), true
}

// bytesView returns the bytes of s without copying them, for functions
// that only read their argument.
func bytesView(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// proofRefusal is a check of parseProof that failed, with its cause.
func proofRefusal(reason Reason, cause string) *Error {
	return newError(reason, SchemeDPoP, parseError(cause))
}

// proofKeys remembers the keys of proofs that verified, by their jwk's
// exact bytes: a client signs every proof with the same key, and parsing
// it (an EC point check, the thumbprint) each time would cost more than the
// rest of the proof's checks. Only a key whose proof verified is kept, at
// most proofKeysSize of them; a full map drops an arbitrary entry, so a
// flood of keys costs hits, never memory. A nil *proofKeys keeps nothing.
type proofKeys struct {
	mu sync.RWMutex
	m  map[string]proofKey
}

type proofKey struct {
	pub any
	jkt string
}

const proofKeysSize = 4096

func (c *proofKeys) get(jwk []byte) (proofKey, bool) {
	if c == nil {
		return proofKey{}, false
	}
	c.mu.RLock()
	k, ok := c.m[string(jwk)]
	c.mu.RUnlock()
	return k, ok
}

func (c *proofKeys) put(jwk []byte, k proofKey) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]proofKey)
	}
	if len(c.m) >= proofKeysSize {
		for old := range c.m {
			delete(c.m, old)
			break
		}
	}
	c.m[string(jwk)] = k
}

// parseProof checks the proof's syntax, header, key and signature, and
// decodes its claims. algs is the allow-list of signing algorithms; keys,
// when not nil, remembers keys that verified.
func parseProof(raw string, algs []string, keys *proofKeys) (*dpopProof, *Error) {
	headerSeg, rest, ok1 := strings.Cut(raw, ".")
	payloadSeg, sigSeg, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.IndexByte(sigSeg, '.') >= 0 {
		return nil, proofRefusal(ReasonDPoPProofMalformed, "not a compact JWS")
	}
	if len(headerSeg) > maxProofHeader {
		return nil, proofRefusal(ReasonDPoPProofMalformed, "header too large")
	}
	headerJSON, err := b64.DecodeString(headerSeg)
	if err != nil || !json.Valid(headerJSON) {
		return nil, proofRefusal(ReasonDPoPProofMalformed, "header is not base64url JSON")
	}
	var alg, typ string
	var jwk []byte
	var hasTyp, hasCrit bool
	err = walkObject(headerJSON, func(name string, v []byte) error {
		var ok bool
		switch name {
		case "alg":
			alg, ok = viewString(v)
		case "typ":
			typ, ok = viewString(v)
			hasTyp = true
		case "jwk":
			jwk, ok = v, len(v) > 0 && v[0] == '{'
		case "crit":
			hasCrit, ok = true, true
		default:
			ok = true
		}
		if !ok {
			return errBadHeader
		}
		return nil
	})
	if err != nil {
		return nil, proofRefusal(ReasonDPoPProofMalformed, "invalid JOSE header")
	}
	// RFC 9449 §4.3 checks 4–6, in order: typ, alg, then the key.
	if !hasTyp || !strings.EqualFold(typ, "dpop+jwt") {
		return nil, proofRefusal(ReasonDPoPWrongType, `typ is not "dpop+jwt"`)
	}
	if !slices.Contains(algs, alg) {
		return nil, proofRefusal(ReasonDPoPDisallowedAlg, "alg not allowed")
	}
	if hasCrit {
		// RFC 7515 §4.1.11: warden understands no extension.
		return nil, proofRefusal(ReasonDPoPProofMalformed, "crit header present")
	}
	if jwk == nil {
		return nil, proofRefusal(ReasonDPoPBadKey, "no jwk header")
	}
	key, known := keys.get(jwk)
	if known && !(&jwks.Key{Public: key.pub}).Fits(alg) {
		known = false // the same key under another alg: checked in full below
	}
	if !known {
		pub, jkt, err := parseProofKey(jwk, alg)
		if err != nil {
			return nil, newError(ReasonDPoPBadKey, SchemeDPoP, err)
		}
		key = proofKey{pub, jkt}
	}
	sig, err := b64.DecodeString(sigSeg)
	if err != nil {
		return nil, proofRefusal(ReasonDPoPBadSignature, "signature is not base64url")
	}
	if err := signingMethods[alg].Verify(raw[:len(headerSeg)+1+len(payloadSeg)], sig, key.pub); err != nil {
		return nil, newError(ReasonDPoPBadSignature, SchemeDPoP, err)
	}
	if !known {
		keys.put(jwk, key)
	}
	payload, err := b64.DecodeString(payloadSeg)
	if err != nil {
		return nil, proofRefusal(ReasonDPoPProofMalformed, "payload is not base64url")
	}
	p, err := decodeProofClaims(payload)
	if err != nil {
		return nil, newError(ReasonDPoPProofMalformed, SchemeDPoP, err)
	}
	p.jkt = key.jkt
	return &p, nil
}

var errProofClaims = errors.New("DPoP proof claims are invalid")

// decodeProofClaims reads the claims of RFC 9449 §4.2. jti, htm, htu and
// iat are required; ath and nonce are checked by the caller.
func decodeProofClaims(payload []byte) (dpopProof, error) {
	var p dpopProof
	if !json.Valid(payload) {
		return p, errProofClaims
	}
	var hasIAT bool
	err := walkObject(payload, func(name string, v []byte) error {
		var dst *string
		switch name {
		case "jti":
			dst = &p.jti
		case "htm":
			dst = &p.htm
		case "htu":
			dst = &p.htu
		case "ath":
			dst = &p.ath
		case "nonce":
			dst = &p.nonce
		case "iat":
			d, err := parseNumericDate(name, v)
			if err != nil {
				return errProofClaims
			}
			p.iat, hasIAT = d.seconds, true
			return nil
		default:
			return nil
		}
		s, ok := viewString(v)
		if !ok {
			return errProofClaims
		}
		*dst = s
		return nil
	})
	if err != nil || p.jti == "" || p.htm == "" || p.htu == "" || !hasIAT {
		return p, errProofClaims
	}
	return p, nil
}

// errProofKey is the cause of every unusable jwk; which member failed is
// of no use to anyone but an attacker probing the parser.
var errProofKey = errors.New("the jwk header is not an acceptable public key for alg")

// parseProofKey reads the proof's jwk header (RFC 9449 §4.3 check 6): a public
// key (a private member refuses it) of a type alg needs, encoded canonically
// (RFC 7518 §6: fixed-size EC coordinates, minimal RSA integers), and
// returns it with its RFC 7638 thumbprint. Canonical members make the
// thumbprint of one key unique, so the jkt comparison cannot be dodged by
// re-encoding.
func parseProofKey(jwk []byte, alg string) (any, string, error) {
	var kty, crv, x, y, n, e string
	err := walkObject(jwk, func(name string, v []byte) error {
		var dst *string
		switch name {
		case "kty":
			dst = &kty
		case "crv":
			dst = &crv
		case "x":
			dst = &x
		case "y":
			dst = &y
		case "n":
			dst = &n
		case "e":
			dst = &e
		case "d", "p", "q", "dp", "dq", "qi", "oth", "k":
			return errProofKey // private (or symmetric) key material
		default:
			return nil
		}
		s, ok := viewString(v)
		if !ok {
			return errProofKey
		}
		*dst = s
		return nil
	})
	if err != nil {
		return nil, "", errProofKey
	}
	var pub any
	var buf [1024]byte
	thumb := buf[:0]
	switch kty {
	case "EC":
		curve, size := proofCurve(crv)
		// The SEC 1 uncompressed point 0x04 || X || Y, each coordinate
		// exactly the field size (RFC 7518 §6.2.1.2).
		var point [1 + 2*66]byte
		if curve == nil || b64.DecodedLen(len(x)) != size || b64.DecodedLen(len(y)) != size {
			return nil, "", errProofKey
		}
		point[0] = 4
		nx, errX := b64.Decode(point[1:1+size], bytesView(x))
		ny, errY := b64.Decode(point[1+size:1+2*size], bytesView(y))
		if errX != nil || errY != nil || nx != size || ny != size {
			return nil, "", errProofKey
		}
		k, err := ecdsa.ParseUncompressedPublicKey(curve, point[:1+2*size])
		if err != nil {
			return nil, "", errProofKey
		}
		pub = k
		thumb = appendAll(thumb, `{"crv":"`, crv, `","kty":"EC","x":"`, x, `","y":"`, y, `"}`)
	case "RSA":
		if len(n) > b64.EncodedLen(maxProofRSABits/8) {
			return nil, "", errProofKey // measured before it is decoded
		}
		nb, errN := b64.DecodeString(n)
		eb, errE := b64.DecodeString(e)
		if errN != nil || errE != nil || len(nb) == 0 || nb[0] == 0 || len(eb) == 0 || eb[0] == 0 || len(eb) > 4 {
			return nil, "", errProofKey
		}
		k := &rsa.PublicKey{N: new(big.Int).SetBytes(nb)}
		for _, c := range eb {
			k.E = k.E<<8 | int(c)
		}
		if bits := k.N.BitLen(); bits < minProofRSABits || bits > maxProofRSABits || k.E < 3 || k.E&1 == 0 || k.E > 1<<31-1 {
			return nil, "", errProofKey
		}
		pub = k
		thumb = appendAll(thumb, `{"e":"`, e, `","kty":"RSA","n":"`, n, `"}`)
	case "OKP":
		xb, err := b64.DecodeString(x)
		if crv != "Ed25519" || err != nil || len(xb) != ed25519.PublicKeySize {
			return nil, "", errProofKey
		}
		pub = ed25519.PublicKey(xb)
		thumb = appendAll(thumb, `{"crv":"Ed25519","kty":"OKP","x":"`, x, `"}`)
	default:
		return nil, "", errProofKey
	}
	if !(&jwks.Key{Public: pub}).Fits(alg) {
		return nil, "", errProofKey
	}
	sum := sha256.Sum256(thumb)
	return pub, b64.EncodeToString(sum[:]), nil
}

// proofCurve returns the curve a JWK "crv" names and its coordinate size.
func proofCurve(crv string) (elliptic.Curve, int) {
	switch crv {
	case "P-256":
		return elliptic.P256(), 32
	case "P-384":
		return elliptic.P384(), 48
	case "P-521":
		return elliptic.P521(), 66
	}
	return nil, 0
}

// appendAll appends the RFC 7638 §3.2 canonical JSON of a key's required
// members. The values were checked to be strict base64url or a known curve
// name, so none needs escaping.
func appendAll(b []byte, parts ...string) []byte {
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

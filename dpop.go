package warden

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"sync/atomic"
	"time"
)

// This file checks a DPoP proof against the request, the access token and
// time (RFC 9449 §4.3, §7.1), asks for server nonces (§8, §9), and records
// each proof's jti so that it is accepted once (§11.1). parseProof
// (dpop_proof.go) has checked its syntax, key and signature.

// DPoPMode says whether the routes that take bearer tokens also take, or
// only take, DPoP-bound tokens.
type DPoPMode uint8

// The DPoP modes. The zero value, DPoPAllowed, is the default.
const (
	// DPoPAllowed: Bearer routes take "Authorization: DPoP" too; a token
	// bound to a DPoP key is admitted only with a valid proof.
	DPoPAllowed DPoPMode = iota
	// DPoPRequired: Bearer routes take only DPoP; a bearer token is no
	// credentials there (401 with a bare DPoP challenge).
	DPoPRequired
	// DPoPOff: DPoP is not understood; a DPoP-bound token is still refused
	// as a bearer token, since its binding cannot be checked.
	DPoPOff
)

// DPoPConfig configures DPoP (RFC 9449) at the resource server. Its zero
// value allows DPoP beside Bearer, with the default algorithms, a 60 s
// proof window, the request's own origin for htu, no server nonces and an
// in-memory replay store.
type DPoPConfig struct {
	// Mode is DPoPAllowed (the default), DPoPRequired or DPoPOff.
	Mode DPoPMode
	// Algorithms is the allow-list for proof signatures, advertised in the
	// DPoP challenge's algs parameter. Default: the asymmetric algorithms
	// of DefaultAlgorithms, ECDSA first. HMAC and "none" are refused.
	Algorithms []string
	// ProofWindow is how far a proof's iat may lie from the server's clock,
	// before or after it, leeway included; it is also how long a proof's
	// jti is remembered. Default 60 s.
	ProofWindow time.Duration
	// PublicURL is the absolute URL ("https://api.example" or, behind a
	// proxy that strips a prefix, "https://example.com/api") under which
	// clients address this server; a proof's htu must equal it followed by
	// the request path. Default: the scheme of the connection (https with
	// TLS) and the request's Host. Behind a proxy set it: the Host a client
	// used is not the one the server sees, and X-Forwarded-* headers are
	// never trusted.
	PublicURL string
	// NonceKey, when set, makes every proof carry a server nonce
	// (RFC 9449 §9): a proof without a current one is refused with
	// use_dpop_nonce and a fresh DPoP-Nonce header, and every admitted DPoP
	// request gets the next nonce. Nonces are an HMAC of the time under
	// this key, rotating every minute, each accepted for one to two
	// minutes, with nothing stored: replicas that share the key accept each
	// other's nonces. It must be 32 bytes from a cryptographic random
	// source. Default: no nonces.
	NonceKey []byte
	// ReplayStore records each proof's jti until the end of its window, so
	// that a proof is accepted once. Default: NewMemoryStore(0, Config.Now),
	// right for one replica; a fleet shares one store (for example the
	// Redis store of the store/redis module). A store that fails refuses
	// the request with 503, never accepting what it could not check.
	ReplayStore Store
}

// Defaults of DPoPConfig.
const (
	defaultProofWindow = 60 * time.Second
	nonceKeySize       = 32
	// nonceStep is how often the server nonce changes. The nonce of the
	// current step and of the one before are accepted.
	nonceStep = time.Minute
)

// defaultDPoPAlgorithms are the algorithms proofs may use by default:
// every asymmetric one warden verifies, the compact and fast ECDSA first.
var defaultDPoPAlgorithms = []string{"ES256", "ES384", "ES512", "EdDSA", "PS256", "PS384", "PS512", "RS256", "RS384", "RS512"}

// proofChecker is the DPoP half of the binding step.
type proofChecker struct {
	algs    []string
	window  time.Duration
	maxSize int
	store   Store
	nonces  *nonceSource // nil: no nonces
	keys    proofKeys    // keys of proofs that verified
	issTags map[string]string
	now     func() time.Time
}

// check checks the request's proof for a verified, DPoP-bound token
// (RFC 9449 §4.3, §7.1). It records the proof's jti last, once everything
// else holds, so that a refused proof never takes a place in the store.
func (c *proofChecker) check(ctx context.Context, in *boundRequest, p *Principal) *Error {
	switch {
	case len(in.proofs) == 0:
		return newError(ReasonDPoPProofMissing, SchemeDPoP, nil)
	case len(in.proofs) > 1:
		return newError(ReasonDPoPProofRepeated, SchemeDPoP, nil)
	case len(in.proofs[0]) > c.maxSize:
		return proofRefusal(ReasonDPoPProofMalformed, "proof too large")
	}
	pf, e := parseProof(in.proofs[0], c.algs, &c.keys)
	if e != nil {
		return e
	}
	if pf.htm != in.method {
		return newError(ReasonDPoPWrongMethod, SchemeDPoP, nil)
	}
	if htu, ok := normalizeHTU(pf.htu); !ok || htu != in.uri {
		return newError(ReasonDPoPWrongURI, SchemeDPoP, nil)
	}
	now := c.now()
	iat := time.Unix(pf.iat, 0)
	if iat.Before(now.Add(-c.window)) || iat.After(now.Add(c.window)) {
		return newError(ReasonDPoPStale, SchemeDPoP, nil)
	}
	if c.nonces != nil {
		if pf.nonce == "" {
			e := newError(ReasonDPoPNonceMissing, SchemeDPoP, nil)
			e.nonce = c.nonces.current(now)
			return e
		}
		if !c.nonces.valid(pf.nonce, now) {
			e := newError(ReasonDPoPNonceInvalid, SchemeDPoP, nil)
			e.nonce = c.nonces.current(now)
			return e
		}
	}
	// ath binds the proof to this very token (RFC 9449 §4.3 check 12).
	ath := sha256.Sum256(bytesView(in.token))
	var want [43]byte
	b64.Encode(want[:], ath[:])
	if pf.ath != string(want[:]) {
		return newError(ReasonDPoPTokenHash, SchemeDPoP, nil)
	}
	if pf.jkt != p.cnf.JKT {
		return newError(ReasonDPoPKeyMismatch, SchemeDPoP, nil)
	}
	// The jti is recorded until the proof leaves its window: after that its
	// iat refuses it anyway.
	claimed, err := c.store.Claim(ctx, c.replayKey(p.issuer, pf), iat.Add(c.window+time.Second))
	if err != nil {
		return newError(ReasonReplayUnavailable, SchemeDPoP, err)
	}
	if !claimed {
		return newError(ReasonDPoPReplayed, SchemeDPoP, nil)
	}
	return nil
}

// replayKey names a proof in the store: "dpop:", a tag of the issuer, and
// a digest of the key thumbprint and the jti. jtis are only unique per
// client key, and the digest keeps every key short whatever the jti's
// length.
func (c *proofChecker) replayKey(issuer string, pf *dpopProof) string {
	var buf [256]byte
	in := append(append(append(buf[:0], pf.jkt...), 0), pf.jti...)
	sum := sha256.Sum256(in)
	var digest [43]byte
	b64.Encode(digest[:], sum[:])
	return "dpop:" + c.issTags[issuer] + ":" + string(digest[:])
}

// issuerTag is a short, fixed-length name of an issuer for store keys.
func issuerTag(issuer string) string {
	sum := sha256.Sum256([]byte(issuer))
	return b64.EncodeToString(sum[:9])
}

// nonceSource makes and checks stateless server nonces (RFC 9449 §8): the
// nonce of a time step is an HMAC of the step under the configured key, so
// every replica with the key makes and accepts the same nonces.
type nonceSource struct {
	key  []byte
	last atomic.Pointer[nonceSteps] // memo of the latest step's nonces
}

type nonceSteps struct {
	step      int64
	cur, prev string
}

func newNonceSource(key []byte) *nonceSource {
	return &nonceSource{key: key}
}

// steps returns the nonces of now's step and the one before, computing
// them once per step.
func (s *nonceSource) steps(now time.Time) *nonceSteps {
	step := now.Unix() / int64(nonceStep/time.Second)
	if n := s.last.Load(); n != nil && n.step == step {
		return n
	}
	n := &nonceSteps{step: step, cur: s.nonce(step), prev: s.nonce(step - 1)}
	s.last.Store(n)
	return n
}

func (s *nonceSource) nonce(step int64) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("warden DPoP nonce v1"))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(step))
	m.Write(b[:])
	return b64.EncodeToString(m.Sum(nil)[:18])
}

// current returns the nonce to hand out now.
func (s *nonceSource) current(now time.Time) string { return s.steps(now).cur }

// valid reports whether nonce is the current step's or the previous one's.
func (s *nonceSource) valid(nonce string, now time.Time) bool {
	n := s.steps(now)
	return subtle.ConstantTimeCompare([]byte(nonce), []byte(n.cur))|subtle.ConstantTimeCompare([]byte(nonce), []byte(n.prev)) == 1
}

// boundRequest is what the binding step needs of a request.
type boundRequest struct {
	scheme Scheme     // SchemeBearer or SchemeDPoP, as presented
	token  string     // the access token, for the proof's ath
	method string     // the request method, for htm
	uri    string     // the normalised public request URI, for htu
	proofs []string   // the DPoP header's values
	cert   clientCert // the client certificate, read only when needed
}

package warden

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wardenhq/warden/internal/jwks"
)

// b64 is base64url without padding, rejecting non-canonical encodings
// (RFC 7515 §2; trailing bits must be zero).
var b64 = base64.RawURLEncoding.Strict()

// signingMethods holds golang-jwt's method for every JWS algorithm warden
// can verify (RFC 7518 §3, RFC 8037 §3.1), looked up once here instead of
// under golang-jwt's registry lock on every request. Which of them a token
// may use is the configuration's policy (trustedIssuer.algs).
var signingMethods = func() map[string]jwt.SigningMethod {
	m := map[string]jwt.SigningMethod{}
	for _, alg := range []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "HS256", "HS384", "HS512"} {
		m[alg] = jwt.GetSigningMethod(alg)
	}
	return m
}()

// verifier is the step that turns a bearer token into a verified
// principal: it splits and decodes the token, applies the algorithm policy,
// asks the issuer's key source for the key, checks the signature and the
// claims, and remembers verified tokens in its cache.
type verifier struct {
	issuers     map[string]*trustedIssuer
	order       []*trustedIssuer // as configured, for status and metadata
	leeway      time.Duration
	maxLifetime time.Duration
	maxSize     int
	strict      bool
	scopeClaims []claimPath
	tokens      *tokenCache
	now         func() time.Time
}

// trustedIssuer is one configured issuer with its key source.
type trustedIssuer struct {
	url          string
	audience     string // required in "aud" unless skipAudience
	skipAudience bool
	actAs        bool // honour the vendor act_as claim (Issuer.ActAs)
	keys         jwks.Source
	algs         []string // the algorithms its tokens may use
}

// close stops every issuer's background key refreshes.
func (v *verifier) close() {
	for _, ti := range v.order {
		ti.keys.Close()
	}
}

// verify verifies a token, using the cache of verified tokens.
func (v *verifier) verify(ctx context.Context, raw string) (*Principal, *Error) {
	now := v.now()
	if p, ok := v.tokens.get(raw, now); ok {
		return p, nil
	}
	p, iss, key, e := v.verifyToken(ctx, raw)
	if e != nil {
		return nil, e
	}
	v.tokens.put(raw, p, iss.keys, key, v.leeway, now)
	return p, nil
}

// verifyToken checks a compact JWS access token and returns the principal
// it proves, and the key that verified it. It performs every check of
// RFC 9068 §4 that does not depend on the route.
func (v *verifier) verifyToken(ctx context.Context, raw string) (*Principal, *trustedIssuer, *jwks.Key, *Error) {
	bearer := func(reason Reason, cause error) (*Principal, *trustedIssuer, *jwks.Key, *Error) {
		return nil, nil, nil, newError(reason, SchemeBearer, cause)
	}
	if len(raw) > v.maxSize {
		return bearer(ReasonTokenTooLarge, nil)
	}
	// Compact serialisation only: exactly three segments (no JWE, no JSON
	// serialisation).
	headerSeg, rest, ok1 := strings.Cut(raw, ".")
	payloadSeg, sigSeg, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.IndexByte(sigSeg, '.') >= 0 {
		return bearer(ReasonMalformedToken, errors.New("not a compact JWS"))
	}
	// One buffer holds the three segments decoded (RFC 7515 §7.1): the
	// header and payload are read from it, and the principal keeps the
	// payload.
	buf := make([]byte, 0, b64.DecodedLen(len(headerSeg))+b64.DecodedLen(len(payloadSeg))+b64.DecodedLen(len(sigSeg)))
	headerJSON, err := decodeSegment(&buf, headerSeg)
	if err != nil {
		return bearer(ReasonMalformedToken, errors.New("header is not base64url"))
	}
	h, err := decodeHeader(headerJSON)
	if err != nil {
		return bearer(ReasonMalformedToken, err)
	}
	if h.alg == "" {
		return bearer(ReasonMalformedToken, errors.New("header has no alg"))
	}
	if h.hasCrit {
		return bearer(ReasonUnsupportedHeader, errors.New("crit header present"))
	}
	if v.strict && !isAccessTokenType(h.typ) {
		return bearer(ReasonWrongType, errors.New(`typ is not "at+jwt"`))
	}
	payload, err := decodeSegment(&buf, payloadSeg)
	if err != nil {
		return bearer(ReasonMalformedToken, errors.New("payload is not base64url"))
	}
	claims, err := decodeClaims(payload, v.scopeClaims)
	if err != nil {
		var ce *claimError
		if errors.As(err, &ce) {
			return bearer(ReasonInvalidClaim, err)
		}
		return bearer(ReasonMalformedToken, err)
	}
	// The unverified iss only selects which issuer's keys to try: an unknown
	// issuer is refused before any network request is made.
	if claims.iss == "" {
		return bearer(ReasonMissingClaim, &claimError{claim: "iss", missing: true})
	}
	iss, ok := v.issuers[claims.iss]
	if !ok {
		return bearer(ReasonWrongIssuer, nil)
	}
	if !slices.Contains(iss.algs, h.alg) {
		return bearer(ReasonDisallowedAlg, nil)
	}
	method := signingMethods[h.alg]
	if method == nil {
		return bearer(ReasonDisallowedAlg, nil)
	}
	key, err := iss.keys.Key(ctx, h.kid, h.hasKID, h.alg)
	if err != nil {
		if errors.Is(err, jwks.ErrUnavailable) {
			return bearer(ReasonKeysUnavailable, err)
		}
		return bearer(ReasonUnknownKID, err)
	}
	sig, err := decodeSegment(&buf, sigSeg)
	if err != nil {
		return bearer(ReasonBadSignature, errors.New("signature is not base64url"))
	}
	if err := verifySignature(method, raw[:len(headerSeg)+1+len(payloadSeg)], sig, key.Public); err != nil {
		return bearer(ReasonBadSignature, err)
	}
	// The token is authentic from here on; now check that it is usable.
	if e := v.checkClaims(claims, iss); e != nil {
		return nil, nil, nil, e
	}
	p, e := newTokenPrincipal(claims, iss.actAs, payload)
	if e != nil {
		return nil, nil, nil, e
	}
	return p, iss, key, nil
}

// isAccessTokenType checks typ against RFC 9068 §4: "at+jwt", compared
// case-insensitively, with or without the "application/" prefix.
func isAccessTokenType(typ string) bool {
	if len(typ) > len("application/") && strings.EqualFold(typ[:len("application/")], "application/") {
		typ = typ[len("application/"):]
	}
	return strings.EqualFold(typ, "at+jwt")
}

// checkClaims validates the time, audience and profile claims.
func (v *verifier) checkClaims(cl *accessClaims, iss *trustedIssuer) *Error {
	fail := func(reason Reason, claim string, missing bool) *Error {
		return newError(reason, SchemeBearer, &claimError{claim: claim, missing: missing})
	}
	now := v.now()
	if !cl.exp.present {
		return fail(ReasonMissingClaim, "exp", true)
	}
	exp := time.Unix(cl.exp.seconds, 0)
	if !now.Before(exp.Add(v.leeway)) {
		return fail(ReasonExpired, "exp", false)
	}
	if v.maxLifetime > 0 && exp.After(now.Add(v.maxLifetime+v.leeway)) {
		return fail(ReasonLifetimeTooLong, "exp", false)
	}
	if cl.nbf.present && now.Add(v.leeway).Before(time.Unix(cl.nbf.seconds, 0)) {
		return fail(ReasonNotYetValid, "nbf", false)
	}
	if cl.iat.present && now.Add(v.leeway).Before(time.Unix(cl.iat.seconds, 0)) {
		return fail(ReasonIssuedInFuture, "iat", false)
	}
	if !iss.skipAudience && !slices.Contains(cl.aud, iss.audience) {
		return fail(ReasonWrongAudience, "aud", !cl.audPresent)
	}
	if v.strict {
		// RFC 9068 §2.2 REQUIRED claims.
		switch {
		case !cl.hasSub || cl.sub == "":
			return fail(ReasonMissingClaim, "sub", true)
		case cl.clientID == "":
			return fail(ReasonMissingClaim, "client_id", true)
		case cl.jti == "":
			return fail(ReasonMissingClaim, "jti", true)
		case !cl.iat.present:
			return fail(ReasonMissingClaim, "iat", true)
		}
	}
	return nil
}

// newTokenPrincipal builds the principal a verified token speaks for.
func newTokenPrincipal(cl *accessClaims, actAsOn bool, payload []byte) (*Principal, *Error) {
	p := &Principal{
		subject:  cl.sub,
		clientID: cmp.Or(cl.clientID, cl.azp),
		scopes:   cl.scopes,
		issuer:   cl.iss,
		audience: cl.aud,
		tokenID:  cl.jti,
		scheme:   SchemeBearer,
		claims:   payload,
	}
	p.expiresAt = time.Unix(cl.exp.seconds, 0)
	if cl.iat.present {
		p.issuedAt = time.Unix(cl.iat.seconds, 0)
	}
	// Client credentials tokens often carry no sub: the client speaks for
	// itself.
	p.subject = cmp.Or(p.subject, p.clientID)
	if p.subject == "" {
		return nil, newError(ReasonMissingClaim, SchemeBearer, &claimError{claim: "sub", missing: true})
	}
	if e := p.resolveActor(cl.act, cl.actAs, actAsOn, cl.sub); e != nil {
		return nil, e
	}
	return p, nil
}

package warden

import (
	"context"
	"crypto"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// b64 is base64url without padding, rejecting non-canonical encodings
// (RFC 7515 §2; trailing bits must be zero).
var b64 = base64.RawURLEncoding.Strict()

// signingMethods holds the golang-jwt method for every algorithm warden can
// accept, looked up once here instead of under golang-jwt's registry lock on
// every request. The PS* entries are warden's own values (pssMethod), never
// golang-jwt's shared ones.
var signingMethods = func() map[string]jwt.SigningMethod {
	m := map[string]jwt.SigningMethod{}
	for _, alg := range append(DefaultAlgorithms(), hmacAlgorithms...) {
		if sm := jwt.GetSigningMethod(alg); sm != nil {
			m[alg] = sm
		}
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

// trustedIssuer is one configured issuer with its key source.
type trustedIssuer struct {
	IssuerConfig
	keys keySource
	algs []string // the algorithms its tokens may use
}

// verifyToken checks a compact JWS access token and returns the principal
// it proves, and the key that verified it. It performs every check of
// RFC 9068 §4 that does not depend on the route.
func (c *core) verifyToken(ctx context.Context, raw string) (*Principal, *trustedIssuer, *verificationKey, *Error) {
	fail := func(e *Error) (*Principal, *trustedIssuer, *verificationKey, *Error) { return nil, nil, nil, e }
	bearer := func(reason Reason, cause error) (*Principal, *trustedIssuer, *verificationKey, *Error) {
		return fail(newError(reason, SchemeBearer, cause))
	}
	if len(raw) > c.maxTokenSize {
		return bearer(ReasonTokenTooLarge, nil)
	}
	t, e := parseJWS(raw)
	if e != nil {
		return fail(e)
	}
	if c.strict && !isAccessTokenType(t.header.typ) {
		return bearer(ReasonWrongType, errors.New(`typ is not "at+jwt"`))
	}
	payload, err := b64.DecodeString(t.payloadSeg)
	if err != nil {
		return bearer(ReasonMalformedToken, errors.New("payload is not base64url"))
	}
	claims, err := decodeClaims(payload, c.scopeClaims)
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
	iss, ok := c.issuers[claims.iss]
	if !ok {
		return bearer(ReasonWrongIssuer, nil)
	}
	key, e := iss.checkSignature(ctx, &t)
	if e != nil {
		return fail(e)
	}
	// The token is authentic from here on; now check that it is usable.
	if e := c.checkClaims(claims, iss); e != nil {
		return fail(e)
	}
	p, e := c.newPrincipal(claims, iss, payload)
	if e != nil {
		return fail(e)
	}
	return p, iss, key, nil
}

// compactJWS is a token in the JWS compact serialisation (RFC 7515 §7.1),
// split into its segments, with its header decoded.
type compactJWS struct {
	header       tokenHeader
	signingInput string // BASE64URL(header) "." BASE64URL(payload), as signed
	payloadSeg   string
	sigSeg       string
}

// parseJWS splits raw into its three segments and decodes and checks its
// header (RFC 7515 §5.2 steps 1-5). Compact serialisation only: exactly
// three segments, so no JWE and no JSON serialisation.
func parseJWS(raw string) (compactJWS, *Error) {
	bearer := func(reason Reason, cause error) (compactJWS, *Error) {
		return compactJWS{}, newError(reason, SchemeBearer, cause)
	}
	headerSeg, rest, ok1 := strings.Cut(raw, ".")
	payloadSeg, sigSeg, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.IndexByte(sigSeg, '.') >= 0 {
		return bearer(ReasonMalformedToken, errors.New("not a compact JWS"))
	}
	headerJSON, err := b64.DecodeString(headerSeg)
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
	return compactJWS{header: h, signingInput: raw[:len(headerSeg)+1+len(payloadSeg)], payloadSeg: payloadSeg, sigSeg: sigSeg}, nil
}

// checkSignature applies the issuer's algorithm allow-list, finds the key
// for the token's header and verifies the signature (RFC 7515 §5.2 step 8).
func (iss *trustedIssuer) checkSignature(ctx context.Context, t *compactJWS) (*verificationKey, *Error) {
	bearer := func(reason Reason, cause error) (*verificationKey, *Error) {
		return nil, newError(reason, SchemeBearer, cause)
	}
	h := &t.header
	if !slices.Contains(iss.algs, h.alg) {
		return bearer(ReasonDisallowedAlg, nil)
	}
	method := signingMethods[h.alg]
	if method == nil {
		return bearer(ReasonDisallowedAlg, nil)
	}
	key, err := iss.keys.key(ctx, h.kid, h.hasKID, h.alg)
	if err != nil {
		if errors.Is(err, errKeysUnavailable) {
			return bearer(ReasonKeysUnavailable, err)
		}
		return bearer(ReasonUnknownKID, err)
	}
	sig, err := b64.DecodeString(t.sigSeg)
	if err != nil {
		return bearer(ReasonBadSignature, errors.New("signature is not base64url"))
	}
	if err := method.Verify(t.signingInput, sig, key.public); err != nil {
		return bearer(ReasonBadSignature, err)
	}
	return key, nil
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
func (c *core) checkClaims(cl *accessClaims, iss *trustedIssuer) *Error {
	fail := func(reason Reason, claim string, missing bool) *Error {
		return newError(reason, SchemeBearer, &claimError{claim: claim, missing: missing})
	}
	now := c.now()
	if !cl.exp.present {
		return fail(ReasonMissingClaim, "exp", true)
	}
	exp := time.Unix(cl.exp.seconds, 0)
	if !now.Before(exp.Add(c.leeway)) {
		return fail(ReasonExpired, "exp", false)
	}
	if c.maxLifetime > 0 && exp.After(now.Add(c.maxLifetime+c.leeway)) {
		return fail(ReasonLifetimeTooLong, "exp", false)
	}
	if cl.nbf.present && now.Add(c.leeway).Before(time.Unix(cl.nbf.seconds, 0)) {
		return fail(ReasonNotYetValid, "nbf", false)
	}
	if cl.iat.present && now.Add(c.leeway).Before(time.Unix(cl.iat.seconds, 0)) {
		return fail(ReasonIssuedInFuture, "iat", false)
	}
	if !iss.SkipAudienceCheck && !slices.Contains(cl.aud, iss.Audience) {
		return fail(ReasonWrongAudience, "aud", !cl.audPresent)
	}
	if c.strict {
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

// errActAsOnUserToken: a vendor act_as claim on a token whose subject is
// not its client.
var errActAsOnUserToken = errors.New("act_as on a token whose sub is not its client_id")

// newPrincipal resolves who the token speaks for. With an RFC 8693 "act"
// claim the subject is the user and "act" the acting client; with a vendor
// "act_as" claim, honoured only for issuers with IssuerConfig.ActAs, the
// token's own client acts as the named user.
func (c *core) newPrincipal(cl *accessClaims, iss *trustedIssuer, payload []byte) (*Principal, *Error) {
	p := &Principal{
		subject:  cl.sub,
		clientID: cl.clientID,
		scopes:   cl.scopes,
		issuer:   cl.iss,
		audience: cl.aud,
		tokenID:  cl.jti,
		scheme:   SchemeBearer,
		claims:   payload,
	}
	if p.clientID == "" {
		p.clientID = cl.azp
	}
	p.expiresAt = time.Unix(cl.exp.seconds, 0)
	if cl.iat.present {
		p.issuedAt = time.Unix(cl.iat.seconds, 0)
	}
	if p.subject == "" {
		p.subject = p.clientID // client credentials tokens often carry no sub
	}
	if p.subject == "" {
		return nil, newError(ReasonMissingClaim, SchemeBearer, &claimError{claim: "sub", missing: true})
	}
	var actAs string
	if cl.actAs != nil && iss.ActAs {
		var err error
		if actAs, err = actAsSubject(cl.actAs); err != nil {
			return nil, newError(ReasonInvalidClaim, SchemeBearer, err)
		}
	}
	switch {
	case cl.act != nil && actAs != "":
		// Both shapes present: accept only if they name the same user.
		if actAs != p.subject {
			return nil, newError(ReasonInvalidClaim, SchemeBearer, errors.New("act and act_as name different subjects"))
		}
		p.actor = cl.act
	case cl.act != nil:
		p.actor = cl.act
	case actAs != "":
		// act_as is a vendor claim that claim mappers do not guard as they
		// guard sub: it is honoured only on a client credentials token (no
		// sub, or sub equal to the client id), where the client is the only
		// party the token speaks for. On a user's token it would replace the
		// real subject, so such a token is refused.
		if p.clientID == "" {
			return nil, newError(ReasonMissingClaim, SchemeBearer, &claimError{claim: "client_id", missing: true})
		}
		if cl.sub != "" && cl.sub != p.clientID {
			return nil, newError(ReasonInvalidClaim, SchemeBearer, errActAsOnUserToken)
		}
		p.actor = &Actor{Subject: p.clientID, ClientID: p.clientID}
		p.subject = actAs
	}
	return p, nil
}

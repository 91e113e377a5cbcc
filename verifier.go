package warden

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/jwks"
)

// verifier is the step that turns a bearer token into a verified
// principal: it splits and decodes the token, applies the algorithm policy,
// asks the issuer's key source for the key, checks the signature and the
// claims, and remembers verified tokens in its cache.
type verifier struct {
	issuers     map[string]*trustedIssuer
	order       []*trustedIssuer // as configured, for status and metadata
	tenants     []*tenantIssuer  // template issuers (tenants.go), as configured
	leeway      time.Duration
	maxLifetime time.Duration
	maxSize     int
	strict      bool
	scopeClaims []claimPath
	tokens      *tokenCache
	now         func() time.Time
	// opaque introspects tokens that are not JWTs (introspect.go); nil
	// when no issuer has an introspection endpoint. introspectJWT: its
	// issuer's JWTs are introspected too.
	opaque        *introspector
	introspectJWT bool
	revoked       *denyList // revocation.go
}

// close stops every issuer's background key refreshes.
func (v *verifier) close() {
	for _, ti := range v.order {
		ti.keys.Close()
	}
	if v.opaque != nil {
		v.opaque.close()
	}
	for _, t := range v.tenants {
		t.sources.Close()
	}
}

// verify verifies a token, using the cache of verified tokens. A token
// that is not a JWT goes to the introspecting issuer, if any; every token
// is then checked against the deny-list, and a JWT of an issuer that
// introspects JWTs must also be active.
func (v *verifier) verify(ctx context.Context, raw string) (*Principal, *Error) {
	if v.opaque != nil && strings.Count(raw, ".") != 2 {
		return v.opaque.principal(ctx, raw, v.revoked) // surely not a JWT
	}
	now := v.now()
	p, ok := v.tokens.get(raw, now)
	if !ok {
		if v.opaque != nil && !isJWT(raw) {
			return v.opaque.principal(ctx, raw, v.revoked)
		}
		var iss *trustedIssuer
		var key *jwks.Key
		var e *Error
		if p, iss, key, e = v.verifyToken(ctx, raw); e != nil {
			return nil, e
		}
		v.tokens.put(raw, p, iss.keys, key, v.leeway, now)
	}
	if e := v.revoked.check(ctx, p); e != nil {
		return nil, e
	}
	if v.introspectJWT && v.opaque.forIssuer(p.issuer) {
		if e := v.opaque.active(ctx, raw, p.cnf.JKT); e != nil {
			return nil, e
		}
	}
	return p, nil
}

// verifyToken checks a compact JWS access token and returns the principal
// it proves, and the key that verified it. It performs every check of
// RFC 9068 §4 that does not depend on the route.
func (v *verifier) verifyToken(ctx context.Context, raw string) (*Principal, *trustedIssuer, *jwks.Key, *Error) {
	fail := func(e *Error) (*Principal, *trustedIssuer, *jwks.Key, *Error) { return nil, nil, nil, e }
	bearer := func(reason Reason, cause error) (*Principal, *trustedIssuer, *jwks.Key, *Error) {
		return fail(newError(reason, SchemeBearer, cause))
	}
	if len(raw) > v.maxSize {
		return bearer(ReasonTokenTooLarge, nil)
	}
	t, e := parseJWS(raw)
	if e != nil {
		return fail(e)
	}
	if v.strict && !isAccessTokenType(t.header.typ) {
		return bearer(ReasonWrongType, errors.New(`typ is not "at+jwt"`))
	}
	payload, err := decodeSegment(&t.buf, t.payloadSeg)
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
		var e *Error
		var release func()
		if iss, release, e = v.tenantFor(claims.iss, t.header.alg); e != nil {
			return nil, nil, nil, v.misspelled(ctx, &t, claims.iss, e)
		}
		// The tenant's key source stays open while its keys are looked up.
		defer release()
	}
	key, e := iss.checkSignature(ctx, &t)
	if e != nil {
		return fail(e)
	}
	// The token is authentic from here on; now check that it is usable.
	if e := v.checkClaims(claims, iss); e != nil {
		return fail(e)
	}
	p, e := newTokenPrincipal(claims, iss.actAs, payload)
	if e != nil {
		return fail(e)
	}
	return p, iss, key, nil
}

// misspelled turns the wrong_issuer refusal e of a token whose iss differs
// from a configured issuer only in spelling (a trailing slash, letter
// case, a default port) into one that says so, once that issuer's keys
// verified the signature: the configuration, not the token, is then wrong.
// Any other refusal is returned as it is: an unverified iss proves nothing.
func (v *verifier) misspelled(ctx context.Context, t *compactJWS, got string, e *Error) *Error {
	if e.Reason != ReasonWrongIssuer {
		return e
	}
	for _, ti := range v.order {
		if hint := jwks.SpellingDifference(ti.url, got); hint != "" {
			if _, se := ti.checkSignature(ctx, t); se != nil {
				return e
			}
			return newMismatch(ReasonWrongIssuer, SchemeBearer, "iss", []string{ti.url}, []string{got},
				hint+"; configure the issuer exactly as its tokens name it")
		}
	}
	return e
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
	if !iss.skipAudience && !holdsAny(cl.aud, iss.audiences) {
		// The signature verified: say what was expected and what came.
		return newMismatch(ReasonWrongAudience, SchemeBearer, "aud", iss.audiences, cl.aud, "")
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

// tenantFor finds the template issuer whose tenant iss names, and the
// release of its key source (see tenantIssuer.forIssuer).
func (v *verifier) tenantFor(iss, alg string) (*trustedIssuer, func(), *Error) {
	for _, t := range v.tenants {
		if _, ok := tenantOf(t.prefix, t.suffix, iss); ok {
			return t.forIssuer(iss, alg)
		}
	}
	return nil, nil, newError(ReasonWrongIssuer, SchemeBearer, nil)
}

// acceptsAudience reports whether some issuer accepts tokens for aud.
func (v *verifier) acceptsAudience(aud string) bool {
	for _, ti := range v.order {
		if ti.skipAudience || slices.Contains(ti.audiences, aud) {
			return true
		}
	}
	for _, t := range v.tenants {
		if t.base.skipAudience || slices.Contains(t.base.audiences, aud) {
			return true
		}
	}
	return false
}

// trusts reports whether iss is a configured issuer, a multi-tenant
// issuer's template, or one of its tenants.
func (v *verifier) trusts(iss string) bool {
	if v.admitsIssuer(iss) {
		return true
	}
	for _, t := range v.tenants {
		if iss == t.template {
			return true
		}
	}
	return false
}

// admitsIssuer reports whether a token naming iss can be admitted: iss is a
// configured issuer or an accepted tenant's issuer, never a template,
// which no token names.
func (v *verifier) admitsIssuer(iss string) bool {
	if _, ok := v.issuers[iss]; ok {
		return true
	}
	for _, t := range v.tenants {
		if tenant, ok := tenantOf(t.prefix, t.suffix, iss); ok && (t.allowed == nil || t.allowed[tenant]) {
			return true
		}
	}
	return false
}

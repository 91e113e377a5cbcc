package warden

import (
	"cmp"
	"context"
	"crypto"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
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

// trustedIssuer is one configured issuer with its key source.
type trustedIssuer struct {
	url           string
	audiences     []string // one of them is required in "aud" unless skipAudience
	skipAudience  bool
	actAs         bool // honour the vendor act_as claim (Issuer.ActAs)
	keys          jwks.Source
	algs          []string      // the algorithms its tokens may use
	introspection *introspector // nil unless the issuer has an introspection endpoint
}

// close stops every issuer's background key refreshes.
func (v *verifier) close() {
	for _, ti := range v.order {
		ti.keys.Close()
		if ti.introspection != nil {
			ti.introspection.close()
		}
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
		if e := v.opaque.active(ctx, raw); e != nil {
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
	payload, err := b64.DecodeString(t.payloadSeg)
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
		if iss, e = v.tenantFor(claims.iss, t.header.alg); e != nil {
			return nil, nil, nil, v.misspelled(ctx, &t, claims.iss, e)
		}
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
func (iss *trustedIssuer) checkSignature(ctx context.Context, t *compactJWS) (*jwks.Key, *Error) {
	bearer := func(reason Reason, cause error) (*jwks.Key, *Error) {
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
	key, err := iss.keys.Key(ctx, h.kid, h.hasKID, h.alg)
	if err != nil {
		if errors.Is(err, jwks.ErrUnavailable) {
			return bearer(ReasonKeysUnavailable, err)
		}
		return bearer(ReasonUnknownKID, err)
	}
	sig, err := b64.DecodeString(t.sigSeg)
	if err != nil {
		return bearer(ReasonBadSignature, errors.New("signature is not base64url"))
	}
	if err := method.Verify(t.signingInput, sig, key.Public); err != nil {
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

// holdsAny reports whether have holds one of want.
func holdsAny(have, want []string) bool {
	for _, w := range want {
		if slices.Contains(have, w) {
			return true
		}
	}
	return false
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
		cnf:      cl.cnf,
		claims:   payload,
	}
	if cl.cnf.JKT != "" {
		// A DPoP-bound token is only ever admitted with its proof
		// (RFC 9449 §7.1), so its principal says DPoP from the start and a
		// cached one is shared by every request that presents it.
		p.scheme = SchemeDPoP
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

// tokenHeader holds the JOSE header members warden acts on.
type tokenHeader struct {
	alg     string
	kid     string
	hasKID  bool
	typ     string
	hasTyp  bool
	hasCrit bool
}

var errBadHeader = errors.New("invalid JOSE header")

func decodeHeader(data []byte) (tokenHeader, error) {
	var h tokenHeader
	if !json.Valid(data) {
		return h, errBadHeader
	}
	err := walkObject(data, func(name string, v []byte) error {
		switch name {
		case "alg":
			if len(v) > 2 && v[0] == '"' {
				if m, ok := signingMethods[string(v[1:len(v)-1])]; ok {
					h.alg = m.Alg() // a known name, without allocating
					return nil
				}
			}
			s, ok := jsonString(v)
			if !ok {
				return errBadHeader
			}
			h.alg = s
		case "kid":
			s, ok := jsonString(v)
			if !ok {
				return errBadHeader
			}
			h.kid, h.hasKID = s, true
		case "typ":
			s, ok := jsonString(v)
			if !ok {
				return errBadHeader
			}
			h.typ, h.hasTyp = s, true
		case "crit":
			// RFC 7515 §4.1.11: warden understands no extension, so any
			// crit header makes the token unusable.
			h.hasCrit = true
		}
		return nil
	})
	return h, err
}

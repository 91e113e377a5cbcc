package warden

// This file is one trusted issuer: where its keys come from, which
// algorithms its tokens may use, the signature check with its keys, and the
// principal a verified token of it makes.

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/wardenhq/warden/internal/jwks"
)

// trustedIssuer is one configured issuer with its key source.
type trustedIssuer struct {
	url          string
	audiences    []string // one of them is required in "aud" unless skipAudience
	skipAudience bool
	actAs        bool // honour the vendor act_as claim (Issuer.ActAs)
	keys         jwks.Source
	algs         []string // the algorithms its tokens may use
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
	sig, err := decodeSegment(&t.buf, t.sigSeg)
	if err != nil {
		return bearer(ReasonBadSignature, errors.New("signature is not base64url"))
	}
	if err := verifySignature(method, t.signingInput, sig, key.Public); err != nil {
		return bearer(ReasonBadSignature, err)
	}
	return key, nil
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

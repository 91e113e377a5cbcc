package warden

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// This file reads RFC 9701 JWT introspection responses: an RFC 7662 answer
// signed by the issuer, so that what warden admits does not rest on TLS
// alone.

// errIntrospectionAnswer: the endpoint's response is no RFC 7662 answer
// (a failure of the endpoint, answered with 503, never of the token).
var errIntrospectionAnswer = errors.New("introspection response is not an RFC 7662 answer")

// openSigned verifies an RFC 9701 §5 response with the keys and algorithms
// of iss, the introspecting issuer, and returns its token_introspection
// member, the RFC 7662 answer. The response must be addressed to clientID
// (warden's client id at the endpoint) and fresh: its iat no older than
// maxAge (the call's timeout) plus the leeway before now, nor later than
// the leeway after it. Every failure is the endpoint's (503), never the
// token's.
func openSigned(ctx context.Context, iss *trustedIssuer, clientID string, body []byte, now time.Time, maxAge, leeway time.Duration) ([]byte, error) {
	bad := func(why string) ([]byte, error) {
		return nil, fmt.Errorf("%w: signed response: %s", errIntrospectionAnswer, why)
	}
	t, e := parseJWS(strings.TrimSpace(string(body)))
	if e != nil {
		return bad("not a compact JWS with a usable header")
	}
	// RFC 9701 §5: typ "token-introspection+jwt" sets the response apart
	// from every other JWT the issuer signs, access tokens included.
	typ := t.header.typ
	if len(typ) > len("application/") && strings.EqualFold(typ[:len("application/")], "application/") {
		typ = typ[len("application/"):]
	}
	if !strings.EqualFold(typ, "token-introspection+jwt") {
		return bad(`typ is not "token-introspection+jwt"`)
	}
	if _, e := iss.checkSignature(ctx, &t); e != nil {
		return bad("signature does not verify: " + string(e.Reason))
	}
	payload, err := decodeSegment(&t.buf, t.payloadSeg)
	if err != nil {
		return bad("payload is not base64url")
	}
	var answerIss string
	var aud []string
	var iat numericDate
	var answer []byte
	err = walkObject(payload, func(name string, v []byte) error {
		switch name {
		case "iss":
			answerIss, _ = jsonString(v)
		case "aud":
			aud, _ = stringOrStrings("aud", v, &jsonText{data: payload})
		case "iat":
			iat, _ = parseNumericDate(name, v) // not a NumericDate: absent
		case "token_introspection":
			answer = v
		}
		return nil
	})
	issued := time.Unix(iat.seconds, 0)
	switch {
	case err != nil:
		return bad("payload is not an object")
	case answerIss != iss.url:
		return bad("iss is not the issuer")
	case !slices.Contains(aud, clientID):
		return bad("aud is not warden's client id") // RFC 9701 §5: addressed to the resource server
	case !iat.present:
		return bad("no iat") // RFC 9701 §5: when the response was created
	case issued.Before(now.Add(-maxAge - leeway)), issued.After(now.Add(leeway)):
		// The response answers the request warden just sent: one created
		// before it (a signed "active": true captured and replayed after
		// the token was revoked) or in the future is not that answer.
		return bad("iat is not the time of this call")
	case len(answer) == 0 || answer[0] != '{':
		return bad("no token_introspection object")
	}
	return answer, nil
}

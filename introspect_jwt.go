package warden

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
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
// (warden's client id at the endpoint). Every failure is the endpoint's
// (503), never the token's.
func openSigned(ctx context.Context, iss *trustedIssuer, clientID string, body []byte) ([]byte, error) {
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
	var answer []byte
	err = walkObject(payload, func(name string, v []byte) error {
		switch name {
		case "iss":
			answerIss, _ = jsonString(v)
		case "aud":
			aud, _ = stringOrStrings("aud", v, &jsonText{data: payload})
		case "token_introspection":
			answer = v
		}
		return nil
	})
	switch {
	case err != nil:
		return bad("payload is not an object")
	case answerIss != iss.url:
		return bad("iss is not the issuer")
	case !slices.Contains(aud, clientID):
		return bad("aud is not warden's client id") // RFC 9701 §5: addressed to the resource server
	case len(answer) == 0 || answer[0] != '{':
		return bad("no token_introspection object")
	}
	return answer, nil
}

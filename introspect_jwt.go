package warden

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// This file reads RFC 9701 JWT introspection responses: an RFC 7662 answer
// signed by the issuer, so that what warden admits does not rest on TLS
// alone.

// openSigned verifies an RFC 9701 §5 response with the issuer's keys and
// returns its token_introspection member, the RFC 7662 answer. Every
// failure is the endpoint's (503), never the token's.
func (in *introspector) openSigned(ctx context.Context, body []byte) ([]byte, error) {
	bad := func(why string) ([]byte, error) {
		return nil, fmt.Errorf("%w: signed response: %s", errIntrospectionAnswer, why)
	}
	raw := strings.TrimSpace(string(body))
	headerSeg, rest, ok1 := strings.Cut(raw, ".")
	payloadSeg, sigSeg, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.IndexByte(sigSeg, '.') >= 0 {
		return bad("not a compact JWS")
	}
	hj, err := b64.DecodeString(headerSeg)
	if err != nil {
		return bad("header is not base64url")
	}
	h, err := decodeHeader(hj)
	if err != nil || h.hasCrit {
		return bad("unusable header")
	}
	// RFC 9701 §5: typ "token-introspection+jwt" sets the response apart
	// from every other JWT the issuer signs, access tokens included.
	typ := h.typ
	if len(typ) > len("application/") && strings.EqualFold(typ[:len("application/")], "application/") {
		typ = typ[len("application/"):]
	}
	if !strings.EqualFold(typ, "token-introspection+jwt") {
		return bad(`typ is not "token-introspection+jwt"`)
	}
	method := signingMethods[h.alg]
	if method == nil || !slices.Contains(in.iss.algs, h.alg) {
		return bad("algorithm not allowed")
	}
	key, err := in.iss.keys.Key(ctx, h.kid, h.hasKID, h.alg)
	if err != nil {
		return bad("no key: " + err.Error())
	}
	sig, err := b64.DecodeString(sigSeg)
	if err != nil || method.Verify(raw[:len(headerSeg)+1+len(payloadSeg)], sig, key.Public) != nil {
		return bad("signature does not verify")
	}
	payload, err := b64.DecodeString(payloadSeg)
	if err != nil || !json.Valid(payload) {
		return bad("payload is not JSON")
	}
	var iss string
	var aud []string
	var answer []byte
	err = walkObject(payload, func(name string, v []byte) error {
		switch name {
		case "iss":
			iss, _ = jsonString(v)
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
	case iss != in.iss.url:
		return bad("iss is not the issuer")
	case !slices.Contains(aud, in.clientID):
		return bad("aud is not warden's client id") // RFC 9701 §5: addressed to the resource server
	case len(answer) == 0 || answer[0] != '{':
		return bad("no token_introspection object")
	}
	return answer, nil
}

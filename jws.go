package warden

// This file reads a token in the JWS compact serialisation (RFC 7515 §7.1):
// its segments and its protected header, before any key is chosen.

import (
	"errors"
	"strings"
)

// compactJWS is a token in the JWS compact serialisation (RFC 7515 §7.1),
// split into its segments, with its header decoded.
type compactJWS struct {
	header       tokenHeader
	signingInput string // BASE64URL(header) "." BASE64URL(payload), as signed
	payloadSeg   string
	sigSeg       string
	buf          []byte // holds the decoded header, with room for the payload and signature
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
	return compactJWS{header: h, signingInput: raw[:len(headerSeg)+1+len(payloadSeg)], payloadSeg: payloadSeg, sigSeg: sigSeg, buf: buf}, nil
}

// isAccessTokenType checks typ against RFC 9068 §4: "at+jwt", compared
// case-insensitively, with or without the "application/" prefix.
func isAccessTokenType(typ string) bool {
	if len(typ) > len("application/") && strings.EqualFold(typ[:len("application/")], "application/") {
		typ = typ[len("application/"):]
	}
	return strings.EqualFold(typ, "at+jwt")
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
	t := &jsonText{data: data}
	err := walkObject(data, func(name string, v []byte) error {
		switch name {
		case "alg":
			if len(v) > 2 && v[0] == '"' {
				if m, ok := signingMethods[string(v[1:len(v)-1])]; ok {
					h.alg = m.Alg() // a known name, without allocating
					return nil
				}
			}
			s, ok := t.str(v)
			if !ok {
				return errBadHeader
			}
			h.alg = s
		case "kid":
			s, ok := t.str(v)
			if !ok {
				return errBadHeader
			}
			h.kid, h.hasKID = s, true
		case "typ":
			s, ok := t.str(v)
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
	if errors.Is(err, errNotObject) {
		err = errBadHeader
	}
	return h, err
}

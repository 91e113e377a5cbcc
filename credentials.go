package warden

import (
	"fmt"
	"mime"
	"net/http"
	"strings"
)

// This file is the first step of a request: finding the credentials it
// presents (RFC 6750 §2, RFC 7617 §2) and refusing malformed ones.

// requestCredentials are what a request presented, before any verification.
type requestCredentials struct {
	scheme Scheme // SchemeBearer, SchemeDPoP or SchemeBasic; zero when none usable
	value  string // the access token, or the Basic token68
}

// parseAuthorization reads one Authorization field value (RFC 9110 §11.6.2):
//
//	credentials = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
//
// The scheme is matched case-insensitively (RFC 9110 §11.1). For Bearer the
// rest must be exactly one RFC 6750 §2.1 b64token; for Basic one token68.
// Credentials longer than maxSize are refused unread. It allocates nothing
// but the error of a refusal.
func parseAuthorization(v string, maxSize int) (requestCredentials, *Error) {
	v = trimOWS(v)
	if v == "" {
		return requestCredentials{}, newError(ReasonMissingCredentials, 0, nil)
	}
	n := 0
	for n < len(v) && isTChar(v[n]) {
		n++
	}
	var scheme Scheme
	switch {
	case strings.EqualFold(v[:n], "Bearer"):
		scheme = SchemeBearer
	case strings.EqualFold(v[:n], "Basic"):
		scheme = SchemeBasic
	case strings.EqualFold(v[:n], "DPoP"):
		// RFC 9449 §7.1: a DPoP-bound token, with the same token68 syntax.
		scheme = SchemeDPoP
	default:
		return requestCredentials{}, newError(ReasonUnsupportedScheme, 0, nil)
	}
	rest := v[n:]
	if rest == "" {
		if scheme != SchemeBasic {
			return requestCredentials{}, newError(ReasonMalformedRequest, scheme, errMissingToken)
		}
		return requestCredentials{}, newError(ReasonBasicInvalid, scheme, errMissingToken)
	}
	if rest[0] != ' ' {
		// "Bearer\tT": a separator other than SP makes the credentials
		// malformed (TAB is not SP in the RFC 6750 ABNF).
		return requestCredentials{}, malformedCredentials(scheme)
	}
	for rest != "" && rest[0] == ' ' {
		rest = rest[1:]
	}
	token, garbage, _ := strings.Cut(rest, " ")
	if len(token) > maxSize {
		// Refused before any parsing, so a huge token costs nothing more.
		if scheme != SchemeBasic {
			return requestCredentials{}, newError(ReasonTokenTooLarge, scheme, nil)
		}
		return requestCredentials{}, newError(ReasonBasicInvalid, scheme, nil)
	}
	if !isB64Token(token) {
		return requestCredentials{}, malformedCredentials(scheme)
	}
	if garbage != "" {
		if scheme != SchemeBasic {
			return requestCredentials{}, newError(ReasonMalformedRequest, scheme, errTrailingData)
		}
		return requestCredentials{}, newError(ReasonBasicInvalid, scheme, errTrailingData)
	}
	return requestCredentials{scheme: scheme, value: token}, nil
}

func malformedCredentials(scheme Scheme) *Error {
	if scheme == SchemeBasic {
		return newError(ReasonBasicInvalid, scheme, errBadCredentials)
	}
	return newError(ReasonMalformedToken, scheme, errBadCredentials)
}

// trimOWS removes RFC 9110 optional whitespace (SP, HTAB) from both ends.
// net/http already does this for values read from the wire.
func trimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// isTChar reports RFC 9110 §5.6.2 tchar.
func isTChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// isB64Token reports RFC 6750 §2.1 b64token (the same charset as RFC 9110
// token68): 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	// This scan covers the whole token on every request, cache hits
	// included: eight table lookups per branch, then byte by byte.
	t := &b64TokenChar
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := s[i : i+8]
		if t[w[0]]&t[w[1]]&t[w[2]]&t[w[3]]&t[w[4]]&t[w[5]]&t[w[6]]&t[w[7]] == 0 {
			break
		}
	}
	for i < len(s) && t[s[i]] != 0 {
		i++
	}
	if i == 0 {
		return false
	}
	for i < len(s) && s[i] == '=' {
		i++
	}
	return i == len(s)
}

// b64TokenChar is 1 for the RFC 6750 §2.1 b64token characters before "=".
var b64TokenChar = func() (t [256]uint8) {
	for c := range 256 {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~+/", byte(c)) >= 0 {
			t[c] = 1
		}
	}
	return t
}()

// extractor is the first step of a request: it finds the credentials the
// request presents, without verifying them.
type extractor struct {
	maxTokenSize    int
	allowQueryToken bool
	allowFormToken  bool
}

// extract finds the credentials of a request: the Authorization header
// and, when enabled, the RFC 6750 §2.2 form body and §2.3 query parameter.
// Presenting more than one is invalid_request (RFC 6750 §3.1).
func (c *extractor) extract(r *http.Request) (requestCredentials, *Error) {
	fields := r.Header["Authorization"]
	if len(fields) > 1 {
		// Authorization is a singleton field; Header.Get would silently use
		// the first of several.
		return requestCredentials{}, newError(ReasonMalformedRequest, 0, errRepeated)
	}
	var header string
	if len(fields) == 1 {
		header = trimOWS(fields[0])
	}
	var alt string // a token from the query or the body
	// Only parse the query when it could hold the parameter, possibly
	// percent-encoded; most requests then cost no allocation here.
	if q := r.URL.RawQuery; strings.Contains(q, "access_token") || strings.IndexByte(q, '%') >= 0 {
		q := r.URL.Query()["access_token"]
		switch {
		case len(q) > 1 || (len(q) == 1 && header != ""):
			return requestCredentials{}, newError(ReasonMalformedRequest, SchemeBearer, errManyMethods)
		case len(q) == 1 && c.allowQueryToken:
			alt = q[0]
		}
	}
	if c.allowFormToken && r.Method == http.MethodPost && isFormBody(r) {
		// ParseForm alone would buffer up to 10 MB of an unauthenticated
		// body: bound it by what a form carrying one token needs. Over the
		// bound the request is malformed (400 invalid_request, RFC 6750
		// §3.1), like any body ParseForm cannot read.
		if r.Body != nil {
			r.Body = http.MaxBytesReader(nil, r.Body, c.maxFormBody())
		}
		if err := r.ParseForm(); err != nil {
			return requestCredentials{}, newError(ReasonMalformedRequest, SchemeBearer, fmt.Errorf("%w: %w", errFormBody, err))
		}
		if f := r.PostForm["access_token"]; len(f) > 0 {
			if len(f) > 1 || header != "" || alt != "" {
				return requestCredentials{}, newError(ReasonMalformedRequest, SchemeBearer, errManyMethods)
			}
			alt = f[0]
		}
	}
	if alt != "" {
		if len(alt) > c.maxTokenSize {
			return requestCredentials{}, newError(ReasonTokenTooLarge, SchemeBearer, nil)
		}
		if !isB64Token(alt) {
			return requestCredentials{}, malformedCredentials(SchemeBearer)
		}
		return requestCredentials{scheme: SchemeBearer, value: alt}, nil
	}
	return parseAuthorization(header, c.maxTokenSize)
}

// fromValues finds the credentials among the authorization values of a
// call over a transport other than HTTP (gRPC's "authorization" metadata):
// the rules of the Authorization header, which is a singleton field, and
// no other transport of the token.
func (c *extractor) fromValues(values []string) (requestCredentials, *Error) {
	switch len(values) {
	case 0:
		return parseAuthorization("", c.maxTokenSize)
	case 1:
		return parseAuthorization(values[0], c.maxTokenSize)
	}
	return requestCredentials{}, newError(ReasonMalformedRequest, 0, errRepeated)
}

// maxFormBody bounds the form body read for an RFC 6750 §2.2 token: the
// token percent-encoded at worst ("+", "/" and "=" take three bytes each),
// plus 4 KiB for the parameter's name and the form's other fields.
func (c *extractor) maxFormBody() int64 {
	return 3*int64(c.maxTokenSize) + 4<<10
}

func isFormBody(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/x-www-form-urlencoded"
}

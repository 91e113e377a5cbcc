package warden

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// numericDate is an RFC 7519 §2 NumericDate in whole seconds.
type numericDate struct {
	seconds int64
	present bool
}

// maxNumericDate keeps seconds far inside int64 and time.Time, so that
// arithmetic on it can never overflow: year 33658.
const maxNumericDate = 1 << 40

func parseNumericDate(name string, v []byte) (numericDate, error) {
	if len(v) > 0 && len(v) <= 15 && v[0] != '0' {
		// Whole seconds, the common case: read without strconv. Fifteen
		// digits are exact in a float64, so the result is ParseFloat's.
		var n int64
		for _, c := range v {
			if c < '0' || c > '9' {
				goto general
			}
			n = n*10 + int64(c-'0')
		}
		return numericDate{seconds: min(n, maxNumericDate), present: true}, nil
	}
general:
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || (v[0] != '-' && (v[0] < '0' || v[0] > '9')) {
		return numericDate{}, invalidClaim(name)
	}
	if f > maxNumericDate {
		f = maxNumericDate // far future: caught by the lifetime bound, never overflows
	}
	return numericDate{seconds: int64(f), present: true}, nil
}

// accessClaims are the claims of an access token that warden interprets,
// decoded once (RFC 7519 §4.1, RFC 9068 §2.2, RFC 8693 §4).
type accessClaims struct {
	iss, sub, jti, clientID, azp string
	hasSub                       bool
	aud                          []string
	audPresent                   bool
	exp, nbf, iat                numericDate
	scopes                       []string
	scopePresent                 bool
	act                          []byte // the raw RFC 8693 "act" value, read by resolveActor once the token is verified
	actAs                        []byte // the raw vendor "act_as" value; read only for issuers that opt in
	cnf                          Confirmation
}

// claimPath names a claim: a top-level member, or a member nested in
// objects (["realm_access", "roles"]). Every name is matched exactly.
type claimPath []string

// parseClaimPath reads a configured claim name. A dotted name is a path
// into nested objects ("realm_access.roles"), except a collision-resistant
// name (RFC 7519 §4.2: an absolute URI such as "https://example.com/scope"
// or a URN), which is one top-level name whatever dots it holds.
func parseClaimPath(s string) (claimPath, error) {
	if s == "" {
		return nil, errors.New("empty claim name")
	}
	if strings.Contains(s, "://") || strings.HasPrefix(s, "urn:") {
		return claimPath{s}, nil
	}
	p := claimPath(strings.Split(s, "."))
	for _, seg := range p {
		if seg == "" {
			return nil, fmt.Errorf("claim path %q has an empty segment", s)
		}
	}
	return p, nil
}

// lookupPath returns the value at path inside the JSON object v, or false
// when a member is absent or an intermediate value is not an object.
func lookupPath(v []byte, path claimPath) ([]byte, bool) {
	for _, seg := range path {
		m, ok := memberValue(v, seg) // the last duplicate wins, as at the top level
		if !ok {
			return nil, false
		}
		v = m
	}
	return v, true
}

// decodeClaims reads the claims in payload. scopeClaims are tried in order;
// the first one present is used. A name that repeats means its last
// member, whole, at every depth (as encoding/json decoding into a map
// reads it): for a scope claim, the last member of its top-level name is
// the one its path is looked up in, so an earlier duplicate can neither
// add scopes nor hide the next scope claim.
func decodeClaims(payload []byte, scopeClaims []claimPath) (*accessClaims, error) {
	c := &accessClaims{}
	t := &jsonText{data: payload}
	var lastBuf [4][]byte // the last member named by each scope claim
	last := lastBuf[:0]
	if len(scopeClaims) > len(lastBuf) {
		last = make([][]byte, len(scopeClaims))
	} else {
		last = lastBuf[:len(scopeClaims)]
	}
	err := walkObject(payload, func(name string, v []byte) error {
		var ok bool
		switch name {
		case "iss":
			if c.iss, ok = t.str(v); !ok {
				return invalidClaim(name)
			}
		case "sub":
			if c.sub, ok = t.str(v); !ok {
				return invalidClaim(name)
			}
			c.hasSub = true
		case "jti":
			if c.jti, ok = t.str(v); !ok {
				return invalidClaim(name)
			}
		case "client_id":
			if c.clientID, ok = t.str(v); !ok {
				return invalidClaim(name)
			}
		case "azp":
			if c.azp, ok = t.str(v); !ok {
				return invalidClaim(name)
			}
		case "aud":
			aud, err := stringOrStrings(name, v, t)
			if err != nil {
				return err
			}
			c.aud, c.audPresent = aud, true
		case "exp", "nbf", "iat":
			d, err := parseNumericDate(name, v)
			if err != nil {
				return err
			}
			switch name {
			case "exp":
				c.exp = d
			case "nbf":
				c.nbf = d
			default:
				c.iat = d
			}
		case "act":
			c.act = v
		case "act_as":
			c.actAs = v
		case "cnf":
			cnf, err := decodeConfirmation(v)
			if err != nil {
				return err
			}
			c.cnf = cnf
		}
		for rank, sc := range scopeClaims {
			if name == sc[0] {
				last[rank] = v
			}
		}
		return nil
	})
	if errors.Is(err, errNotObject) {
		return nil, err
	}
	if err != nil {
		return c, err
	}
	for rank, sc := range scopeClaims {
		sv, ok := last[rank], last[rank] != nil
		if ok && len(sc) > 1 {
			sv, ok = lookupPath(sv, sc[1:])
		}
		if !ok {
			continue
		}
		claim := sc[0]
		if len(sc) > 1 {
			claim = strings.Join(sc, ".")
		}
		scopes, err := stringOrStrings(claim, sv, t)
		if err != nil {
			return c, err
		}
		c.scopes, c.scopePresent = scopes, true
		break
	}
	return c, nil
}

// stringOrStrings reads a claim that is a space-delimited string or a JSON
// array of strings. For "aud", a string is a single value; for scopes,
// every value must be an RFC 6749 §3.3 scope-token (see parseScopeString).
// Strings are read through t (see jsonText).
func stringOrStrings(name string, v []byte, t *jsonText) ([]string, error) {
	if name != "aud" && len(v) >= 2 && v[0] == '"' && isScopeText(v[1:len(v)-1]) {
		// The common case, checked in one pass over the raw bytes: nothing
		// escaped, every byte SP or a scope-token character.
		return splitScopes(t.plain(v)), nil
	}
	if s, ok := t.str(v); ok {
		if name == "aud" {
			if s == "" {
				return nil, nil
			}
			return []string{s}, nil
		}
		scopes, ok := parseScopeString(s)
		if !ok {
			return nil, invalidClaim(name)
		}
		return scopes, nil
	}
	if v[0] != '[' {
		return nil, invalidClaim(name)
	}
	n := 0
	_ = walkArray(v, func([]byte) error { n++; return nil })
	out := make([]string, 0, n)
	err := walkArray(v, func(e []byte) error {
		s, ok := t.str(e)
		if !ok || (name != "aud" && !validScopeToken(s)) {
			// A member that is not one scope-token ("a b", "doc:1\u00a0admin")
			// would be read differently by every consumer: refuse it.
			return invalidClaim(name)
		}
		out = append(out, s)
		return nil
	})
	if err != nil {
		return nil, invalidClaim(name)
	}
	return out, nil
}

// decodeConfirmation reads an RFC 7800 "cnf" claim. warden understands two
// confirmation methods: "jkt" (RFC 9449 §6.1) and "x5t#S256" (RFC 8705
// §3.1), each the base64url SHA-256 thumbprint it binds the token to. Any
// other member names a binding warden cannot check, and a token bound in a
// way that cannot be checked must not pass as a bearer token: it is
// refused, as is a thumbprint that is not 32 bytes of strict base64url.
func decodeConfirmation(v []byte) (Confirmation, error) {
	var c Confirmation
	if len(v) == 0 || v[0] != '{' {
		return c, invalidClaim("cnf")
	}
	err := walkObject(v, func(name string, m []byte) error {
		var dst *string
		switch name {
		case "jkt":
			dst = &c.JKT
		case "x5t#S256":
			dst = &c.X5TS256
		default:
			return invalidClaim("cnf")
		}
		s, ok := jsonString(m)
		if !ok || !isThumbprint(s) {
			return invalidClaim("cnf")
		}
		*dst = s
		return nil
	})
	return c, err
}

// isThumbprint reports whether s is the strict base64url encoding of a
// SHA-256 digest.
func isThumbprint(s string) bool {
	if len(s) != 43 {
		return false
	}
	var d [32]byte
	n, err := base64.RawURLEncoding.Strict().Decode(d[:], []byte(s))
	return err == nil && n == 32
}

// Confirmation says how an access token is bound to the client allowed to
// present it (RFC 7800 "cnf"): to a DPoP key, to a TLS client certificate,
// to both (each binding is then checked), or, both fields empty, to nothing
// (a bearer token).
type Confirmation struct {
	// JKT is the RFC 7638 SHA-256 thumbprint of the DPoP public key the
	// token is bound to (cnf "jkt", RFC 9449 §6.1); every request proved
	// possession of its private key.
	JKT string `json:"jkt,omitempty"`
	// X5TS256 is the SHA-256 thumbprint of the client certificate the token
	// is bound to (cnf "x5t#S256", RFC 8705 §3.1); every request came with
	// that certificate.
	X5TS256 string `json:"x5t#S256,omitempty"`
}

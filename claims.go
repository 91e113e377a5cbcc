package warden

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"unicode/utf8"
)

// Claim and header names are matched exactly and case-sensitively (RFC 7519
// §4). encoding/json's struct decoding matches case-insensitively, which
// would read {"SCOPE": …} as scope, so the top-level members are walked here
// and only the values are handed to encoding/json.

var errNotObject = errors.New("not a JSON object")

// walkObject calls fn for every member of the JSON object in data, in order,
// with the unescaped name and the raw value. data must already be valid JSON
// (json.Valid); duplicate names are passed to fn each time, so the last one
// wins when fn overwrites (RFC 7519 §4 allows either; Go's own decoder keeps
// the last, and so must every reader of the same token).
func walkObject(data []byte, fn func(name string, value []byte) error) error {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return errNotObject
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return nil
	}
	for i < len(data) {
		if data[i] != '"' {
			return errNotObject
		}
		end := skipString(data, i)
		name, err := unquoteName(data[i:end])
		if err != nil {
			return err
		}
		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return errNotObject
		}
		i = skipSpace(data, i+1)
		vend := skipValue(data, i)
		if vend <= i {
			return errNotObject
		}
		if err := fn(name, data[i:vend]); err != nil {
			return err
		}
		i = skipSpace(data, vend)
		if i >= len(data) {
			return errNotObject
		}
		if data[i] == '}' {
			return nil
		}
		if data[i] != ',' {
			return errNotObject
		}
		i = skipSpace(data, i+1)
	}
	return errNotObject
}

func unquoteName(q []byte) (string, error) {
	for _, c := range q[1 : len(q)-1] {
		if c == '\\' {
			var s string
			err := json.Unmarshal(q, &s)
			return s, err
		}
	}
	return internName(q[1 : len(q)-1]), nil
}

// internName returns the member names warden reads as constants, so the
// walk allocates nothing for them; other names are copied.
func internName(b []byte) string {
	switch string(b) { // compiled to comparisons: no allocation
	case "alg":
		return "alg"
	case "kid":
		return "kid"
	case "typ":
		return "typ"
	case "iss":
		return "iss"
	case "sub":
		return "sub"
	case "aud":
		return "aud"
	case "exp":
		return "exp"
	case "nbf":
		return "nbf"
	case "iat":
		return "iat"
	case "jti":
		return "jti"
	case "client_id":
		return "client_id"
	case "azp":
		return "azp"
	case "scope":
		return "scope"
	case "scp":
		return "scp"
	}
	return string(b)
}

func skipSpace(d []byte, i int) int {
	for i < len(d) && (d[i] == ' ' || d[i] == '\t' || d[i] == '\n' || d[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at d[i] == '"'.
func skipString(d []byte, i int) int {
	for j := i + 1; j < len(d); j++ {
		switch d[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(d)
}

// skipValue returns the index after the JSON value starting at d[i]. The
// input is known to be valid JSON, so only nesting and strings matter.
func skipValue(d []byte, i int) int {
	if i >= len(d) {
		return i
	}
	switch d[i] {
	case '"':
		return skipString(d, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(d); j++ {
			switch d[j] {
			case '"':
				j = skipString(d, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(d)
	default:
		j := i
		for j < len(d) && d[j] != ',' && d[j] != '}' && d[j] != ']' && d[j] != ' ' && d[j] != '\t' && d[j] != '\n' && d[j] != '\r' {
			j++
		}
		return j
	}
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

// jsonString decodes a JSON string value, refusing any other type.
func jsonString(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' {
		return "", false
	}
	inner := v[1 : len(v)-1]
	plain := true
	for _, c := range inner {
		if c == '\\' || c < 0x20 {
			plain = false
			break
		}
	}
	if plain && utf8.Valid(inner) {
		return string(inner), true
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", false
	}
	return s, true
}

// claimError says which claim failed and how, without its value.
type claimError struct {
	claim   string
	missing bool
}

func (e *claimError) Error() string {
	if e.missing {
		return "claim " + strconv.Quote(e.claim) + " is missing"
	}
	return "claim " + strconv.Quote(e.claim) + " has an invalid value"
}

func invalidClaim(name string) error { return &claimError{claim: name} }

// numericDate is an RFC 7519 §2 NumericDate in whole seconds.
type numericDate struct {
	seconds int64
	present bool
}

// maxNumericDate keeps seconds far inside int64 and time.Time, so that
// arithmetic on it can never overflow: year 33658.
const maxNumericDate = 1 << 40

func parseNumericDate(name string, v []byte) (numericDate, error) {
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
	act                          *Actor
	actAs                        string
	hasActAs                     bool
}

const maxActorDepth = 8
const maxActAsLength = 256

// decodeClaims reads the claims in payload. scopeClaims are tried in order.
func decodeClaims(payload []byte, scopeClaims []string) (*accessClaims, error) {
	if !json.Valid(payload) {
		return nil, errNotObject
	}
	c := &accessClaims{}
	scopeRank := len(scopeClaims)
	err := walkObject(payload, func(name string, v []byte) error {
		var ok bool
		switch name {
		case "iss":
			if c.iss, ok = jsonString(v); !ok {
				return invalidClaim(name)
			}
		case "sub":
			if c.sub, ok = jsonString(v); !ok {
				return invalidClaim(name)
			}
			c.hasSub = true
		case "jti":
			if c.jti, ok = jsonString(v); !ok {
				return invalidClaim(name)
			}
		case "client_id":
			if c.clientID, ok = jsonString(v); !ok {
				return invalidClaim(name)
			}
		case "azp":
			if c.azp, ok = jsonString(v); !ok {
				return invalidClaim(name)
			}
		case "aud":
			aud, err := stringOrStrings(name, v)
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
			a, err := decodeActor(v, 1)
			if err != nil {
				return err
			}
			c.act = a
		case "act_as":
			s, ok := jsonString(v)
			if !ok || s == "" || len(s) > maxActAsLength {
				return invalidClaim(name)
			}
			c.actAs, c.hasActAs = s, true
		}
		for rank, sc := range scopeClaims {
			if name == sc && rank <= scopeRank {
				scopes, err := stringOrStrings(name, v)
				if err != nil {
					return err
				}
				c.scopes, c.scopePresent, scopeRank = scopes, true, rank
			}
		}
		return nil
	})
	if errors.Is(err, errNotObject) {
		return nil, err
	}
	return c, err
}

// stringOrStrings reads a claim that is a space-delimited string or a JSON
// array of strings. For "aud", a string is a single value.
func stringOrStrings(name string, v []byte) ([]string, error) {
	if s, ok := jsonString(v); ok {
		if name == "aud" {
			if s == "" {
				return nil, nil
			}
			return []string{s}, nil
		}
		return parseScopeString(s), nil
	}
	if v[0] != '[' {
		return nil, invalidClaim(name)
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(v, &raw); err != nil {
		return nil, invalidClaim(name)
	}
	out := make([]string, 0, len(raw))
	for _, r := range raw {
		s, ok := jsonString(r)
		if !ok {
			return nil, invalidClaim(name)
		}
		out = append(out, s)
	}
	return out, nil
}

// decodeActor reads an RFC 8693 §4.1 "act" claim: a JSON object whose "sub"
// identifies the actor, possibly nesting the prior actor.
func decodeActor(v []byte, depth int) (*Actor, error) {
	if depth > maxActorDepth || v[0] != '{' {
		return nil, invalidClaim("act")
	}
	a := &Actor{}
	hasSub := false
	err := walkObject(v, func(name string, m []byte) error {
		var ok bool
		switch name {
		case "sub":
			a.Subject, ok = jsonString(m)
			hasSub = ok && a.Subject != ""
			if !ok {
				return invalidClaim("act")
			}
		case "client_id":
			if a.ClientID, ok = jsonString(m); !ok {
				return invalidClaim("act")
			}
		case "act":
			prior, err := decodeActor(m, depth+1)
			if err != nil {
				return err
			}
			a.Actor = prior
		}
		return nil
	})
	if err != nil || !hasSub {
		return nil, invalidClaim("act")
	}
	return a, nil
}

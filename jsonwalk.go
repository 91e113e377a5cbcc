package warden

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"unicode/utf8"
)

// Claim and header names are matched exactly and case-sensitively (RFC 7519
// §4). encoding/json's struct decoding matches case-insensitively, which
// would read {"SCOPE": …} as scope, so the top-level members are walked here
// and only the values are handed to encoding/json.

var errNotObject = errors.New("not a JSON object")

// maxJSONDepth is encoding/json's nesting limit: a document nested deeper
// is invalid to json.Valid, so it is invalid here too.
const maxJSONDepth = 10000

// walkObject checks that data is exactly one JSON object, valid as
// encoding/json.Valid judges (RFC 8259 grammar; string contents are not
// checked for UTF-8), and calls fn for every member, in order, with the
// unescaped name and the raw value. It reads data once: validating while
// walking costs a third of json.Valid followed by a walk. Duplicate names
// are passed to fn each time, so the last one wins when fn overwrites (RFC
// 7519 §4 allows either; Go's own decoder keeps the last, and so must every
// reader of the same token).
//
// The result is errNotObject whenever data is not a valid JSON object, even
// when fn has already failed on an earlier member: an invalid document is
// refused as such, whatever its members say. Otherwise it is fn's first
// error; fn is not called after it.
func walkObject(data []byte, fn func(name string, value []byte) error) error {
	return walkMembers(data, func(quoted, value []byte) error {
		name, err := unquoteName(quoted)
		if err != nil {
			return err
		}
		return fn(name, value)
	})
}

// walkMembers is walkObject with each name still quoted, as it appears in
// data, so that a reader looking for one name need not allocate the others.
func walkMembers(data []byte, fn func(quoted, value []byte) error) error {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return errNotObject
	}
	i = skipSpace(data, i+1)
	var fnErr error
	if i < len(data) && data[i] == '}' {
		i++
	} else {
		for {
			if i >= len(data) || data[i] != '"' {
				return errNotObject
			}
			nameEnd := scanString(data, i)
			if nameEnd < 0 {
				return errNotObject
			}
			nameQ := data[i:nameEnd]
			i = skipSpace(data, nameEnd)
			if i >= len(data) || data[i] != ':' {
				return errNotObject
			}
			i = skipSpace(data, i+1)
			vend := scanValue(data, i, 2)
			if vend < 0 {
				return errNotObject
			}
			if fnErr == nil {
				fnErr = fn(nameQ, data[i:vend])
			}
			i = skipSpace(data, vend)
			if i >= len(data) {
				return errNotObject
			}
			if data[i] == '}' {
				i++
				break
			}
			if data[i] != ',' {
				return errNotObject
			}
			i = skipSpace(data, i+1)
		}
	}
	if skipSpace(data, i) != len(data) {
		return errNotObject
	}
	return fnErr
}

// memberValue returns the value of the member called name in the JSON
// object data, the last one when the name repeats, as walkObject's readers
// keep it. Names are compared without allocating unless one is escaped, so
// looking up a claim on every request costs no garbage.
func memberValue(data []byte, name string) ([]byte, bool) {
	var found []byte
	err := walkMembers(data, func(quoted, value []byte) error {
		match := false
		if raw := quoted[1 : len(quoted)-1]; bytes.IndexByte(raw, '\\') < 0 {
			match = string(raw) == name
		} else if n, err := unquoteName(quoted); err == nil {
			match = n == name
		}
		if match {
			found = value
		}
		return nil
	})
	return found, err == nil && found != nil
}

// jsonStringIs reports whether the JSON value v is a string, and whether
// it equals s, as jsonString would decode it; a plain string costs no
// allocation.
func jsonStringIs(v []byte, s string) (equal, isString bool) {
	if isPlainString(v) {
		return string(v[1:len(v)-1]) == s, true
	}
	d, ok := unquoteString(v)
	return ok && d == s, ok
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

// scanString returns the index after the JSON string starting at
// d[i] == '"', or -1 if it is not a valid one: unterminated, a control
// character, or an escape other than RFC 8259 §7's. Runs of ordinary bytes
// are skipped eight at a time.
func scanString(d []byte, i int) int {
	for j := i + 1; ; j++ {
		for j+8 <= len(d) && !stringSpecial(binary.LittleEndian.Uint64(d[j:])) {
			j += 8
		}
		if j >= len(d) {
			return -1
		}
		switch c := d[j]; {
		case c == '"':
			return j + 1
		case c < 0x20:
			return -1
		case c == '\\':
			j++
			if j >= len(d) {
				return -1
			}
			switch d[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(d) || !isHex(d[j+1]) || !isHex(d[j+2]) || !isHex(d[j+3]) || !isHex(d[j+4]) {
					return -1
				}
				j += 4
			default:
				return -1
			}
		}
	}
}

// Eight-bytes-at-a-time tests (SWAR): each is non-zero exactly when some
// byte of x matches, so a word for which all are zero holds only ordinary
// bytes.
const (
	swarOnes  = 0x0101010101010101
	swarHighs = 0x8080808080808080
)

// swarHasZero reports whether some byte of x is zero.
func swarHasZero(x uint64) bool { return (x-swarOnes)&^x&swarHighs != 0 }

// swarHasLess reports whether some byte of x is below n (n ≤ 0x80).
func swarHasLess(x uint64, n byte) bool { return (x-swarOnes*uint64(n))&^x&swarHighs != 0 }

// swarHasMore reports whether some byte of x is above n (n ≤ 0x7f).
func swarHasMore(x uint64, n byte) bool { return ((x+swarOnes*uint64(0x7f-n))|x)&swarHighs != 0 }

// stringSpecial reports whether one of the eight bytes in x ends or
// escapes a JSON string or may not appear in one: '"', '\\', a control
// character.
func stringSpecial(x uint64) bool {
	return swarHasLess(x, 0x20) || swarHasZero(x^(swarOnes*'"')) || swarHasZero(x^(swarOnes*'\\'))
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// scanValue returns the index after the JSON value starting at d[i], or -1
// if there is no valid one there. depth is the nesting depth the value
// would have (the top-level value is 1), bounded as encoding/json bounds it.
func scanValue(d []byte, i, depth int) int {
	if i >= len(d) {
		return -1
	}
	switch c := d[i]; {
	case c == '"':
		return scanString(d, i)
	case c == '{' || c == '[':
		if depth > maxJSONDepth {
			return -1
		}
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		i = skipSpace(d, i+1)
		if i < len(d) && d[i] == closing {
			return i + 1
		}
		for {
			if closing == '}' {
				if i >= len(d) || d[i] != '"' {
					return -1
				}
				if i = scanString(d, i); i < 0 {
					return -1
				}
				i = skipSpace(d, i)
				if i >= len(d) || d[i] != ':' {
					return -1
				}
				i = skipSpace(d, i+1)
			}
			if i = scanValue(d, i, depth+1); i < 0 {
				return -1
			}
			i = skipSpace(d, i)
			if i >= len(d) {
				return -1
			}
			if d[i] == closing {
				return i + 1
			}
			if d[i] != ',' {
				return -1
			}
			i = skipSpace(d, i+1)
		}
	case c == '-' || '0' <= c && c <= '9':
		return scanNumber(d, i)
	case c == 't':
		return scanLiteral(d, i, "true")
	case c == 'f':
		return scanLiteral(d, i, "false")
	case c == 'n':
		return scanLiteral(d, i, "null")
	}
	return -1
}

// scanNumber returns the index after the RFC 8259 §6 number at d[i], or -1.
func scanNumber(d []byte, i int) int {
	if d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && '1' <= d[i] && d[i] <= '9':
		i = skipDigits(d, i+1)
	default:
		return -1
	}
	if i < len(d) && d[i] == '.' {
		j := skipDigits(d, i+1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := skipDigits(d, i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

func skipDigits(d []byte, i int) int {
	for i < len(d) && '0' <= d[i] && d[i] <= '9' {
		i++
	}
	return i
}

func scanLiteral(d []byte, i int, lit string) int {
	if len(d)-i < len(lit) || string(d[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

// jsonString decodes a JSON string value, refusing any other type.
func jsonString(v []byte) (string, bool) {
	if isPlainString(v) {
		return string(v[1 : len(v)-1]), true
	}
	return unquoteString(v)
}

// isPlainString reports whether v is a JSON string whose bytes are its
// value: no escape, no control character, valid UTF-8.
func isPlainString(v []byte) bool {
	if len(v) < 2 || v[0] != '"' {
		return false
	}
	inner := v[1 : len(v)-1]
	for len(inner) >= 8 {
		x := binary.LittleEndian.Uint64(inner)
		if stringSpecial(x) || x&swarHighs != 0 {
			break
		}
		inner = inner[8:]
	}
	ascii := true
	for _, c := range inner {
		if c == '\\' || c < 0x20 {
			return false
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	return ascii || utf8.Valid(inner)
}

// unquoteString decodes a JSON string value with escapes or invalid UTF-8
// as encoding/json does, refusing any other type.
func unquoteString(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' {
		return "", false
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", false
	}
	return s, true
}

// jsonText reads the strings of one JSON document, the decoded payload or
// header of one token: a string without escapes is returned as a substring
// of a single copy of the whole document, so reading a token's claims makes
// one allocation instead of one per claim. Every value passed to str must be
// a two-index subslice of data, as walkObject and walkArray hand them out,
// so that cap(data)-cap(v) is its offset; str checks that the bytes there
// are v's, and copies v otherwise.
type jsonText struct {
	data []byte
	text string // string(data), made on first use
}

func (t *jsonText) str(v []byte) (string, bool) {
	if !isPlainString(v) {
		return unquoteString(v)
	}
	return t.plain(v), true
}

// plain returns the value of the JSON string v, which isPlainString
// accepts (or that is known to be plain).
func (t *jsonText) plain(v []byte) string {
	if t.text == "" {
		t.text = string(t.data)
	}
	off := cap(t.data) - cap(v)
	if off < 0 || off+len(v) > len(t.text) || t.text[off:off+len(v)] != string(v) {
		return string(v[1 : len(v)-1])
	}
	return t.text[off+1 : off+len(v)-1]
}

// walkArray calls fn for every element of the JSON array v, which must be
// valid JSON (a value walkObject handed out).
func walkArray(v []byte, fn func(elem []byte) error) error {
	if len(v) == 0 || v[0] != '[' {
		return errNotObject
	}
	i := skipSpace(v, 1)
	if i < len(v) && v[i] == ']' {
		return nil
	}
	for {
		end := scanValue(v, i, 2)
		if end < 0 {
			return errNotObject
		}
		if err := fn(v[i:end]); err != nil {
			return err
		}
		i = skipSpace(v, end)
		if i >= len(v) {
			return errNotObject
		}
		if v[i] == ']' {
			return nil
		}
		if v[i] != ',' {
			return errNotObject
		}
		i = skipSpace(v, i+1)
	}
}

// exactNames rewrites the JSON value data so that encoding/json, decoding
// it into a value of type t, sees only members whose names equal a field's
// JSON name exactly. encoding/json matches struct fields case-insensitively,
// so {"ROLES": …} would fill a field tagged "roles" that warden, reading
// names exactly, never saw (RFC 7519 §4: claim names are case-sensitive).
// Members that match no field at all are kept (encoding/json ignores them,
// or reports them under DisallowUnknownFields). Types with their own
// UnmarshalJSON, maps and interfaces receive their values untouched.
func exactNames(data []byte, t reflect.Type) ([]byte, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) || t.Implements(unmarshalerType) {
		return data, nil
	}
	i := skipSpace(data, 0)
	if i >= len(data) {
		return data, nil
	}
	switch {
	case t.Kind() == reflect.Struct && data[i] == '{':
		fields := jsonFields(t)
		members, err := lastMembers(data)
		if err != nil {
			return nil, err
		}
		out := []byte{'{'}
	members:
		for _, m := range members {
			name, v := m.name, m.value
			ft, exact := fields[name]
			if !exact {
				for fn := range fields {
					if strings.EqualFold(fn, name) || foldASCII(fn) == foldASCII(name) {
						continue members // a case variant of a field's name: never decoded
					}
				}
				ft = nil
			}
			if ft != nil {
				if v, err = exactNames(v, ft); err != nil {
					return nil, err
				}
			}
			if len(out) > 1 {
				out = append(out, ',')
			}
			out = appendJSONString(out, name)
			out = append(out, ':')
			out = append(out, v...)
		}
		return append(out, '}'), nil
	case (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && data[i] == '[':
		var elems []json.RawMessage
		if err := json.Unmarshal(data, &elems); err != nil {
			return nil, err
		}
		out := []byte{'['}
		for j, e := range elems {
			v, err := exactNames(e, t.Elem())
			if err != nil {
				return nil, err
			}
			if j > 0 {
				out = append(out, ',')
			}
			out = append(out, v...)
		}
		return append(out, ']'), nil
	case t.Kind() == reflect.Map && data[i] == '{':
		members, err := lastMembers(data)
		if err != nil {
			return nil, err
		}
		out := []byte{'{'}
		for _, m := range members {
			v, err := exactNames(m.value, t.Elem())
			if err != nil {
				return nil, err
			}
			if len(out) > 1 {
				out = append(out, ',')
			}
			out = appendJSONString(out, m.name)
			out = append(out, ':')
			out = append(out, v...)
		}
		return append(out, '}'), nil
	}
	return data, nil
}

// jsonMember is one member of a JSON object.
type jsonMember struct {
	name  string
	value []byte
}

// lastMembers returns the members of the JSON object data, each name once
// with the value of its last member. encoding/json, decoding duplicates
// into a struct, merges them (an earlier {"admin":true} survives a later
// object without "admin"); warden reads the last one whole, as
// encoding/json decoding into a map does, so a handler's struct must see
// that one alone.
func lastMembers(data []byte) ([]jsonMember, error) {
	var members []jsonMember
	var at map[string]int
	err := walkObject(data, func(name string, v []byte) error {
		if at == nil {
			at = map[string]int{}
		}
		if i, ok := at[name]; ok {
			members[i].value = v
			return nil
		}
		at[name] = len(members)
		members = append(members, jsonMember{name, v})
		return nil
	})
	return members, err
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}

// jsonFields returns the JSON names of the fields encoding/json decodes
// into a struct type, with their types, including fields promoted from
// embedded structs (the shallower one wins a name, as in encoding/json).
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	var visit func(t reflect.Type, depth int, seen map[reflect.Type]bool)
	depthOf := map[string]int{}
	visit = func(t reflect.Type, depth int, seen map[reflect.Type]bool) {
		if seen[t] {
			return
		}
		seen[t] = true
		for f := range t.Fields() {
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			ft := f.Type
			if f.Anonymous && name == "" {
				et := ft
				if et.Kind() == reflect.Pointer {
					et = et.Elem()
				}
				if et.Kind() == reflect.Struct {
					visit(et, depth+1, seen)
					continue
				}
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if d, ok := depthOf[name]; !ok || depth < d {
				out[name], depthOf[name] = ft, depth
			}
		}
	}
	visit(t, 0, map[reflect.Type]bool{})
	return out
}

// foldASCII lower-cases ASCII letters, the folding encoding/json applies
// besides Unicode simple folding (which strings.EqualFold covers).
func foldASCII(s string) string { return strings.ToLower(s) }

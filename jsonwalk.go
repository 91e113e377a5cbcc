package warden

import (
	"bytes"
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

// walkObject calls fn for every member of the JSON object in data, in order,
// with the unescaped name and the raw value. data must already be valid JSON
// (json.Valid); duplicate names are passed to fn each time, so the last one
// wins when fn overwrites (RFC 7519 §4 allows either; Go's own decoder keeps
// the last, and so must every reader of the same token).
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
	if i < len(data) && data[i] == '}' {
		return nil
	}
	for i < len(data) {
		if data[i] != '"' {
			return errNotObject
		}
		end := skipString(data, i)
		quoted := data[i:end]
		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return errNotObject
		}
		i = skipSpace(data, i+1)
		vend := skipValue(data, i)
		if vend <= i {
			return errNotObject
		}
		if err := fn(quoted, data[i:vend]); err != nil {
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

// memberValue returns the value of the member called name in the JSON
// object data (valid JSON; leading space allowed), the last one when the
// name repeats, as walkObject's readers keep it. Names are compared
// without allocating unless one is escaped, so looking up a claim on every
// request costs no garbage.
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

// walkArray calls fn for every element of the JSON array in data (valid
// JSON), in order, with its raw value. It reports false when data is not an
// array.
func walkArray(data []byte, fn func(elem []byte) bool) bool {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '[' {
		return false
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		return true
	}
	for i < len(data) {
		end := skipValue(data, i)
		if end <= i || !fn(data[i:end]) {
			return end > i
		}
		i = skipSpace(data, end)
		if i >= len(data) || data[i] == ']' {
			return i < len(data)
		}
		if data[i] != ',' {
			return false
		}
		i = skipSpace(data, i+1)
	}
	return false
}

// jsonStringIs reports whether the JSON value v is a string, and whether
// it equals s, as jsonString would decode it; a plain string costs no
// allocation.
func jsonStringIs(v []byte, s string) (equal, isString bool) {
	if len(v) < 2 || v[0] != '"' {
		return false, false
	}
	inner := v[1 : len(v)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		for _, c := range inner {
			if c < 0x20 {
				return false, false // invalid JSON; json.Valid already refused it
			}
		}
		return string(inner) == s, true
	}
	d, ok := jsonString(v)
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
		out := []byte{'{'}
		err := walkObject(data, func(name string, v []byte) error {
			ft, exact := fields[name]
			if !exact {
				for fn := range fields {
					if strings.EqualFold(fn, name) || foldASCII(fn) == foldASCII(name) {
						return nil // a case variant of a field's name: never decoded
					}
				}
				ft = nil
			}
			if ft != nil {
				var err error
				if v, err = exactNames(v, ft); err != nil {
					return err
				}
			}
			if len(out) > 1 {
				out = append(out, ',')
			}
			out = appendJSONString(out, name)
			out = append(out, ':')
			out = append(out, v...)
			return nil
		})
		return append(out, '}'), err
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
		out := []byte{'{'}
		err := walkObject(data, func(name string, v []byte) error {
			v, err := exactNames(v, t.Elem())
			if err != nil {
				return err
			}
			if len(out) > 1 {
				out = append(out, ',')
			}
			out = appendJSONString(out, name)
			out = append(out, ':')
			out = append(out, v...)
			return nil
		})
		return append(out, '}'), err
	}
	return data, nil
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

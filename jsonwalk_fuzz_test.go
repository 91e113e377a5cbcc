package warden

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzWalkObject checks that the walker's single pass accepts exactly the
// documents encoding/json.Valid accepts that are objects, and hands fn every
// top-level member encoding/json sees, in order, with the same raw value.
func FuzzWalkObject(f *testing.F) {
	for _, s := range []string{
		`{}`, ` { } `, `{"a":1}`, `{"a":-0.5e+3,"b":[1,{"c":null}],"d":true,"e":false}`, `{"a":01}`, `{"a":1.}`,
		`{"a":.5}`, `{"a":1e}`, `{"a":-}`, `{"a":"\u00e9\ud800\n"}`, `{"a":"\x"}`, `{"a":"\u12"}`, "{\"a\":\"\x01\"}",
		`{"a":1,}`, `{,}`, `{"a" 1}`, `{"a":1}x`, `{"a":1}{}`, `[]`, `"s"`, `nul`, `{"a":tru}`, `{"a":[1,]}`,
		`{"a":{"b":}}`, "\ufeff{}", "{\"a\":\"\xff\"}", `{"a":[[[[[]]]]]}`, `{"\u0061":2,"a":3}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var names []string
		var values [][]byte
		err := walkObject(data, func(name string, v []byte) error {
			names = append(names, name)
			values = append(values, v)
			return nil
		})
		trimmed := bytes.TrimLeft(data, " \t\r\n")
		want := json.Valid(data) && len(trimmed) > 0 && trimmed[0] == '{'
		if (err == nil) != want {
			t.Fatalf("walkObject(%q) = %v, json.Valid says object=%v", data, err, want)
		}
		if !want || !utf8.Valid(data) {
			return // encoding/json rewrites invalid UTF-8 in names; jsonString handles values
		}
		// The members, in order, as encoding/json's token stream reads them.
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if _, err := dec.Token(); err != nil {
			t.Fatal(err)
		}
		for i := 0; dec.More(); i++ {
			tok, err := dec.Token()
			if err != nil {
				t.Fatal(err)
			}
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				t.Fatal(err)
			}
			if i >= len(names) || names[i] != tok.(string) || !bytes.Equal(values[i], raw) {
				t.Fatalf("member %d: encoding/json reads %q: %s; walker read %q", i, tok, raw, names)
			}
		}
	})
}

// TestWalkObjectDepth: nesting is bounded as encoding/json bounds it, 10,000
// levels with the top-level object.
func TestWalkObjectDepth(t *testing.T) {
	t.Parallel()
	for _, depth := range []int{maxJSONDepth - 1, maxJSONDepth, maxJSONDepth + 1} {
		inner := depth - 1 // the top-level object is one level
		doc := []byte(`{"a":` + strings.Repeat("[", inner) + strings.Repeat("]", inner) + `}`)
		err := walkObject(doc, func(string, []byte) error { return nil })
		if want := json.Valid(doc); (err == nil) != want {
			t.Errorf("depth %d: walkObject = %v, json.Valid = %v", depth, err, want)
		}
	}
}

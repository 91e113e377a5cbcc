package warden

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// Fuzz targets for the unexported parsers of untrusted bytes. Each checks
// more than "no panic": the parser's result is compared with a reference
// (a regular expression, encoding/json, or an encode/decode round trip), so
// a parser that silently reads something other than what the client sent
// fails. Seeds live in testdata/fuzz/<target>/ as well as in f.Add.

// b64TokenRE is RFC 6750 §2.1 b64token, the reference for isB64Token.
var b64TokenRE = regexp.MustCompile(`^[A-Za-z0-9\-._~+/]+=*$`)

// FuzzParseAuthorization checks the Authorization field parser: a success
// must be exactly "scheme 1*SP b64token" read back from the input, and a
// refusal must be a 400 or 401 reason.
func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{
		"", "Bearer", "Bearer ", "bearer abc", "BEARER  a.b.c", "Bearer\ta.b.c", "Bearer a.b.c xyz",
		"Bearer a.b.c, Bearer a.b.c", "Basic YzE6czNjcjN0", "Basic !!!", "Digest x", "Bearerxyz",
		" \tBearer a.b.c \t", "Bearer caf\xc3\xa9.x.y", "Bearer a=b", "Bearer ab==", "Bearer a\x01b",
	} {
		f.Add(s, uint16(64))
	}
	f.Fuzz(func(t *testing.T, v string, max uint16) {
		maxSize := int(max)
		creds, e := parseAuthorization(v, maxSize)
		if e != nil {
			require.Zero(t, creds, "refusal %v also returned credentials", e.Reason)
			require.Contains(t, []int{400, 401}, e.Status(), "status for %q", v)
			require.Contains(t, reasonTable, e.Reason, "reason")
			_ = e.Error()
			return
		}
		require.Contains(t, []Scheme{SchemeBearer, SchemeBasic}, creds.scheme, "scheme")
		require.LessOrEqual(t, len(creds.value), maxSize, "bytes of credentials accepted under the cap")
		require.Regexp(t, b64TokenRE, creds.value, "accepted credentials are a b64token")
		// The input must be exactly: OWS scheme 1*SP value OWS.
		trimmed := strings.Trim(v, " \t")
		name := creds.scheme.String()
		if len(trimmed) < len(name)+1 || !strings.EqualFold(trimmed[:len(name)], name) {
			t.Fatalf("%q accepted as %s", v, name)
		}
		sep := trimmed[len(name) : len(trimmed)-len(creds.value)]
		if sep == "" || strings.Trim(sep, " ") != "" || !strings.HasSuffix(trimmed, creds.value) {
			t.Fatalf("%q: separator %q, value %q", v, sep, creds.value)
		}
	})
}

// FuzzIsB64Token compares isB64Token with the RFC 6750 ABNF as a regexp.
func FuzzIsB64Token(f *testing.F) {
	for _, s := range []string{"", "a", "a.b.c", "ab==", "a=b", "=", "+/~-._", "café", "a b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		require.Equal(t, b64TokenRE.MatchString(s), isB64Token(s), "isB64Token(%q)", s)
	})
}

// FuzzParseBasic checks the Basic credential parser (RFC 7617 with the
// RFC 6749 §2.3.1 form-urlencoding): whatever it accepts is a well-formed
// client id and secret, and every well-formed pair survives the encoding a
// compliant client applies.
func FuzzParseBasic(f *testing.F) {
	enc := base64.StdEncoding.EncodeToString
	for _, s := range []string{
		enc([]byte("c1:s3cr3t")), enc([]byte("c1")), enc([]byte("c:1:pw")), enc([]byte("c%3A1:pw")),
		enc([]byte("c7:a%2Bb")), enc([]byte("c1:%zz")), enc([]byte("c\x011:x")), enc([]byte(":s")),
		enc([]byte("c1:")), enc([]byte{0xff, ':', 'x'}), "YzE6czNjcjN0", "YzE6czNjcjN0=", "!!!", "",
	} {
		f.Add(s, "c1", "s3cr3t")
	}
	f.Add("", "p@ss word", "a+b")
	f.Fuzz(func(t *testing.T, token68, id, secret string) {
		gotID, gotSecret, ok := parseBasic(token68)
		if ok {
			if gotID == "" || gotSecret == "" {
				t.Fatalf("%q: empty id or secret accepted", token68)
			}
			if !utf8.ValidString(gotID) || !utf8.ValidString(gotSecret) || hasControl([]byte(gotID)) {
				t.Fatalf("%q: invalid id %q or secret accepted", token68, gotID)
			}
			raw, err := base64.StdEncoding.DecodeString(token68)
			if err != nil || !bytes.Contains(raw, []byte{':'}) {
				t.Fatalf("%q accepted but is not base64 of id:secret", token68)
			}
		}
		// Round trip: what x/oauth2 sends for a valid pair must parse back.
		valid := id != "" && secret != "" && utf8.ValidString(id) && utf8.ValidString(secret) && !hasControl([]byte(id))
		sent := enc([]byte(url.QueryEscape(id) + ":" + url.QueryEscape(secret)))
		rid, rsec, rok := parseBasic(sent)
		require.Equal(t, valid, rok, "round trip of (%q, %q) accepted", id, secret)
		if valid {
			require.Equal(t, id, rid, "round trip of (%q, %q): id", id, secret)
			require.Equal(t, secret, rsec, "round trip of (%q, %q): secret", id, secret)
		}
	})
}

// refObject decodes a JSON object with encoding/json, the reference for the
// case-sensitive walker: map keys match exactly and the last duplicate wins.
func refObject(data []byte) (map[string]json.RawMessage, bool) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil || m == nil {
		return nil, false
	}
	return m, true
}

func refString(v json.RawMessage) (string, bool) {
	var s string
	err := json.Unmarshal(v, &s)
	return s, err == nil && len(v) > 0 && v[0] == '"'
}

// FuzzDecodeClaims checks the claim reader (walkObject, the scope reader and
// the act reader) against encoding/json: every claim warden reads must hold
// the value encoding/json sees, so that the scope check, the principal and
// Principal.Claims never disagree about a token (D19, D20).
func FuzzDecodeClaims(f *testing.F) {
	for _, s := range []string{
		`{"iss":"i","sub":"user1","aud":["x","a"],"exp":1800000300,"scope":"entry:read entry:write"}`,
		`{"SCOPE":"entry:read"}`, `{"sub":"alice","sub":"admin"}`, `{"scope":["a","b"]}`, `{"scope":["a",1]}`,
		`{"scp":"a b","scope":"c"}`, `{"scp":["a"]}`, `{"scope":5}`, `{"scope":{"a":1}}`, `{"scope":"  a   b "}`,
		`{"act":{"sub":"c1","act":{"sub":"c9"}}}`, `{"act":"admin"}`, `{"act":{}}`, `{"act":{"client_id":"x"}}`,
		`{"act_as":"user1","act":{"sub":"c1"}}`, `{"act_as":""}`, `{"act_as":5}`, `{"may_act":{"sub":"c1"}}`,
		`{"exp":1e30}`, `{"exp":"1"}`, `{"exp":null}`, `{"exp":-1}`, `{"aud":""}`, `{"aud":[1]}`, `["a"]`,
		`{"scope":"doc:1\u00a0admin"}`, `{"scope":"a\tb"}`, `{"scope":["a b"]}`, `{"realm_access":{"roles":"r1 r2"}}`,
		`{"realm_access":"x"}`, `{"realm_access":{"roles":["r\u2028"]}}`, `{"s\u0063ope":"x"}`, `{"sub":"\u00e9\ud800"}`, ` { "iss" : "a" , "iss" : "b" } `, `{}`, `{"a":[{"b":"}"}]}`,
	} {
		f.Add([]byte(s))
	}
	scopeClaims := []claimPath{{"scope"}, {"scp"}, {"realm_access", "roles"}}
	f.Fuzz(func(t *testing.T, payload []byte) {
		c, err := decodeClaims(payload, scopeClaims)
		ref, isObject := refObject(payload)
		if err != nil {
			var ce *claimError
			if !errors.Is(err, errNotObject) && !errors.As(err, &ce) && isObject {
				t.Fatalf("untyped error %v", err)
			}
			if errors.Is(err, errNotObject) && isObject {
				t.Fatalf("valid object %q refused as not an object", payload)
			}
			return
		}
		if !isObject {
			t.Fatalf("%q is not a JSON object but was accepted", payload)
		}
		if !utf8.Valid(payload) {
			return // encoding/json rewrites invalid UTF-8 in names; values are checked by jsonString
		}
		if v, ok := ref["act_as"]; ok != (c.actAs != nil) || ok && !bytes.Equal(bytes.TrimSpace(v), c.actAs) {
			t.Fatalf("act_as: got %q, encoding/json reads %q", c.actAs, v)
		}
		for name, got := range map[string]string{"iss": c.iss, "sub": c.sub, "jti": c.jti, "client_id": c.clientID, "azp": c.azp} {
			v, present := ref[name]
			want, isString := refString(v)
			if present && !isString {
				t.Fatalf("claim %s = %s (not a string) accepted", name, v)
			}
			require.Equal(t, want, got, "claim %s, as encoding/json reads it", name)
		}
		// Scopes: the first present claim in scopeClaims, a string of
		// scope-tokens separated by SP, or an array of scope-tokens.
		var want []string
		present := false
		for _, path := range scopeClaims {
			v, ok := refPath(ref, path)
			if !ok {
				continue
			}
			present = true
			if s, ok := refString(v); ok {
				want = strings.FieldsFunc(s, func(r rune) bool { return r == ' ' })
			} else if err := json.Unmarshal(v, &want); err != nil || v[0] != '[' {
				t.Fatalf("scope claim %s = %s accepted", path, v)
			}
			for _, sc := range want {
				if !validScopeToken(sc) {
					t.Fatalf("scope claim %s = %s yields %q, not a scope-token", path, v, sc)
				}
			}
			break
		}
		if present != c.scopePresent || !slices.Equal(want, c.scopes) && !(len(want) == 0 && len(c.scopes) == 0) {
			t.Fatalf("scopes: got %q (present %v), encoding/json reads %q (present %v)", c.scopes, c.scopePresent, want, present)
		}
		// act: an object with a string "sub", nested at most maxActorDepth,
		// read once the token is verified (decodeActor).
		if v, ok := ref["act"]; ok != (c.act != nil) {
			t.Fatalf("act present=%v in JSON, kept %q", ok, c.act)
		} else if ok {
			if a, err := decodeActor(c.act, 1); err == nil {
				checkActor(t, v, a, 1)
			} else if refActorValid(v, 1) {
				t.Fatalf("act %s refused: %v", v, err)
			}
		}
	})
}

// refPath follows path through objects decoded by encoding/json.
func refPath(obj map[string]json.RawMessage, path claimPath) (json.RawMessage, bool) {
	v, ok := obj[path[0]]
	for _, seg := range path[1:] {
		if !ok {
			return nil, false
		}
		m, isObj := refObject(v)
		if !isObj {
			return nil, false
		}
		v, ok = m[seg]
	}
	return v, ok
}

// refActorValid is what encoding/json says of an act value: an object with a
// non-empty string "sub", optional string "client_id", and a valid nested
// "act", at most maxActorDepth deep.
func refActorValid(v json.RawMessage, depth int) bool {
	m, ok := refObject(v)
	if !ok || depth > maxActorDepth {
		return false
	}
	if sub, ok := refString(m["sub"]); !ok || sub == "" {
		return false
	}
	if cid, ok := m["client_id"]; ok {
		if _, ok := refString(cid); !ok {
			return false
		}
	}
	if inner, ok := m["act"]; ok {
		return refActorValid(inner, depth+1)
	}
	return true
}

func checkActor(t *testing.T, v json.RawMessage, a *Actor, depth int) {
	t.Helper()
	m, ok := refObject(v)
	if !ok || depth > maxActorDepth {
		t.Fatalf("act %s accepted at depth %d", v, depth)
	}
	sub, ok := refString(m["sub"])
	if !ok || sub == "" || sub != a.Subject {
		t.Fatalf("act.sub: got %q, encoding/json reads %q (%v)", a.Subject, sub, ok)
	}
	cid, _ := refString(m["client_id"])
	require.Equal(t, cid, a.ClientID, "act.client_id")
	if inner, ok := m["act"]; ok != (a.Actor != nil) {
		t.Fatalf("nested act present=%v, decoded %+v", ok, a.Actor)
	} else if ok {
		checkActor(t, inner, a.Actor, depth+1)
	}
}

// FuzzDecodeHeader checks the JOSE header reader against encoding/json:
// alg, kid and typ must be the strings encoding/json sees, a non-string one
// must be refused, and any crit member must be noticed (RFC 7515 §4.1.11).
func FuzzDecodeHeader(f *testing.F) {
	for _, s := range []string{
		`{"alg":"RS256","typ":"at+jwt","kid":"k1"}`, `{"alg":"none","alg":"RS256"}`, `{"alg":256}`, `{}`,
		`{"kid":123}`, `{"kid":{"a":1}}`, `{"crit":["foo"],"foo":1}`, `{"ALG":"none"}`, "\ufeff{\"alg\":\"RS256\"}",
		`{"jku":"http://127.0.0.1:1/jwks","jwk":{"kty":"EC"},"x5c":["AA"],"x5u":"http://x"}`, `{"a\u006cg":"HS256"}`,
		`{"kid":"../../../../dev/null","alg":"HS256"}`, `{"kid":"' OR '1'='1"}`, `[]`, `{"typ":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := decodeHeader(data)
		ref, isObject := refObject(data)
		if err != nil || !utf8.Valid(data) {
			if err == nil && !isObject {
				t.Fatalf("%q accepted as a header", data)
			}
			return
		}
		if !isObject {
			t.Fatalf("%q accepted as a header", data)
		}
		for name, got := range map[string]string{"alg": h.alg, "kid": h.kid, "typ": h.typ} {
			v, present := ref[name]
			want, isString := refString(v)
			if present && !isString {
				t.Fatalf("header %s = %s (not a string) accepted", name, v)
			}
			require.Equal(t, want, got, "header %s, as encoding/json reads it", name)
		}
		_, kid := ref["kid"]
		_, crit := ref["crit"]
		require.Equal(t, kid, h.hasKID, "hasKID")
		require.Equal(t, crit, h.hasCrit, "hasCrit")
	})
}

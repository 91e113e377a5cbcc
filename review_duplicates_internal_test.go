package warden

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// The claims warden reads and the claims a handler decodes must agree on
// what a payload with duplicate member names says (RFC 8259 §4 leaves it
// undefined). encoding/json, decoding into a map, keeps the last member
// whole; warden's top-level reader does the same, and so must every path
// into nested objects and every struct a handler decodes.

// refAt decodes payload as encoding/json does into a map (the last
// duplicate wins, whole) and returns the value at path, re-encoded.
func refAt(t *testing.T, payload string, path []string) (string, bool) {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(payload), &v); err != nil {
		t.Fatal(err)
	}
	for _, seg := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return "", false
		}
		if v, ok = m[seg]; !ok {
			return "", false
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), true
}

// reencode normalises a raw JSON value through encoding/json.
func reencode(t *testing.T, raw []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// rvDupRows are payloads with duplicate names below the top level, each
// with the claim path a configuration would name.
var rvDupRows = []struct {
	name, payload, path string
}{
	{"nested roles, last has none", `{"realm_access":{"roles":["admin"]},"realm_access":{}}`, "realm_access.roles"},
	{"nested roles, last is smaller", `{"realm_access":{"roles":["admin","read"]},"realm_access":{"roles":["read"]}}`, "realm_access.roles"},
	{"nested roles, first has none", `{"realm_access":{},"realm_access":{"roles":["read"]}}`, "realm_access.roles"},
	{"duplicate inside the object", `{"realm_access":{"roles":["admin"],"roles":["read"]}}`, "realm_access.roles"},
	{"nested scope string", `{"ext":{"scope":"a"},"ext":{"scope":"admin"}}`, "ext.scope"},
	{"nested scope string reversed", `{"ext":{"scope":"admin"},"ext":{"scope":"a"}}`, "ext.scope"},
	{"deep, last drops the middle", `{"a":{"b":{"c":"admin"}},"a":{"x":1}}`, "a.b.c"},
	{"deep, middle duplicated", `{"a":{"b":{"c":"admin"},"b":{"d":"x"}}}`, "a.b.c"},
	{"last is not an object", `{"a":{"b":"admin"},"a":"plain"}`, "a.b"},
	{"top-level scope", `{"scope":"a","scope":"admin"}`, "scope"},
}

// TestReviewDuplicateScopePaths: a nested scope claim reads what
// encoding/json reads. Before the fix, a later duplicate of the top-level
// member that lacked the nested path left the earlier one's scopes in
// place (rows "last has none", "last drops the middle", "last is not an
// object": scopes "admin" where encoding/json sees none).
func TestReviewDuplicateScopePaths(t *testing.T) {
	t.Parallel()
	for _, tc := range rvDupRows {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path, err := parseClaimPath(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			want, present := refAt(t, tc.payload, path)
			c, err := decodeClaims([]byte(tc.payload), []claimPath{path})
			if err != nil {
				t.Fatalf("decodeClaims: %v", err)
			}
			if c.scopePresent != present {
				t.Fatalf("scope present = %v, encoding/json: %v (%s)", c.scopePresent, present, want)
			}
			if present {
				var ref any
				_ = json.Unmarshal([]byte(want), &ref)
				var refScopes []string
				switch r := ref.(type) {
				case string:
					refScopes = strings.Fields(r)
				case []any:
					for _, s := range r {
						refScopes = append(refScopes, s.(string))
					}
				}
				if !reflect.DeepEqual(c.scopes, refScopes) {
					t.Fatalf("scopes %q, encoding/json: %q", c.scopes, refScopes)
				}
			}
			// The Claim requirement and role claims read paths with
			// lookupClaim.
			got, ok := lookupClaim([]byte(tc.payload), path)
			if ok != present || ok && reencode(t, got) != want {
				t.Fatalf("lookupClaim = %s, %v; encoding/json: %s, %v", got, ok, want, present)
			}
		})
	}
}

// TestReviewDuplicateScopeFallback: with several scope claims, a later
// duplicate without the preferred path falls back to the next claim, as
// encoding/json's view of the payload says, whatever the member order.
// Before the fix, the first "realm_access" won over "scope".
func TestReviewDuplicateScopeFallback(t *testing.T) {
	t.Parallel()
	claims := []claimPath{{"realm_access", "roles"}, {"scope"}}
	for _, tc := range []struct {
		payload string
		want    []string
	}{
		{`{"realm_access":{"roles":["admin"]},"realm_access":{},"scope":"read"}`, []string{"read"}},
		{`{"scope":"read","realm_access":{"roles":["admin"]},"realm_access":{}}`, []string{"read"}},
		{`{"realm_access":{},"scope":"read","realm_access":{"roles":["admin"]}}`, []string{"admin"}},
		{`{"scp":1,"scope":"read"}`, []string{"read"}},
	} {
		c, err := decodeClaims([]byte(tc.payload), claims)
		if err != nil {
			t.Fatalf("%s: %v", tc.payload, err)
		}
		if !reflect.DeepEqual(c.scopes, tc.want) {
			t.Errorf("%s: scopes %q, want %q", tc.payload, c.scopes, tc.want)
		}
	}
}

// rvOrg is a struct a handler decodes claims into.
type rvOrg struct {
	Org struct {
		ID    string            `json:"id"`
		Admin bool              `json:"admin"`
		Roles []string          `json:"roles"`
		Tags  map[string]string `json:"tags"`
		Boss  *struct {
			Name string `json:"name"`
		} `json:"boss"`
	} `json:"org"`
}

// TestReviewDuplicateExactNames: Principal.Claims and Claim[T] decode what
// encoding/json's map view says, the last duplicate whole, not a merge of
// the duplicates. Before the fix, exactNames passed every duplicate on and
// encoding/json merged them into the struct: {"org":{"admin":true},
// "org":{"id":"b"}} decoded with Admin true, although the org warden reads
// at "org.admin" has none.
func TestReviewDuplicateExactNames(t *testing.T) {
	t.Parallel()
	for _, payload := range []string{
		`{"org":{"id":"a","admin":true},"org":{"id":"b"}}`,
		`{"org":{"id":"a","tags":{"x":"1"}},"org":{"tags":{"y":"2"}}}`,
		`{"org":{"tags":{"x":"1"},"tags":{"y":"2"}}}`,
		`{"org":{"boss":{"name":"eve"},"boss":{}}}`,
		`{"org":{"roles":["admin","read"]},"org":{"roles":["read"]}}`,
		`{"org":{"admin":true,"admin":false}}`,
		`{"org":{"id":"a"},"ORG":{"admin":true}}`,
	} {
		t.Run(payload, func(t *testing.T) {
			t.Parallel()
			// The reference: encoding/json's map view, without duplicates,
			// then decoded into the struct with exact names.
			var m map[string]any
			if err := json.Unmarshal([]byte(payload), &m); err != nil {
				t.Fatal(err)
			}
			for k := range m {
				if k != "org" {
					delete(m, k) // a case variant warden never reads
				}
			}
			canon, _ := json.Marshal(m)
			var want rvOrg
			if err := json.Unmarshal(canon, &want); err != nil {
				t.Fatal(err)
			}
			data, err := exactNames([]byte(payload), reflect.TypeFor[*rvOrg]())
			if err != nil {
				t.Fatal(err)
			}
			var got rvOrg
			if err := json.Unmarshal(data, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("decoded %+v, encoding/json's view %+v", got, want)
			}
		})
	}
}

package warden

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// FuzzIntrospectionAnswer feeds arbitrary bytes to the judge of
// introspection answers, the one parser of what an endpoint sends. It must
// never panic; an answer it admits must be, to encoding/json too, an
// object whose last "active" is true, whose "aud" names the audience and
// whose "iss", if any, is the issuer, which names a key if it says DPoP,
// and which ends within MaxTokenLifetime; one that is no JSON object at all
// must be the endpoint's failure, never a verdict on the token.
func FuzzIntrospectionAnswer(f *testing.F) {
	for _, s := range []string{
		`{"active":true,"aud":"https://api.internal.test","client_id":"c","scope":"read"}`,
		`{"active":false}`,
		`{"active":"true","aud":"https://api.internal.test","sub":"u"}`,
		`{"active":true,"active":false,"aud":"https://api.internal.test","sub":"u"}`,
		`{"active":true,"aud":["x","https://api.internal.test"],"sub":"u","act":{"sub":"a","act":{"sub":"b"}}}`,
		`{"active":true,"aud":"https://api.internal.test","sub":"u","token_type":"refresh_token"}`,
		`{"active":true,"aud":"https://api.internal.test","sub":"u","token_type":"DPoP"}`,
		`{"active":true,"aud":"https://api.internal.test","sub":"u","exp":99999999999}`,
		`{"active":true,"aud":"https://api.internal.test","sub":"u","iss":"https://evil"}`,
		`{"active":true,"aud":"https://api.internal.test","sub":"u","exp":1e300,"nbf":-1}`,
		`[true]`, `"active"`, `{"active":true,`, "",
	} {
		f.Add([]byte(s))
	}
	mw := introInternalMiddleware(f, "https://as.internal.test/introspect", func() time.Time { return time.Unix(1_900_000_000, 0) })
	in := mw.tokens.opaque
	f.Fuzz(func(t *testing.T, body []byte) {
		now := in.now()
		p, e, until, err := in.judge(body, now, jwtBinding{})
		var ref map[string]json.RawMessage
		isObject := json.Unmarshal(body, &ref) == nil && ref != nil
		if !isObject {
			if err == nil {
				t.Fatalf("%q is no JSON object, judged as a verdict (%v)", body, e)
			}
			return
		}
		if err != nil || e != nil {
			return
		}
		if p == nil || !until.After(now) {
			t.Fatalf("%q admitted without a principal or a future deadline", body)
		}
		var active bool
		var aud any
		var iss string
		if json.Unmarshal(ref["active"], &active) != nil || !active {
			t.Fatalf("%q admitted, but active is %s", body, ref["active"])
		}
		_ = json.Unmarshal(ref["aud"], &aud)
		switch a := aud.(type) {
		case string:
			if !slices.Contains(in.iss.audiences, a) {
				t.Fatalf("%q admitted for audience %q", body, a)
			}
		case []any:
			if !slices.ContainsFunc(a, func(v any) bool { s, _ := v.(string); return slices.Contains(in.iss.audiences, s) }) {
				t.Fatalf("%q admitted for audiences %v", body, a)
			}
		default:
			t.Fatalf("%q admitted without the audience", body)
		}
		if raw, ok := ref["iss"]; ok && json.Unmarshal(raw, &iss) == nil && iss != "" && iss != in.iss.url {
			t.Fatalf("%q admitted from issuer %q", body, iss)
		}
		if p.issuer != in.iss.url {
			t.Fatalf("principal of issuer %q, want %q", p.issuer, in.iss.url)
		}
		var tokenType string
		if json.Unmarshal(ref["token_type"], &tokenType) == nil && strings.EqualFold(tokenType, "DPoP") && p.cnf.JKT == "" {
			t.Fatalf("%q admitted as DPoP without a key (RFC 9449 §6.2)", body)
		}
		if until.After(now.Add(in.maxLifetime)) || p.expiresAt.After(now.Add(in.maxLifetime+in.leeway)) {
			t.Fatalf("%q admitted beyond MaxTokenLifetime", body)
		}
	})
}

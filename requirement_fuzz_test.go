package warden

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// Fuzz targets for what the requirement step reads from untrusted bytes:
// the tenant a token's "iss" names, and the role, acr and auth_time claims
// of a verified payload. Each result is compared with a reference. Seeds
// live in testdata/fuzz/<target>/ as well as in f.Add.

// FuzzTenantOf checks that a tenant is read from "iss" only when iss is the
// template with one valid path segment in place of {tenant}.
func FuzzTenantOf(f *testing.F) {
	for _, s := range []string{
		"https://login.example/contoso/v2.0", "https://login.example//v2.0", "https://login.example/a/b/v2.0",
		"https://login.example/../v2.0", "https://login.example/a%2Fb/v2.0", "https://login.example/{tenant}/v2.0",
		"https://login.example/contoso/v2.0/", "https://login.example/contoso/v2.0x", "https://login.example/c\x00/v2.0",
		"https://login.example/" + strings.Repeat("a", 65) + "/v2.0", "https://login.example/v2.0",
	} {
		f.Add(s)
	}
	const template = "https://login.example/{tenant}/v2.0"
	prefix, suffix, ok, err := splitTemplate(template)
	if !ok || err != nil {
		f.Fatalf("splitTemplate: %v %v", ok, err)
	}
	f.Fuzz(func(t *testing.T, iss string) {
		tenant, ok := tenantOf(prefix, suffix, iss)
		reference := strings.HasPrefix(iss, prefix) && strings.HasSuffix(iss, suffix) && len(iss) > len(prefix)+len(suffix)
		if reference {
			seg := iss[len(prefix) : len(iss)-len(suffix)]
			reference = len(seg) <= maxTenantLength && seg != "." && seg != ".." &&
				strings.Trim(seg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._") == ""
		}
		if ok != reference {
			t.Fatalf("tenantOf(%q) = %q, %v; reference says %v", iss, tenant, ok, reference)
		}
		if ok && (prefix+tenant+suffix != iss || strings.ContainsAny(tenant, "/?#%")) {
			t.Fatalf("tenant %q does not rebuild %q", tenant, iss)
		}
		if issuerMatches(template, iss) != ok && iss != template {
			t.Fatalf("issuerMatches disagrees with tenantOf for %q", iss)
		}
	})
}

// FuzzRequirementClaims checks roles, acr and auth_time against
// encoding/json's reading of the same payload: a requirement is met exactly
// when the reference finds what it asks for.
func FuzzRequirementClaims(f *testing.F) {
	for _, s := range []string{
		`{"realm_access":{"roles":["admin"]}}`, `{"groups":"admin"}`, `{"groups":["x","admin"]}`,
		`{"realm_access":{"roles":"admin"},"realm_access":{"roles":[]}}`, `{"Realm_Access":{"roles":["admin"]}}`,
		`{"groups":[1,"admin"]}`, `{"acr":"mfa","auth_time":1799999990}`, `{"acr":"MFA"}`, `{"auth_time":"1799999990"}`,
		`{"auth_time":1.8e9}`, `{"acr":"mf\u0061"}`, ` {"groups":"admin"}`, `{"groups":"ad\u006din"}`,
	} {
		f.Add([]byte(s))
	}
	now := time.Unix(1_800_000_000, 0)
	rc := &requirementCheck{roleClaims: []claimPath{{"realm_access", "roles"}, {"groups"}}, now: func() time.Time { return now }}
	roles, stepUp := Roles("admin"), StepUp(time.Minute, "mfa")
	f.Fuzz(func(t *testing.T, payload []byte) {
		var doc map[string]any
		if json.Unmarshal(payload, &doc) != nil {
			return // verified payloads are JSON objects (decodeClaims)
		}
		v := principalView{scheme: SchemeBearer, claims: payload}
		gotRoles := rc.evaluate(roles, v) == nil
		if want := referenceHasRole(doc, "admin"); gotRoles != want {
			t.Fatalf("Roles(admin) on %s: met %v, reference %v", payload, gotRoles, want)
		}
		gotStep := rc.evaluate(stepUp, v) == nil
		acr, _ := doc["acr"].(string)
		at, isNum := doc["auth_time"].(float64)
		wantStep := acr == "mfa" && isNum && at >= 0 && now.Sub(time.Unix(int64(min(at, maxNumericDate)), 0)) <= time.Minute
		if gotStep != wantStep {
			t.Fatalf("StepUp on %s: met %v, reference %v", payload, gotStep, wantStep)
		}
	})
}

// referenceHasRole reads the role claims with encoding/json: a string, or
// an array of strings only (anything else holds no role).
func referenceHasRole(doc map[string]any, role string) bool {
	var all []string
	read := func(v any) bool {
		switch x := v.(type) {
		case nil:
			return true
		case string:
			all = append(all, x)
			return true
		case []any:
			for _, m := range x {
				s, ok := m.(string)
				if !ok {
					return false
				}
				all = append(all, s)
			}
			return true
		}
		return false
	}
	var realmRoles any
	if ra, ok := doc["realm_access"].(map[string]any); ok {
		realmRoles = ra["roles"]
	}
	if _, present := doc["realm_access"]; present {
		if ra, ok := doc["realm_access"].(map[string]any); ok {
			if _, has := ra["roles"]; has && realmRoles == nil {
				return false // "roles": null is neither a string nor an array
			}
		}
	}
	if !read(realmRoles) {
		return false
	}
	if g, has := doc["groups"]; has && g == nil {
		return false
	}
	if !read(doc["groups"]) {
		return false
	}
	return slices.Contains(all, role)
}

package warden_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// BenchmarkRequirement measures what a route's requirement adds to a cached
// token: each sub-benchmark serves the same cached token through a route
// with one kind of requirement. "none" is Authenticate, the floor.
func BenchmarkRequirement(b *testing.B) {
	f := newReqFixture(b, nil)
	token := "Bearer " + f.iss.Mint(wardentest.Token{Claims: wardentest.Claims{
		"scope":        "Entry_Read Report_Admin",
		"realm_access": map[string]any{"roles": []string{"user", "admin"}},
		"groups":       []string{"eng"},
		"tid":          "t1",
		"acr":          "mfa",
		"auth_time":    reqNow.Unix(),
	}})
	for _, c := range []struct {
		name string
		req  warden.Requirement
	}{
		{"none", warden.Requirement{}},
		{"scopes", warden.Scopes("Entry_Read")},
		{"A_and_(B_or_C)", warden.All(warden.Scopes("Entry_Read"), warden.AnyScope("Report_Read", "Report_Admin"))},
		{"any_of_kinds", warden.Any(warden.Roles("root"), warden.Scopes("Entry_Read"))},
		{"audience+clients", warden.All(warden.Audience(f.iss.Audience), warden.Clients("client-1"))},
		{"roles", warden.Roles("admin", "eng")},
		{"claim", warden.Claim("tid", func(s string) bool { return s == "t1" })},
		{"step_up", warden.StepUp(time.Hour, "mfa")},
	} {
		b.Run(c.name, func(b *testing.B) {
			h := f.mw.Require(c.req)(reqNoContent)
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Authorization", token)
			w := &benchWriter{h: http.Header{}}
			h.ServeHTTP(w, r)
			if w.code != http.StatusNoContent {
				b.Fatalf("got %d", w.code)
			}
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, r)
			}
		})
	}
}

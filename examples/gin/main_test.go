package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// TestRoutes runs the example's routes against an in-process issuer.
func TestRoutes(t *testing.T) {
	iss := wardentest.NewIssuer(t)
	// The same configuration as main: keys found by discovery from the issuer.
	m, err := warden.New(warden.Config{Issuers: []warden.IssuerConfig{{URL: iss.URL, Audience: iss.Audience}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	srv := httptest.NewServer(routes(m))
	t.Cleanup(srv.Close)
	tests := []struct {
		name, path, token string
		want              int
	}{
		{"no token", "/entries", "", http.StatusUnauthorized},
		{"scope held", "/entries", iss.Scoped("Entry_Read"), http.StatusOK},
		{"scope missing", "/entries", iss.Scoped("ContentType_Read"), http.StatusForbidden},
		{"one of two scopes", "/projects", iss.Scoped("Project_Admin"), http.StatusOK},
		{"none of two scopes", "/projects", iss.Scoped("Entry_Read"), http.StatusForbidden},
		{"any token", "/whoami", iss.Scoped(""), http.StatusOK},
		{"bad token", "/whoami", "not-a-jwt", http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, srv.URL+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if tc.want != http.StatusOK {
				return
			}
			var p struct {
				Subject string `json:"subject"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&p); err != nil || p.Subject != "user-1" {
				t.Fatalf("principal subject %q (%v), want user-1", p.Subject, err)
			}
		})
	}
}

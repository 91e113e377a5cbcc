package main

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestOperationsEndpoints checks what the demo offers operators and
// clients: the readiness probe, the RFC 9728 metadata document and one
// log line per request, with its real status and warden's decision.
func TestOperationsEndpoints(t *testing.T) {
	s := start(t)

	getJSON := func(path string, v any) int {
		t.Helper()
		resp, err := http.Get(s.base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return resp.StatusCode
	}

	var ready struct {
		Status  string `json:"status"`
		Issuers []struct {
			Issuer string   `json:"issuer"`
			KeyIDs []string `json:"key_ids"`
		} `json:"issuers"`
	}
	if code := getJSON("/readyz", &ready); code != http.StatusOK || ready.Status != "ready" ||
		len(ready.Issuers) != 1 || ready.Issuers[0].Issuer != s.base || len(ready.Issuers[0].KeyIDs) == 0 {
		t.Errorf("/readyz: got %d %+v, want 200 ready with the demo issuer's keys", code, ready)
	}

	var md struct {
		Resource             string   `json:"resource"`
		AuthorizationServers []string `json:"authorization_servers"`
		ScopesSupported      []string `json:"scopes_supported"`
		BearerMethods        []string `json:"bearer_methods_supported"`
	}
	if code := getJSON("/.well-known/oauth-protected-resource", &md); code != http.StatusOK {
		t.Fatalf("metadata: got %d", code)
	}
	if md.Resource != s.base || !slices.Equal(md.AuthorizationServers, []string{s.base}) || !slices.Equal(md.BearerMethods, []string{"header"}) {
		t.Errorf("metadata: got %+v", md)
	}
	for _, scope := range []string{"Entry_Read", "Entry_Write", "Project_Admin", "Organisation_Read"} {
		if !slices.Contains(md.ScopesSupported, scope) {
			t.Errorf("scopes_supported %v lacks %s", md.ScopesSupported, scope)
		}
	}

	reader := s.token(t, "demo-reader", "demo-reader-secret", nil)
	s.check(t, call{"decision logged", "GET", "/entries", bearer(reader), 200, nil, "", "ok"})
	line := `msg=request method=GET path=/entries status=200 reason=ok client_id=demo-reader subject=demo-reader`
	if !s.stderr.waitFor(line) {
		t.Errorf("log lacks %q:\n%s", line, s.stderr)
	}
	if n := strings.Count(s.stderr.String(), "path=/entries "); n != 1 {
		t.Errorf("%d log lines for one request, want 1:\n%s", n, s.stderr)
	}
	if strings.Contains(s.stderr.String(), "status=0") {
		t.Errorf("a request logged with status 0:\n%s", s.stderr)
	}
	if strings.Contains(s.stderr.String(), reader) {
		t.Error("log contains the token")
	}
}

package main

import (
	"strings"
	"testing"
)

// TestDemoAuthorization runs the routes that show composed requirements
// and handler-level checks, with the demo clients that pass and fail each
// (the table printDemo prints).
func TestDemoAuthorization(t *testing.T) {
	s := start(t)
	reader := s.token(t, "demo-reader", "demo-reader-secret", nil)
	analyst := s.token(t, "demo-analyst", "demo-analyst-secret", nil)
	auditor := s.token(t, "demo-auditor", "demo-auditor-secret", nil)
	reports := []string{`Bearer realm="api", error="insufficient_scope", scope="Entry_Read Report_Read Report_Admin"`}
	tool := func(name string) []string {
		return []string{`Bearer realm="api", error="insufficient_scope", scope="tool:` + name + `"`}
	}
	for _, c := range []call{
		{"reports, analyst", "GET", "/reports", bearer(analyst), 200, nil, "Entries per week", "ok"},
		{"reports, reader: no Report_*", "GET", "/reports", bearer(reader), 403, reports, "insufficient_scope", "insufficient_scope"},
		{"reports, auditor: no Entry_Read", "GET", "/reports", bearer(auditor), 403, reports, "insufficient_scope", "insufficient_scope"},
		{"reports without a token", "GET", "/reports", cred{}, 401, []string{bearerChallenge, dpopChallenge}, "unauthorized", "missing_credentials"},
		{"projects, analyst", "GET", "/projects", bearer(analyst), 200, nil, "Website", "ok"},
		{"projects, reader", "GET", "/projects", bearer(reader), 403,
			[]string{`Bearer realm="api", error="insufficient_scope", scope="Project_Read Project_Admin"`}, "", "insufficient_scope"},
		{"summarise, analyst", "POST", "/tools/summarise", bearer(analyst), 200, nil, `{"result":{"entries":1},"tool":"summarise"}`, "ok"},
		{"export, analyst", "POST", "/tools/export", bearer(analyst), 403, tool("export"), "insufficient_scope", "insufficient_scope"},
		{"summarise, reader", "POST", "/tools/summarise", bearer(reader), 403, tool("summarise"), "insufficient_scope", "insufficient_scope"},
		{"unknown tool", "POST", "/tools/delete", bearer(analyst), 404, nil, "no such tool", "ok"},
		{"tools without a token", "POST", "/tools/summarise", cred{}, 401, []string{bearerChallenge, dpopChallenge}, "unauthorized", "missing_credentials"},
		{"tools with Basic", "POST", "/tools/summarise", basic("demo-analyst", "demo-analyst-secret"), 401, []string{bearerChallenge, dpopChallenge}, "", "unsupported_scheme"},
	} {
		t.Run(c.name, func(t *testing.T) { s.check(t, c) })
	}
	out := s.stdout.String()
	for _, want := range []string{"demo-analyst", "demo-auditor", "GET  /reports", "POST /tools/{name}", "analyst may summarise, not export"} {
		if !strings.Contains(out, want) {
			t.Errorf("the demo banner does not mention %q", want)
		}
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/clientstore"
	"github.com/wardenhq/warden/wardentest"
	"golang.org/x/crypto/bcrypt"
)

// server is one in-process run of the command.
type server struct {
	base   string
	stdout *syncBuffer
	stderr *syncBuffer
}

// start runs the command with args on 127.0.0.1:0 until the test ends.
func start(t *testing.T, args ...string) *server {
	t.Helper()
	s := &server{stdout: newSyncBuffer(), stderr: newSyncBuffer()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), s.stdout, s.stderr) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run returned %v after shutdown, want nil", err)
		}
	})
	select {
	case line := <-s.stdout.listening:
		s.base = strings.TrimPrefix(line, "listening on ")
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("no 'listening on' line within 30 s")
	}
	return s
}

// token gets a token from the demo token endpoint with HTTP Basic.
func (s *server) token(t *testing.T, id, secret string, params url.Values) string {
	t.Helper()
	if params == nil {
		params = url.Values{}
	}
	params.Set("grant_type", "client_credentials")
	req, _ := http.NewRequest(http.MethodPost, s.base+"/oauth/token", strings.NewReader(params.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK || body.AccessToken == "" {
		t.Fatalf("token for %s: status %d, err %v", id, resp.StatusCode, err)
	}
	return body.AccessToken
}

// cred is how a request authenticates: "Bearer <token>", "Basic id:secret"
// or nothing.
type cred struct{ bearer, basicID, basicSecret string }

func bearer(tok string) cred       { return cred{bearer: tok} }
func basic(id, secret string) cred { return cred{basicID: id, basicSecret: secret} }
func (c cred) apply(req *http.Request) {
	switch {
	case c.bearer != "":
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	case c.basicID != "":
		req.SetBasicAuth(c.basicID, c.basicSecret)
	}
}

type call struct {
	name       string
	method     string
	path       string
	cred       cred
	wantStatus int
	wantAuth   []string // WWW-Authenticate values, in order; nil: none
	wantBody   string   // a substring of the body
	wantReason string   // the reason code in the access log
}

func (s *server) check(t *testing.T, c call) {
	t.Helper()
	var body io.Reader
	if c.method == http.MethodPost {
		body = strings.NewReader(`{"title":"from the test"}`)
	}
	req, _ := http.NewRequest(c.method, s.base+c.path, body)
	c.cred.apply(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != c.wantStatus {
		t.Errorf("status = %d, want %d (body %s)", resp.StatusCode, c.wantStatus, b)
	}
	if got := resp.Header.Values("WWW-Authenticate"); strings.Join(got, "\n") != strings.Join(c.wantAuth, "\n") {
		t.Errorf("WWW-Authenticate = %q, want %q", got, c.wantAuth)
	}
	if !strings.Contains(string(b), c.wantBody) {
		t.Errorf("body = %s, want it to contain %s", b, c.wantBody)
	}
	line := "method=" + c.method + " path=" + c.path + " status=" + strconv.Itoa(c.wantStatus) + " reason=" + c.wantReason
	if !s.stderr.waitFor(line) {
		t.Errorf("access log lacks %q; log:\n%s", line, s.stderr)
	}
}

const (
	bearerChallenge = `Bearer realm="api"`
	dpopChallenge   = `DPoP realm="api", algs="ES256 ES384 ES512 EdDSA PS256 PS384 PS512 RS256 RS384 RS512"` // DPoP is allowed on every Bearer route
	basicChallenge  = `Basic realm="api", charset="UTF-8"`
)

func TestDemoRoutes(t *testing.T) {
	s := start(t)
	reader := s.token(t, "demo-reader", "demo-reader-secret", nil)
	writer := s.token(t, "demo-writer", "demo-writer-secret", nil)
	alice := s.token(t, "demo-impersonator", "demo-impersonator-secret", url.Values{"act_as": {"alice"}})
	bob := s.token(t, "demo-impersonator", "demo-impersonator-secret", url.Values{"act_as": {"bob"}})
	directory := basic("demo-directory", "demo-directory-secret")
	scopeChallenge := func(scope string) []string {
		return []string{`Bearer realm="api", error="insufficient_scope", scope="` + scope + `"`}
	}
	calls := []call{
		{"healthz", "GET", "/healthz", cred{}, 200, nil, `"ok"`, "-"},
		{"entries without a token", "GET", "/entries", cred{}, 401, []string{bearerChallenge, dpopChallenge}, `"unauthorized"`, "missing_credentials"},
		{"entries with a bad token", "GET", "/entries", bearer(reader[:len(reader)-4] + "AAAA"), 401,
			[]string{`Bearer realm="api", error="invalid_token", error_description="The access token signature is invalid"`}, "invalid_token", "bad_signature"},
		{"entries", "GET", "/entries", bearer(reader), 200, nil, "Hello, warden", "ok"},
		{"entries with Basic", "GET", "/entries", directory, 401, []string{bearerChallenge, dpopChallenge}, "", "unsupported_scheme"},
		{"create, read-only token", "POST", "/entries", bearer(reader), 403, scopeChallenge("Entry_Write"), "insufficient_scope", "insufficient_scope"},
		{"create", "POST", "/entries", bearer(writer), 201, nil, `"created_by":"demo-writer"`, "ok"},
		{"create as bob", "POST", "/entries", bearer(bob), 201, nil, `"created_by":"bob","acting_client":"demo-impersonator"`, "ok"},
		{"create as alice", "POST", "/entries", bearer(alice), 403, scopeChallenge("Entry_Write"), "", "insufficient_scope"},
		{"entries as alice", "GET", "/entries", bearer(alice), 200, nil, "from the test", "ok"},
		{"contenttypes", "GET", "/contenttypes", bearer(reader), 200, nil, "blogPost", "ok"},
		{"contenttypes as alice", "GET", "/contenttypes", bearer(alice), 403, scopeChallenge("ContentType_Read"), "", "insufficient_scope"},
		{"projects without the scopes", "GET", "/projects", bearer(writer), 403, scopeChallenge("Project_Read Project_Admin"), "", "insufficient_scope"},
		{"whoami without credentials", "GET", "/whoami", cred{}, 401, []string{bearerChallenge, dpopChallenge, basicChallenge}, "", "missing_credentials"},
		{"whoami, Bearer", "GET", "/whoami", bearer(reader), 200, nil, `"subject":"demo-reader","client_id":"demo-reader","scopes":["Entry_Read","ContentType_Read"],"scheme":"Bearer","actor":null`, "ok"},
		{"whoami, impersonated", "GET", "/whoami", bearer(bob), 200, nil, `"subject":"bob","client_id":"demo-impersonator","scopes":["Entry_Read","Entry_Write"],"scheme":"Bearer","actor":{"sub":"demo-impersonator"}`, "ok"},
		{"whoami, Basic", "GET", "/whoami", directory, 200, nil, `"subject":"demo-directory","client_id":"demo-directory","scopes":["Organisation_Read"],"scheme":"Basic","actor":null`, "ok"},
		{"whoami, wrong secret", "GET", "/whoami", basic("demo-directory", "not-the-secret"), 401, []string{basicChallenge}, "invalid_client", "basic_invalid"},
		{"organisations", "GET", "/organisations", directory, 200, nil, "Example Organisation", "ok"},
		{"organisations, other client", "GET", "/organisations", basic("demo-reader", "demo-reader-secret"), 403, nil, "insufficient_scope", "insufficient_scope"},
		{"organisations, unknown client", "GET", "/organisations", basic("nobody", "demo-directory-secret"), 401, []string{basicChallenge}, "", "basic_invalid"},
		{"organisations with a token", "GET", "/organisations", bearer(reader), 401, []string{basicChallenge}, "", "unsupported_scheme"},
		{"organisations without credentials", "GET", "/organisations", cred{}, 401, []string{basicChallenge}, "", "missing_credentials"},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) { s.check(t, c) })
	}
	for _, secret := range []string{reader, writer, bob, alice, "demo-reader-secret", "demo-directory-secret", "not-the-secret"} {
		if strings.Contains(s.stderr.String(), secret) {
			t.Errorf("the access log contains a token or a secret")
		}
	}
	if strings.Contains(s.stdout.String(), reader) {
		t.Error("stdout contains a token")
	}
}

// TestIssuerMode trusts an external issuer, by discovery and by JWKS URL,
// with the Basic clients from a file; tokens are minted with any scopes.
func TestIssuerMode(t *testing.T) {
	iss := wardentest.NewIssuer(t)
	iss.Audience = "https://orders.example"
	hash, err := bcrypt.GenerateFromPassword([]byte("file-secret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "clients.json")
	clients, _ := json.Marshal([]clientstore.Client{{ID: "from-file", SecretHash: string(hash), Scopes: []string{"Organisation_Read"}}})
	if err := os.WriteFile(file, clients, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, extra := range map[string][]string{"discovery": nil, "jwks": {"-jwks", iss.JWKSURL()}} {
		t.Run(name, func(t *testing.T) {
			s := start(t, append([]string{"-issuer", iss.URL, "-audience", iss.Audience, "-realm", "orders", "-basic-clients", file}, extra...)...)
			if strings.Contains(s.stdout.String(), "demo-reader") {
				t.Error("issuer mode printed the demo credentials")
			}
			for _, c := range []call{
				{"projects, Project_Read", "GET", "/projects", bearer(iss.Scoped("Project_Read")), 200, nil, "Website", "ok"},
				{"projects, Project_Admin", "GET", "/projects", bearer(iss.Scoped("Project_Admin")), 200, nil, "Website", "ok"},
				{"projects, neither", "GET", "/projects", bearer(iss.Scoped("Entry_Read")), 403,
					[]string{`Bearer realm="orders", error="insufficient_scope", scope="Project_Read Project_Admin"`}, "", "insufficient_scope"},
				{"wrong audience", "GET", "/entries", bearer(iss.Mint(wardentest.Token{Claims: wardentest.Claims{"aud": wardentest.DefaultAudience, "scope": "Entry_Read"}})), 401,
					[]string{`Bearer realm="orders", error="invalid_token", error_description="The access token is not intended for this resource"`}, "", "wrong_audience"},
				{"file client", "GET", "/organisations", basic("from-file", "file-secret"), 200, nil, "Example", "ok"},
				{"demo client is gone", "GET", "/organisations", basic("demo-directory", "demo-directory-secret"), 401, []string{`Basic realm="orders", charset="UTF-8"`}, "", "basic_invalid"},
				{"no token endpoint", "POST", "/oauth/token", cred{}, 404, nil, "", "-"},
			} {
				t.Run(c.name, func(t *testing.T) { s.check(t, c) })
			}
		})
	}
}

// TestIssuerModeNoDemoSecrets: outside demo mode the public demo secrets
// never authenticate, also when no -basic-clients file is given (issue 10,
// defect 14): only the file may define Basic clients.
func TestIssuerModeNoDemoSecrets(t *testing.T) {
	iss := wardentest.NewIssuer(t)
	s := start(t, "-issuer", iss.URL, "-audience", iss.Audience)
	for _, c := range demoClients {
		for _, path := range []string{"/organisations", "/whoami"} {
			s.check(t, call{c.id + " " + path, "GET", path, basic(c.id, c.secret), 401,
				[]string{`Basic realm="api", charset="UTF-8"`}, "", "basic_invalid"})
		}
	}
	s.check(t, call{"bearer still works", "GET", "/whoami", bearer(iss.Scoped("Entry_Read")), 200, nil, "user-1", "ok"})
}

// TestStartupErrors covers every way run refuses to start.
func TestStartupErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	_ = os.WriteFile(bad, []byte(`{"client_id": "x"}`), 0o600)
	weak := filepath.Join(dir, "weak.json")
	_ = os.WriteFile(weak, []byte(`[{"client_id": "x", "secret_hash": "plain", "scopes": []}]`), 0o600)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"-port", "1"}, "flag provided but not defined: -port"},
		{"issuer without audience", []string{"-issuer", "https://idp.example"}, "-audience is required with -issuer"},
		{"jwks without issuer", []string{"-jwks", "https://idp.example/jwks"}, "-jwks needs -issuer"},
		{"extra argument", []string{"serve"}, `unexpected argument "serve"`},
		{"missing clients file", []string{"-basic-clients", filepath.Join(dir, "none.json")}, "no such file"},
		{"clients file not a list", []string{"-basic-clients", bad}, "-basic-clients"},
		{"clients file with a bad hash", []string{"-basic-clients", weak}, "bcrypt or argon2id"},
		{"bad address", []string{"-addr", "127.0.0.1:notaport"}, "listen tcp"},
		{"unreachable issuer", []string{"-issuer", "http://127.0.0.1:1", "-audience", "a"}, "127.0.0.1:1"},
		{"plain-http issuer", []string{"-issuer", "http://idp.example", "-audience", "a"}, "https"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			args := append([]string{"-addr", "127.0.0.1:0"}, tt.args...)
			err := run(context.Background(), args, &out, &errOut)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run(%q) = %v, want an error containing %q", tt.args, err, tt.want)
			}
			if strings.Contains(out.String(), "listening on") {
				t.Error("printed 'listening on' although it did not start")
			}
			if errOut.Len() != 0 {
				t.Errorf("stderr = %q, want nothing: main reports the error in one line", errOut.String())
			}
		})
	}
}

// TestExitStatus runs main in a child process: a bad flag exits 1 with one
// line on stderr.
func TestExitStatus(t *testing.T) {
	if os.Getenv("RESOURCESERVER_MAIN") == "1" {
		os.Args = append([]string{"resourceserver"}, strings.Fields(os.Getenv("RESOURCESERVER_ARGS"))...)
		main()
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestExitStatus$")
	cmd.Env = append(os.Environ(), "RESOURCESERVER_MAIN=1", "RESOURCESERVER_ARGS=-addr 127.0.0.1:0 -audience")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit = %v, want status 1", err)
	}
	if got := stderr.String(); got != "resourceserver: flag needs an argument: -audience\n" {
		t.Errorf("stderr = %q, want one line naming the flag", got)
	}
}

// TestDemoSecretHashes checks the precomputed hashes match the documented
// secrets.
func TestDemoSecretHashes(t *testing.T) {
	store, err := clientstore.New(demoBasicClients())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range demoClients {
		if _, err := store.VerifyClient(context.Background(), c.id, c.secret); err != nil {
			t.Errorf("%s: the secret does not match its hash: %v", c.id, err)
		}
	}
}

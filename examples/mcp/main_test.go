package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// demoServer starts the example on loopback, its log in a buffer.
type demoServer struct {
	base string
	logs *syncBuffer
}

func startDemo(t *testing.T) *demoServer {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	d := &demoServer{base: "http://" + srv.Listener.Addr().String(), logs: &syncBuffer{}}
	h, mw, err := newDemo(d.base, slog.New(slog.NewTextHandler(d.logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mw.Close() })
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(srv.Close)
	return d
}

// exchange is one HTTP response the client saw.
type exchange struct {
	status    int
	challenge []string
}

// recorder is the client's transport: it attaches the client's token
// (golang.org/x/oauth2/clientcredentials, at the demo's token endpoint)
// and records every response.
type recorder struct {
	base http.RoundTripper
	mu   sync.Mutex
	seen []exchange
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	if err == nil {
		r.mu.Lock()
		r.seen = append(r.seen, exchange{resp.StatusCode, resp.Header.Values("WWW-Authenticate")})
		r.mu.Unlock()
	}
	return resp, err
}

// refusal returns the last refusal seen (the client may send more after
// it, such as the DELETE that ends its session).
func (r *recorder) refusal() exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.seen) - 1; i >= 0; i-- {
		if r.seen[i].status >= 400 {
			return r.seen[i]
		}
	}
	return exchange{}
}

// connect opens an MCP session with the SDK's own client, as client id
// (no token when id is empty).
func (d *demoServer) connect(t *testing.T, id string) (*mcp.ClientSession, *recorder, error) {
	t.Helper()
	rec := &recorder{base: http.DefaultTransport}
	if id != "" {
		cc := clientcredentials.Config{ClientID: id, ClientSecret: id + "-secret", TokenURL: d.base + "/oauth/token"}
		rec.base = &oauth2.Transport{Source: cc.TokenSource(context.Background()), Base: http.DefaultTransport}
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "v0"}, nil)
	cs, err := client.Connect(context.Background(), &mcp.StreamableClientTransport{
		Endpoint: d.base + "/mcp", HTTPClient: &http.Client{Transport: rec}, DisableStandaloneSSE: true, MaxRetries: -1}, nil)
	if err == nil {
		t.Cleanup(func() { _ = cs.Close() })
	}
	return cs, rec, err
}

// TestMCP drives the server with the SDK's client: the metadata, a session
// without a token, tools each client may and may not call.
func TestMCP(t *testing.T) {
	d := startDemo(t)
	metadataURL := d.base + "/.well-known/oauth-protected-resource/mcp"
	bare := `Bearer realm="api", resource_metadata="` + metadataURL + `"`

	t.Run("metadata", func(t *testing.T) {
		resp, err := http.Get(metadataURL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var md struct {
			Resource             string   `json:"resource"`
			AuthorizationServers []string `json:"authorization_servers"`
			ScopesSupported      []string `json:"scopes_supported"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&md); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%d, %v", resp.StatusCode, err)
		}
		if md.Resource != d.base+"/mcp" || !slices.Equal(md.AuthorizationServers, []string{d.base}) ||
			!slices.Equal(md.ScopesSupported, []string{"entries:read", "entries:write", "mcp:whoami"}) {
			t.Errorf("metadata %+v", md)
		}
	})

	t.Run("no token", func(t *testing.T) {
		_, rec, err := d.connect(t, "")
		if err == nil {
			t.Fatal("a session without a token")
		}
		if got := rec.refusal(); got.status != http.StatusUnauthorized || !slices.Equal(got.challenge, []string{bare}) {
			t.Errorf("got %+v, want 401 %q", got, bare)
		}
	})

	t.Run("reader", func(t *testing.T) {
		cs, rec, err := d.connect(t, "mcp-reader")
		if err != nil {
			t.Fatal(err)
		}
		tools, err := cs.ListTools(context.Background(), nil)
		if err != nil || len(tools.Tools) != 3 {
			t.Fatalf("tools %v, %v", tools, err)
		}
		res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "whoami"})
		if err != nil || res.IsError {
			t.Fatalf("whoami: %v %+v", err, res)
		}
		who, _ := json.Marshal(res.StructuredContent)
		if !strings.Contains(string(who), `"subject":"mcp-reader"`) {
			t.Errorf("whoami: %s", who)
		}
		if res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "list_entries"}); err != nil || res.IsError {
			t.Fatalf("list_entries: %v %+v", err, res)
		}
		before := strings.Count(d.logs.String(), "reason=insufficient_scope")
		_, err = cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "delete_entry", Arguments: map[string]any{"id": "1"}})
		want := []string{`Bearer realm="api", resource_metadata="` + metadataURL + `", error="insufficient_scope", scope="entries:write"`}
		if got := rec.refusal(); err == nil || got.status != http.StatusForbidden || !slices.Equal(got.challenge, want) {
			t.Errorf("delete_entry: %v, %+v; want 403 %q", err, got, want)
		}
		if n := strings.Count(d.logs.String(), "reason=insufficient_scope") - before; n != 1 {
			t.Errorf("%d insufficient_scope decisions, want 1", n)
		}
	})

	t.Run("editor", func(t *testing.T) {
		cs, _, err := d.connect(t, "mcp-editor")
		if err != nil {
			t.Fatal(err)
		}
		res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "delete_entry", Arguments: map[string]any{"id": "1"}})
		if err != nil || res.IsError {
			t.Fatalf("delete_entry: %v %+v", err, res)
		}
	})

	t.Run("batches and repeated names are checked", func(t *testing.T) {
		tok, err := (&clientcredentials.Config{ClientID: "mcp-reader", ClientSecret: "mcp-reader-secret",
			TokenURL: d.base + "/oauth/token"}).Token(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, body := range []string{
			`[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami"}},` +
				`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"delete_entry","arguments":{"id":"1"}}}]`,
			`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","name":"delete_entry"}}`,
		} {
			req, _ := http.NewRequest(http.MethodPost, d.base+"/mcp", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s: %d, want 403", body, resp.StatusCode)
			}
		}
	})

	if strings.Contains(d.logs.String(), "Bearer ey") {
		t.Error("a token in the log")
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestToolHandlersCheckAgain: each tool handler checks its scope itself,
// whatever reached it; a test kit principal stands in for the request's.
func TestToolHandlersCheckAgain(t *testing.T) {
	t.Parallel()
	iss := wardentest.NewIssuer(t)
	mw, err := warden.New(iss.StaticConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer mw.Close()
	ctx, err := iss.WithPrincipal(context.Background(), wardentest.Token{Claims: wardentest.Claims{"scope": "entries:read"}})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := warden.PrincipalFrom(ctx)
	req := func(ti *auth.TokenInfo) *mcp.CallToolRequest {
		return &mcp.CallToolRequest{Extra: &mcp.RequestExtra{TokenInfo: ti}}
	}
	withP := req(&auth.TokenInfo{Extra: map[string]any{principalKey: p}})
	if got, err := caller(ctx, mw, withP, "list_entries"); err != nil || got != p {
		t.Errorf("list_entries: %v, %v", got, err)
	}
	if _, err := caller(ctx, mw, withP, "delete_entry"); err == nil || err.Error() != "insufficient_scope: The request requires higher privileges than provided by the access token" {
		t.Errorf("delete_entry: %v", err)
	}
	if _, err := caller(ctx, mw, req(nil), "list_entries"); err == nil || !strings.HasPrefix(err.Error(), "unauthorized: ") {
		t.Errorf("no principal: %v", err)
	}
}

// TestRun starts the command on a free port and stops it.
func TestRun(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	out, errOut := &syncBuffer{}, &syncBuffer{}
	done := make(chan int)
	go func() { done <- run(ctx, []string{"-addr", "127.0.0.1:0"}, out, errOut) }()
	for !strings.Contains(out.String(), "listening on ") {
		select {
		case code := <-done:
			t.Fatalf("exited %d: %s", code, errOut.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	if code := <-done; code != 0 || !strings.Contains(out.String(), "client mcp-reader:mcp-reader-secret") {
		t.Errorf("exit %d, output %s", code, out.String())
	}
}

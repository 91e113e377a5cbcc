package interop

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/wardenhq/warden"
)

// interopAudience is the resource oidc-provider issues its tokens for
// (server.js).
const interopAudience = "https://api.interop.test"

// skipOrFail skips a test whose server cannot be had, except under CI,
// where the server is installed by .ci/run and its absence is a failure.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// startOIDCProvider runs interop/oidc-provider/server.js on a free port of
// 127.0.0.1 until the test ends, and returns its issuer URL.
func startOIDCProvider(t *testing.T, env ...string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		skipOrFail(t, "node is not installed: %v", err)
	}
	dir, _ := filepath.Abs("oidc-provider")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "oidc-provider")); err != nil {
		skipOrFail(t, "oidc-provider is not installed: run npm ci in %s", dir)
	}
	cmd := exec.Command(node, "server.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), append([]string{"PORT=0"}, env...)...)
	stdin, err := cmd.StdinPipe() // server.js stops when it closes, even if this process dies
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &prefixWriter{t: t, prefix: "oidc-provider: "}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				found <- u
			}
		}
	}()
	select {
	case u := <-found:
		return u
	case <-time.After(60 * time.Second):
		t.Fatal("oidc-provider printed no 'listening on' line within 60 s")
	}
	return ""
}

// prefixWriter logs lines through t with a prefix, except oidc-provider's
// fixed warnings about development settings.
type prefixWriter struct {
	t      *testing.T
	prefix string
	mu     sync.Mutex
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for line := range strings.SplitSeq(strings.TrimSpace(string(p)), "\n") {
		if line != "" && !strings.HasPrefix(line, "oidc-provider WARNING") {
			w.t.Log(w.prefix + line)
		}
	}
	return len(p), nil
}

// offsetClock is the real time plus an offset a test can move forward.
type offsetClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *offsetClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *offsetClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// status sends token to handler h and returns the status and the reason
// warden decided on.
func status(t *testing.T, h http.Handler, token string, reasons *reasonLog) (int, warden.Reason) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/entries", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code, reasons.last()
}

// reasonLog keeps the last decision's reason.
type reasonLog struct {
	mu     sync.Mutex
	reason warden.Reason
}

func (l *reasonLog) hook(_ context.Context, d warden.Decision) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reason = d.Reason
}

func (l *reasonLog) last() warden.Reason {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.reason
}

// TestOIDCProviderIntrospection: warden admits and refuses oidc-provider's
// opaque access tokens by introspection, with every client authentication
// method both support and with RFC 9701 signed answers, the endpoint and
// keys found by discovery; a token revoked at oidc-provider (RFC 7009) is
// refused once the cached answer is older than CacheTTL.
func TestOIDCProviderIntrospection(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwk, _ := json.Marshal(map[string]string{
		"kty": "EC", "crv": "P-256", "kid": "warden-rs-key", "use": "sig", "alg": "ES256",
		"x": base64.RawURLEncoding.EncodeToString(key.X.FillBytes(make([]byte, 32))),
		"y": base64.RawURLEncoding.EncodeToString(key.Y.FillBytes(make([]byte, 32))),
	})
	issuer := startOIDCProvider(t, "WARDEN_RS_JWK="+string(jwk))
	ctx := context.Background()
	cc := clientcredentials.Config{ClientID: "interop-client", ClientSecret: "interop-client-secret",
		TokenURL: issuer + "/token", Scopes: []string{"Entry_Read"}}
	token := func(t *testing.T) string {
		t.Helper()
		tok, err := cc.Token(ctx)
		if err != nil {
			t.Fatalf("client credentials grant at oidc-provider: %v", err)
		}
		if strings.Count(tok.AccessToken, ".") == 2 {
			t.Fatalf("oidc-provider issued a JWT, want an opaque token")
		}
		return tok.AccessToken
	}
	for _, tc := range []struct {
		name string
		in   warden.Introspection
	}{
		{"client_secret_basic", warden.Introspection{ClientID: "warden-rs", ClientSecret: "warden-rs-secret"}},
		{"client_secret_post", warden.Introspection{ClientID: "warden-rs-post", ClientSecret: "warden-rs-post-secret", AuthMethod: "client_secret_post"}},
		{"private_key_jwt", warden.Introspection{ClientID: "warden-rs-jwt", PrivateKey: key, KeyID: "warden-rs-key"}},
		{"signed answers (RFC 9701)", warden.Introspection{ClientID: "warden-rs-signed", ClientSecret: "warden-rs-signed-secret", SignedResponse: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := &offsetClock{}
			reasons := &reasonLog{}
			mw, err := warden.New(warden.Config{
				Issuers:    []warden.IssuerConfig{{URL: issuer, Audience: interopAudience, Introspection: tc.in}},
				Now:        clock.Now,
				OnDecision: reasons.hook,
				Logger:     slog.New(slog.NewTextHandler(&prefixWriter{t: t, prefix: "warden: "}, nil)),
			})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			defer mw.Close()
			ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
			read, write := mw.Require(warden.Scopes("Entry_Read"))(ok), mw.Require(warden.Scopes("ContentType_Read"))(ok)
			tok := token(t)
			for _, c := range []struct {
				name   string
				h      http.Handler
				token  string
				status int
				reason warden.Reason
			}{
				{"granted scope", read, tok, 204, warden.ReasonOK},
				{"scope not granted, cached answer", write, tok, 403, warden.ReasonInsufficientScope},
				{"unknown token", read, "not-an-oidc-provider-token", 401, warden.ReasonTokenInactive},
			} {
				if s, r := status(t, c.h, c.token, reasons); s != c.status || r != c.reason {
					t.Errorf("%s: got %d %s, want %d %s", c.name, s, r, c.status, c.reason)
				}
			}
			// RFC 7009 revocation at oidc-provider, by the client the token
			// was issued to.
			form := url.Values{"token": {tok}, "token_type_hint": {"access_token"}}
			req, _ := http.NewRequest(http.MethodPost, issuer+"/token/revocation", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth("interop-client", "interop-client-secret")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("revocation at oidc-provider: status %d", resp.StatusCode)
			}
			if s, r := status(t, read, tok, reasons); s != 204 {
				t.Errorf("revoked, cached answer within CacheTTL: got %d %s, want 204 (the accepted delay)", s, r)
			}
			clock.Advance(30 * time.Second) // the default CacheTTL
			if s, r := status(t, read, tok, reasons); s != 401 || r != warden.ReasonTokenInactive {
				t.Errorf("revoked, CacheTTL passed: got %d %s, want 401 token_inactive", s, r)
			}
		})
	}
}

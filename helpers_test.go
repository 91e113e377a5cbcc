package warden_test

import (
	"bytes"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/clientstore"
	"github.com/wardenhq/warden/wardentest"
)

// testClock is an injectable clock for Config.Now and Issuer.SetClock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock { return &testClock{t: time.Unix(1_800_000_000, 0)} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// syncBuffer collects log output from concurrent writers for assertions.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testClients is a Basic client store shared by the tests: bcrypt is slow
// by design, so the hashes are computed once.
var testClients = sync.OnceValue(func() *clientstore.Store {
	hash := func(s string) string {
		h, err := clientstore.Hash(s)
		if err != nil {
			panic(err)
		}
		return h
	}
	store, err := clientstore.New([]clientstore.Client{
		{ID: "dir-client", SecretHash: hash("dir-secret"), Scopes: []string{"Organisation_Read"}},
		{ID: "plain-client", SecretHash: hash("plain-secret")},
	})
	if err != nil {
		panic(err)
	}
	return store
})

func basicAuth(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
}

// fixture is an issuer on loopback, a clock shared by issuer and
// middleware, and the middleware built from cfg.
type fixture struct {
	iss   *wardentest.Issuer
	clock *testClock
	mw    *warden.Middleware
}

// newFixture starts an issuer and builds a middleware trusting it. The
// keys are fetched from the issuer's JWKS over loopback.
func newFixture(t *testing.T, mutate func(*warden.Config, *wardentest.Issuer)) *fixture {
	t.Helper()
	f := &fixture{iss: wardentest.NewIssuer(t), clock: newTestClock()}
	f.iss.SetClock(f.clock.Now)
	cfg := warden.Config{
		Issuers: []warden.IssuerConfig{{
			URL:      f.iss.URL,
			Audience: f.iss.Audience,
			JWKSURL:  f.iss.JWKSURL(),
		}},
		Clients: testClients(),
		Now:     f.clock.Now,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if mutate != nil {
		mutate(&cfg, f.iss)
	}
	mw, err := warden.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = mw.Close() })
	f.mw = mw
	return f
}

// echoPrincipal answers 200 with the principal as JSON.
var echoPrincipal = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	p, ok := warden.PrincipalFrom(r.Context())
	if !ok {
		http.Error(w, "no principal", http.StatusInternalServerError)
		return
	}
	b, _ := p.MarshalJSON()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
})

// request describes one request of a table test.
type request struct {
	method string
	path   string
	auth   []string // Authorization field lines
	body   string   // form body
}

func (rq request) do(h http.Handler) *httptest.ResponseRecorder {
	method := rq.method
	if method == "" {
		method = http.MethodGet
	}
	var body io.Reader
	if rq.body != "" {
		body = strings.NewReader(rq.body)
	}
	r := httptest.NewRequest(method, "http://api.test"+rq.path, body)
	if rq.body != "" {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, a := range rq.auth {
		r.Header.Add("Authorization", a)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// Expected challenges and bodies, spelled out as the wire shows them.
const (
	bareBearer = `Bearer realm="api"`
	bareDPoP   = `DPoP realm="api", algs="ES256 ES384 ES512 EdDSA PS256 PS384 PS512 RS256 RS384 RS512"` // issue 12: DPoP is allowed beside Bearer by default
	bareBasic  = `Basic realm="api", charset="UTF-8"`
	bodyAuthn  = `{"error":"unauthorized","error_description":"Authentication is required"}` + "\n"
	bodyBasic  = `{"error":"invalid_client","error_description":"Client authentication failed"}` + "\n"
	bodyScope  = `{"error":"insufficient_scope","error_description":"The request requires higher privileges than provided by the access token"}` + "\n"
	bodyReq    = `{"error":"invalid_request","error_description":"The request is malformed"}` + "\n"
)

func tokChallenge(desc string) string {
	return `Bearer realm="api", error="invalid_token", error_description="` + desc + `"`
}

func tokBody(desc string) string {
	return `{"error":"invalid_token","error_description":"` + desc + `"}` + "\n"
}

func reqChallenge() string {
	return `Bearer realm="api", error="invalid_request", error_description="The request is malformed"`
}

func scopeChallenge(scopes string) string {
	return `Bearer realm="api", error="insufficient_scope", scope="` + scopes + `"`
}

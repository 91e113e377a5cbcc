package conformance_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/gin-gonic/gin"
	"github.com/go-chi/chi/v5"
	"github.com/labstack/echo/v4"
	"github.com/wardenhq/warden"
	wardenecho "github.com/wardenhq/warden/adapters/echo"
	wardengin "github.com/wardenhq/warden/adapters/gin"
	"github.com/wardenhq/warden/clientstore"
	"golang.org/x/crypto/bcrypt"
)

// Basic clients of every server.
const (
	directoryID     = "demo-directory"
	directorySecret = "demo-directory-secret"
	readerID        = "demo-reader"
	readerSecret    = "demo-reader-secret"
)

// clients hashes the secrets once per test binary, at bcrypt's minimum cost:
// every server pays a hash for each failed Basic check, and the cost factor
// changes nothing on the wire. (clientstore.Hash uses the default cost.)
var clients = sync.OnceValues(func() ([]clientstore.Client, error) {
	hash := func(secret string) (string, error) {
		b, err := bcrypt.GenerateFromPassword([]byte(secret), bcrypt.MinCost)
		return string(b), err
	}
	dir, err := hash(directorySecret)
	if err != nil {
		return nil, err
	}
	rd, err := hash(readerSecret)
	if err != nil {
		return nil, err
	}
	return []clientstore.Client{
		{ID: directoryID, SecretHash: dir, Scopes: []string{"Organisation_Read"}},
		{ID: readerID, SecretHash: rd, Scopes: []string{"Entry_Read"}},
	}, nil
})

func mustStore(t *testing.T, cs []clientstore.Client) *clientstore.Store {
	t.Helper()
	store, err := clientstore.New(cs)
	if err != nil {
		t.Fatalf("clientstore.New: %v", err)
	}
	return store
}

// routes are the protected routes every server exposes. Each framework
// mounts the same middleware values, built by one Middleware per server.
type routes struct {
	entries  func(http.Handler) http.Handler // Bearer, Entry_Read
	projects func(http.Handler) http.Handler // Bearer, any of Project_Read, Project_Admin
	whoami   func(http.Handler) http.Handler // Bearer or Basic, no scope
	orgs     func(http.Handler) http.Handler // Basic, Organisation_Read
}

func (r routes) byPath() map[string]func(http.Handler) http.Handler {
	return map[string]func(http.Handler) http.Handler{
		"/entries": r.entries, "/projects": r.projects, "/whoami": r.whoami, "/organisations": r.orgs,
	}
}

// decisionLog records the decisions of one server's Middleware.
type decisionLog struct {
	mu sync.Mutex
	ds []warden.Decision
}

func (l *decisionLog) hook(_ context.Context, d warden.Decision) {
	l.mu.Lock()
	l.ds = append(l.ds, d)
	l.mu.Unlock()
}

// take returns and forgets the decisions made so far.
func (l *decisionLog) take() []warden.Decision {
	l.mu.Lock()
	defer l.mu.Unlock()
	ds := l.ds
	l.ds = nil
	return ds
}

// withKeyfunc is cfg with every issuer's keys taken from a keyfunc.Keyfunc
// over jwksURL (github.com/MicahParks/keyfunc/v3) instead.
func withKeyfunc(t *testing.T, cfg warden.Config, jwksURL string) warden.Config {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel) // stops keyfunc's refresh goroutine
	kf, err := keyfunc.NewDefaultCtx(ctx, []string{jwksURL})
	if err != nil {
		t.Fatalf("keyfunc: %v", err)
	}
	cfg.Issuers = slices.Clone(cfg.Issuers)
	for i, ic := range cfg.Issuers {
		cfg.Issuers[i] = warden.IssuerConfig{URL: ic.URL, Audience: ic.Audience, ActAs: ic.ActAs, Keyfunc: kf.Keyfunc}
	}
	return cfg
}

func newRoutes(t *testing.T, cfg warden.Config, decisions *decisionLog) routes {
	t.Helper()
	cfg.OnDecision = decisions.hook
	cs, err := clients()
	if err != nil {
		t.Fatalf("hashing secrets: %v", err)
	}
	cfg.Clients = mustStore(t, cs)
	m, err := warden.New(cfg)
	if err != nil {
		t.Fatalf("warden.New: %v", err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return routes{
		entries:  m.Require(warden.Scopes("Entry_Read")),
		projects: m.Require(warden.AnyScope("Project_Read", "Project_Admin")),
		whoami:   m.Accept(warden.SchemeBearer, warden.SchemeBasic).Authenticate,
		orgs:     m.Accept(warden.SchemeBasic).Require(warden.Scopes("Organisation_Read")),
	}
}

// server is one framework's server and a count of requests its protected
// handler saw, which must stay zero for refusals.
type server struct {
	name      string
	url       string
	calls     *atomic.Int64
	decisions *decisionLog
}

// principalBody is what every protected handler answers: the principal it
// found, as JSON, so comparing bodies compares principals.
func principalBody(p *warden.Principal, ok bool) (int, []byte) {
	if !ok {
		return http.StatusInternalServerError, []byte("no principal\n")
	}
	b, err := json.Marshal(p)
	if err != nil {
		return http.StatusInternalServerError, []byte("principal does not marshal\n")
	}
	return http.StatusOK, b
}

func writeBody(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// startServers starts a server of each router with cfg, and a net/http
// one whose keys keyfunc fetches from jwksURL.
func startServers(t *testing.T, cfg warden.Config, jwksURL string) []server {
	t.Helper()
	gin.SetMode(gin.TestMode)
	builders := []struct {
		name  string
		build func(routes, *atomic.Int64) http.Handler
		cfg   warden.Config
	}{
		{"net/http", buildServeMux, cfg},
		{"chi", buildChi, cfg},
		{"gin", buildGin, cfg},
		{"echo", buildEcho, cfg},
		{"keyfunc", buildServeMux, withKeyfunc(t, cfg, jwksURL)},
	}
	var out []server
	for _, b := range builders {
		calls, decisions := new(atomic.Int64), new(decisionLog)
		srv := httptest.NewServer(b.build(newRoutes(t, b.cfg, decisions), calls)) // listens on 127.0.0.1
		t.Cleanup(srv.Close)
		out = append(out, server{name: b.name, url: srv.URL, calls: calls, decisions: decisions})
	}
	return out
}

func netHTTPHandler(calls *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		status, body := principalBody(warden.PrincipalFrom(r.Context()))
		writeBody(w, status, body)
	})
}

func buildServeMux(rs routes, calls *atomic.Int64) http.Handler {
	mux := http.NewServeMux()
	for path, mw := range rs.byPath() {
		mux.Handle("GET "+path, mw(netHTTPHandler(calls)))
	}
	return mux
}

func buildChi(rs routes, calls *atomic.Int64) http.Handler {
	r := chi.NewRouter()
	for path, mw := range rs.byPath() {
		r.With(mw).Get(path, netHTTPHandler(calls).ServeHTTP)
	}
	return r
}

func buildGin(rs routes, calls *atomic.Int64) http.Handler {
	r := gin.New()
	h := func(c *gin.Context) {
		calls.Add(1)
		p, ok := wardengin.Principal(c)
		if q, qok := warden.PrincipalFrom(c.Request.Context()); q != p || qok != ok {
			writeBody(c.Writer, http.StatusInternalServerError, []byte("accessor disagrees with PrincipalFrom\n"))
			return
		}
		status, body := principalBody(p, ok)
		writeBody(c.Writer, status, body)
	}
	for path, mw := range rs.byPath() {
		r.GET(path, wardengin.New(mw), h)
	}
	return r
}

func buildEcho(rs routes, calls *atomic.Int64) http.Handler {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	h := func(c echo.Context) error {
		calls.Add(1)
		p, ok := wardenecho.Principal(c)
		if q, qok := warden.PrincipalFrom(c.Request().Context()); q != p || qok != ok {
			writeBody(c.Response(), http.StatusInternalServerError, []byte("accessor disagrees with PrincipalFrom\n"))
			return nil
		}
		status, body := principalBody(p, ok)
		writeBody(c.Response(), status, body)
		return nil
	}
	for path, mw := range rs.byPath() {
		e.GET(path, h, wardenecho.New(mw))
	}
	return e
}

package warden_test

// The one harness of the root package's external tests. Everything a test
// needs beyond wardentest is here, once:
//
//   - a clock to inject (testClock) and a log capture (syncBuffer);
//   - waiting for background work by its events (refreshLog for key
//     refreshes, syncBuffer for log lines), eventually for the rest;
//   - RSA key material no issuer publishes (spareRSAKey, weakRSAKey),
//     generated once: RSA generation would otherwise dominate the run;
//   - building a Middleware (newMiddleware, fixture) and sending it requests
//     (request);
//   - the fixed response texts every refusal is checked against.
//
// JWK Set endpoints that fail on demand are wardentest.JWKSServer; tests
// that need unexported state go through export_test.go.

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

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

// waitBound bounds every wait for background work: a hung test fails
// instead of hanging, but no assertion depends on it.
const waitBound = 10 * time.Second

// changes lets a test wait for a condition on state that other goroutines
// change: each change calls changed, and wait re-checks the condition after
// every change instead of polling on a timer.
type changes struct {
	mu sync.Mutex
	ch chan struct{}
}

func (c *changes) changed() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch != nil {
		close(c.ch)
		c.ch = nil
	}
}

func (c *changes) wait(t testing.TB, what string, cond func() bool) {
	t.Helper()
	timeout := time.NewTimer(waitBound)
	defer timeout.Stop()
	for {
		c.mu.Lock()
		if c.ch == nil {
			c.ch = make(chan struct{})
		}
		ch := c.ch
		c.mu.Unlock()
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-timeout.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// eventually re-checks cond every millisecond until it holds, on the test's
// goroutine (cond may act, for example advance a clock and send a request).
// It is for conditions no event announces, such as a request reaching a
// server; prefer refreshLog.await and syncBuffer.await.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(waitBound); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// syncBuffer collects log output from concurrent writers for assertions.
type syncBuffer struct {
	changes
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	n, err := b.buf.Write(p)
	b.mu.Unlock()
	b.changed()
	return n, err
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// await waits until the output contains s.
func (b *syncBuffer) await(t testing.TB, s string) {
	t.Helper()
	b.wait(t, "a log line with "+s, func() bool { return strings.Contains(b.String(), s) })
}

// captureLogs returns a logger writing every record, debug included, as
// JSON to the buffer it returns.
func captureLogs() (*slog.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// refreshLog records the key refreshes a Middleware reports
// (KeySetPolicy.OnRefresh), so that a test waits for a background refresh
// instead of polling for its effect. OnRefresh runs once the refresh's
// outcome is in KeyStatus, before its log line is written.
type refreshLog struct {
	changes
	mu     sync.Mutex
	events []warden.KeyRefresh
}

// recordRefreshes makes cfg report its refreshes to the returned log.
func recordRefreshes(cfg *warden.Config) *refreshLog {
	r := &refreshLog{}
	cfg.KeySetPolicy.OnRefresh = r.hook
	return r
}

func (r *refreshLog) hook(ev warden.KeyRefresh) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
	r.changed()
}

// all returns the refreshes so far.
func (r *refreshLog) all() []warden.KeyRefresh {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]warden.KeyRefresh(nil), r.events...)
}

func (r *refreshLog) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

// await waits until n refreshes in all have been reported and returns the
// n-th.
func (r *refreshLog) await(t testing.TB, n int) warden.KeyRefresh {
	t.Helper()
	r.wait(t, "a key refresh", func() bool { return r.count() >= n })
	return r.all()[n-1]
}

// withKID returns k's key material under another kid.
func withKID(k *wardentest.Key, kid string) *wardentest.Key {
	return &wardentest.Key{ID: kid, Alg: k.Alg, Signer: k.Signer, Use: k.Use}
}

// spareRSA is RSA key material no issuer publishes, generated once for the
// whole test binary: an attacker's key, or one an issuer rotates to.
var spareRSA = sync.OnceValue(func() *wardentest.Key { return wardentest.NewRSAKey("") })

// spareRSAKey returns the spare RSA key under kid: it differs from every
// key of wardentest.NewIssuer and of the attack table, but all spare keys
// share their material, so never trust two of them and tell them apart.
func spareRSAKey(kid string) *wardentest.Key { return withKID(spareRSA(), kid) }

var weakRSA = sync.OnceValue(func() *wardentest.Key { return wardentest.NewRSAKeyBits("", 1024) })

// weakRSAKey returns a 1024-bit RSA key under kid, which warden refuses.
func weakRSAKey(kid string) *wardentest.Key { return withKID(weakRSA(), kid) }

// newClientStore returns a client store of clients whose SecretHash is the
// plain secret, hashed here with bcrypt.MinCost: what the tests check is
// warden's handling of a store, not the cost of a hash.
func newClientStore(clients ...clientstore.Client) *clientstore.Store {
	for i, c := range clients {
		h, err := bcrypt.GenerateFromPassword([]byte(c.SecretHash), bcrypt.MinCost)
		if err != nil {
			panic(err)
		}
		clients[i].SecretHash = string(h)
	}
	store, err := clientstore.New(clients)
	if err != nil {
		panic(err)
	}
	return store
}

// testClients is the Basic client store of the fixture.
var testClients = sync.OnceValue(func() *clientstore.Store {
	return newClientStore(clientstore.Client{ID: "dir-client", SecretHash: "dir-secret", Scopes: []string{"Organisation_Read"}})
})

// stubClients is a ClientVerifier without hashing: c1/s3cr3t is a valid
// client holding entry:read; "down" simulates an outage of the store.
type stubClients struct{}

func (stubClients) VerifyClient(_ context.Context, id, secret string) ([]string, error) {
	switch {
	case id == "c1" && secret == "s3cr3t":
		return []string{"entry:read"}, nil
	case id == "down":
		return nil, errors.New("client store unreachable: secret-cause-text")
	}
	return nil, warden.ErrInvalidClient
}

// basicAuth returns the Authorization value for Basic credentials, creds
// being the "id:secret" text exactly as the client sends it.
func basicAuth(creds string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(creds))
}

// b64 base64url-encodes s without padding, as a JWS segment.
func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// reasonOf returns the reason of a Verify error, ReasonOK for nil.
func reasonOf(err error) warden.Reason {
	if err == nil {
		return warden.ReasonOK
	}
	var we *warden.Error
	if errors.As(err, &we) {
		return we.Reason
	}
	return "not a *warden.Error"
}

// refusedURL returns a loopback URL on which connections are refused.
func refusedURL(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	u := "http://" + l.Addr().String()
	require.NoError(t, l.Close())
	return u
}

// hitCounter is a listener that must never be contacted, such as the URL a
// hostile token header or claim names; it counts what reaches it anyway.
type hitCounter struct {
	URL  string
	hits atomic.Int64
}

func newHitCounter(t testing.TB) *hitCounter {
	c := &hitCounter{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		c.hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"keys":[]}`))
	}))
	t.Cleanup(srv.Close)
	c.URL = srv.URL
	return c
}

// newMiddleware builds a Middleware from cfg and closes it when the test
// ends.
func newMiddleware(t testing.TB, cfg warden.Config) *warden.Middleware {
	t.Helper()
	mw, err := warden.New(cfg)
	require.NoError(t, err, "New")
	t.Cleanup(func() { _ = mw.Close() })
	return mw
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
		Logger:  slog.New(slog.DiscardHandler),
	}
	if mutate != nil {
		mutate(&cfg, f.iss)
	}
	f.mw = newMiddleware(t, cfg)
	return f
}

// echoPrincipal answers 200 with the principal as echoBody renders it.
var echoPrincipal = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	p, ok := warden.PrincipalFrom(r.Context())
	if !ok {
		http.Error(w, "no principal", http.StatusInternalServerError)
		return
	}
	var chain []string
	for a := p.Actor(); a != nil; a = a.Actor {
		chain = append(chain, a.Subject)
	}
	_ = json.NewEncoder(w).Encode(echo{Subject: p.Subject(), ClientID: p.ClientID(), Scheme: p.Scheme().String(), Actor: strings.Join(chain, ">")})
})

// echo is what echoPrincipal writes.
type echo struct {
	Subject  string `json:"sub"`
	ClientID string `json:"client_id"`
	Scheme   string `json:"scheme"`
	Actor    string `json:"actor"` // the actor chain, outermost first, joined by ">"
}

// echoBody is the exact body echoPrincipal writes for an admitted request.
func echoBody(sub, clientID, scheme, actor string) string {
	b, _ := json.Marshal(echo{Subject: sub, ClientID: clientID, Scheme: scheme, Actor: actor})
	return string(b) + "\n"
}

// noContent answers 204: a protected handler whose answer says nothing.
var noContent = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })

// request describes one request of a test.
type request struct {
	ctx    context.Context // default context.Background()
	method string          // default GET
	path   string          // with the query, if any
	auth   []string        // Authorization field lines; nil sends none
	header map[string]string
	body   string // form body
}

// bearerRequest is a GET request with the token in an Authorization field.
func bearerRequest(token string) request { return request{auth: []string{"Bearer " + token}} }

func (rq request) do(h http.Handler) *httptest.ResponseRecorder {
	method := cmp.Or(rq.method, http.MethodGet)
	var body io.Reader
	if rq.body != "" {
		body = strings.NewReader(rq.body)
	}
	r := httptest.NewRequestWithContext(cmp.Or(rq.ctx, context.Background()), method, "http://api.test"+rq.path, body)
	if rq.body != "" {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, a := range rq.auth {
		r.Header.Add("Authorization", a)
	}
	for k, v := range rq.header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// The fixed response texts, spelled out as the wire shows them, so that a
// change to any of them fails here. The realm is the default, "api".
const (
	descMalformed = "The access token is malformed"
	descTooLarge  = "The access token is too large"
	descAlg       = "The access token signing algorithm is not accepted"
	descHeader    = "The access token uses an unsupported header"
	descKID       = "The access token signing key is unknown"
	descSig       = "The access token signature is invalid"
	descType      = "The access token type is not accepted"
	descIssuer    = "The access token issuer is not trusted"
	descAudience  = "The access token is not intended for this resource"
	descExpired   = "The access token expired"
	descNotYet    = "The access token is not valid yet"
	descFuture    = "The access token was issued in the future"
	descLifetime  = "The access token lifetime exceeds the accepted maximum"
	descMissing   = "The access token lacks a required claim"
	descInvalid   = "The access token has an invalid claim"
	descImperson  = "The client is not permitted to act for this subject"

	bareBearer   = `Bearer realm="api"`
	bareDPoP     = `DPoP realm="api", algs="ES256 ES384 ES512 EdDSA PS256 PS384 PS512 RS256 RS384 RS512"` // issue 12: DPoP is allowed beside Bearer by default
	bareBasic    = `Basic realm="api", charset="UTF-8"`
	reqChallenge = `Bearer realm="api", error="invalid_request", error_description="The request is malformed"`
	impChallenge = `Bearer realm="api", error="insufficient_scope", error_description="` + descImperson + `"`

	bodyNone     = `{"error":"unauthorized","error_description":"Authentication is required"}` + "\n"
	bodyReq      = `{"error":"invalid_request","error_description":"The request is malformed"}` + "\n"
	bodyBasic    = `{"error":"invalid_client","error_description":"Client authentication failed"}` + "\n"
	bodyScope    = `{"error":"insufficient_scope","error_description":"The request requires higher privileges than provided by the access token"}` + "\n"
	bodyImperson = `{"error":"insufficient_scope","error_description":"` + descImperson + `"}` + "\n"
	bodyKeys     = `{"error":"temporarily_unavailable","error_description":"The access token cannot be verified right now"}` + "\n"
)

// bareBoth is the answer to no credentials on a route taking Bearer (and so
// DPoP, allowed by default) and Basic: one bare challenge per scheme.
var bareBoth = []string{bareBearer, bareDPoP, bareBasic}

// tokChallenge is the challenge of an invalid_token refusal.
func tokChallenge(desc string) []string {
	return []string{`Bearer realm="api", error="invalid_token", error_description="` + desc + `"`}
}

// tokBody is the body of an invalid_token refusal.
func tokBody(desc string) string {
	return `{"error":"invalid_token","error_description":"` + desc + `"}` + "\n"
}

// scopeChallenge is the challenge of an insufficient_scope refusal.
func scopeChallenge(scopes string) []string {
	return []string{`Bearer realm="api", error="insufficient_scope", scope="` + scopes + `"`}
}

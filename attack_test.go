package warden_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/clientstore"
	"github.com/wardenhq/warden/wardentest"
)

// The attack table (../shared/attack-table.md, rows A1..H18) as table
// tests. Each row asserts the status, every WWW-Authenticate line and the
// exact body, and for a refusal its Cache-Control and Content-Type. The fixture is the table's: realm "api", RSA-2048 k1 (RS256)
// and EC P-256 e1 (ES256), baseline token T0, route requiring entry:read,
// leeway 30 s, Basic client c1/s3cr3t on a route that accepts both schemes.
// Where our answer differs from the table's, the row's note says which issue
// decides it; SECURITY.md lists every [POLICY] decision.

// atkRow is one row of the attack table.
type atkRow struct {
	id         string             // the table's row id, with a suffix per variant ("D11b")
	note       string             // where and why we differ from the table
	auth       []string           // Authorization field lines; nil sends none
	header     map[string]string  // other request headers
	method     string             // default GET
	query      string             // raw query
	form       string             // form-urlencoded body
	require    []string           // route requirement; default entry:read
	variant    string             // fixture variant: "", "strict", "noleeway" or "noactas"
	mw         *warden.Middleware // when set, used instead of the variant
	status     int
	challenges []string // every WWW-Authenticate line, in order
	body       string   // the exact body
}

// The table's issuer and audience. The issuer identifier is plain http, as
// a loopback issuer's would be, for rows D12a..c to vary.
const (
	atkIssuer   = "http://issuer.attack.test"
	atkAudience = "https://api.attack.test"
)

// atkKeys are the table's k1 (RSA-2048, RS256) and e1 (EC P-256, ES256),
// generated once for the test binary: no test needs the keys of two
// fixtures to differ.
var atkKeys = sync.OnceValues(func() (*wardentest.Key, *wardentest.Key) {
	return wardentest.NewRSAKey("k1"), wardentest.NewECKey("e1")
})

// atkFixture holds the table's keys, clock and middlewares, and captures
// every log line and decision for leak_test.go.
type atkFixture struct {
	k1, e1 *wardentest.Key
	clock  *testClock
	mws    map[string]*warden.Middleware
	t0     string

	logger    *slog.Logger
	logs      *syncBuffer
	mu        sync.Mutex
	decisions []warden.Decision
}

// atkClients is the Basic client store: c1/s3cr3t and the clients of rows
// G6..G8, plus c2 which holds no permission.
var atkClients = sync.OnceValue(func() *clientstore.Store {
	read := []string{"entry:read"}
	return newClientStore(
		clientstore.Client{ID: "c1", SecretHash: "s3cr3t", Scopes: read},
		clientstore.Client{ID: "c:1", SecretHash: "pw", Scopes: read},
		clientstore.Client{ID: "c7", SecretHash: "a+b", Scopes: read},
		clientstore.Client{ID: "c8", SecretHash: "p@ss word", Scopes: read},
		clientstore.Client{ID: "c2", SecretHash: "other", Scopes: nil},
	)
})

// config is the table's configuration with the issuer's keys served
// statically; mutate adjusts it per variant.
func (fx *atkFixture) config(mutate func(*warden.Config)) warden.Config {
	cfg := warden.Config{
		Issuers: []warden.IssuerConfig{{
			URL:      atkIssuer,
			Audience: atkAudience,
			JWKS:     wardentest.JWKS(fx.k1, fx.e1),
			ActAs:    true, // rows F3, F8, F9, F11 use the vendor act_as claim
		}},
		Realm:   "api",
		Leeway:  30 * time.Second,
		Clients: atkClients(),
		Now:     fx.clock.Now,
		Logger:  fx.logger,
		OnDecision: func(_ context.Context, d warden.Decision) {
			fx.mu.Lock()
			fx.decisions = append(fx.decisions, d)
			fx.mu.Unlock()
		},
		Impersonation: warden.Impersonation{ // F rows: c1 may impersonate, c2 may not; user1 holds entry:read.
			Allow: func(_ context.Context, actor, _ string) bool { return actor == "c1" }, Permissions: func(_ context.Context, p *warden.Principal) ([]string, error) {
				if p.Subject() == "user1" {
					return []string{"entry:read"}, nil
				}
				return nil, nil
			}},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	return cfg
}

// newAtkFixture builds the table's middlewares, each variant trusting k1
// and e1, on a clock of their own.
func newAtkFixture(t *testing.T) *atkFixture {
	t.Helper()
	fx := &atkFixture{clock: newTestClock(), mws: map[string]*warden.Middleware{}}
	fx.logger, fx.logs = captureLogs()
	fx.k1, fx.e1 = atkKeys()
	for name, mutate := range map[string]func(*warden.Config){
		"":         nil,
		"strict":   func(c *warden.Config) { c.StrictRFC9068 = true },
		"noleeway": func(c *warden.Config) { c.Leeway, c.NoLeeway = 0, true },
		"noactas":  func(c *warden.Config) { c.Issuers[0].ActAs = false },
	} {
		fx.mws[name] = newMiddleware(t, fx.config(mutate))
	}
	fx.t0 = fx.token(nil, nil)
	return fx
}

// now is the injected clock of the fixture's middlewares and issuer.
func (fx *atkFixture) now() time.Time { return fx.clock.Now() }

// claims returns T0's claims: iss, aud, sub user1, client_id c1, iat now,
// exp now+300, a random jti and scope entry:read.
func (fx *atkFixture) claims() map[string]any {
	return map[string]any{
		"iss": atkIssuer, "aud": atkAudience, "sub": "user1", "client_id": "c1",
		"iat": fx.now().Unix(), "exp": fx.now().Unix() + 300, "jti": atkRandID(), "scope": "entry:read",
	}
}

// token signs T0 with k1 (e1 when the header names it) after applying the header and claim changes; a nil
// value deletes the member.
func (fx *atkFixture) token(header, claims map[string]any) string {
	h := map[string]any{"alg": "RS256", "typ": "at+jwt", "kid": "k1"}
	c := fx.claims()
	for _, p := range []struct{ dst, src map[string]any }{{h, header}, {c, claims}} {
		for k, v := range p.src {
			if v == nil {
				delete(p.dst, k)
			} else {
				p.dst[k] = v
			}
		}
	}
	key := fx.k1
	if h["kid"] == "e1" {
		key = fx.e1
	}
	return fx.signJSON(key, h, c)
}

func (fx *atkFixture) signJSON(k *wardentest.Key, header, claims map[string]any) string {
	hb, _ := json.Marshal(header)
	cb, _ := json.Marshal(claims)
	alg, _ := header["alg"].(string)
	return k.Sign(alg, hb, cb)
}

// claimsJSON renders T0's claims with changes, for string surgery.
func (fx *atkFixture) claimsJSON(changes map[string]any) string {
	c := fx.claims()
	for k, v := range changes {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	b, _ := json.Marshal(c)
	return string(b)
}

// atkRandID returns a random jti.
func atkRandID() string { return rand.Text() }

// handler returns the route a row is sent to.
func (fx *atkFixture) handler(row atkRow) http.Handler {
	mw := fx.mws[row.variant]
	if row.mw != nil {
		mw = row.mw
	}
	req := row.require
	if req == nil {
		req = []string{"entry:read"}
	}
	return mw.Accept(warden.SchemeBearer, warden.SchemeBasic).Require(warden.Scopes(req...))(echoPrincipal)
}

// serve sends a row's request to its route directly (no network).
func (fx *atkFixture) serve(row atkRow) *httptest.ResponseRecorder {
	path := "/x"
	if row.query != "" {
		path += "?" + row.query
	}
	return request{method: row.method, path: path, auth: row.auth, header: row.header, body: row.form}.do(fx.handler(row))
}

// atkCheck asserts a response against a row.
func atkCheck(t *testing.T, row atkRow, w *httptest.ResponseRecorder) {
	t.Helper()
	assert.Equal(t, row.status, w.Code, "status")
	assert.Equal(t, row.challenges, w.Header().Values("WWW-Authenticate"), "WWW-Authenticate")
	assert.Equal(t, row.body, w.Body.String(), "body")
	if row.status >= 400 {
		assert.Equal(t, "no-store", w.Header().Get("Cache-Control"), "Cache-Control")
		assert.Equal(t, "application/json", w.Header().Get("Content-Type"), "Content-Type")
		if row.status == http.StatusServiceUnavailable {
			assert.NotEmpty(t, w.Header().Get("Retry-After"), "503 without Retry-After")
		}
	}
}

// atkRun runs rows as subtests named by their row id.
func atkRun(t *testing.T, fx *atkFixture, rows []atkRow) {
	t.Helper()
	seen := map[string]bool{}
	for _, row := range rows {
		require.False(t, seen[row.id], "row id %s used twice", row.id)
		seen[row.id] = true
		t.Run(row.id, func(t *testing.T) {
			atkCheck(t, row, fx.serve(row))
		})
	}
}

package warden_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/clientstore"
	"github.com/wardenhq/warden/wardentest"
)

// The attack table (../shared/attack-table.md, rows A1..H18) as table
// tests. Each row asserts the status, every WWW-Authenticate line and the
// exact body. The fixture is the table's: realm "api", RSA-2048 k1 (RS256)
// and EC P-256 e1 (ES256), baseline token T0, route requiring entry:read,
// leeway 30 s, Basic client c1/s3cr3t on a route that accepts both schemes.
// Where our answer differs from the table's, the row's note says which issue
// decides it; SECURITY.md lists every [POLICY] decision.

// Fixed response texts, spelled out as the wire shows them, so a change to
// any of them fails here.
const (
	atkDescMalformed = "The access token is malformed"
	atkDescTooLarge  = "The access token is too large"
	atkDescAlg       = "The access token signing algorithm is not accepted"
	atkDescHeader    = "The access token uses an unsupported header"
	atkDescKID       = "The access token signing key is unknown"
	atkDescSig       = "The access token signature is invalid"
	atkDescType      = "The access token type is not accepted"
	atkDescIssuer    = "The access token issuer is not trusted"
	atkDescAudience  = "The access token is not intended for this resource"
	atkDescExpired   = "The access token expired"
	atkDescNotYet    = "The access token is not valid yet"
	atkDescFuture    = "The access token was issued in the future"
	atkDescLifetime  = "The access token lifetime exceeds the accepted maximum"
	atkDescMissing   = "The access token lacks a required claim"
	atkDescInvalid   = "The access token has an invalid claim"
	atkDescImperson  = "The client is not permitted to act for this subject"

	atkBareBearer = `Bearer realm="api"`
	atkBasic      = `Basic realm="api", charset="UTF-8"`
	atkReq        = `Bearer realm="api", error="invalid_request", error_description="The request is malformed"`

	atkBodyNone    = `{"error":"unauthorized","error_description":"Authentication is required"}` + "\n"
	atkBodyReq     = `{"error":"invalid_request","error_description":"The request is malformed"}` + "\n"
	atkBodyBasic   = `{"error":"invalid_client","error_description":"Client authentication failed"}` + "\n"
	atkBodyScope   = `{"error":"insufficient_scope","error_description":"The request requires higher privileges than provided by the access token"}` + "\n"
	atkBodyImperso = `{"error":"insufficient_scope","error_description":"` + atkDescImperson + `"}` + "\n"
	atkBodyKeys    = `{"error":"temporarily_unavailable","error_description":"The access token cannot be verified right now"}` + "\n"
)

// atkNone is the table's NONE: one bare challenge per accepted scheme.
var atkNone = []string{atkBareBearer, atkBasic}

func atkTok(desc string) []string {
	return []string{`Bearer realm="api", error="invalid_token", error_description="` + desc + `"`}
}

func atkBodyTok(desc string) string {
	return `{"error":"invalid_token","error_description":"` + desc + `"}` + "\n"
}

func atkScope(scopes string) []string {
	return []string{`Bearer realm="api", error="insufficient_scope", scope="` + scopes + `"`}
}

// atkOK is the body the protected handler writes for an admitted request.
func atkOK(sub, clientID, scheme, actor string) string {
	b, _ := json.Marshal(atkEcho{Subject: sub, ClientID: clientID, Scheme: scheme, Actor: actor})
	return string(b) + "\n"
}

type atkEcho struct {
	Subject  string `json:"sub"`
	ClientID string `json:"client_id"`
	Scheme   string `json:"scheme"`
	Actor    string `json:"actor"` // the actor chain, outermost first, joined by ">"
}

var atkEchoHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	p, ok := warden.PrincipalFrom(r.Context())
	if !ok {
		http.Error(w, "no principal", http.StatusInternalServerError)
		return
	}
	var chain []string
	for a := p.Actor(); a != nil; a = a.Actor {
		chain = append(chain, a.Subject)
	}
	_ = json.NewEncoder(w).Encode(atkEcho{Subject: p.Subject(), ClientID: p.ClientID(), Scheme: p.Scheme().String(), Actor: strings.Join(chain, ">")})
})

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
	variant    string             // fixture variant: "", "strict" or "noleeway"
	mw         *warden.Middleware // when set, used instead of the variant
	status     int
	challenges []string // every WWW-Authenticate line, in order
	body       string   // the exact body
}

// atkFixture holds the table's keys, clock and middlewares, and captures
// every log line and decision for leak_test.go.
type atkFixture struct {
	iss    *wardentest.Issuer
	k1, e1 *wardentest.Key
	clock  atomic.Int64 // Unix seconds of the injected clock
	mws    map[string]*warden.Middleware
	t0     string

	logs      *syncBuffer
	mu        sync.Mutex
	decisions []warden.Decision
}

// atkClients is the Basic client store: c1/s3cr3t and the clients of rows
// G6..G8, plus c2 which holds no permission. bcrypt.MinCost keeps it fast.
var atkClients = sync.OnceValue(func() *clientstore.Store {
	hash := func(s string) string {
		h, err := bcrypt.GenerateFromPassword([]byte(s), bcrypt.MinCost)
		if err != nil {
			panic(err)
		}
		return string(h)
	}
	read := []string{"entry:read"}
	store, err := clientstore.New([]clientstore.Client{
		{ID: "c1", SecretHash: hash("s3cr3t"), Scopes: read},
		{ID: "c:1", SecretHash: hash("pw"), Scopes: read},
		{ID: "c7", SecretHash: hash("a+b"), Scopes: read},
		{ID: "c8", SecretHash: hash("p@ss word"), Scopes: read},
		{ID: "c2", SecretHash: hash("other"), Scopes: nil},
	})
	if err != nil {
		panic(err)
	}
	return store
})

// atkBaseConfig is the table's configuration with the issuer's keys served
// statically; mutate adjusts it per variant.
func (fx *atkFixture) config(mutate func(*warden.Config)) warden.Config {
	cfg := warden.Config{
		Issuers: []warden.IssuerConfig{{
			URL:      fx.iss.URL,
			Audience: fx.iss.Audience,
			JWKS:     wardentest.JWKS(fx.k1, fx.e1),
			ActAs:    true, // rows F3, F8, F9, F11 use the vendor act_as claim
		}},
		Realm:   "api",
		Leeway:  30 * time.Second,
		Clients: atkClients(),
		Now:     fx.now,
		Logger:  slog.New(slog.NewJSONHandler(fx.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
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

func newAtkFixture(t *testing.T) *atkFixture {
	t.Helper()
	fx := &atkFixture{
		iss:  wardentest.NewIssuer(t),
		k1:   wardentest.NewRSAKey("k1"),
		e1:   wardentest.NewECKey("e1"),
		mws:  map[string]*warden.Middleware{},
		logs: &syncBuffer{},
	}
	fx.clock.Store(1_800_000_000)
	fx.iss.SetKeys(fx.k1, fx.e1)
	fx.iss.SetClock(fx.now)
	for name, mutate := range map[string]func(*warden.Config){
		"":         nil,
		"strict":   func(c *warden.Config) { c.StrictRFC9068 = true },
		"noleeway": func(c *warden.Config) { c.Leeway, c.NoLeeway = 0, true },
		"noactas":  func(c *warden.Config) { c.Issuers[0].ActAs = false },
	} {
		mw, err := warden.New(fx.config(mutate))
		if err != nil {
			t.Fatalf("New (%q): %v", name, err)
		}
		t.Cleanup(func() { _ = mw.Close() })
		fx.mws[name] = mw
	}
	fx.t0 = fx.token(nil, nil)
	return fx
}

// now is the injected clock of the fixture's middlewares and issuer.
func (fx *atkFixture) now() time.Time { return time.Unix(fx.clock.Load(), 0) }

// advance moves the injected clock forward.
func (fx *atkFixture) advance(d time.Duration) { fx.clock.Add(int64(d / time.Second)) }

// claims returns T0's claims: iss, aud, sub user1, client_id c1, iat now,
// exp now+300, a random jti and scope entry:read.
func (fx *atkFixture) claims() map[string]any {
	return map[string]any{
		"iss": fx.iss.URL, "aud": fx.iss.Audience, "sub": "user1", "client_id": "c1",
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

func atkB64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func atkBasicAuth(userPass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(userPass))
}

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
	return mw.Accept(warden.SchemeBearer, warden.SchemeBasic).Require(warden.Scopes(req...))(atkEchoHandler)
}

// serve sends a row's request to its route directly (no network).
func (fx *atkFixture) serve(row atkRow) *httptest.ResponseRecorder {
	method := row.method
	if method == "" {
		method = http.MethodGet
	}
	var body io.Reader
	if row.form != "" {
		body = strings.NewReader(row.form)
	}
	target := "http://api.test/x"
	if row.query != "" {
		target += "?" + row.query
	}
	r := httptest.NewRequest(method, target, body)
	if row.form != "" {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, a := range row.auth {
		r.Header.Add("Authorization", a)
	}
	for k, v := range row.header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	fx.handler(row).ServeHTTP(w, r)
	return w
}

// atkCheck asserts a response against a row.
func atkCheck(t *testing.T, row atkRow, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code != row.status {
		t.Errorf("status %d, want %d", w.Code, row.status)
	}
	if got := w.Header().Values("WWW-Authenticate"); !slices.Equal(got, row.challenges) {
		t.Errorf("WWW-Authenticate\n got %q\nwant %q", got, row.challenges)
	}
	if got := w.Body.String(); got != row.body {
		t.Errorf("body\n got %q\nwant %q", got, row.body)
	}
	if row.status >= 400 {
		if got := w.Header().Get("Cache-Control"); got != "no-store" {
			t.Errorf("Cache-Control %q, want no-store", got)
		}
		if row.status == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
			t.Errorf("503 without Retry-After")
		}
	}
}

// atkRun runs rows as subtests named by their row id.
func atkRun(t *testing.T, fx *atkFixture, rows []atkRow) {
	t.Helper()
	seen := map[string]bool{}
	for _, row := range rows {
		if seen[row.id] {
			t.Fatalf("row id %s used twice", row.id)
		}
		seen[row.id] = true
		t.Run(row.id, func(t *testing.T) {
			atkCheck(t, row, fx.serve(row))
		})
	}
}

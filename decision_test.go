package warden_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// decClients is a ClientVerifier for the decision tests: c1/s3cr3t is a
// valid client holding entry:read, "down" simulates an outage of the store.
type decClients struct{}

func (decClients) VerifyClient(_ context.Context, id, secret string) ([]string, error) {
	switch {
	case id == "c1" && secret == "s3cr3t":
		return []string{"entry:read"}, nil
	case id == "down":
		return nil, errors.New("client store unreachable: secret-cause-text")
	}
	return nil, warden.ErrInvalidClient
}

// decRecorder collects the decisions a Middleware reports.
type decRecorder struct {
	mu   sync.Mutex
	ds   []warden.Decision
	ctxs []context.Context // the context each decision came with
}

func (r *decRecorder) hook(ctx context.Context, d warden.Decision) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ds = append(r.ds, d)
	r.ctxs = append(r.ctxs, ctx)
}

// lastContext returns the context of the last decision.
func (r *decRecorder) lastContext() context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.ctxs) == 0 {
		return nil
	}
	return r.ctxs[len(r.ctxs)-1]
}

func (r *decRecorder) take() []warden.Decision {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.ds
	r.ds = nil
	return out
}

func decBasic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
}

// decUnsigned builds an "alg":"none" token with the given claims.
func decUnsigned(claims map[string]any) string {
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt"}`))
	p, _ := json.Marshal(claims)
	return h + "." + base64.RawURLEncoding.EncodeToString(p) + "."
}

// refusedURL returns a loopback URL on which connections are refused.
func refusedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + l.Addr().String()
	l.Close()
	return u
}

type decCase struct {
	name    string
	reason  warden.Reason
	scheme  warden.Scheme
	cfg     func(*warden.Config)
	prepare func(*testing.T, http.Handler) // requests sent first, their decisions dropped
	header  []string                       // Authorization field lines
}

// decGate is decClients, except that checks for client "slow" wait until
// the gate is released.
type decGate struct {
	entered, release chan struct{}
}

func (g *decGate) VerifyClient(ctx context.Context, id, secret string) ([]string, error) {
	if id == "slow" {
		g.entered <- struct{}{}
		<-g.release
	}
	return decClients{}.VerifyClient(ctx, id, secret)
}

// decServe sends one request with the given Authorization and returns the
// status.
func decServe(h http.Handler, auth string) int {
	r := httptest.NewRequest(http.MethodGet, "/entries", nil)
	r.Header.Set("Authorization", auth)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code
}

// decThrottle fails with new wrong secrets for c1 until the id is throttled.
func decThrottle(t *testing.T, h http.Handler) {
	for i := range 100 {
		if decServe(h, decBasic("c1", fmt.Sprintf("guess-%d", i))) == http.StatusTooManyRequests {
			return
		}
	}
	t.Fatal("100 failures for one client id were never throttled")
}

// decHoldSlots occupies every hashing slot (GOMAXPROCS) with checks that
// wait for g, until the test ends.
func decHoldSlots(g **decGate) func(*testing.T, http.Handler) {
	return func(t *testing.T, h http.Handler) {
		gate := *g
		var wg sync.WaitGroup
		t.Cleanup(func() { close(gate.release); wg.Wait() })
		for range runtime.GOMAXPROCS(0) {
			wg.Go(func() { decServe(h, decBasic("slow", "pw")) })
			<-gate.entered
		}
	}
}

// TestDecisionReasons sends, for every reason code, a request that produces
// it, and checks that the decision hook sees exactly that reason once, with
// the status written, and that the optional body field follows ExposeReason.
func TestDecisionReasons(t *testing.T) {
	iss := wardentest.NewIssuer(t)
	now := time.Now()
	claims := func(kv ...any) wardentest.Claims {
		c := wardentest.Claims{"scope": "entry:read"}
		for i := 0; i+1 < len(kv); i += 2 {
			c[kv[i].(string)] = kv[i+1]
		}
		return c
	}
	mint := func(kv ...any) []string {
		return []string{"Bearer " + iss.Mint(wardentest.Token{Claims: claims(kv...)})}
	}
	actToken := mint("act", map[string]any{"sub": "c2"})
	down := refusedURL(t)
	var gate *decGate

	cases := []decCase{
		{name: "valid bearer", reason: warden.ReasonOK, scheme: warden.SchemeBearer, header: mint()},
		{name: "valid basic", reason: warden.ReasonOK, scheme: warden.SchemeBasic, header: []string{decBasic("c1", "s3cr3t")}},
		{name: "no credentials", reason: warden.ReasonMissingCredentials},
		{name: "unknown scheme", reason: warden.ReasonUnsupportedScheme, header: []string{"Token abc"}},
		{name: "two Authorization lines", reason: warden.ReasonMalformedRequest, header: []string{mint()[0], mint()[0]}},
		{name: "two segments", reason: warden.ReasonMalformedToken, scheme: warden.SchemeBearer, header: []string{"Bearer abc.def"}},
		{name: "oversized token", reason: warden.ReasonTokenTooLarge, scheme: warden.SchemeBearer, header: []string{"Bearer " + strings.Repeat("a", 8<<10+1)}},
		{name: "alg none", reason: warden.ReasonDisallowedAlg, scheme: warden.SchemeBearer,
			header: []string{"Bearer " + decUnsigned(map[string]any{"iss": iss.URL, "aud": iss.Audience, "sub": "u", "exp": now.Add(time.Minute).Unix()})}},
		{name: "crit header", reason: warden.ReasonUnsupportedHeader, scheme: warden.SchemeBearer,
			header: []string{"Bearer " + iss.Mint(wardentest.Token{Claims: claims(), Header: map[string]any{"crit": []string{"foo"}, "foo": 1}})}},
		{name: "unknown kid", reason: warden.ReasonUnknownKID, scheme: warden.SchemeBearer,
			header: []string{"Bearer " + iss.Mint(wardentest.Token{Claims: claims(), Header: map[string]any{"kid": "nope"}})}},
		{name: "signed by another key", reason: warden.ReasonBadSignature, scheme: warden.SchemeBearer,
			header: []string{"Bearer " + iss.Mint(wardentest.Token{Claims: claims(), Key: wardentest.NewECKey("ec-1")})}},
		{name: "typ JWT under strict profile", reason: warden.ReasonWrongType, scheme: warden.SchemeBearer,
			cfg:    func(c *warden.Config) { c.StrictRFC9068 = true },
			header: []string{"Bearer " + iss.Mint(wardentest.Token{Claims: claims(), Header: map[string]any{"typ": "JWT"}})}},
		{name: "untrusted issuer", reason: warden.ReasonWrongIssuer, scheme: warden.SchemeBearer, header: mint("iss", "https://other.example")},
		{name: "other audience", reason: warden.ReasonWrongAudience, scheme: warden.SchemeBearer, header: mint("aud", "https://elsewhere.example")},
		{name: "expired", reason: warden.ReasonExpired, scheme: warden.SchemeBearer, header: mint("exp", now.Add(-time.Hour).Unix())},
		{name: "nbf in an hour", reason: warden.ReasonNotYetValid, scheme: warden.SchemeBearer, header: mint("nbf", now.Add(time.Hour).Unix())},
		{name: "iat in an hour", reason: warden.ReasonIssuedInFuture, scheme: warden.SchemeBearer, header: mint("iat", now.Add(time.Hour).Unix())},
		{name: "48h lifetime", reason: warden.ReasonLifetimeTooLong, scheme: warden.SchemeBearer, header: mint("exp", now.Add(48*time.Hour).Unix())},
		{name: "no exp", reason: warden.ReasonMissingClaim, scheme: warden.SchemeBearer, header: mint("exp", nil)},
		{name: "act is a string", reason: warden.ReasonInvalidClaim, scheme: warden.SchemeBearer, header: mint("act", "admin")},
		{name: "scope missing", reason: warden.ReasonInsufficientScope, scheme: warden.SchemeBearer, header: mint("scope", "entry:write")},
		{name: "basic client lacks scope", reason: warden.ReasonInsufficientScope, scheme: warden.SchemeBasic,
			cfg:    func(c *warden.Config) { c.Clients = decLimited{} },
			header: []string{decBasic("c1", "s3cr3t")}},
		{name: "impersonation refused", reason: warden.ReasonImpersonationDenied, scheme: warden.SchemeBearer,
			cfg: func(c *warden.Config) {
				c.Impersonation.Allow = func(context.Context, string, string) bool { return false }
			},
			header: actToken},
		{name: "wrong client secret", reason: warden.ReasonBasicInvalid, scheme: warden.SchemeBasic, header: []string{decBasic("c1", "wrong")}},
		{name: "JWKS unreachable at start", reason: warden.ReasonKeysUnavailable, scheme: warden.SchemeBearer,
			cfg: func(c *warden.Config) {
				c.Issuers[0].URL, c.Issuers[0].JWKS, c.Issuers[0].JWKSURL = down, nil, down+"/jwks.json"
				c.KeySetPolicy = warden.KeySetPolicy{LazyStart: true, UnknownKIDWait: 50 * time.Millisecond}
			},
			header: mint("iss", down)},
		{name: "permission resolver fails", reason: warden.ReasonPermissionsUnavailable, scheme: warden.SchemeBearer,
			cfg: func(c *warden.Config) {
				c.Impersonation.Permissions = func(context.Context, *warden.Principal) ([]string, error) {
					return nil, errors.New("directory down: secret-cause-text")
				}
			},
			header: actToken},
		{name: "client store fails", reason: warden.ReasonClientsUnavailable, scheme: warden.SchemeBasic, header: []string{decBasic("down", "x")}},
		{name: "client id throttled", reason: warden.ReasonBasicThrottled, scheme: warden.SchemeBasic,
			prepare: decThrottle, header: []string{decBasic("c1", "one-more-guess")}},
		{name: "every hashing slot busy", reason: warden.ReasonBasicOverloaded, scheme: warden.SchemeBasic,
			cfg: func(c *warden.Config) {
				gate = &decGate{entered: make(chan struct{}), release: make(chan struct{})}
				c.Clients = gate
			},
			prepare: decHoldSlots(&gate), header: []string{decBasic("c1", "s3cr3t")}},
	}

	covered := map[warden.Reason]bool{}
	for _, tc := range cases {
		covered[tc.reason] = true
		for _, expose := range []bool{false, true} {
			name := tc.name
			if expose {
				name += "/reason exposed"
			}
			t.Run(name, func(t *testing.T) {
				var rec decRecorder
				cfg := warden.Config{
					Issuers: []warden.IssuerConfig{{
						URL:      iss.URL,
						Audience: iss.Audience,
						JWKS:     wardentest.JWKS(iss.Keys()...),
					}},
					Clients: decClients{}, OnDecision: rec.hook, ExposeReason: expose,
					Logger: slog.New(slog.DiscardHandler),
				}
				if tc.cfg != nil {
					tc.cfg(&cfg)
				}
				mw, err := warden.New(cfg)
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				t.Cleanup(func() { mw.Close() })
				h := mw.Accept(warden.SchemeBearer, warden.SchemeBasic).Require(warden.Scopes("entry:read"))(
					http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
				if tc.prepare != nil {
					tc.prepare(t, h)
					rec.take()
				}
				r := httptest.NewRequest(http.MethodGet, "/entries", nil)
				for _, v := range tc.header {
					r.Header.Add("Authorization", v)
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)

				ctx := rec.lastContext()
				ds := rec.take()
				if len(ds) != 1 {
					t.Fatalf("got %d decisions, want 1", len(ds))
				}
				d := ds[0]
				if d.Reason != tc.reason {
					t.Fatalf("got reason %q (cause %v), want %q", d.Reason, d.Err, tc.reason)
				}
				if d.Scheme != tc.scheme {
					t.Errorf("got scheme %q, want %q", d.Scheme, tc.scheme)
				}
				if d.Requirement != "entry:read" {
					t.Errorf("got requirement %q, want %q", d.Requirement, "entry:read")
				}
				if ctx == nil || ctx != r.Context() {
					t.Errorf("decision does not carry the request's context")
				}
				if d.Duration < 0 {
					t.Errorf("got negative duration %v", d.Duration)
				}
				if tc.reason == warden.ReasonOK {
					checkAdmitted(t, w, d, tc.scheme)
					return
				}
				checkRefused(t, w, d, tc.reason, expose)
			})
		}
	}
	// Requirements beyond scopes need routes of their own: requirement_test.go
	// produces their reasons (TestRequirementReasons).
	for _, r := range []warden.Reason{warden.ReasonClientNotAllowed, warden.ReasonInsufficientRole,
		warden.ReasonClaimRejected, warden.ReasonInsufficientUserAuthentication} {
		covered[r] = true
	}
	for _, r := range warden.Reasons() {
		if !covered[r] {
			t.Errorf("reason %q has no case", r)
		}
	}
}

// decLimited knows client c1 but grants it nothing.
type decLimited struct{}

func (decLimited) VerifyClient(_ context.Context, id, secret string) ([]string, error) {
	if id == "c1" && secret == "s3cr3t" {
		return []string{"entry:list"}, nil
	}
	return nil, warden.ErrInvalidClient
}

func checkAdmitted(t *testing.T, w *httptest.ResponseRecorder, d warden.Decision, scheme warden.Scheme) {
	t.Helper()
	if w.Code != http.StatusNoContent {
		t.Fatalf("got status %d, want 204", w.Code)
	}
	if d.Status != 0 || d.Err != nil || d.Reason != warden.ReasonOK {
		t.Errorf("admitted decision has status %d, err %v", d.Status, d.Err)
	}
	wantClient, wantSubject := "client-1", "user-1"
	if scheme == warden.SchemeBasic {
		wantClient, wantSubject = "c1", "c1"
	}
	if d.ClientID != wantClient || d.Subject != wantSubject {
		t.Errorf("got client %q subject %q, want %q %q", d.ClientID, d.Subject, wantClient, wantSubject)
	}
	if scheme == warden.SchemeBearer && d.Issuer == "" {
		t.Errorf("admitted bearer decision has no issuer")
	}
}

func checkRefused(t *testing.T, w *httptest.ResponseRecorder, d warden.Decision, reason warden.Reason, expose bool) {
	t.Helper()
	if d.Reason == warden.ReasonOK || d.Err == nil || d.Err.Reason != reason {
		t.Fatalf("refusal decision has err %v", d.Err)
	}
	if d.Status != w.Code || d.Status != reason.Status() {
		t.Errorf("decision status %d, written %d, Reason.Status %d: want all equal", d.Status, w.Code, reason.Status())
	}
	var body map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q is not a JSON object of strings: %v", w.Body, err)
	}
	got, present := body["reason"]
	switch {
	case expose && got != string(reason):
		t.Errorf("got body reason %q, want %q", got, reason)
	case !expose && present:
		t.Errorf("body has reason %q although ExposeReason is off", got)
	}
	if body["error"] == "" || body["error_description"] != d.Err.Description() {
		t.Errorf("body %v does not carry the refusal's code and description", body)
	}
}

// TestReasonStatus checks the status of every code against REASONS.md.
func TestReasonStatus(t *testing.T) {
	want := map[int][]warden.Reason{
		0:   {warden.ReasonOK},
		400: {warden.ReasonMalformedRequest},
		403: {warden.ReasonInsufficientScope, warden.ReasonImpersonationDenied,
			warden.ReasonClientNotAllowed, warden.ReasonInsufficientRole, warden.ReasonClaimRejected},
		429: {warden.ReasonBasicThrottled},
		503: {warden.ReasonKeysUnavailable, warden.ReasonPermissionsUnavailable, warden.ReasonClientsUnavailable, warden.ReasonBasicOverloaded},
	}
	for _, r := range warden.Reasons() {
		status := 401
		for s, rs := range want {
			if slices.Contains(rs, r) {
				status = s
			}
		}
		if got := r.Status(); got != status {
			t.Errorf("%s: got status %d, want %d", r, got, status)
		}
	}
	if got := warden.Reason("no_such_reason").Status(); got != 401 {
		t.Errorf("unknown reason: got status %d, want 401 (fail closed)", got)
	}
	rs := warden.Reasons()
	rs[0] = "mutated"
	if warden.Reasons()[0] != warden.ReasonOK {
		t.Errorf("Reasons returns its internal slice")
	}
}

// TestLogDecisions checks the slog hook: one record per request with the
// documented attributes, 503s at WARN, and never the token or a refusal's
// cause.
func TestLogDecisions(t *testing.T) {
	iss := wardentest.NewIssuer(t)
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	mw, err := warden.New(warden.Config{
		Issuers: []warden.IssuerConfig{{
			URL:      iss.URL,
			Audience: iss.Audience,
			JWKS:     wardentest.JWKS(iss.Keys()...),
		}},
		Clients: decClients{}, Logger: slog.New(slog.DiscardHandler),
		OnDecision: warden.LogDecisions(logger),
	})
	if err != nil {
		t.Fatal(err)
	}
	h := mw.Accept(warden.SchemeBearer, warden.SchemeBasic).Require(warden.AnyScope("entry:read", "entry:admin"))(
		http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	good := iss.Scoped("entry:read")
	forged := iss.Mint(wardentest.Token{Key: wardentest.NewECKey("ec-1")})
	headers := []string{"Bearer " + good, "Bearer " + forged, decBasic("down", "pw-in-header"), ""}
	for _, v := range headers {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if v != "" {
			r.Header.Set("Authorization", v)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
	}

	out := buf.String()
	for _, secret := range []string{good, forged, "pw-in-header", "secret-cause-text", base64.StdEncoding.EncodeToString([]byte("down:pw-in-header"))} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q:\n%s", secret, out)
		}
	}
	var recs []map[string]any
	dec := json.NewDecoder(&buf)
	for dec.More() {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, m)
	}
	if len(recs) != len(headers) {
		t.Fatalf("got %d records, want %d:\n%s", len(recs), len(headers), out)
	}
	want := []struct {
		level, reason, scheme string
		status                float64
	}{
		{"INFO", "ok", "Bearer", 0},
		{"INFO", "bad_signature", "Bearer", 401},
		{"WARN", "clients_unavailable", "Basic", 503},
		{"INFO", "missing_credentials", "", 401},
	}
	for i, w := range want {
		m := recs[i]
		if m["msg"] != "warden decision" || m["level"] != w.level || m["reason"] != w.reason || m["scheme"] != w.scheme || m["status"] != w.status {
			t.Errorf("record %d: got %v, want level %s reason %s scheme %q status %v", i, m, w.level, w.reason, w.scheme, w.status)
		}
		if m["requirement"] != "entry:read|entry:admin" {
			t.Errorf("record %d: got requirement %v", i, m["requirement"])
		}
		for _, k := range []string{"issuer", "client_id", "subject", "duration"} {
			if _, ok := m[k]; !ok {
				t.Errorf("record %d lacks %q", i, k)
			}
		}
	}
	if recs[0]["issuer"] != iss.URL || recs[0]["client_id"] != "client-1" || recs[0]["subject"] != "user-1" {
		t.Errorf("admitted record does not identify the principal: %v", recs[0])
	}
	if recs[1]["subject"] != "" || recs[1]["client_id"] != "" {
		t.Errorf("refused record names a principal read from an unverified token: %v", recs[1])
	}

	// A Decision logged as a value shows the same attributes, not Err.
	buf.Reset()
	logger.Info("x", "d", warden.Decision{Reason: warden.ReasonBadSignature, Err: &warden.Error{Reason: warden.ReasonBadSignature, Err: errors.New("secret-cause-text")}})
	if strings.Contains(buf.String(), "secret-cause-text") || !strings.Contains(buf.String(), `"reason":"bad_signature"`) {
		t.Errorf("Decision.LogValue: got %s", buf.String())
	}
}

// TestChainDecisions checks that every hook sees every decision, in order.
func TestChainDecisions(t *testing.T) {
	var got []string
	h := warden.ChainDecisions(
		func(_ context.Context, d warden.Decision) { got = append(got, "a:"+string(d.Reason)) },
		nil,
		func(_ context.Context, d warden.Decision) { got = append(got, "b:"+string(d.Reason)) },
	)
	h(context.Background(), warden.Decision{Reason: warden.ReasonExpired})
	if want := []string{"a:expired", "b:expired"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// ExampleLogDecisions logs one line per request. The time and duration are
// dropped here only to make the output stable.
func ExampleLogDecisions() {
	key := wardentest.NewECKey("k1")
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "duration" {
				return slog.Attr{}
			}
			return a
		},
	}))
	mw, err := warden.New(warden.Config{
		Issuers: []warden.IssuerConfig{{
			URL:      "https://idp.example",
			Audience: "https://api.example",
			JWKS:     wardentest.JWKS(key),
		}},
		OnDecision: warden.LogDecisions(logger),
	})
	if err != nil {
		panic(err)
	}
	h := mw.Require(warden.Scopes("entry:read"))(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))

	exp := time.Now().Add(time.Minute).Unix()
	payload := fmt.Sprintf(`{"iss":"https://idp.example","aud":"https://api.example","client_id":"reporting","exp":%d,"scope":"entry:write"}`, exp)
	token := key.Sign("", []byte(`{"alg":"ES256","kid":"k1","typ":"at+jwt"}`), []byte(payload))
	for _, auth := range []string{"Bearer " + token, "Bearer " + token[:len(token)-4] + "AAAA", ""} {
		r := httptest.NewRequest(http.MethodGet, "/entries", nil)
		r.Header.Set("Authorization", auth)
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	// Output:
	// level=INFO msg="warden decision" reason=insufficient_scope status=403 scheme=Bearer issuer=https://idp.example client_id=reporting subject=reporting requirement=entry:read
	// level=INFO msg="warden decision" reason=bad_signature status=401 scheme=Bearer issuer="" client_id="" subject="" requirement=entry:read
	// level=INFO msg="warden decision" reason=missing_credentials status=401 scheme="" issuer="" client_id="" subject="" requirement=entry:read
}

// BenchmarkLogDecisions measures the slog hook alone, writing JSON to
// io.Discard.
func BenchmarkLogDecisions(b *testing.B) {
	hook := warden.LogDecisions(slog.New(slog.NewJSONHandler(io.Discard, nil)))
	d := warden.Decision{Reason: warden.ReasonOK, Scheme: warden.SchemeBearer, Issuer: "https://idp.example",
		ClientID: "client-1", Subject: "user-1", Requirement: "entry:read", Duration: 3 * time.Microsecond}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		hook(ctx, d)
	}
}

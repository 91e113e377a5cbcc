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
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

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

// decUnsigned builds an "alg":"none" token with the given claims.
func decUnsigned(claims map[string]any) string {
	p, _ := json.Marshal(claims)
	return b64(`{"alg":"none","typ":"at+jwt"}`) + "." + b64(string(p)) + "."
}

type decCase struct {
	name    string
	reason  warden.Reason
	scheme  warden.Scheme
	cfg     func(*warden.Config)
	prepare func(*testing.T, *warden.Middleware, warden.Config, http.Handler) // requests sent first, their decisions dropped
	header  []string                                                          // Authorization field lines
}

// decThrottle fails with new wrong secrets for c1 until the id is throttled.
func decThrottle(t *testing.T, _ *warden.Middleware, _ warden.Config, h http.Handler) {
	for i := range 100 {
		w := request{auth: []string{basicAuth(fmt.Sprintf("c1:guess-%d", i))}}.do(h)
		if w.Code == http.StatusTooManyRequests {
			return
		}
	}
	require.FailNow(t, "100 failures for one client id were never throttled")
}

// decHoldSlots occupies every hashing slot with checks that the
// configuration's blVerifier holds until the test ends, and shortens the
// wait for a free slot (a real-time bound) to a millisecond.
func decHoldSlots(t *testing.T, mw *warden.Middleware, cfg warden.Config, h http.Handler) {
	v := cfg.Clients.(*blVerifier)
	warden.SetBasicSlotWait(mw, time.Millisecond)
	var wg sync.WaitGroup
	t.Cleanup(func() { close(v.release); wg.Wait() })
	for range v.hold {
		wg.Go(func() { request{auth: []string{basicAuth("slow:pw")}}.do(h) })
		<-v.entered
	}
}

// TestDecisionReasons sends, for every reason code, a request that produces
// it, and checks that the decision hook sees exactly that reason once, with
// the status written, and that the optional body field follows ExposeReason.
func TestDecisionReasons(t *testing.T) {
	t.Parallel()
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

	cases := []decCase{
		{name: "valid bearer", reason: warden.ReasonOK, scheme: warden.SchemeBearer, header: mint()},
		{name: "valid basic", reason: warden.ReasonOK, scheme: warden.SchemeBasic, header: []string{basicAuth("c1:s3cr3t")}},
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
			header: []string{basicAuth("c1:s3cr3t")}},
		{name: "impersonation refused", reason: warden.ReasonImpersonationDenied, scheme: warden.SchemeBearer,
			cfg: func(c *warden.Config) {
				c.Impersonation.Allow = func(context.Context, string, string) bool { return false }
			},
			header: actToken},
		{name: "wrong client secret", reason: warden.ReasonBasicInvalid, scheme: warden.SchemeBasic, header: []string{basicAuth("c1:wrong")}},
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
		{name: "client store fails", reason: warden.ReasonClientsUnavailable, scheme: warden.SchemeBasic, header: []string{basicAuth("down:x")}},
		{name: "client id throttled", reason: warden.ReasonBasicThrottled, scheme: warden.SchemeBasic,
			prepare: decThrottle, header: []string{basicAuth("c1:one-more-guess")}},
		{name: "every hashing slot busy", reason: warden.ReasonBasicOverloaded, scheme: warden.SchemeBasic,
			cfg:     func(c *warden.Config) { c.Clients = newBLVerifier(runtime.GOMAXPROCS(0)) },
			prepare: decHoldSlots, header: []string{basicAuth("c1:s3cr3t")}},
		{name: "opaque token inactive", reason: warden.ReasonTokenInactive, scheme: warden.SchemeBearer,
			cfg: introDecisionConfig(iss, iss.IntrospectionURL()), header: []string{"Bearer not-a-token-the-issuer-knows"}},
		{name: "introspection endpoint down", reason: warden.ReasonIntrospectionUnavailable, scheme: warden.SchemeBearer,
			cfg: introDecisionConfig(iss, down+"/introspect"), header: []string{"Bearer some-opaque-token"}},
		{name: "jti on the deny-list", reason: warden.ReasonTokenRevoked, scheme: warden.SchemeBearer,
			cfg: func(c *warden.Config) { c.Revocation.Store = revStubStore{revoked: true} }, header: mint()},
		{name: "revocation store down", reason: warden.ReasonRevocationUnavailable, scheme: warden.SchemeBearer,
			cfg: func(c *warden.Config) { c.Revocation.Store = revStubStore{err: errors.New("store down")} }, header: mint()},
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
				t.Parallel()
				var rec decRecorder
				cfg := warden.Config{
					Issuers: []warden.IssuerConfig{{
						URL:      iss.URL,
						Audience: iss.Audience,
						JWKS:     wardentest.JWKS(iss.Keys()...),
					}},
					Clients: stubClients{}, OnDecision: rec.hook, ExposeReason: expose,
					Logger: slog.New(slog.DiscardHandler),
				}
				if tc.cfg != nil {
					tc.cfg(&cfg)
				}
				mw := newMiddleware(t, cfg)
				h := mw.Accept(warden.SchemeBearer, warden.SchemeBasic).Require(warden.Scopes("entry:read"))(noContent)
				if tc.prepare != nil {
					tc.prepare(t, mw, cfg, h)
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
				require.Len(t, ds, 1, "decisions")
				d := ds[0]
				require.Equal(t, tc.reason, d.Reason, "reason (cause %v)", d.Err)
				assert.Equal(t, tc.scheme, d.Scheme, "scheme")
				assert.Equal(t, "entry:read", d.Requirement, "requirement")
				assert.True(t, ctx != nil && ctx == r.Context(), "the decision carries the request's context")
				assert.GreaterOrEqual(t, d.Duration, time.Duration(0), "duration")
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
		assert.True(t, covered[r] || bindingReasons[r], "reason %q has no case", r) // bindingReasons: each has its case in dpop_test.go and mtls_test.go
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
	require.Equal(t, http.StatusNoContent, w.Code, "status")
	assert.Zero(t, d.Status, "status of an admitted decision")
	assert.Nil(t, d.Err, "error of an admitted decision")
	assert.Equal(t, warden.ReasonOK, d.Reason)
	wantClient, wantSubject := "client-1", "user-1"
	if scheme == warden.SchemeBasic {
		wantClient, wantSubject = "c1", "c1"
	}
	assert.Equal(t, wantClient, d.ClientID, "client")
	assert.Equal(t, wantSubject, d.Subject, "subject")
	if scheme == warden.SchemeBearer {
		assert.NotEmpty(t, d.Issuer, "issuer of an admitted bearer decision")
	}
}

func checkRefused(t *testing.T, w *httptest.ResponseRecorder, d warden.Decision, reason warden.Reason, expose bool) {
	t.Helper()
	require.NotEqual(t, warden.ReasonOK, d.Reason)
	require.NotNil(t, d.Err, "a refusal's error")
	require.Equal(t, reason, d.Err.Reason, "the error's reason")
	assert.Equal(t, w.Code, d.Status, "decision status and status written")
	assert.Equal(t, reason.Status(), d.Status, "decision status and Reason.Status")
	var body map[string]string
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body), "body %q is a JSON object of strings", w.Body)
	got, present := body["reason"]
	if expose {
		assert.Equal(t, string(reason), got, "body reason")
	} else {
		assert.False(t, present, "body has reason %q although ExposeReason is off", got)
	}
	assert.NotEmpty(t, body["error"], "body %v: error", body)
	assert.Equal(t, d.Err.Description(), body["error_description"], "body %v: error_description", body)
}

// TestReasonStatus checks the status of every code against REASONS.md.
func TestReasonStatus(t *testing.T) {
	t.Parallel()
	want := map[int][]warden.Reason{
		0:   {warden.ReasonOK},
		400: {warden.ReasonMalformedRequest},
		403: {warden.ReasonInsufficientScope, warden.ReasonImpersonationDenied,
			warden.ReasonClientNotAllowed, warden.ReasonInsufficientRole, warden.ReasonClaimRejected},
		429: {warden.ReasonBasicThrottled},
		503: {warden.ReasonKeysUnavailable, warden.ReasonPermissionsUnavailable, warden.ReasonClientsUnavailable, warden.ReasonBasicOverloaded,
			warden.ReasonIntrospectionUnavailable, warden.ReasonRevocationUnavailable, warden.ReasonReplayUnavailable},
	}
	for _, r := range warden.Reasons() {
		status := 401
		for s, rs := range want {
			if slices.Contains(rs, r) {
				status = s
			}
		}
		assert.Equal(t, status, r.Status(), r)
	}
	assert.Equal(t, 401, warden.Reason("no_such_reason").Status(), "unknown reason: fail closed")
	rs := warden.Reasons()
	rs[0] = "mutated"
	assert.Equal(t, warden.ReasonOK, warden.Reasons()[0], "Reasons returns its internal slice")
}

// TestLogDecisions checks the slog hook: one record per request with the
// documented attributes, 503s at WARN, and never the token or a refusal's
// cause.
func TestLogDecisions(t *testing.T) {
	t.Parallel()
	iss := wardentest.NewIssuer(t)
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	mw := newMiddleware(t, warden.Config{
		Issuers: []warden.IssuerConfig{{
			URL:      iss.URL,
			Audience: iss.Audience,
			JWKS:     wardentest.JWKS(iss.Keys()...),
		}},
		Clients: stubClients{}, Logger: slog.New(slog.DiscardHandler),
		OnDecision: warden.LogDecisions(logger),
	})
	h := mw.Accept(warden.SchemeBearer, warden.SchemeBasic).Require(warden.AnyScope("entry:read", "entry:admin"))(
		http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	good := iss.Scoped("entry:read")
	forged := iss.Mint(wardentest.Token{Key: wardentest.NewECKey("ec-1")})
	headers := []string{"Bearer " + good, "Bearer " + forged, basicAuth("down:pw-in-header"), ""}
	for _, v := range headers {
		rq := request{}
		if v != "" {
			rq.auth = []string{v}
		}
		rq.do(h)
	}

	out := buf.String()
	for _, secret := range []string{good, forged, "pw-in-header", "secret-cause-text", base64.StdEncoding.EncodeToString([]byte("down:pw-in-header"))} {
		assert.NotContains(t, out, secret, "the log")
	}
	var recs []map[string]any
	dec := json.NewDecoder(&buf)
	for dec.More() {
		var m map[string]any
		require.NoError(t, dec.Decode(&m))
		recs = append(recs, m)
	}
	require.Len(t, recs, len(headers), "records:\n%s", out)
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
		assert.Equal(t, "warden decision", m["msg"], "record %d", i)
		assert.Equal(t, w.level, m["level"], "record %d", i)
		assert.Equal(t, w.reason, m["reason"], "record %d", i)
		assert.Equal(t, w.scheme, m["scheme"], "record %d", i)
		assert.Equal(t, w.status, m["status"], "record %d", i)
		assert.Equal(t, "entry:read|entry:admin", m["requirement"], "record %d", i)
		for _, k := range []string{"issuer", "client_id", "subject", "duration"} {
			assert.Contains(t, m, k, "record %d", i)
		}
	}
	assert.Equal(t, iss.URL, recs[0]["issuer"], "the admitted record identifies the principal")
	assert.Equal(t, "client-1", recs[0]["client_id"], "the admitted record identifies the principal")
	assert.Equal(t, "user-1", recs[0]["subject"], "the admitted record identifies the principal")
	assert.Equal(t, "", recs[1]["subject"], "a refused record names no principal read from an unverified token")
	assert.Equal(t, "", recs[1]["client_id"], "a refused record names no principal read from an unverified token")

	// A Decision logged as a value shows the same attributes, not Err.
	buf.Reset()
	logger.Info("x", "d", warden.Decision{Reason: warden.ReasonBadSignature, Err: &warden.Error{Reason: warden.ReasonBadSignature, Err: errors.New("secret-cause-text")}})
	assert.NotContains(t, buf.String(), "secret-cause-text", "Decision.LogValue")
	assert.Contains(t, buf.String(), `"reason":"bad_signature"`, "Decision.LogValue")
}

// TestChainDecisions checks that every hook sees every decision, in order.
func TestChainDecisions(t *testing.T) {
	t.Parallel()
	var got []string
	h := warden.ChainDecisions(
		func(_ context.Context, d warden.Decision) { got = append(got, "a:"+string(d.Reason)) },
		nil,
		func(_ context.Context, d warden.Decision) { got = append(got, "b:"+string(d.Reason)) },
	)
	h(context.Background(), warden.Decision{Reason: warden.ReasonExpired})
	assert.Equal(t, []string{"a:expired", "b:expired"}, got)
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

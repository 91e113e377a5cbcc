package warden_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// revStubStore answers every Contains with revoked, or fails with err.
type revStubStore struct {
	revoked bool
	err     error
}

func (s revStubStore) Claim(context.Context, string, time.Time) (bool, error) {
	return s.err == nil, s.err
}
func (s revStubStore) Contains(context.Context, string) (bool, error) { return s.revoked, s.err }

// introDecisionConfig sets the first issuer to introspect opaque tokens at
// endpoint as client "rs", which it registers with iss.
func introDecisionConfig(iss *wardentest.Issuer, endpoint string) func(*warden.Config) {
	iss.AddClient(wardentest.Client{ID: "rs", Secret: "rs-secret"})
	return func(c *warden.Config) {
		c.Issuers[0].Introspection = warden.Introspection{Endpoint: endpoint, ClientID: "rs", ClientSecret: "rs-secret", Timeout: 2 * time.Second}
	}
}

// revFixture is a middleware trusting a wardentest issuer by static keys,
// with revocation configured by rev.
func revFixture(t *testing.T, iss *wardentest.Issuer, rev warden.Revocation) *introFixture {
	t.Helper()
	f := &introFixture{clock: &testClock{t: time.Unix(1_900_000_000, 0)}, log: &introLog{}, decisions: &decRecorder{}}
	iss.SetClock(f.clock.Now)
	cfg := iss.StaticConfig()
	cfg.Now = f.clock.Now
	cfg.Revocation = rev
	cfg.Logger = slog.New(slog.NewTextHandler(f.log, nil))
	cfg.OnDecision = f.decisions.hook
	cfg.Issuers[0].Audience = iss.Audience
	mw, err := warden.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mw.Close() })
	f.mw = mw
	return f
}

// TestRevoke: a revoked JWT is refused from the moment Revoke returns,
// although its verification is cached; other tokens are not; the entry
// lasts until exp plus the leeway.
func TestRevoke(t *testing.T) {
	t.Parallel()
	iss := wardentest.NewIssuer(t)
	f := revFixture(t, iss, warden.Revocation{})
	exp := f.clock.Now().Add(5 * time.Minute)
	tok := iss.Mint(wardentest.Token{Claims: wardentest.Claims{"scope": "read", "jti": "revoke-me", "exp": exp.Unix()}})
	other := iss.Mint(wardentest.Token{Claims: wardentest.Claims{"scope": "read", "jti": "keep-me"}})
	noJTI := iss.Mint(wardentest.Token{Claims: wardentest.Claims{"scope": "read", "jti": nil}})
	f.do(t, tok, "read").check(t, warden.ReasonOK)
	if err := f.mw.Revoke(context.Background(), iss.URL, "revoke-me", exp); err != nil {
		t.Fatal(err)
	}
	f.do(t, tok, "read").check(t, warden.ReasonTokenRevoked)
	f.do(t, other, "read").check(t, warden.ReasonOK)
	f.do(t, noJTI, "read").check(t, warden.ReasonOK)
	if _, err := f.mw.Verify(context.Background(), tok); !revIsReason(err, warden.ReasonTokenRevoked) {
		t.Errorf("Verify: %v, want token_revoked", err)
	}
	// A token of another issuer with the same jti is another token.
	if err := f.mw.Revoke(context.Background(), iss.URL, "keep-me", time.Time{}); err != nil {
		t.Fatal(err)
	}
	f.do(t, other, "read").check(t, warden.ReasonTokenRevoked) // zero exp: MaxTokenLifetime
	f.clock.Advance(5*time.Minute + 60*time.Second)
	f.do(t, tok, "read").check(t, warden.ReasonExpired) // the entry ended with the token
}

func revIsReason(err error, r warden.Reason) bool {
	var e *warden.Error
	return errors.As(err, &e) && e.Reason == r
}

// TestRevokeErrors: Revoke names a configured issuer and a jti.
func TestRevokeErrors(t *testing.T) {
	t.Parallel()
	iss := wardentest.NewIssuer(t)
	f := revFixture(t, iss, warden.Revocation{})
	ctx := context.Background()
	for _, tc := range []struct{ issuer, jti string }{{"https://unknown.example", "j"}, {iss.URL, ""}} {
		if err := f.mw.Revoke(ctx, tc.issuer, tc.jti, time.Time{}); err == nil {
			t.Errorf("Revoke(%q, %q) = nil, want an error", tc.issuer, tc.jti)
		}
	}
	if err := revFixture(t, iss, warden.Revocation{Store: revStubStore{err: errors.New("down")}}).mw.Revoke(ctx, iss.URL, "j", time.Time{}); err == nil {
		t.Errorf("Revoke with a failing store = nil, want its error")
	}
}

// TestRevocationReplicas: two replicas sharing one Store: a revocation by
// either is seen by the other at its next request.
func TestRevocationReplicas(t *testing.T) {
	t.Parallel()
	iss := wardentest.NewIssuer(t)
	store := warden.NewMemoryStore(0, nil)
	a := revFixture(t, iss, warden.Revocation{Store: store})
	b := revFixture(t, iss, warden.Revocation{Store: store})
	tok := iss.Mint(wardentest.Token{Claims: wardentest.Claims{"scope": "read", "jti": "shared"}})
	a.do(t, tok, "read").check(t, warden.ReasonOK)
	b.do(t, tok, "read").check(t, warden.ReasonOK)
	if err := a.mw.Revoke(context.Background(), iss.URL, "shared", a.clock.Now().Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	b.do(t, tok, "read").check(t, warden.ReasonTokenRevoked)
	a.do(t, tok, "read").check(t, warden.ReasonTokenRevoked)
}

// TestRevocationStoreDown: a store that cannot answer refuses with 503 by
// default; with FailOpen the token is admitted and the outage logged at
// ERROR, once per minute of outage, not once per request.
func TestRevocationStoreDown(t *testing.T) {
	t.Parallel()
	iss := wardentest.NewIssuer(t)
	down := revStubStore{err: errors.New("dial tcp 10.0.0.1:6379: connection refused")}
	closed := revFixture(t, iss, warden.Revocation{Store: down})
	open := revFixture(t, iss, warden.Revocation{Store: down, FailOpen: true})
	tok := iss.Scoped("read")
	closed.do(t, tok, "read").check(t, warden.ReasonRevocationUnavailable)
	for range 3 {
		open.do(t, tok, "read").check(t, warden.ReasonOK)
	}
	log := open.log.String()
	if n := strings.Count(log, "level=ERROR"); n != 1 || !strings.Contains(log, "admitting tokens unchecked") {
		t.Errorf("want one ERROR line saying tokens are admitted unchecked; log:\n%s", log)
	}
}

// TestRevokeOpaque: an introspected token is refused by its jti, although
// its active answer is cached, and without a new introspection call.
func TestRevokeOpaque(t *testing.T) {
	t.Parallel()
	clock := &testClock{t: time.Unix(1_900_000_000, 0)}
	ep := newIntroEndpoint(t, jsonAnswer(introAnswer(clock, "jti", "opaque-jti")))
	f := newIntroFixture(t, nil, introBasic(ep.URL), nil)
	f.do(t, "opaque", "read").check(t, warden.ReasonOK)
	if err := f.mw.Revoke(context.Background(), introIssuer, "opaque-jti", time.Time{}); err != nil {
		t.Fatal(err)
	}
	f.do(t, "opaque", "read").check(t, warden.ReasonTokenRevoked)
	if n := ep.calls.Load(); n != 1 {
		t.Errorf("%d calls, want 1", n)
	}
}

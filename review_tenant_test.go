package warden_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// What an independent review found of multi-tenant issuers beside
// introspection and revocation: a template issuer cannot introspect, and
// Revoke takes a tenant's issuer.

// TestReviewTemplateIntrospectionRefused: a multi-tenant (template)
// issuer cannot introspect. Its one configured endpoint would receive the
// tokens of every tenant, and an endpoint found by discovery would be
// chosen by the unverified "iss" of a token. New refuses it; it used to
// accept it and then introspect nothing, silently (opaque tokens refused
// as malformed, Introspection.JWT ignored). No request reaches the
// endpoint.
func TestReviewTemplateIntrospectionRefused(t *testing.T) {
	t.Parallel()
	ep := newIntroEndpoint(t, jsonAnswer(`{"active":true}`))
	const template = "https://login.review.test/{tenant}/v2.0"
	t.Cleanup(func() { // after the parallel subtests
		if c := ep.calls.Load(); c != 0 {
			t.Errorf("%d requests reached the endpoint, want 0", c)
		}
	})
	for _, tc := range []struct {
		name string
		in   warden.Introspection
		tp   warden.TenantPolicy
	}{
		{"endpoint", warden.Introspection{Endpoint: ep.URL, ClientID: "rs", ClientSecret: "s"}, warden.TenantPolicy{Allowed: []string{"t1"}}},
		{"JWTs too", warden.Introspection{Endpoint: ep.URL, ClientID: "rs", ClientSecret: "s", JWT: true}, warden.TenantPolicy{Allowed: []string{"t1"}}},
		{"signed answers", warden.Introspection{Endpoint: ep.URL, ClientID: "rs", ClientSecret: "s", SignedResponse: true}, warden.TenantPolicy{AnyTenant: true}},
		{"by discovery", warden.Introspection{ClientID: "rs", ClientSecret: "s"}, warden.TenantPolicy{AnyTenant: true}},
		{"only a TTL", warden.Introspection{CacheTTL: time.Minute}, warden.TenantPolicy{Allowed: []string{"t1"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mw, err := warden.New(warden.Config{Issuers: []warden.IssuerConfig{{URL: template, Audience: rvAudience, Tenants: tc.tp, Introspection: tc.in}}})
			if err == nil {
				_ = mw.Close()
				t.Fatal("New accepted Introspection on a multi-tenant issuer")
			}
			if !strings.Contains(err.Error(), "multi-tenant issuer cannot introspect") || !strings.Contains(err.Error(), template) {
				t.Errorf("New: %v, want the configuration error naming the issuer", err)
			}
		})
	}
	// A plain issuer beside a template one still introspects.
	t.Run("plain issuer beside a template", func(t *testing.T) {
		t.Parallel()
		clock := &testClock{t: time.Unix(1_950_000_000, 0)}
		ok := newIntroEndpoint(t, jsonAnswer(rvMarshal(rvAnswer(clock.Now()))))
		cfg := rvIntrospecting(wardentest.NewECKey("k"), ok.URL)
		cfg.Issuers = append(cfg.Issuers, warden.IssuerConfig{URL: template, Audience: rvAudience, Tenants: warden.TenantPolicy{Allowed: []string{"t1"}}})
		newRVFixture(t, clock, cfg).do(t, "opaque-beside-template").check(t, warden.ReasonOK)
		if c := ok.calls.Load(); c != 1 {
			t.Errorf("%d introspection calls, want 1", c)
		}
	})
}

// rvTenants serves each tenant's discovery document and JWK Set at
// /{tenant}/.well-known/openid-configuration and /{tenant}/keys.
type rvTenants struct {
	srv  *httptest.Server
	keys map[string]*wardentest.Key
	any  *wardentest.Key // served for every tenant not in keys
}

func newRVTenants(t *testing.T, tenants ...string) *rvTenants {
	t.Helper()
	ts := &rvTenants{keys: map[string]*wardentest.Key{}, any: wardentest.NewECKey("k1")}
	for _, tn := range tenants {
		ts.keys[tn] = wardentest.NewECKey("k1")
	}
	ts.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tenant, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		switch rest {
		case ".well-known/openid-configuration":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, rvMarshal(map[string]string{"issuer": ts.issuer(tenant), "jwks_uri": ts.issuer(tenant) + "/keys"}))
		case "keys":
			w.Header().Set("Content-Type", "application/jwk-set+json")
			_, _ = w.Write(wardentest.JWKS(ts.key(tenant)))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(ts.srv.Close)
	return ts
}

func (ts *rvTenants) template() string            { return ts.srv.URL + "/{tenant}" }
func (ts *rvTenants) issuer(tenant string) string { return ts.srv.URL + "/" + tenant }

func (ts *rvTenants) key(tenant string) *wardentest.Key {
	if k, ok := ts.keys[tenant]; ok {
		return k
	}
	return ts.any
}

// mint signs a token of tenant with jti, valid for 5 minutes on now.
func (ts *rvTenants) mint(tenant, jti string, now time.Time) string {
	k := ts.key(tenant)
	header := rvMarshal(map[string]string{"alg": k.Alg, "kid": k.ID, "typ": "at+jwt"})
	payload := rvMarshal(map[string]any{"iss": ts.issuer(tenant), "aud": rvAudience, "sub": "u1", "client_id": "c1",
		"scope": "read", "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "jti": jti})
	return k.Sign(k.Alg, []byte(header), []byte(payload))
}

// TestReviewRevokeTenant: Revoke takes the concrete issuer of an accepted
// tenant of a template issuer (it used to take configured issuer URLs
// only, and refused every tenant's with "the issuer is not configured"),
// and the entry refuses that tenant's token, not another tenant's with the
// same jti. The template itself, a tenant not accepted and another host
// are still refused.
func TestReviewRevokeTenant(t *testing.T) {
	t.Parallel()
	ts := newRVTenants(t, "t1", "t2")
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		tp      warden.TenantPolicy
		revoked string   // the tenant revoked
		spared  string   // another tenant, whose token of the same jti stays valid
		refused []string // issuers Revoke refuses
	}{
		{"allow-list", warden.TenantPolicy{Allowed: []string{"t1", "t2"}}, "t1", "t2",
			[]string{ts.template(), ts.issuer("t3"), ts.issuer(""), "https://other.review.test/t1", ts.issuer("t1") + "/"}},
		{"any tenant", warden.TenantPolicy{AnyTenant: true}, "contoso", "t2",
			[]string{ts.template(), ts.issuer("a%2Fb"), ts.issuer("a b"), ts.issuer("")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := &testClock{t: time.Unix(1_950_000_000, 0)}
			f := newRVFixture(t, clock, warden.Config{Issuers: []warden.IssuerConfig{{URL: ts.template(), Audience: rvAudience, Tenants: tc.tp}}})
			revoked, spared := ts.mint(tc.revoked, "shared-jti", clock.Now()), ts.mint(tc.spared, "shared-jti", clock.Now())
			f.do(t, revoked).check(t, warden.ReasonOK)
			if err := f.mw.Revoke(ctx, ts.issuer(tc.revoked), "shared-jti", clock.Now().Add(5*time.Minute)); err != nil {
				t.Fatalf("Revoke(%q): %v", ts.issuer(tc.revoked), err)
			}
			f.do(t, revoked).check(t, warden.ReasonTokenRevoked)
			f.do(t, spared).check(t, warden.ReasonOK)
			for _, iss := range tc.refused {
				if err := f.mw.Revoke(ctx, iss, "shared-jti", time.Time{}); err == nil {
					t.Errorf("Revoke(%q) = nil, want an error", iss)
				}
			}
		})
	}
}

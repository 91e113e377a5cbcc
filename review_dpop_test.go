package warden_test

import (
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// An independent review found that an introspection answer saying DPoP
// but naming no key was admitted as a bearer token.

// TestReviewDPoPTypeWithoutKey: an answer whose token_type is DPoP (RFC
// 9449 §6.2: a DPoP-bound token, whose answer carries cnf.jkt) but that
// names no key is refused as missing its cnf claim; it used to be
// admitted as a bearer token, so a token the issuer bound to a key was
// usable without it. The same holds for an introspected JWT.
func TestReviewDPoPTypeWithoutKey(t *testing.T) {
	t.Parallel()
	key := wardentest.NewECKey("k-dpop")
	holder := wardentest.NewECKey("holder")
	start := time.Unix(1_950_000_000, 0)
	for _, tc := range []struct {
		name string
		kv   []any
		want warden.Reason
	}{
		{"Bearer, unbound", nil, warden.ReasonOK},
		{"DPoP, no cnf", []any{"token_type", "DPoP"}, warden.ReasonMissingClaim},
		{"dpop in lower case, no cnf", []any{"token_type", "dpop"}, warden.ReasonMissingClaim},
		{"DPoP, cnf without jkt", []any{"token_type", "DPoP", "cnf", map[string]any{"x5t#S256": strings.Repeat("A", 43)}}, warden.ReasonMissingClaim},
		{"DPoP, cnf empty", []any{"token_type", "DPoP", "cnf", map[string]any{}}, warden.ReasonMissingClaim},
		{"DPoP with its key, sent as bearer", []any{"token_type", "DPoP", "cnf", map[string]any{"jkt": holder.Thumbprint()}}, warden.ReasonDPoPDowngrade},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := &testClock{t: time.Unix(1_950_000_000, 0)}
			ep := newIntroEndpoint(t, jsonAnswer(rvMarshal(rvAnswer(start, tc.kv...))))
			f := newRVFixture(t, clock, rvIntrospecting(key, ep.URL))
			var extra []string
			if tc.want == warden.ReasonDPoPDowngrade { // RFC 9449 §7.1: the DPoP challenge too
				extra = []string{`DPoP realm="api", algs="ES256 ES384 ES512 EdDSA PS256 PS384 PS512 RS256 RS384 RS512"`}
			}
			f.do(t, "opaque-dpop").check(t, tc.want, extra...)
			f.do(t, "opaque-dpop").check(t, tc.want, extra...) // remembered
		})
	}
	// An introspected JWT: the answer's binding must agree with the token's
	// own cnf, since the token is admitted on its own claims.
	for _, tc := range []struct {
		name   string
		answer []any // over rvAnswer's defaults
		jwt    []any // the JWT's claims, over rvAnswer's defaults
		want   warden.Reason
	}{
		{"JWT, answer Bearer", nil, nil, warden.ReasonOK},
		{"JWT without cnf, answer DPoP without cnf", []any{"token_type", "DPoP"}, nil, warden.ReasonMissingClaim},
		{"JWT without cnf, answer bound to a key", []any{"token_type", "DPoP", "cnf", map[string]any{"jkt": holder.Thumbprint()}}, nil, warden.ReasonInvalidClaim},
		{"JWT bound to another key than the answer's", []any{"token_type", "DPoP", "cnf", map[string]any{"jkt": holder.Thumbprint()}},
			[]any{"cnf", map[string]any{"jkt": key.Thumbprint()}}, warden.ReasonInvalidClaim},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := &testClock{t: time.Unix(1_950_000_000, 0)}
			ep := newIntroEndpoint(t, jsonAnswer(rvMarshal(rvAnswer(start, tc.answer...))))
			cfg := rvIntrospecting(key, ep.URL)
			cfg.Issuers[0].Introspection.JWT = true
			f := newRVFixture(t, clock, cfg)
			header := rvMarshal(map[string]string{"alg": key.Alg, "kid": key.ID, "typ": "at+jwt"})
			payload := rvMarshal(rvAnswer(start, append([]any{"active", nil, "token_type", nil}, tc.jwt...)...))
			f.do(t, key.Sign(key.Alg, []byte(header), []byte(payload))).check(t, tc.want)
			if c := ep.calls.Load(); c != 1 {
				t.Errorf("%d calls, want 1", c)
			}
		})
	}
}

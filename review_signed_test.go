package warden_test

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// An independent review found that an RFC 9701 answer was accepted
// whatever its iat: a signed answer captured once could be replayed.

// rvSigned answers with an RFC 9701 response signed by key, whose top
// level claims are kv over iss, aud "rs" and iat now (a nil value removes
// a claim), and whose token_introspection is answer.
func rvSigned(key *wardentest.Key, answer map[string]any, kv ...any) string {
	claims := map[string]any{"iss": rvIssuer, "aud": "rs", "token_introspection": answer}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(claims, kv[i].(string))
		} else {
			claims[kv[i].(string)] = kv[i+1]
		}
	}
	hb := rvMarshal(map[string]any{"alg": key.Alg, "kid": key.ID, "typ": "token-introspection+jwt"})
	return key.Sign(key.Alg, []byte(hb), []byte(rvMarshal(claims)))
}

func rvSignedAnswer(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/token-introspection+jwt")
		_, _ = io.WriteString(w, body)
	}
}

// TestReviewSignedResponseFreshness: an RFC 9701 §5 response must carry
// "iat", and it must be recent: not older than Introspection.Timeout plus
// the leeway, nor later than the leeway ahead. A signed response captured
// and replayed later (an old "active": true for a token since revoked)
// used to be accepted whatever its iat, or without one. Like every answer
// warden cannot trust, it is the endpoint's failure: 503, never 401.
func TestReviewSignedResponseFreshness(t *testing.T) {
	t.Parallel()
	key := wardentest.NewECKey("k-signed")
	const timeout, leeway = 5 * time.Second, time.Minute // the defaults
	start := time.Unix(1_950_000_000, 0)
	answer := rvAnswer(start)
	for _, tc := range []struct {
		name string
		kv   []any
		want warden.Reason
	}{
		{"iat now", []any{"iat", start.Unix()}, warden.ReasonOK},
		{"aud an array naming warden", []any{"iat", start.Unix(), "aud", []string{"other", "rs"}}, warden.ReasonOK},
		{"iat at the oldest", []any{"iat", start.Add(-timeout - leeway).Unix()}, warden.ReasonOK},
		{"iat at the latest", []any{"iat", start.Add(leeway).Unix()}, warden.ReasonOK},
		{"iat a second too old", []any{"iat", start.Add(-timeout - leeway - time.Second).Unix()}, warden.ReasonIntrospectionUnavailable},
		{"replayed an hour later", []any{"iat", start.Add(-time.Hour).Unix()}, warden.ReasonIntrospectionUnavailable},
		{"iat a second too late", []any{"iat", start.Add(leeway + time.Second).Unix()}, warden.ReasonIntrospectionUnavailable},
		{"no iat", []any{"iat", nil}, warden.ReasonIntrospectionUnavailable},
		{"iat a string", []any{"iat", "1950000000"}, warden.ReasonIntrospectionUnavailable},
		{"iat null", []any{"iat", json.RawMessage("null")}, warden.ReasonIntrospectionUnavailable},
		{"no aud", []any{"iat", start.Unix(), "aud", nil}, warden.ReasonIntrospectionUnavailable},
		{"aud another client", []any{"iat", start.Unix(), "aud", "other-rs"}, warden.ReasonIntrospectionUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := &testClock{t: time.Unix(1_950_000_000, 0)}
			ep := newIntroEndpoint(t, rvSignedAnswer(rvSigned(key, answer, tc.kv...)))
			cfg := rvIntrospecting(key, ep.URL)
			cfg.Issuers[0].Introspection.SignedResponse = true
			newRVFixture(t, clock, cfg).do(t, "opaque-signed").check(t, tc.want)
		})
	}
	t.Run("the same response, replayed", func(t *testing.T) {
		t.Parallel()
		clock := &testClock{t: time.Unix(1_950_000_000, 0)}
		body := rvSigned(key, rvAnswer(clock.Now(), "exp", clock.Now().Add(24*time.Hour).Unix()), "iat", clock.Now().Unix())
		ep := newIntroEndpoint(t, rvSignedAnswer(body))
		cfg := rvIntrospecting(key, ep.URL)
		cfg.Issuers[0].Introspection.SignedResponse = true
		cfg.Issuers[0].Introspection.CacheTTL = time.Second
		f := newRVFixture(t, clock, cfg)
		f.do(t, "opaque-replayed").check(t, warden.ReasonOK)
		clock.Advance(10 * time.Minute) // the remembered answer is gone; the endpoint sends the old one again
		f.do(t, "opaque-replayed").check(t, warden.ReasonIntrospectionUnavailable)
		if c := ep.calls.Load(); c != 2 {
			t.Errorf("%d calls, want 2", c)
		}
	})
}

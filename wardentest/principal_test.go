package wardentest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// TestWithPrincipal: every kind of token gives the principal a route would
// have given its handler, bound ones included; a refused token is an error.
func TestWithPrincipal(t *testing.T) {
	t.Parallel()
	iss := wardentest.NewIssuer(t)
	client := wardentest.NewCA("ca").Issue("client")
	key := wardentest.NewECKey("client-key")
	for _, row := range []struct {
		name    string
		tok     wardentest.Token
		subject string
		scheme  warden.Scheme
		cnf     bool
	}{
		{"plain", wardentest.Token{Claims: wardentest.Claims{"scope": "a b"}}, "user-1", warden.SchemeBearer, false},
		{"another audience", wardentest.Token{Claims: wardentest.Claims{"aud": "https://other.example"}}, "user-1", warden.SchemeBearer, false},
		{"act_as", wardentest.Token{Claims: wardentest.Claims{"sub": "svc", "client_id": "svc", "act_as": "bob"}}, "bob", warden.SchemeBearer, false},
		{"DPoP-bound", wardentest.Token{DPoPKey: key}, "user-1", warden.SchemeDPoP, true},
		{"certificate-bound", wardentest.Token{Certificate: client.Cert}, "user-1", warden.SchemeBearer, true},
	} {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			ctx, err := iss.WithPrincipal(context.Background(), row.tok)
			if err != nil {
				t.Fatal(err)
			}
			p, ok := warden.PrincipalFrom(ctx)
			if !ok || p.Subject() != row.subject || p.Scheme() != row.scheme || (p.Confirmation() != warden.Confirmation{}) != row.cnf {
				t.Errorf("principal %v (%v)", p, ok)
			}
		})
	}
	_, err := iss.WithPrincipal(context.Background(), wardentest.Token{Claims: wardentest.Claims{
		"iat": time.Now().Add(-time.Hour).Unix(), "exp": time.Now().Add(-time.Minute * 30).Unix()}})
	var e *warden.Error
	if !errors.As(err, &e) || e.Reason != warden.ReasonExpired {
		t.Errorf("an expired token: %v", err)
	}
}

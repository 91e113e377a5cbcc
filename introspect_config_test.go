package warden_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// TestIntrospectionConfig: every mistake in an Introspection is an error
// from New, never a request's 503.
func TestIntrospectionConfig(t *testing.T) {
	t.Parallel()
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	const ep = "https://as.example.test/introspect"
	for _, tc := range []struct {
		name string
		in   warden.Introspection
		want string
	}{
		{"no client id", warden.Introspection{Endpoint: ep}, "ClientID is required"},
		{"only a TTL", warden.Introspection{CacheTTL: time.Second}, "ClientID is required"},
		{"plain http endpoint", warden.Introspection{Endpoint: "http://as.example.test/i", ClientID: "rs", ClientSecret: "s"}, "must use https"},
		{"negative TTL", warden.Introspection{Endpoint: ep, ClientID: "rs", ClientSecret: "s", CacheTTL: -1}, "must not be negative"},
		{"no secret", warden.Introspection{Endpoint: ep, ClientID: "rs"}, "needs a ClientSecret"},
		{"unknown method", warden.Introspection{Endpoint: ep, ClientID: "rs", ClientSecret: "s", AuthMethod: "tls_client_auth"}, "is not client_secret_basic"},
		{"post without secret", warden.Introspection{Endpoint: ep, ClientID: "rs", AuthMethod: "client_secret_post"}, "needs a ClientSecret"},
		{"secret and key", warden.Introspection{Endpoint: ep, ClientID: "rs", ClientSecret: "s", PrivateKey: ec}, "no ClientSecret"},
		{"jwt without key", warden.Introspection{Endpoint: ep, ClientID: "rs", AuthMethod: "private_key_jwt"}, "needs a PrivateKey"},
		{"P-224 key", warden.Introspection{Endpoint: ep, ClientID: "rs", PrivateKey: ec224}, "curve"},
		{"1024-bit RSA key", warden.Introspection{Endpoint: ep, ClientID: "rs", PrivateKey: rsa1024}, "fewer than 2048"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := warden.New(warden.Config{Issuers: []warden.IssuerConfig{{URL: introIssuer, Audience: introAudience,
				JWKS: wardentest.JWKS(wardentest.NewECKey("k")), Introspection: tc.in}}})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want an error containing %q", err, tc.want)
			}
		})
	}
	t.Run("two issuers introspecting", func(t *testing.T) {
		t.Parallel()
		in := warden.Introspection{Endpoint: ep, ClientID: "rs", ClientSecret: "s"}
		keys := wardentest.JWKS(wardentest.NewECKey("k"))
		_, err := warden.New(warden.Config{Issuers: []warden.IssuerConfig{
			{URL: introIssuer, Audience: introAudience, JWKS: keys, Introspection: in},
			{URL: "https://as2.example.test", Audience: introAudience, JWKS: keys, Introspection: in}}})
		if err == nil || !strings.Contains(err.Error(), "both set Introspection") {
			t.Errorf("New: %v, want an error naming both issuers", err)
		}
	})
	t.Run("discovery without introspection_endpoint", func(t *testing.T) {
		t.Parallel()
		iss := wardentest.NewIssuer(t)
		doc := httpDoc(t, `{"issuer":"`+iss.URL+`","jwks_uri":"`+iss.JWKSURL()+`"}`)
		_, err := warden.New(warden.Config{Issuers: []warden.IssuerConfig{{URL: iss.URL, Audience: iss.Audience,
			DiscoveryURL: doc, Introspection: warden.Introspection{ClientID: "rs", ClientSecret: "s"}}}})
		if err == nil || !strings.Contains(err.Error(), "introspection_endpoint") {
			t.Errorf("New: %v, want an error naming introspection_endpoint", err)
		}
	})
}

// httpDoc serves body as a JSON document on loopback and returns its URL.
func httpDoc(t *testing.T, body string) string {
	t.Helper()
	ep := newIntroEndpoint(t, jsonAnswer(body))
	return ep.URL + "/.well-known/openid-configuration"
}

// TestIntrospectionPrivateKeyJWT: private_key_jwt sends a fresh RFC 7523
// assertion with every call, which the endpoint verifies with the public
// key: iss and sub the client id, aud the issuer, a one-minute life, a jti
// never repeated.
func TestIntrospectionPrivateKeyJWT(t *testing.T) {
	t.Parallel()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	clock := &testClock{t: time.Unix(1_900_000_000, 0)}
	seen := map[string]bool{}
	var failure error
	ep := newIntroEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		var claims jwt.RegisteredClaims
		tok, err := jwt.ParseWithClaims(r.PostForm.Get("client_assertion"), &claims, func(tk *jwt.Token) (any, error) {
			if tk.Header["kid"] != "rs-key" {
				return nil, errors.New("wrong kid")
			}
			return &key.PublicKey, nil
		}, jwt.WithValidMethods([]string{"ES256"}), jwt.WithTimeFunc(clock.Now), jwt.WithAudience(introIssuer), jwt.WithIssuer("rs"))
		switch {
		case err != nil || !tok.Valid:
			failure = err
		case r.PostForm.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
			r.PostForm.Get("client_id") != "rs", claims.Subject != "rs", seen[claims.ID],
			claims.ExpiresAt.Sub(claims.IssuedAt.Time) != time.Minute:
			failure = errors.New("assertion claims or parameters wrong")
		default:
			seen[claims.ID] = true
			jsonAnswer(introAnswer(clock))(w, r)
			return
		}
		http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
	})
	f := newIntroFixture(t, nil, warden.Introspection{Endpoint: ep.URL, ClientID: "rs", PrivateKey: key, KeyID: "rs-key"}, nil)
	f.clock = clock
	f.do(t, "opaque-a", "read").check(t, warden.ReasonOK)
	f.do(t, "opaque-b", "read").check(t, warden.ReasonOK)
	if failure != nil {
		t.Errorf("the endpoint refused the assertion: %v", failure)
	}
	if len(seen) != 2 {
		t.Errorf("%d distinct assertions for 2 calls", len(seen))
	}
}

// TestIntrospectionSignedResponse: with SignedResponse, only an RFC 9701
// answer signed by the issuer, typed token-introspection+jwt, from the
// issuer and addressed to warden is used; anything else is the
// endpoint's failure.
func TestIntrospectionSignedResponse(t *testing.T) {
	t.Parallel()
	iss := wardentest.NewIssuer(t)
	iss.Audience = introAudience
	clock := &testClock{t: time.Unix(1_900_000_000, 0)}
	iss.SetClock(clock.Now) // its answers' iat must be the fixtures' now
	signed := func(key *wardentest.Key, typ, from, to string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Accept") != "application/token-introspection+jwt" {
				http.Error(w, "not acceptable", http.StatusNotAcceptable)
				return
			}
			var answer map[string]any
			_ = json.Unmarshal([]byte(introAnswer(clock, "iss", iss.URL)), &answer)
			hb, _ := json.Marshal(map[string]any{"alg": key.Alg, "kid": key.ID, "typ": typ})
			pb, _ := json.Marshal(map[string]any{"iss": from, "aud": to, "iat": clock.Now().Unix(), "token_introspection": answer})
			w.Header().Set("Content-Type", "application/token-introspection+jwt")
			_, _ = io.WriteString(w, key.Sign(key.Alg, hb, pb))
		}
	}
	good := iss.Keys()[0]
	stranger := wardentest.NewECKey(good.ID) // another key under a published kid
	for _, tc := range []struct {
		name   string
		answer http.HandlerFunc
		want   warden.Reason
	}{
		{"signed by the issuer", signed(good, "token-introspection+jwt", iss.URL, "rs"), warden.ReasonOK},
		{"typ with application/", signed(good, "application/token-introspection+jwt", iss.URL, "rs"), warden.ReasonOK},
		{"plain JSON", jsonAnswer(introAnswer(clock, "iss", iss.URL)), warden.ReasonIntrospectionUnavailable},
		{"typ JWT", signed(good, "JWT", iss.URL, "rs"), warden.ReasonIntrospectionUnavailable},
		{"another key", signed(stranger, "token-introspection+jwt", iss.URL, "rs"), warden.ReasonIntrospectionUnavailable},
		{"from another issuer", signed(good, "token-introspection+jwt", "https://evil.example", "rs"), warden.ReasonIntrospectionUnavailable},
		{"to another client", signed(good, "token-introspection+jwt", iss.URL, "other-rs"), warden.ReasonIntrospectionUnavailable},
		{"wardentest's own", nil, warden.ReasonTokenInactive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			endpoint := iss.IntrospectionURL()
			if tc.answer != nil {
				endpoint = newIntroEndpoint(t, tc.answer).URL
			} else {
				iss.AddClient(wardentest.Client{ID: "rs", Secret: "rs-secret"})
			}
			in := introBasic(endpoint)
			in.SignedResponse = true
			f := newIntroFixture(t, iss, in, nil)
			f.do(t, "opaque-signed", "read").check(t, tc.want)
		})
	}
}

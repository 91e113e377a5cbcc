package wardentest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// newTestIssuer starts an issuer with the clients the tests share.
func newTestIssuer(t *testing.T) *wardentest.Issuer {
	t.Helper()
	iss := wardentest.NewIssuer(t)
	iss.AddClient(wardentest.Client{ID: "reader", Secret: "reader-secret", Scopes: []string{"Entry_Read", "ContentType_Read"}})
	iss.AddClient(wardentest.Client{ID: "odd:client", Secret: "p@ss word+/%", Scopes: []string{"Entry_Read"}})
	iss.AddClient(wardentest.Client{ID: "impersonator", Secret: "imp-secret", MayActAs: map[string][]string{
		"alice": {"Entry_Read"},
		"bob":   {"Entry_Read", "Entry_Write"},
	}})
	return iss
}

// verifier builds the middleware a resource server would use to trust iss.
func verifier(t *testing.T, iss *wardentest.Issuer) *warden.Middleware {
	t.Helper()
	mw, err := warden.New(iss.Config())
	require.NoError(t, err, "warden.New")
	t.Cleanup(func() { _ = mw.Close() })
	return mw
}

// TestClientCredentialsWithOAuth2Client fetches tokens with the
// golang.org/x/oauth2 client in both authentication styles and checks what
// a resource server makes of them.
func TestClientCredentialsWithOAuth2Client(t *testing.T) {
	t.Parallel()
	iss := newTestIssuer(t)
	mw := verifier(t, iss)
	tests := []struct {
		name        string
		id, secret  string
		scopes      []string
		params      url.Values
		wantSubject string
		wantScopes  []string
		wantActor   string
	}{
		{name: "all scopes", id: "reader", secret: "reader-secret", wantSubject: "reader", wantScopes: []string{"Entry_Read", "ContentType_Read"}},
		{name: "subset", id: "reader", secret: "reader-secret", scopes: []string{"ContentType_Read"}, wantSubject: "reader", wantScopes: []string{"ContentType_Read"}},
		{name: "escaped id and secret", id: "odd:client", secret: "p@ss word+/%", wantSubject: "odd:client", wantScopes: []string{"Entry_Read"}},
		{name: "act_as alice", id: "impersonator", secret: "imp-secret", params: url.Values{"act_as": {"alice"}}, wantSubject: "alice", wantScopes: []string{"Entry_Read"}, wantActor: "impersonator"},
		{name: "act_as bob, narrowed", id: "impersonator", secret: "imp-secret", scopes: []string{"Entry_Write"}, params: url.Values{"act_as": {"bob"}}, wantSubject: "bob", wantScopes: []string{"Entry_Write"}, wantActor: "impersonator"},
	}
	for _, tt := range tests {
		for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
			t.Run(tt.name+"/"+styleName(style), func(t *testing.T) {
				t.Parallel()
				cc := clientcredentials.Config{ClientID: tt.id, ClientSecret: tt.secret, TokenURL: iss.URL + "/oauth/token",
					Scopes: tt.scopes, EndpointParams: tt.params, AuthStyle: style}
				tok, err := cc.Token(context.Background())
				require.NoError(t, err, "Token")
				assert.Equal(t, "Bearer", tok.TokenType, "token_type")
				expiresIn := time.Until(tok.Expiry)
				assert.GreaterOrEqual(t, expiresIn, 4*time.Minute, "the token expires in about 5m")
				assert.LessOrEqual(t, expiresIn, 5*time.Minute, "the token expires in about 5m")
				p, err := mw.Verify(context.Background(), tok.AccessToken)
				require.NoError(t, err, "Verify")
				assert.Equal(t, tt.wantSubject, p.Subject(), "subject")
				assert.Equal(t, tt.id, p.ClientID(), "client")
				assert.Equal(t, tt.wantScopes, p.Scopes(), "scopes")
				var actor string
				if a := p.Actor(); a != nil {
					actor = a.Subject
				}
				assert.Equal(t, tt.wantActor, actor, "actor")
			})
		}
	}
}

func styleName(s oauth2.AuthStyle) string {
	if s == oauth2.AuthStyleInHeader {
		return "basic"
	}
	return "post"
}

// TestTokenJSONBody covers client_secret_post in a JSON body, the shape the
// seed vendors document, including impersonation.
func TestTokenJSONBody(t *testing.T) {
	t.Parallel()
	iss := newTestIssuer(t)
	mw := verifier(t, iss)
	resp := post(t, iss, "application/json", `{"grant_type":"client_credentials","client_id":"impersonator","client_secret":"imp-secret","act_as":"bob"}`, nil)
	body := decodeBody(t, resp, http.StatusOK)
	assert.Equal(t, "Bearer", body["token_type"])
	assert.Equal(t, float64(300), body["expires_in"])
	assert.Equal(t, "Entry_Read Entry_Write", body["scope"], "the user's permissions")
	raw, _ := body["access_token"].(string)
	p, err := mw.Verify(context.Background(), raw)
	require.NoError(t, err, "Verify")
	var claims struct {
		Act struct {
			Sub string `json:"sub"`
		} `json:"act"`
		ActAs *string `json:"act_as"`
	}
	require.NoError(t, p.Claims(&claims))
	assert.Equal(t, "bob", p.Subject(), "sub")
	assert.Equal(t, "impersonator", claims.Act.Sub, "act.sub")
	assert.Nil(t, claims.ActAs, "act_as")
}

// TestTokenEndpointFakeClock checks that the endpoint mints on the issuer's
// clock and that Config hands that clock to the middleware.
func TestTokenEndpointFakeClock(t *testing.T) {
	t.Parallel()
	iss := newTestIssuer(t)
	iss.TokenLifetime = time.Minute
	var mu sync.Mutex
	now := time.Date(2031, 5, 1, 12, 0, 0, 0, time.UTC)
	iss.SetClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	cfg := iss.StaticConfig()
	mw, err := warden.New(cfg)
	require.NoError(t, err)
	defer mw.Close()
	resp := post(t, iss, "application/json", `{"grant_type":"client_credentials","client_id":"reader","client_secret":"reader-secret","scope":"Entry_Read"}`, nil)
	body := decodeBody(t, resp, http.StatusOK)
	assert.Equal(t, float64(60), body["expires_in"])
	raw, _ := body["access_token"].(string)
	p, err := mw.Verify(context.Background(), raw)
	require.NoError(t, err, "Verify on the issuer's clock")
	assert.True(t, p.IssuedAt().Equal(now), "iat %v, want %v", p.IssuedAt(), now)
	assert.True(t, p.ExpiresAt().Equal(now.Add(time.Minute)), "exp %v, want a minute after %v", p.ExpiresAt(), now)
	// Two minutes later on the same clock the token has expired (leeway 60 s).
	mu.Lock()
	now = now.Add(2*time.Minute + time.Second)
	mu.Unlock()
	var we *warden.Error
	_, err = mw.Verify(context.Background(), raw)
	require.ErrorAs(t, err, &we, "Verify after expiry")
	assert.Equal(t, warden.ReasonExpired, we.Reason, "Verify after expiry")
}

// TestAddClientReplaces checks that re-registering a client takes effect for
// both authentication methods.
func TestAddClientReplaces(t *testing.T) {
	t.Parallel()
	iss := newTestIssuer(t)
	iss.AddClient(wardentest.Client{ID: "reader", Secret: "rotated", Scopes: []string{"Entry_Read"}})
	for _, tc := range []struct {
		secret string
		want   int
	}{{"reader-secret", http.StatusUnauthorized}, {"rotated", http.StatusOK}} {
		for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
			cc := clientcredentials.Config{ClientID: "reader", ClientSecret: tc.secret, TokenURL: iss.URL + "/oauth/token", AuthStyle: style}
			_, err := cc.Token(context.Background())
			if tc.want == http.StatusOK {
				assert.NoError(t, err, "%s with %q", styleName(style), tc.secret)
				continue
			}
			var re *oauth2.RetrieveError
			if assert.ErrorAs(t, err, &re, "%s with %q", styleName(style), tc.secret) {
				assert.Equal(t, tc.want, re.Response.StatusCode, "%s with %q", styleName(style), tc.secret)
				assert.Equal(t, "invalid_client", re.ErrorCode, "%s with %q", styleName(style), tc.secret)
			}
		}
	}
}

// TestNewIssuerAtMounted serves an issuer from a server of our own, as the
// demo does, and checks its documents name that server.
func TestNewIssuerAtMounted(t *testing.T) {
	t.Parallel()
	ext := wardentest.NewIssuer(t) // borrow a listener: serve a second issuer through Handle
	iss := wardentest.NewIssuerAt(ext.URL + "/tenant")
	ext.Handle("/tenant/.well-known/openid-configuration", http.StripPrefix("/tenant", iss))
	resp, err := http.Get(ext.URL + "/tenant/.well-known/openid-configuration")
	require.NoError(t, err)
	doc := decodeBody(t, resp, http.StatusOK)
	assert.Equal(t, ext.URL+"/tenant", doc["issuer"])
	assert.Equal(t, ext.URL+"/tenant/jwks.json", doc["jwks_uri"])
	assert.Equal(t, ext.URL+"/tenant/oauth/token", doc["token_endpoint"])
	assert.Nil(t, iss.Server, "NewIssuerAt started a server")
	iss.Close() // a no-op, must not panic
	for _, bad := range []string{"", "/relative", "ftp://host", "http://host/?q=1", "http://host/#f"} {
		assert.Panics(t, func() { wardentest.NewIssuerAt(bad) }, "NewIssuerAt(%q)", bad)
	}
}

func post(t *testing.T, iss *wardentest.Issuer, ctype, body string, header http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, iss.URL+"/oauth/token", strings.NewReader(body))
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", ctype)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	return resp
}

// decodeBody checks the status and the no-store header every token endpoint
// response needs (RFC 6749 §5.1), and decodes the JSON body.
func decodeBody(t *testing.T, resp *http.Response, wantStatus int) map[string]any {
	t.Helper()
	defer resp.Body.Close()
	assert.Equal(t, wantStatus, resp.StatusCode, "status")
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	var m map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&m), "body is JSON")
	return m
}

// TestConfigFakeClockRotation runs the middleware from Config (keys fetched
// over loopback) on a fake clock far from now, and follows a rotation.
func TestConfigFakeClockRotation(t *testing.T) {
	t.Parallel()
	iss := newTestIssuer(t)
	now := time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	iss.SetClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	mw := verifier(t, iss)
	cc := clientcredentials.Config{ClientID: "reader", ClientSecret: "reader-secret", TokenURL: iss.URL + "/oauth/token"}
	tok, err := cc.Token(context.Background())
	require.NoError(t, err)
	_, err = mw.Verify(context.Background(), tok.AccessToken)
	require.NoError(t, err, "Verify on the fake clock")
	fetches := iss.JWKSFetches()
	mu.Lock()
	now = now.Add(time.Hour)
	mu.Unlock()
	iss.Rotate("rsa-2")
	rotated := iss.Scoped("Entry_Read")
	p, err := mw.Verify(context.Background(), rotated)
	require.NoError(t, err, "Verify after rotation")
	assert.Equal(t, fetches+1, iss.JWKSFetches(), "JWKS fetches after rotation")
	assert.True(t, p.IssuedAt().Equal(now), "iat %v, want the fake clock's %v", p.IssuedAt(), now)
}

// TestTokenEndpointConcurrent requests tokens while clients are added, for
// the race detector.
func TestTokenEndpointConcurrent(t *testing.T) {
	t.Parallel()
	iss := newTestIssuer(t)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for n := range 8 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			style := oauth2.AuthStyleInHeader
			if n%2 == 1 {
				style = oauth2.AuthStyleInParams
			}
			cc := clientcredentials.Config{ClientID: "reader", ClientSecret: "reader-secret", TokenURL: iss.URL + "/oauth/token", AuthStyle: style}
			if _, err := cc.Token(context.Background()); err != nil {
				errs <- err
			}
		}()
		go func() {
			defer wg.Done()
			iss.AddClient(wardentest.Client{ID: "extra-" + strconv.Itoa(n), Secret: "s", Scopes: []string{"Entry_Read"}})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
}

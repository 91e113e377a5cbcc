package wardentest_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
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
	if err != nil {
		t.Fatalf("warden.New: %v", err)
	}
	t.Cleanup(func() { _ = mw.Close() })
	return mw
}

// TestClientCredentialsWithOAuth2Client fetches tokens with the
// golang.org/x/oauth2 client in both authentication styles and checks what
// a resource server makes of them.
func TestClientCredentialsWithOAuth2Client(t *testing.T) {
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
				cc := clientcredentials.Config{ClientID: tt.id, ClientSecret: tt.secret, TokenURL: iss.URL + "/oauth/token",
					Scopes: tt.scopes, EndpointParams: tt.params, AuthStyle: style}
				tok, err := cc.Token(context.Background())
				if err != nil {
					t.Fatalf("Token: %v", err)
				}
				if tok.TokenType != "Bearer" {
					t.Errorf("token_type = %q, want Bearer", tok.TokenType)
				}
				if got := time.Until(tok.Expiry); got < 4*time.Minute || got > 5*time.Minute {
					t.Errorf("token expires in %v, want about 5m", got)
				}
				p, err := mw.Verify(context.Background(), tok.AccessToken)
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if p.Subject() != tt.wantSubject || p.ClientID() != tt.id {
					t.Errorf("subject, client = %q, %q, want %q, %q", p.Subject(), p.ClientID(), tt.wantSubject, tt.id)
				}
				if !slices.Equal(p.Scopes(), tt.wantScopes) {
					t.Errorf("scopes = %q, want %q", p.Scopes(), tt.wantScopes)
				}
				var actor string
				if a := p.Actor(); a != nil {
					actor = a.Subject
				}
				if actor != tt.wantActor {
					t.Errorf("actor = %q, want %q", actor, tt.wantActor)
				}
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
	iss := newTestIssuer(t)
	mw := verifier(t, iss)
	resp := post(t, iss, "application/json", `{"grant_type":"client_credentials","client_id":"impersonator","client_secret":"imp-secret","act_as":"bob"}`, nil)
	body := decodeBody(t, resp, http.StatusOK)
	if body["token_type"] != "Bearer" || body["expires_in"] != float64(300) || body["scope"] != "Entry_Read Entry_Write" {
		t.Errorf("body = %v, want Bearer, 300 s, the user's permissions", body)
	}
	raw, _ := body["access_token"].(string)
	p, err := mw.Verify(context.Background(), raw)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	var claims struct {
		Act struct {
			Sub string `json:"sub"`
		} `json:"act"`
		ActAs *string `json:"act_as"`
	}
	if err := p.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if p.Subject() != "bob" || claims.Act.Sub != "impersonator" || claims.ActAs != nil {
		t.Errorf("sub = %q, act.sub = %q, act_as = %v; want bob, impersonator, absent", p.Subject(), claims.Act.Sub, claims.ActAs)
	}
}

// TestTokenEndpointFakeClock checks that the endpoint mints on the issuer's
// clock and that Config hands that clock to the middleware.
func TestTokenEndpointFakeClock(t *testing.T) {
	iss := newTestIssuer(t)
	iss.TokenLifetime = time.Minute
	now := time.Date(2031, 5, 1, 12, 0, 0, 0, time.UTC)
	iss.SetClock(func() time.Time { return now })
	cfg := iss.StaticConfig()
	mw, err := warden.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer mw.Close()
	resp := post(t, iss, "application/json", `{"grant_type":"client_credentials","client_id":"reader","client_secret":"reader-secret","scope":"Entry_Read"}`, nil)
	body := decodeBody(t, resp, http.StatusOK)
	if body["expires_in"] != float64(60) {
		t.Errorf("expires_in = %v, want 60", body["expires_in"])
	}
	raw, _ := body["access_token"].(string)
	p, err := mw.Verify(context.Background(), raw)
	if err != nil {
		t.Fatalf("Verify on the issuer's clock: %v", err)
	}
	if !p.ExpiresAt().Equal(now.Add(time.Minute)) || !p.IssuedAt().Equal(now) {
		t.Errorf("iat, exp = %v, %v; want %v and a minute later", p.IssuedAt(), p.ExpiresAt(), now)
	}
	// Two minutes later on the same clock the token has expired (leeway 60 s).
	now = now.Add(2*time.Minute + time.Second)
	var we *warden.Error
	if _, err := mw.Verify(context.Background(), raw); !errors.As(err, &we) || we.Reason != warden.ReasonExpired {
		t.Errorf("Verify after expiry = %v, want %s", err, warden.ReasonExpired)
	}
}

// TestAddClientReplaces checks that re-registering a client takes effect for
// both authentication methods.
func TestAddClientReplaces(t *testing.T) {
	iss := newTestIssuer(t)
	iss.AddClient(wardentest.Client{ID: "reader", Secret: "rotated", Scopes: []string{"Entry_Read"}})
	for _, tc := range []struct {
		secret string
		want   int
	}{{"reader-secret", http.StatusUnauthorized}, {"rotated", http.StatusOK}} {
		for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
			cc := clientcredentials.Config{ClientID: "reader", ClientSecret: tc.secret, TokenURL: iss.URL + "/oauth/token", AuthStyle: style}
			_, err := cc.Token(context.Background())
			var re *oauth2.RetrieveError
			switch {
			case tc.want == http.StatusOK && err != nil:
				t.Errorf("%s with %q: %v", styleName(style), tc.secret, err)
			case tc.want != http.StatusOK && (!errors.As(err, &re) || re.Response.StatusCode != tc.want || re.ErrorCode != "invalid_client"):
				t.Errorf("%s with %q: err = %v, want %d invalid_client", styleName(style), tc.secret, err, tc.want)
			}
		}
	}
}

// TestNewIssuerAtMounted serves an issuer from a server of our own, as the
// demo does, and checks its documents name that server.
func TestNewIssuerAtMounted(t *testing.T) {
	ext := wardentest.NewIssuer(t) // borrow a listener: serve a second issuer through Handle
	iss := wardentest.NewIssuerAt(ext.URL + "/tenant")
	ext.Handle("/tenant/.well-known/openid-configuration", http.StripPrefix("/tenant", iss))
	resp, err := http.Get(ext.URL + "/tenant/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	doc := decodeBody(t, resp, http.StatusOK)
	if doc["issuer"] != ext.URL+"/tenant" || doc["jwks_uri"] != ext.URL+"/tenant/jwks.json" || doc["token_endpoint"] != ext.URL+"/tenant/oauth/token" {
		t.Errorf("discovery = %v, want URLs under %s/tenant", doc, ext.URL)
	}
	if iss.Server != nil {
		t.Error("NewIssuerAt started a server")
	}
	iss.Close() // a no-op, must not panic
	for _, bad := range []string{"", "/relative", "ftp://host", "http://host/?q=1", "http://host/#f"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewIssuerAt(%q) did not panic", bad)
				}
			}()
			wardentest.NewIssuerAt(bad)
		}()
	}
}

func post(t *testing.T, iss *wardentest.Issuer, ctype, body string, header http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, iss.URL+"/oauth/token", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", ctype)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// decodeBody checks the status and the no-store header every token endpoint
// response needs (RFC 6749 §5.1), and decodes the JSON body.
func decodeBody(t *testing.T, resp *http.Response, wantStatus int) map[string]any {
	t.Helper()
	defer resp.Body.Close()
	if resp.StatusCode != wantStatus {
		t.Errorf("status = %d, want %d", resp.StatusCode, wantStatus)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("body is not JSON: %v", err)
	}
	return m
}

// TestConfigFakeClockRotation runs the middleware from Config (keys fetched
// over loopback) on a fake clock far from now, and follows a rotation.
func TestConfigFakeClockRotation(t *testing.T) {
	iss := newTestIssuer(t)
	now := time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	iss.SetClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	mw, err := warden.New(iss.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer mw.Close()
	cc := clientcredentials.Config{ClientID: "reader", ClientSecret: "reader-secret", TokenURL: iss.URL + "/oauth/token"}
	tok, err := cc.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mw.Verify(context.Background(), tok.AccessToken); err != nil {
		t.Fatalf("Verify on the fake clock: %v", err)
	}
	fetches := iss.JWKSFetches()
	mu.Lock()
	now = now.Add(time.Hour)
	mu.Unlock()
	iss.Rotate("rsa-2")
	rotated := iss.Scoped("Entry_Read")
	p, err := mw.Verify(context.Background(), rotated)
	if err != nil {
		t.Fatalf("Verify after rotation: %v", err)
	}
	if got := iss.JWKSFetches(); got != fetches+1 {
		t.Errorf("JWKS fetches after rotation = %d, want %d", got, fetches+1)
	}
	if !p.IssuedAt().Equal(now) {
		t.Errorf("iat = %v, want the fake clock's %v", p.IssuedAt(), now)
	}
}

// TestTokenEndpointConcurrent requests tokens while clients are added, for
// the race detector.
func TestTokenEndpointConcurrent(t *testing.T) {
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
		t.Error(err)
	}
}

package warden_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// contensisSample is the access token printed in the Contensis Delivery API
// documentation (../shared/seeds): header typ JWT with kid and x5t, no sub,
// no iat, aud = issuer + "/resources", scope as a string.
const contensisSample = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiIsIng1dCI6IjlmcEhwSnMxZkdnUG5NRURHdmNNbnhxUmZNMCIsImtpZCI6IjlmcEhwSnMxZkdnUG5NRURHdmNNbnhxUmZNMCJ9.eyJpc3MiOiJodHRwOi8vY21zLWRldmVsb3AuY2xvdWQuY29udGVuc2lzLmNvbS9hdXRoZW50aWNhdGUiLCJhdWQiOiJodHRwOi8vY21zLWRldmVsb3AuY2xvdWQuY29udGVuc2lzLmNvbS9hdXRoZW50aWNhdGUvcmVzb3VyY2VzIiwiZXhwIjoxNDg4Mzc5MzU4LCJuYmYiOjE0ODgzNzU3NTgsImNsaWVudF9pZCI6ImJkYTMwZTU2LTRmYWYtNDEyYy1iNDYwLTZmY2U5MzQyYjE2MiIsImNsaWVudF9zdWIiOiJiZGEzMGU1Ni00ZmFmLSQxMmMtYjQ2MC02ZmNlOTM0MmIxNjIiLCJjbGllbnRfdXNlcm5hbWUiOiJTaW1vbidzIGtleSIsInNjb3BlIjoiRW50cnlfUmVhZCJ9.g1krcmM_2Qe5ZIB_2c8LDmBVP8tc2V2j01PqvlHk8swVLTonF_x-5Iob0Tql8dJN_jDyJyJNx0dzZGAd-w1Gn8qS_6KQR9e4Uk4z1OAd6s1soo6WhXMqgbGJ8Hq9WXgOehZz_Vz2efdGFZ2JJLr7mRRNj-4XL21XhkVYXWnxXfugSZ0tJdBa2rMTxDgz8uVF9Tdrcduy7l85lOjTZL13CwMbrPQebCdTQCty7LKGfF_U3KaWyRtTXwZhUvhq-7wCtEuHymcEAa_8jokL8pT0vhPkvMKZ_SiVCkdnBbwQ6GNFMU_mfjt4b-xgxjUFsHDhQPczosxmn8I7__hRpcsZCQ"

// TestRealWorldTokenShapes checks that the token shapes real issuers send
// work with the default configuration.
func TestRealWorldTokenShapes(t *testing.T) {
	t.Parallel()
	key := spareRSAKey("9fpHpJs1fGgPnMEDGvcMnxqRfM0")
	parts := strings.Split(contensisSample, ".")
	header, err := base64.RawURLEncoding.DecodeString(parts[0])
	require.NoError(t, err)
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	const cmsIssuer = "http://cms-develop.cloud.contensis.com/authenticate"
	at := time.Unix(1488379358-600, 0) // ten minutes before the sample's exp

	cases := []struct {
		name         string
		token        string
		wantSubject  string
		wantClientID string
	}{
		{"Contensis sample re-signed", key.Sign("", header, payload), "bda30e56-4faf-412c-b460-6fce9342b162", "bda30e56-4faf-412c-b460-6fce9342b162"},
		{"IdentityServer scope array", key.Sign("", []byte(`{"alg":"RS256","kid":"9fpHpJs1fGgPnMEDGvcMnxqRfM0","typ":"at+jwt"}`),
			[]byte(`{"iss":"`+cmsIssuer+`","aud":["`+cmsIssuer+`/resources"],"exp":1488379358,"client_id":"is4","sub":"u1","scope":["Entry_Read","offline_access"]}`)), "u1", "is4"},
		{"Azure scp and azp", key.Sign("", []byte(`{"alg":"RS256","kid":"9fpHpJs1fGgPnMEDGvcMnxqRfM0","typ":"JWT"}`),
			[]byte(`{"iss":"`+cmsIssuer+`","aud":"`+cmsIssuer+`/resources","exp":1488379358,"azp":"azure-app","scp":"Entry_Read"}`)), "azure-app", "azure-app"},
	}
	mw := newMiddleware(t, warden.Config{
		Issuers: []warden.IssuerConfig{{
			URL:      cmsIssuer,
			Audience: cmsIssuer + "/resources",
			JWKS:     wardentest.JWKS(key),
		}},
		Now: func() time.Time { return at },
	})
	h := mw.Require(warden.Scopes("Entry_Read"))(echoPrincipal)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := request{path: "/", auth: []string{"bearer " + tc.token}}.do(h)
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			p, err := mw.Verify(context.Background(), tc.token)
			require.NoError(t, err)
			assert.Equal(t, tc.wantSubject, p.Subject())
			assert.Equal(t, tc.wantClientID, p.ClientID())
			assert.True(t, p.HasScope("Entry_Read"))
			assert.Equal(t, warden.SchemeBearer, p.Scheme())
		})
	}
	// The original sample names the same kid but was signed by Contensis'
	// own key: the signature check is what refuses it.
	_, err = mw.Verify(context.Background(), contensisSample)
	var we *warden.Error
	require.ErrorAs(t, err, &we)
	assert.Equal(t, warden.ReasonBadSignature, we.Reason)
}

// TestStrictProfile covers the RFC 9068 profile switch.
func TestStrictProfile(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *warden.Config, _ *wardentest.Issuer) { c.StrictRFC9068 = true })
	cases := []struct {
		name   string
		token  wardentest.Token
		reason warden.Reason
	}{
		{"at+jwt", wardentest.Token{}, warden.ReasonOK},
		{"application/at+jwt", wardentest.Token{Header: map[string]any{"typ": "application/at+jwt"}}, warden.ReasonOK},
		{"AT+JWT", wardentest.Token{Header: map[string]any{"typ": "AT+JWT"}}, warden.ReasonOK},
		{"typ JWT", wardentest.Token{Header: map[string]any{"typ": "JWT"}}, warden.ReasonWrongType},
		{"no typ", wardentest.Token{Header: map[string]any{"typ": nil}}, warden.ReasonWrongType},
		{"no sub", wardentest.Token{Claims: wardentest.Claims{"sub": nil}}, warden.ReasonMissingClaim},
		{"no client_id", wardentest.Token{Claims: wardentest.Claims{"client_id": nil}}, warden.ReasonMissingClaim},
		{"no jti", wardentest.Token{Claims: wardentest.Claims{"jti": nil}}, warden.ReasonMissingClaim},
		{"no iat", wardentest.Token{Claims: wardentest.Claims{"iat": nil}}, warden.ReasonMissingClaim},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.mw.Verify(context.Background(), f.iss.Mint(tc.token))
			assert.Equal(t, tc.reason, reasonOf(err))
		})
	}
}

// TestHMACIssuer: HS256 only with an explicitly configured secret, and
// never for an issuer whose keys come from a JWK Set.
func TestHMACIssuer(t *testing.T) {
	t.Parallel()
	secret := []byte(strings.Repeat("s", 32))
	long := []byte(strings.Repeat("l", 64))
	iss := wardentest.NewIssuer(t)
	mw := newMiddleware(t, warden.Config{
		Issuers: []warden.IssuerConfig{{
			URL:        "https://hmac.test",
			Audience:   "api",
			HMACSecret: secret,
		},
			{URL: iss.URL, Audience: iss.Audience, JWKS: wardentest.JWKS(iss.Keys()...)},
			{URL: "https://hmac-long.test", Audience: "api", HMACSecret: long},
		},
	})
	exp := time.Now().Add(time.Minute).Unix()
	payload := func(issuer, aud string) []byte {
		return []byte(`{"iss":"` + issuer + `","aud":"` + aud + `","sub":"s","exp":` + strconv.FormatInt(exp, 10) + `}`)
	}
	cases := []struct {
		name   string
		token  string
		reason warden.Reason
	}{
		{"HS256 with the secret", wardentest.SignHMAC("HS256", secret, []byte(`{"alg":"HS256"}`), payload("https://hmac.test", "api")), warden.ReasonOK},
		// RFC 7518 §3.2: a 32-byte secret is long enough for HS256 only, so
		// with Algorithms empty that issuer takes HS256 alone.
		{"HS512 with a 32-byte secret", wardentest.SignHMAC("HS512", secret, []byte(`{"alg":"HS512"}`), payload("https://hmac.test", "api")), warden.ReasonDisallowedAlg},
		{"HS384 with a 32-byte secret", wardentest.SignHMAC("HS384", secret, []byte(`{"alg":"HS384"}`), payload("https://hmac.test", "api")), warden.ReasonDisallowedAlg},
		{"HS512 with a 64-byte secret", wardentest.SignHMAC("HS512", long, []byte(`{"alg":"HS512"}`), payload("https://hmac-long.test", "api")), warden.ReasonOK},
		{"HS256 with a 64-byte secret", wardentest.SignHMAC("HS256", long, []byte(`{"alg":"HS256"}`), payload("https://hmac-long.test", "api")), warden.ReasonOK},
		{"HS256 with another secret", wardentest.SignHMAC("HS256", []byte(strings.Repeat("x", 32)), []byte(`{"alg":"HS256"}`), payload("https://hmac.test", "api")), warden.ReasonBadSignature},
		{"RS256 to the HMAC issuer", iss.Keys()[0].Sign("", []byte(`{"alg":"RS256","kid":"rsa-1"}`), payload("https://hmac.test", "api")), warden.ReasonDisallowedAlg},
		{"HS256 to the JWKS issuer, secret", wardentest.SignHMAC("HS256", secret, []byte(`{"alg":"HS256","kid":"rsa-1"}`), payload(iss.URL, iss.Audience)), warden.ReasonDisallowedAlg},
		{"RS256 to the JWKS issuer", iss.Mint(wardentest.Token{}), warden.ReasonOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := mw.Verify(context.Background(), tc.token)
			assert.Equal(t, tc.reason, reasonOf(err))
		})
	}
}

// TestMultipleIssuers: each issuer's keys verify only its own tokens, and
// each has its own audience.
func TestMultipleIssuers(t *testing.T) {
	t.Parallel()
	a, b := wardentest.NewIssuer(t), wardentest.NewIssuer(t)
	b.Audience = "https://b.api.test"
	mw := newMiddleware(t, warden.Config{Issuers: []warden.IssuerConfig{
		{URL: a.URL, Audience: a.Audience, JWKS: wardentest.JWKS(a.Keys()...)},
		{URL: b.URL, Audience: b.Audience, JWKS: wardentest.JWKS(b.Keys()...)},
	}})
	cases := []struct {
		name   string
		token  string
		reason warden.Reason
	}{
		{"issuer A", a.Mint(wardentest.Token{}), warden.ReasonOK},
		{"issuer B", b.Mint(wardentest.Token{}), warden.ReasonOK},
		{"A's key claiming B (same kid)", a.Mint(wardentest.Token{Claims: wardentest.Claims{"iss": b.URL, "aud": b.Audience}}), warden.ReasonBadSignature},
		{"B's token with A's audience", b.Mint(wardentest.Token{Claims: wardentest.Claims{"aud": a.Audience}}), warden.ReasonWrongAudience},
		{"unknown issuer", a.Mint(wardentest.Token{Claims: wardentest.Claims{"iss": "https://evil.test"}}), warden.ReasonWrongIssuer},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := mw.Verify(context.Background(), tc.token)
			assert.Equal(t, tc.reason, reasonOf(err))
		})
	}
}

// TestPrincipal checks the accessors, the impersonation chain and Claims.
func TestPrincipal(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	token := f.iss.Mint(wardentest.Token{Claims: wardentest.Claims{
		"sub": "alice", "client_id": "cms-app", "scope": "a b", "jti": "id-1", "tenant": "t1",
		"act": map[string]any{"sub": "cms-app", "client_id": "cms-app", "act": map[string]any{"sub": "gateway"}},
	}})
	p, err := f.mw.Verify(context.Background(), token)
	require.NoError(t, err)
	assert.Equal(t, "alice", p.Subject())
	assert.Equal(t, "cms-app", p.ClientID())
	assert.Equal(t, []string{"a", "b"}, p.Scopes())
	assert.Equal(t, f.iss.URL, p.Issuer())
	assert.Equal(t, []string{f.iss.Audience}, p.Audience())
	assert.Equal(t, "id-1", p.TokenID())
	assert.Equal(t, f.clock.Now().Add(5*time.Minute).Unix(), p.ExpiresAt().Unix())
	assert.Equal(t, f.clock.Now().Unix(), p.IssuedAt().Unix())
	assert.True(t, p.Impersonated())
	assert.Equal(t, &warden.Actor{Subject: "cms-app", ClientID: "cms-app", Actor: &warden.Actor{Subject: "gateway"}}, p.Actor())

	// Copies: changing what the getters return changes nothing shared.
	p.Scopes()[0] = "admin"
	p.Actor().Subject = "mallory"
	assert.Equal(t, []string{"a", "b"}, p.Scopes())
	assert.Equal(t, "cms-app", p.Actor().Subject)

	var custom struct {
		Tenant string `json:"tenant"`
	}
	require.NoError(t, p.Claims(&custom))
	assert.Equal(t, "t1", custom.Tenant)

	_, ok := warden.PrincipalFrom(context.Background())
	assert.False(t, ok)
}

// TestPrincipalClaimsExactNames: Principal.Claims matches member names
// exactly, at every depth, as warden's own reader does; encoding/json alone
// would fill "roles" from "ROLES" (issue 10, defect 9).
func TestPrincipalClaimsExactNames(t *testing.T) {
	t.Parallel()
	iss := wardentest.NewIssuer(t)
	mw := newMiddleware(t, warden.Config{Issuers: []warden.IssuerConfig{{URL: iss.URL, Audience: iss.Audience, JWKS: wardentest.JWKS(iss.Keys()...)}}})
	type org struct {
		ID   string `json:"id"`
		Name string
	}
	type Embedded struct {
		Tenant string `json:"tenant"`
	}
	type custom struct {
		Embedded
		Roles   []string          `json:"roles"`
		Org     *org              `json:"org"`
		Orgs    []org             `json:"orgs"`
		ByName  map[string]org    `json:"by_name"`
		Raw     json.RawMessage   `json:"raw"`
		Any     any               `json:"any"`
		Ignored string            `json:"-"`
		Extra   map[string]string `json:"extra"`
		Kind    string            `json:"kind"`
	}
	cases := []struct {
		name   string
		claims wardentest.Claims
		want   custom
	}{
		{"exact names", wardentest.Claims{"roles": []string{"r"}, "tenant": "t", "org": map[string]any{"id": "o", "Name": "n"}},
			custom{Embedded: Embedded{Tenant: "t"}, Roles: []string{"r"}, Org: &org{ID: "o", Name: "n"}}},
		{"upper-case variant only", wardentest.Claims{"ROLES": []string{"admin"}, "TENANT": "evil"}, custom{}},
		{"variant beside the exact name", wardentest.Claims{"roles": []string{"r"}, "Roles": []string{"admin"}}, custom{Roles: []string{"r"}}},
		{"Kelvin sign folds to k in encoding/json", wardentest.Claims{"\u212aind": "evil"}, custom{}},
		{"variant after the exact name", wardentest.Claims{"org": map[string]any{"Name": "n", "name": "evil"}}, custom{Org: &org{Name: "n"}}},
		{"nested object", wardentest.Claims{"org": map[string]any{"ID": "evil", "name": "evil"}}, custom{Org: &org{}}},
		{"slice of objects", wardentest.Claims{"orgs": []any{map[string]any{"Id": "evil"}, map[string]any{"id": "o"}}}, custom{Orgs: []org{{}, {ID: "o"}}}},
		{"map values", wardentest.Claims{"by_name": map[string]any{"A": map[string]any{"iD": "evil", "id": "a"}}}, custom{ByName: map[string]org{"A": {ID: "a"}}}},
		{"map keys keep their case", wardentest.Claims{"extra": map[string]any{"Key": "v"}}, custom{Extra: map[string]string{"Key": "v"}}},
		{"raw and any untouched", wardentest.Claims{"raw": map[string]any{"A": 1}, "any": map[string]any{"B": "x"}},
			custom{Raw: json.RawMessage(`{"A":1}`), Any: map[string]any{"B": "x"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := mw.Verify(context.Background(), iss.Mint(wardentest.Token{Claims: tc.claims}))
			require.NoError(t, err)
			var got custom
			require.NoError(t, p.Claims(&got))
			assert.Equal(t, tc.want, got)
		})
	}
	p, err := mw.Verify(context.Background(), iss.Mint(wardentest.Token{}))
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, p.Claims(&m))
	assert.Equal(t, iss.URL, m["iss"])
	assert.Error(t, p.Claims(nil))
	var notPtr custom
	assert.Error(t, p.Claims(notPtr))
}

package wardentest_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
	"golang.org/x/oauth2/clientcredentials"
)

// hello answers with the subject warden authenticated.
var hello = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	p, _ := warden.PrincipalFrom(r.Context())
	fmt.Fprintf(w, "hello %s", p.Subject())
})

// call sends a GET with an optional bearer token and describes the answer.
func call(h http.Handler, token string) string {
	req := httptest.NewRequest(http.MethodGet, "/entries", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code == http.StatusOK {
		return fmt.Sprintf("%d %s", rec.Code, rec.Body)
	}
	return fmt.Sprintf("%d %s", rec.Code, rec.Header().Get("WWW-Authenticate"))
}

// A protected handler tested against an in-process issuer: the middleware
// fetches the issuer's keys over loopback exactly as from a real one.
func ExampleStartIssuer() {
	iss := wardentest.StartIssuer()
	defer iss.Close()
	mw, err := warden.New(iss.Config())
	if err != nil {
		panic(err)
	}
	defer mw.Close()
	api := mw.Require(warden.Scopes("Entry_Read"))(hello)

	fmt.Println(call(api, iss.Scoped("Entry_Read ContentType_Read")))
	fmt.Println(call(api, iss.Scoped("ContentType_Read")))
	fmt.Println(call(api, ""))
	// Output:
	// 200 hello user-1
	// 403 Bearer realm="api", error="insufficient_scope", scope="Entry_Read"
	// 401 Bearer realm="api"
}

// Mint builds tokens no well-behaved issuer would hand out, for table tests.
func ExampleIssuer_Mint() {
	iss := wardentest.StartIssuer()
	defer iss.Close()
	mw, err := warden.New(iss.Config())
	if err != nil {
		panic(err)
	}
	defer mw.Close()
	api := mw.Require(warden.Scopes("Entry_Read"))(hello)

	expired := iss.Mint(wardentest.Token{Claims: wardentest.Claims{
		"scope": "Entry_Read",
		"iat":   time.Now().Add(-time.Hour).Unix(),
		"exp":   time.Now().Add(-30 * time.Minute).Unix(),
	}})
	otherAudience := iss.Mint(wardentest.Token{Claims: wardentest.Claims{"scope": "Entry_Read", "aud": "https://elsewhere.example"}})
	impersonated := iss.Mint(wardentest.Token{Claims: wardentest.Claims{
		"scope": "Entry_Read", "sub": "alice", "client_id": "svc", "act": map[string]any{"sub": "svc"},
	}})
	fmt.Println(call(api, expired))
	fmt.Println(call(api, otherAudience))
	fmt.Println(call(api, impersonated))
	// Output:
	// 401 Bearer realm="api", error="invalid_token", error_description="The access token expired"
	// 401 Bearer realm="api", error="invalid_token", error_description="The access token is not intended for this resource"
	// 200 hello alice
}

// A client registered with AddClient gets tokens from the issuer's token
// endpoint with any OAuth 2.0 client library, here golang.org/x/oauth2.
func ExampleIssuer_AddClient() {
	iss := wardentest.StartIssuer()
	defer iss.Close()
	iss.AddClient(wardentest.Client{ID: "reporting", Secret: "s3cr3t", Scopes: []string{"Entry_Read", "Entry_Write"}})
	iss.AddClient(wardentest.Client{ID: "support-tool", Secret: "t00l", MayActAs: map[string][]string{"alice": {"Entry_Read"}}})

	mw, err := warden.New(iss.Config())
	if err != nil {
		panic(err)
	}
	defer mw.Close()
	api := httptest.NewServer(mw.Require(warden.Scopes("Entry_Read"))(hello))
	defer api.Close()

	for _, cc := range []clientcredentials.Config{
		{ClientID: "reporting", ClientSecret: "s3cr3t", Scopes: []string{"Entry_Read"}},
		{ClientID: "support-tool", ClientSecret: "t00l", EndpointParams: url.Values{"act_as": {"alice"}}},
	} {
		cc.TokenURL = iss.URL + "/oauth/token"
		resp, err := cc.Client(context.Background()).Get(api.URL)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, string(body))
	}
	// Output:
	// 200 hello reporting
	// 200 hello alice
}

// A handler unit test without the middleware in front: WithPrincipal puts
// the genuine principal of a minted token into the request's context.
func ExampleIssuer_WithPrincipal() {
	iss := wardentest.StartIssuer()
	defer iss.Close()
	ctx, err := iss.WithPrincipal(context.Background(), wardentest.Token{Claims: wardentest.Claims{
		"sub": "alice", "scope": "Entry_Read", "act": map[string]any{"sub": "billing"}}})
	if err != nil {
		panic(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/entries", nil).WithContext(ctx)
	rec := httptest.NewRecorder()
	hello.ServeHTTP(rec, req)
	p, _ := warden.PrincipalFrom(ctx)
	fmt.Println(rec.Body, "acted for by", p.Actor().Subject, p.Scopes())
	// Output:
	// hello alice acted for by billing [Entry_Read]
}

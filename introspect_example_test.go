package warden_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// An issuer that hands out opaque tokens: warden asks its RFC 7662
// introspection endpoint (found in its discovery document) about each new
// token, remembers the answer for Introspection.CacheTTL, and applies the
// same scope rules as to a JWT.
func ExampleIntrospection() {
	idp := wardentest.StartIssuer()
	defer idp.Close()
	idp.AddClient(wardentest.Client{ID: "orders-api", Secret: "orders-api-secret"}) // warden's own credentials

	mw, err := warden.New(warden.Config{
		Issuers: []warden.IssuerConfig{{
			URL:      idp.URL,
			Audience: idp.Audience,
			Introspection: warden.Introspection{
				ClientID:     "orders-api",
				ClientSecret: "orders-api-secret",
			},
		}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer mw.Close()
	api := httptest.NewServer(mw.Require(warden.Scopes("Entry_Read"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := warden.PrincipalFrom(r.Context())
		fmt.Fprintf(w, "entries for %s", p.Subject())
	})))
	defer api.Close()

	read := idp.MintOpaque(wardentest.Token{Claims: wardentest.Claims{"scope": "Entry_Read", "sub": "alice"}})
	other := idp.MintOpaque(wardentest.Token{Claims: wardentest.Claims{"scope": "ContentType_Read"}})
	for _, token := range []string{read, read, other, "made-up-token"} {
		req, _ := http.NewRequest("GET", api.URL, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		fmt.Println(res.StatusCode, strings.TrimSpace(string(body)))
	}
	fmt.Println("introspection calls:", idp.Introspections())
	// Output:
	// 200 entries for alice
	// 200 entries for alice
	// 403 {"error":"insufficient_scope","error_description":"The request requires higher privileges than provided by the access token"}
	// 401 {"error":"invalid_token","error_description":"The access token is not active"}
	// introspection calls: 3
}

// Revoke refuses a token by its issuer and jti from the moment it returns,
// although the token's signature is valid and its verification cached.
func ExampleMiddleware_Revoke() {
	idp := wardentest.StartIssuer()
	defer idp.Close()
	mw, err := warden.New(idp.StaticConfig())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer mw.Close()
	token := idp.Mint(wardentest.Token{Claims: wardentest.Claims{"jti": "a1b2c3"}})

	_, err = mw.Verify(context.Background(), token)
	fmt.Println("before:", err)
	if err := mw.Revoke(context.Background(), idp.URL, "a1b2c3", idp.Now().Add(wardentest.DefaultTokenLifetime)); err != nil {
		fmt.Println(err)
		return
	}
	_, err = mw.Verify(context.Background(), token)
	fmt.Println("after:", err)
	// Output:
	// before: <nil>
	// after: warden: token_revoked
}

package warden_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/clientstore"
	"github.com/wardenhq/warden/wardentest"
)

// This file holds the Go blocks of README.md, which quotes them
// (TestReadmeBlocksAreCompiled): the first one runs as an Example, the
// others compile in functions no test calls, since they need a real
// identity provider or Redis.

// The README's first block, run: routes with all-of, any-of and composed
// requirements, and one that takes Basic client credentials.
func Example_readme() {
	idp := wardentest.StartIssuer() // stands in for your identity provider
	defer idp.Close()
	issuer := idp.URL
	directoryHash, err := clientstore.Hash("directory-secret")
	if err != nil {
		log.Fatal(err)
	}

	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := warden.PrincipalFrom(r.Context()) // p.Subject(), p.ClientID(), p.Scopes(), p.Actor() …
		fmt.Fprintln(w, "hello", p.Subject())
	})
	clients, err := clientstore.New([]clientstore.Client{ // hashes made with clientstore.Hash
		{ID: "directory", SecretHash: directoryHash, Scopes: []string{"Organisation_Read"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	mw, err := warden.New(warden.Config{
		Issuers: []warden.IssuerConfig{{
			URL:      issuer, // e.g. "https://login.example.com": keys are found through its discovery document
			Audience: "https://api.example.test",
		}},
		Clients: clients, // for the routes that take Basic client credentials
	})
	if err != nil {
		log.Fatal(err) // every configuration mistake surfaces here, not per request
	}
	defer mw.Close()

	mux := http.NewServeMux()
	mux.Handle("GET /entries", mw.Require(warden.Scopes("Entry_Read"))(hello))                 // all of
	mux.Handle("GET /search", mw.Require(warden.AnyScope("Entry_Read", "Entry_Admin"))(hello)) // any of
	mux.Handle("GET /reports", mw.Require(warden.Scopes("Entry_Read"),                         // A and (B or C)
		warden.AnyScope("Report_Read", "Report_Admin"))(hello))
	mux.Handle("GET /organisations", mw.Accept(warden.SchemeBasic).Require(warden.Scopes("Organisation_Read"))(hello))

	get := func(path, auth string) {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		fmt.Println(path, w.Code, w.Header().Get("WWW-Authenticate"), strings.TrimSpace(w.Body.String()))
	}
	get("/entries", "Bearer "+idp.Scoped("Entry_Read"))
	get("/reports", "Bearer "+idp.Scoped("Entry_Read"))
	get("/reports", "Bearer "+idp.Scoped("Entry_Read Report_Admin"))
	get("/organisations", "Basic "+base64.StdEncoding.EncodeToString([]byte("directory:directory-secret")))
	// Output:
	// /entries 200  hello user-1
	// /reports 403 Bearer realm="api", error="insufficient_scope", scope="Entry_Read Report_Read Report_Admin" {"error":"insufficient_scope","error_description":"The request requires higher privileges than provided by the access token"}
	// /reports 200  hello user-1
	// /organisations 200  hello directory
}

// readmeIntrospection is the README's block on introspection.
func readmeIntrospection(ctx context.Context, redisStore warden.Store, jti string, exp time.Time) error {
	mw, err := warden.New(warden.Config{
		Issuers: []warden.IssuerConfig{{
			URL:      "https://idp.example",
			Audience: "https://api.example",
			Introspection: warden.Introspection{ // endpoint from discovery unless Endpoint is set
				ClientID:     "orders-api", // warden's own client at the issuer
				ClientSecret: os.Getenv("INTROSPECTION_SECRET"),
			},
		}},
		Revocation: warden.Revocation{Store: redisStore}, // optional: one deny-list for every replica
	})
	if err != nil {
		return err
	}
	// an operator, or an admin endpoint of yours:
	err = mw.Revoke(ctx, "https://idp.example", jti, exp)
	return err
}

// readmeCheck is the README's block on handler-level checks.
func readmeCheck(mw *warden.Middleware, mux *http.ServeMux, knownTool func(string) bool, runTool func(http.ResponseWriter, *http.Request, string)) {
	mux.Handle("POST /tools/{name}", mw.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if !knownTool(name) { // only known names reach the challenge
			http.NotFound(w, r)
			return
		}
		if !mw.Check(w, r, warden.Scopes("tool:"+name)) {
			return // 403, WWW-Authenticate: Bearer realm="api", error="insufficient_scope", scope="tool:delete"
		}
		runTool(w, r, name)
	})))
}

// readmeTenants is the README's block on multi-tenant issuers.
func readmeTenants() warden.IssuerConfig {
	issuer := warden.IssuerConfig{
		URL:      "https://login.microsoftonline.com/{tenant}/v2.0",
		Audience: "api://reports",
		Tenants:  warden.TenantPolicy{Allowed: []string{"72f988bf-86f1-41af-91ab-2d7cd011db47"}},
	}
	return issuer
}

// readmeTestKit is the README's block on the test kit.
func readmeTestKit(t *testing.T, clientCert *x509.Certificate, handler http.Handler, w http.ResponseWriter, r *http.Request) {
	idp := wardentest.NewIssuer(t)
	mw, _ := warden.New(idp.Config()) // the issuer's URL, audience, JWK Set URL and clock
	token := idp.Mint(wardentest.Token{Claims: wardentest.Claims{"scope": "Entry_Read", "sub": "alice"}})

	key := wardentest.NewECKey("client") // a client's DPoP key
	bound := idp.Mint(wardentest.Token{DPoPKey: key, Claims: wardentest.Claims{"scope": "Entry_Read"}})
	proof := key.Proof(wardentest.Proof{Method: "GET", URL: "https://api.example/entries", AccessToken: bound})
	// send "Authorization: DPoP "+bound and "DPoP: "+proof
	certBound := idp.Mint(wardentest.Token{Certificate: clientCert}) // cnf x5t#S256
	redis := wardentest.StartRedis(t)                                // a real redis-server on 127.0.0.1
	keys := wardentest.NewJWKSServer(t, idp.Keys()...)               // a JWK Set endpoint that fails on demand:
	keys.Fail(wardentest.Hang)                                       // Status500, HTMLPage, Truncated, Oversized, RedirectOffHost, …

	// A handler unit test, without the middleware: the genuine principal of a minted token.
	ctx, err := idp.WithPrincipal(r.Context(), wardentest.Token{Claims: wardentest.Claims{"sub": "alice", "scope": "Entry_Read"}})
	if err != nil {
		t.Fatal(err)
	}
	handler.ServeHTTP(w, r.WithContext(ctx)) // warden.PrincipalFrom(r.Context()) is alice

	_, _, _, _, _, _ = mw, token, proof, certBound, redis, keys
}

var _, _, _, _, _ = readmeIntrospection, readmeCheck, readmeTenants, readmeTestKit, Example_readme

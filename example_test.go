package warden_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/clientstore"
	"github.com/wardenhq/warden/wardentest"
)

// A protected API: each route states the scopes it needs, and handlers read
// the authenticated principal from the request context.
func Example() {
	idp := wardentest.StartIssuer() // stands in for a real identity provider
	defer idp.Close()

	mw, err := warden.New(warden.Config{
		Issuers: []warden.IssuerConfig{{
			URL:      idp.URL,
			Audience: idp.Audience,
			JWKSURL:  idp.JWKSURL(),
		}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer mw.Close()

	entries := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := warden.PrincipalFrom(r.Context())
		fmt.Fprintf(w, "entries for %s", p.Subject())
	})
	mux := http.NewServeMux()
	mux.Handle("GET /entries", mw.Require(warden.Scopes("Entry_Read"))(entries))
	api := httptest.NewServer(mux)
	defer api.Close()

	for _, token := range []string{"", idp.Scoped("Entry_Read"), idp.Scoped("ContentType_Read")} {
		req, _ := http.NewRequest("GET", api.URL+"/entries", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		fmt.Println(res.StatusCode, res.Header.Get("WWW-Authenticate"), strings.TrimSpace(string(body)))
	}
	// Output:
	// 401 Bearer realm="api" {"error":"unauthorized","error_description":"Authentication is required"}
	// 200  entries for user-1
	// 403 Bearer realm="api", error="insufficient_scope", scope="Entry_Read" {"error":"insufficient_scope","error_description":"The request requires higher privileges than provided by the access token"}
}

// AnyScope admits a request holding at least one of the scopes.
func ExampleAnyScope() {
	idp := wardentest.StartIssuer()
	defer idp.Close()
	mw, _ := warden.New(warden.Config{Issuers: []warden.IssuerConfig{{URL: idp.URL, Audience: idp.Audience, JWKS: wardentest.JWKS(idp.Keys()...)}}})

	search := mw.Require(warden.AnyScope("Entry_Read", "Entry_Admin"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "results")
	}))
	for _, scope := range []string{"Entry_Admin", "Project_Read"} {
		r := httptest.NewRequest("GET", "/search", nil)
		r.Header.Set("Authorization", "Bearer "+idp.Scoped(scope))
		w := httptest.NewRecorder()
		search.ServeHTTP(w, r)
		fmt.Println(scope, w.Code)
	}
	// Output:
	// Entry_Admin 200
	// Project_Read 403
}

// Routes that take OAuth client credentials directly use HTTP Basic; a
// route can accept both schemes.
func ExampleMiddleware_Accept() {
	hash, _ := clientstore.Hash("s3cr3t")
	clients, _ := clientstore.New([]clientstore.Client{{ID: "directory-app", SecretHash: hash, Scopes: []string{"Organisation_Read"}}})
	idp := wardentest.StartIssuer()
	defer idp.Close()
	mw, _ := warden.New(warden.Config{Issuers: []warden.IssuerConfig{{URL: idp.URL, Audience: idp.Audience, JWKS: wardentest.JWKS(idp.Keys()...)}}, Clients: clients})

	orgs := mw.Accept(warden.SchemeBasic).Require(warden.Scopes("Organisation_Read"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := warden.PrincipalFrom(r.Context())
		fmt.Fprint(w, p.ClientID())
	}))
	for _, secret := range []string{"s3cr3t", "wrong"} {
		r := httptest.NewRequest("GET", "/organisations", nil)
		r.SetBasicAuth("directory-app", secret)
		w := httptest.NewRecorder()
		orgs.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"), w.Body.String())
	}
	// Output:
	// 200  directory-app
	// 401 Basic realm="api", charset="UTF-8" {"error":"invalid_client","error_description":"Client authentication failed"}
}

// Verify checks a token without HTTP, for gRPC interceptors, message
// consumers and the like. Errors carry a stable reason.
func ExampleMiddleware_Verify() {
	idp := wardentest.StartIssuer()
	defer idp.Close()
	mw, _ := warden.New(warden.Config{Issuers: []warden.IssuerConfig{{URL: idp.URL, Audience: idp.Audience, JWKS: wardentest.JWKS(idp.Keys()...)}}})

	p, err := mw.Verify(context.Background(), idp.Mint(wardentest.Token{Claims: wardentest.Claims{"sub": "alice", "act": map[string]any{"sub": "cms-app"}}}))
	fmt.Println(p.Subject(), p.Actor().Subject, err)

	_, err = mw.Verify(context.Background(), idp.Mint(wardentest.Token{Claims: wardentest.Claims{"aud": "https://elsewhere.test"}}))
	var we *warden.Error
	if errors.As(err, &we) {
		fmt.Println(we.Status(), we.Code(), we.Reason)
	}
	// Output:
	// alice cms-app <nil>
	// 401 invalid_token wrong_audience
}

// An ErrorHandler writes its own body; the status and challenge stay
// warden's.
func ExampleConfig_errorHandler() {
	idp := wardentest.StartIssuer()
	defer idp.Close()
	mw, _ := warden.New(warden.Config{
		Issuers: []warden.IssuerConfig{{
			URL:      idp.URL,
			Audience: idp.Audience,
			JWKS:     wardentest.JWKS(idp.Keys()...),
		}},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err *warden.Error) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTeapot) // ignored: warden's status is sent
			fmt.Fprint(w, `{"message":"Authorization has been denied for this request."}`)
		},
	})
	h := mw.Require(warden.Scopes("Entry_Read"))(http.NotFoundHandler())
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/entries", nil))
	fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"), w.Body.String())
	// Output:
	// 401 Bearer realm="api" {"message":"Authorization has been denied for this request."}
}

// Command chi protects a chi router with warden. chi takes warden's
// func(http.Handler) http.Handler middleware as it is. It trusts the issuer
// named by -issuer for access tokens whose "aud" holds -audience:
//
//	cd examples/chi && go run . -issuer https://id.example.com -audience https://api.example.com
package main

import (
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"os"

	"github.com/go-chi/chi/v5"
	"github.com/wardenhq/warden"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	issuer := flag.String("issuer", "", "trusted issuer URL (required)")
	audience := flag.String("audience", "", "this API's identifier, required in every token's aud (required)")
	flag.Parse()
	if *issuer == "" || *audience == "" {
		flag.Usage()
		os.Exit(2)
	}
	m, err := warden.New(warden.Config{Issuers: []warden.IssuerConfig{{URL: *issuer, Audience: *audience}}})
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("listening on http://%s", *addr)
	log.Fatal(http.ListenAndServe(*addr, routes(m)))
}

func routes(m *warden.Middleware) http.Handler {
	r := chi.NewRouter()
	r.With(m.Require(warden.Scopes("Entry_Read"))).Get("/entries", whoami)
	r.With(m.Require(warden.AnyScope("Project_Read", "Project_Admin"))).Get("/projects", whoami)
	r.Group(func(r chi.Router) {
		r.Use(m.Authenticate) // any valid token, no scope
		r.Get("/whoami", whoami)
	})
	return r
}

// whoami answers with the caller warden authenticated.
func whoami(w http.ResponseWriter, r *http.Request) {
	p, _ := warden.PrincipalFrom(r.Context()) // always present behind warden
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(p)
}

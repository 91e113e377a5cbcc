// Command nethttp protects a net/http ServeMux with warden. It trusts the
// issuer named by -issuer (keys found by OpenID Connect / RFC 8414
// discovery) for access tokens whose "aud" holds -audience:
//
//	go run ./examples/nethttp -issuer https://id.example.com -audience https://api.example.com
package main

import (
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"os"

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

// routes mounts warden's middleware as it is: net/http needs no adapter.
func routes(m *warden.Middleware) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /entries", m.Require(warden.Scopes("Entry_Read"))(http.HandlerFunc(whoami)))
	mux.Handle("GET /projects", m.Require(warden.AnyScope("Project_Read", "Project_Admin"))(http.HandlerFunc(whoami)))
	mux.Handle("GET /whoami", m.Authenticate(http.HandlerFunc(whoami)))
	return mux
}

// whoami answers with the caller warden authenticated.
func whoami(w http.ResponseWriter, r *http.Request) {
	p, _ := warden.PrincipalFrom(r.Context()) // always present behind warden
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(p)
}

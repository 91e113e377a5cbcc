// Command gin protects a Gin engine with warden through the wardengin
// adapter. It trusts the issuer named by -issuer for access tokens whose
// "aud" holds -audience:
//
//	cd examples/gin && go run . -issuer https://id.example.com -audience https://api.example.com
package main

import (
	"flag"
	"log"
	"net/http"
	"os"

	"github.com/gin-gonic/gin"
	"github.com/wardenhq/warden"
	wardengin "github.com/wardenhq/warden/adapters/gin"
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
	gin.SetMode(gin.ReleaseMode)
	log.Printf("listening on http://%s", *addr)
	log.Fatal(http.ListenAndServe(*addr, routes(m)))
}

func routes(m *warden.Middleware) http.Handler {
	r := gin.New()
	r.GET("/entries", wardengin.New(m.Require(warden.Scopes("Entry_Read"))), whoami)
	r.GET("/projects", wardengin.New(m.Require(warden.AnyScope("Project_Read", "Project_Admin"))), whoami)
	authed := r.Group("/", wardengin.New(m.Authenticate)) // any valid token, no scope
	authed.GET("/whoami", whoami)
	return r
}

// whoami answers with the caller warden authenticated; the principal is
// also at warden.PrincipalFrom(c.Request.Context()).
func whoami(c *gin.Context) {
	p, _ := wardengin.Principal(c) // always present behind warden
	c.JSON(http.StatusOK, p)
}

// Command echo protects an Echo server with warden through the wardenecho
// adapter. It trusts the issuer named by -issuer for access tokens whose
// "aud" holds -audience:
//
//	cd examples/echo && go run . -issuer https://id.example.com -audience https://api.example.com
package main

import (
	"flag"
	"log"
	"net/http"
	"os"

	"github.com/labstack/echo/v4"
	"github.com/wardenhq/warden"
	wardenecho "github.com/wardenhq/warden/adapters/echo"
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
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/entries", whoami, wardenecho.New(m.Require(warden.Scopes("Entry_Read"))))
	e.GET("/projects", whoami, wardenecho.New(m.Require(warden.AnyScope("Project_Read", "Project_Admin"))))
	e.GET("/whoami", whoami, wardenecho.New(m.Authenticate)) // any valid token, no scope
	return e
}

// whoami answers with the caller warden authenticated; the principal is
// also at warden.PrincipalFrom(c.Request().Context()).
func whoami(c echo.Context) error {
	p, _ := wardenecho.Principal(c) // always present behind warden
	return c.JSON(http.StatusOK, p)
}

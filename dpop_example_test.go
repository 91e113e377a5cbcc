package warden_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// A token bound to a client's DPoP key is admitted with a fresh proof of
// that key, once per proof, and never as a bearer token.
func ExampleDPoPConfig() {
	iss := wardentest.StartIssuer()
	defer iss.Close()
	cfg := iss.StaticConfig()
	cfg.DPoP = warden.DPoPConfig{PublicURL: "https://api.example"} // Mode: DPoPAllowed, the default
	mw, err := warden.New(cfg)
	if err != nil {
		panic(err)
	}
	defer mw.Close()
	api := mw.Require(warden.Scopes("Entry_Read"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := warden.PrincipalFrom(r.Context())
		fmt.Fprintf(w, "hello %s (%s, key %t)", p.Subject(), p.Scheme(), p.Confirmation().JKT != "")
	}))

	key := wardentest.NewECKey("client")
	token := iss.Mint(wardentest.Token{DPoPKey: key, Claims: wardentest.Claims{"scope": "Entry_Read"}})
	proof := key.Proof(wardentest.Proof{Method: "GET", URL: "https://api.example/entries", AccessToken: token})
	call := func(scheme, proof string) {
		r := httptest.NewRequest(http.MethodGet, "/entries", nil)
		r.Header.Set("Authorization", scheme+" "+token)
		if proof != "" {
			r.Header.Set("DPoP", proof)
		}
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
		if w.Code == http.StatusOK {
			fmt.Println(w.Code, w.Body)
			return
		}
		fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"))
	}
	call("DPoP", proof)
	call("DPoP", proof)
	call("Bearer", "")
	// Output:
	// 200 hello user-1 (DPoP, key true)
	// 401 DPoP realm="api", algs="ES256 ES384 ES512 EdDSA PS256 PS384 PS512 RS256 RS384 RS512", error="invalid_dpop_proof", error_description="The DPoP proof was already used"
	// 401 Bearer realm="api", error="invalid_token", error_description="The access token is bound to a key and must be presented with DPoP"
}

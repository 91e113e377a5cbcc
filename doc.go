// Package warden protects HTTP APIs that accept OAuth 2.0 access tokens.
//
// It is the resource-server side of the client credentials flow: it reads
// credentials from the request (an RFC 6750 Bearer JWT, or RFC 7617 Basic
// client credentials on routes that take them), verifies JWTs against the
// issuer's keys, checks issuer, audience, algorithm, lifetime and per-route
// scopes, resolves impersonation (RFC 8693 "act", vendor "act_as"), and
// answers every refusal with the exact status, WWW-Authenticate challenge and
// JSON body the RFCs prescribe.
//
//	mw, err := warden.New(warden.Config{Issuer: "https://idp.example", Audience: "https://api.example"})
//	mux.Handle("GET /entries", mw.Require("Entry_Read")(entries))
//	mux.Handle("GET /search", mw.RequireAny("Entry_Read", "Entry_Admin")(search))
//	// in a handler:
//	p, ok := warden.PrincipalFrom(r.Context())
//
// Middleware values have the func(http.Handler) http.Handler shape that
// net/http, chi and most routers take.
//
// # Responses
//
//	status  when                                   WWW-Authenticate
//	400     malformed request (RFC 6750 §3.1)       Bearer realm="api", error="invalid_request", error_description="…"
//	401     no credentials / scheme not accepted    Bearer realm="api" (and Basic realm="api", charset="UTF-8")
//	401     invalid, expired or untrusted token     Bearer realm="api", error="invalid_token", error_description="…"
//	401     bad Basic credentials                   Basic realm="api", charset="UTF-8"
//	403     scope missing                           Bearer realm="api", error="insufficient_scope", scope="…"
//	403     Basic client lacks the permission       (none)
//	503     no usable keys (issuer unreachable)     (none); Retry-After is set
//
// Every refusal carries Cache-Control: no-store and a JSON body
// {"error": …, "error_description": …} with fixed text: never the token, a
// claim value or an error message derived from the request.
package warden

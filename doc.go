// Package warden protects HTTP APIs that accept OAuth 2.0 access tokens.
//
// It is the resource-server side of the client credentials flow: it reads
// credentials from the request (an RFC 6750 Bearer JWT, or RFC 7617 Basic
// client credentials on routes that take them), verifies JWTs against the
// issuer's keys, checks issuer, audience, algorithm, lifetime and per-route
// requirements (scopes, roles, audience, client, claims, step-up), resolves impersonation (RFC 8693 "act"; vendor "act_as" for issuers
// that opt in), and
// answers every refusal with the exact status, WWW-Authenticate challenge and
// JSON body the RFCs prescribe.
//
//	mw, err := warden.New(warden.Config{Issuer: "https://idp.example", Audience: "https://api.example"})
//	mux.Handle("GET /entries", mw.Require(warden.Scopes("Entry_Read"))(entries))
//	mux.Handle("GET /search", mw.Require(warden.AnyScope("Entry_Read", "Entry_Admin"))(search))
//	mux.Handle("GET /reports", mw.Require(warden.Scopes("Entry_Read"), warden.AnyScope("Report_Read", "Report_Admin"))(reports))
//	mux.Handle("GET /feed", mw.Optional(feed)) // anonymous callers too; bad tokens never
//	// in a handler:
//	p, ok := warden.PrincipalFrom(r.Context())
//	if !mw.Check(w, r, warden.Scopes("tool:"+name)) { return } // writes the refusal a route would
//
// A Requirement is a value: scopes (Scopes, AnyScope), roles read from
// claims (Roles), the route's own audience (Audience), clients (Clients),
// issuers (Issuer), a typed claim predicate (Claim) and step-up
// authentication (StepUp, RFC 9470), composed with All and Any. A request
// gets one refusal and one decision however a requirement is composed; see
// Requirement for which. Middleware.Authorize checks one without HTTP.
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
//	401     user authentication too weak or old     Bearer realm="api", error="insufficient_user_authentication", error_description="…", acr_values="…", max_age="…"
//	403     scope missing                           Bearer realm="api", error="insufficient_scope", scope="…"
//	403     client, role or claim not allowed       (none)
//	403     Basic client lacks the permission       (none)
//	503     no usable keys (issuer unreachable)     (none); Retry-After is set
//
// Every refusal carries Cache-Control: no-store and a JSON body
// {"error": …, "error_description": …} with fixed text: never the token, a
// claim value or an error message derived from the request.
//
// # Decisions
//
// Every request gets exactly one Reason, passed to Config.OnDecision (see
// LogDecisions) and, with Config.ExposeReason, written in the error body.
// REASONS.md in the repository lists them with their statuses. The choices
// made where the RFCs leave room (400 for "Bearer" without a token, query
// and body tokens off, the maximum token lifetime, key-set policies) are
// listed with the attack table they answer in SECURITY.md.
//
// # Keys
//
// Keys come from a static JWK Set (Config.JWKS), a shared HMAC secret
// (Config.HMACSecret), a JWK Set URL, or discovery: the issuer's
// /.well-known/openid-configuration, then RFC 8414's
// /.well-known/oauth-authorization-server (for an issuer with a path, both
// the appended and the inserted forms are tried). The discovery document's
// issuer must equal the configured issuer exactly. A token's unverified iss
// only selects which configured issuer's keys to try, so no request ever
// reaches a URL an attacker chose; jku, x5u, x5c and jwk headers are ignored.
//
// Remote key sets are held as immutable snapshots: a known kid costs a map
// lookup and never waits. The defaults of KeySourceConfig:
//
//	field               default  meaning
//	MinRefreshInterval  1 min    lower clamp of the refresh interval taken from Cache-Control max-age; caps retry backoff
//	MaxRefreshInterval  24 h     upper clamp; sets are refreshed at 80–90 % of their lifetime (no max-age: 1 h)
//	UnknownKIDInterval  5 s      least time between refreshes triggered by unknown kids; also the Retry-After of a 503
//	UnknownKIDWait      1 s      longest a request waits for such a refresh (shared by all waiting requests)
//	MaxStaleness        24 h     how long the last good set serves while refreshes fail; then 503
//	MaxResponseSize     1 MiB    cap on discovery and JWK Set responses
//	FetchTimeout        10 s     bound on each fetch, and on New's wait for the first set
//	LazyStart           false    false: New fails if the first set cannot be had; true: 503 until it arrives
//	OnRefresh           nil      called after every fetch attempt, for metrics
//
// A refresh that fails (connection refused, 5xx, HTML, bad JSON, oversized,
// a hang, a redirect to another host) or yields no usable key keeps the
// previous keys. Kids still unknown after a refresh are remembered until the
// interval passes, so a flood of random kids costs no further fetches.
//
// JWKs whose use is not "sig", symmetric ("oct") keys, RSA keys under 2048
// bits and unsupported key types are never used; a set that repeats a kid
// is rejected whole. A token without kid is tried against the single key of
// the right type and curve, only while the set holds at most four keys.
package warden

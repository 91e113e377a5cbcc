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
//	mw, err := warden.New(warden.Config{Issuers: []warden.IssuerConfig{{URL: "https://idp.example", Audience: "https://api.example"}}})
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
//	401     opaque token inactive; token revoked     Bearer realm="api", error="invalid_token", error_description="…"
//	401     DPoP proof refused (RFC 9449 §7.1)      DPoP realm="api", algs="ES256 …", error="invalid_dpop_proof", …
//	401     server nonce required (RFC 9449 §9)     DPoP realm="api", algs="…", error="use_dpop_nonce", …; DPoP-Nonce is set
//	503     no usable keys (issuer unreachable)     (none); Retry-After is set
//	503     introspection endpoint or revocation    (none); Retry-After is set
//	        store unreachable
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
// # Opaque tokens and revocation
//
// An issuer with IssuerConfig.Introspection has the tokens that are not
// JWTs (and, with Introspection.JWT, its JWTs too) checked at its RFC 7662
// introspection endpoint; an active answer makes the same Principal a JWT
// with those claims would, and is remembered for at most
// Introspection.CacheTTL. Middleware.Revoke puts an (issuer, jti) pair on
// a deny-list (Config.Revocation) that every bearer token is checked
// against; replicas sharing one Store refuse a revoked token from their
// next request on.
// # Sender-constrained tokens
//
// A route that takes Bearer also takes DPoP-bound tokens (RFC 9449:
// "Authorization: DPoP" with a DPoP proof), unless Config.DPoP says off or
// required; missing credentials are then answered with a Bearer and a DPoP
// challenge. A token bound to a DPoP key (cnf "jkt") is admitted only with
// a valid, fresh, unused proof of that key, and one bound to a client
// certificate (cnf "x5t#S256", RFC 8705) only with that certificate;
// Principal.Confirmation says which. Proofs are recorded in a Store (in
// memory, or shared by a fleet through the store/redis module) so that each
// is accepted once.
//
// # Keys
//
// Keys come from a static JWK Set (IssuerConfig.JWKS), a shared HMAC secret
// (IssuerConfig.HMACSecret), a JWK Set URL, or discovery: the issuer's
// /.well-known/openid-configuration, then RFC 8414's
// /.well-known/oauth-authorization-server (for an issuer with a path, both
// the appended and the inserted forms are tried). The discovery document's
// issuer must equal the configured issuer exactly. A token's unverified iss
// only selects which configured issuer's keys to try, so no request ever
// reaches a URL an attacker chose; jku, x5u, x5c and jwk headers are ignored.
//
// Remote key sets are held as immutable snapshots: a known kid costs a map
// lookup and never waits. They are refreshed ahead of expiry, on rotation
// (an unknown kid, at most once per KeySetPolicy.UnknownKIDInterval) and
// after failures; the last good set keeps serving through an outage for up
// to KeySetPolicy.MaxStaleness. KeySetPolicy documents each default.
//
// JWKs whose use is not "sig" or whose key_ops do not allow "verify"
// (RFC 7517 §4.2, §4.3), JWKs published with their private members,
// symmetric ("oct") keys and unsupported key types are never used. A set
// with a malformed or weak key (RSA under 2048 or over 8192 bits, with a bad
// exponent or the ROCA fingerprint; an Ed25519 point of small order or not
// canonically encoded, RFC 8032 §5.1.3 and §5.1.7) or that repeats a kid is
// rejected whole. A token without kid is tried against the single key of
// the right type and curve, only while the set holds at most four keys;
// larger sets keep no key without kid. RSASSA-PSS signatures must use a
// salt as long as the hash (RFC 7518 §3.5).
//
// # Basic client credentials
//
// Routes that take HTTP Basic (Middleware.Accept) check client credentials
// with Config.Clients, a ClientVerifier; package clientstore provides one
// over bcrypt or argon2id hashes. A Config with Clients and no issuer serves
// Basic only.
package warden

package warden

import (
	"context"
	"crypto/x509"
	"time"
)

// This file is the entry point for transports other than net/http: a gRPC
// interceptor, a Connect interceptor, a message consumer. It runs the same
// steps as a route's handler, from a small description of the call instead
// of an *http.Request, and leaves writing the refusal to the transport,
// which Error.Header tells what the HTTP path would have written.

// Call is what a request over a transport other than net/http presents:
// a gRPC call, a Connect call whose interceptor does not see the
// *http.Request, a message. Middleware.RequireCall checks it.
type Call struct {
	// Authorization holds the values of the call's authorization field
	// (gRPC: the "authorization" metadata), read by the rules of the HTTP
	// Authorization header: one value, "Bearer", "DPoP" or "Basic" and the
	// credentials; two values are a malformed request (RFC 6750 §3.1).
	// There is no query or body token.
	Authorization []string
	// DPoP holds the DPoP proofs sent with the call (RFC 9449 §4.1; gRPC:
	// the "dpop" metadata). Exactly one is needed with a DPoP-bound token.
	DPoP []string
	// Method and URI are what a DPoP proof must name as htm and htu
	// (RFC 9449 §4.2): the HTTP method and the absolute URI of the call as
	// the client addressed it. A gRPC call is an HTTP/2 POST to
	// scheme://authority/package.Service/Method. With
	// Config.DPoP.PublicURL set, the URI's origin is replaced by it, as for
	// HTTP requests; a URI may then be the path alone.
	Method, URI string
	// PeerCertificate is the client's TLS certificate, which a token bound
	// to a certificate (RFC 8705 §3) must come with; nil without one.
	PeerCertificate *x509.Certificate
}

// RequireCall is Require for transports other than net/http: it returns
// the check a route requiring every one of reqs makes, as a function of
// the call's context and what the call presents. The check authenticates
// the call as the route would (the same schemes, parsing, verification,
// bindings, impersonation policy and requirement), reports exactly one
// Decision to Config.OnDecision, and returns either a context holding the
// principal (PrincipalFrom reads it) and nil, or ctx itself and the
// refusal. The refusal's Reason, Status, Code and Description say what the
// route would have answered, and its Header the challenges, Retry-After
// and DPoP-Nonce it would have sent; the transport sends them in its own
// way (the gRPC adapter: a status code and trailers). Build the check once
// per method; RequireCall panics as Require does.
//
// An admitted DPoP call is not given the next server nonce, which only
// the HTTP path sends; with nonces on, a client learns it from the
// use_dpop_nonce refusal its first proof gets.
func (m *Middleware) RequireCall(reqs ...Requirement) func(ctx context.Context, c Call) (context.Context, *Error) {
	req := allOf(reqs)
	if err := req.Err(); err != nil {
		panic(err.Error())
	}
	if err := m.canMeet(req); err != nil {
		panic(err.Error())
	}
	rt := m.newRoute(req, false)
	return func(ctx context.Context, c Call) (context.Context, *Error) {
		var start time.Time
		if m.onDecision != nil {
			start = time.Now()
		}
		p, e := m.authenticateCall(ctx, &c, rt.schemes)
		if e == nil {
			e = m.authorize(ctx, rt.req, p)
		}
		if m.onDecision != nil {
			m.onDecision(ctx, newDecision(rt.requirement, p, e, time.Since(start)))
		}
		if e != nil {
			return ctx, m.refusals.routed(e, rt.challenges)
		}
		return withPrincipal(ctx, p, rt.schemes), nil
	}
}

// authenticateCall finds and verifies the credentials of a call.
func (m *Middleware) authenticateCall(ctx context.Context, c *Call, schemes Scheme) (*Principal, *Error) {
	creds, e := m.credentials.fromValues(c.Authorization)
	p, e := m.verifyCredentials(ctx, creds, e, schemes)
	if e != nil || creds.scheme == SchemeBasic {
		return p, e
	}
	in := boundRequest{scheme: creds.scheme, token: creds.value, method: c.Method, uri: c.URI, proofs: c.DPoP}
	if c.PeerCertificate != nil {
		in.cert = clientCert{der: c.PeerCertificate.Raw}
	}
	if e := m.binding.verifyInput(ctx, &in, p); e != nil {
		return nil, e
	}
	return p, nil
}

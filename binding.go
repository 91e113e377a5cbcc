package warden

import (
	"context"
	"net/http"
	"strings"
)

// This file is the binding step, between the verifier and the principal's
// policy: a verified token that is bound to a DPoP key (RFC 9449) or a
// client certificate (RFC 8705) is admitted only when the request proves
// the binding. The step takes a small, explicit input (boundRequest), not
// an *http.Request, so that other transports can fill it in.

// binding is the binding step.
type binding struct {
	mode       DPoPMode
	proofs     *proofChecker // nil when DPoP is off
	publicURL  string        // normalised DPoPConfig.PublicURL without a trailing "/", or empty
	certHeader string        // MTLSConfig.CertificateHeader, canonical, or empty
}

// routeSchemes returns what a route built for schemes accepts: a route
// that takes Bearer takes DPoP too, or instead, as the mode says.
func (b *binding) routeSchemes(schemes Scheme) Scheme {
	if b == nil || schemes&SchemeBearer == 0 {
		return schemes
	}
	switch b.mode {
	case DPoPRequired:
		return schemes&^SchemeBearer | SchemeDPoP
	case DPoPOff:
		return schemes
	}
	return schemes | SchemeDPoP
}

// verify checks the bindings of p, a principal verified from the token the
// request presented with scheme. An unbound token presented as a bearer
// token costs nothing more.
func (b *binding) verify(ctx context.Context, r *http.Request, scheme Scheme, token string, p *Principal) *Error {
	if scheme == SchemeBearer && p.cnf == (Confirmation{}) {
		return nil
	}
	if b == nil {
		return unprovable(p) // no issuer: never reached, but fail closed
	}
	in := b.request(r, scheme, token)
	return b.check(ctx, &in, p)
}

// verifyInput is verify for a request over another transport, which
// describes itself in in.
func (b *binding) verifyInput(ctx context.Context, in *boundRequest, p *Principal) *Error {
	if in.scheme == SchemeBearer && p.cnf == (Confirmation{}) {
		return nil
	}
	if b == nil {
		return unprovable(p)
	}
	if in.scheme == SchemeDPoP {
		in.uri = b.publicURI(in.uri)
	}
	return b.check(ctx, in, p)
}

// publicURI normalises the URI a call over another transport was made to,
// with the configured PublicURL, when set, in place of its origin, as for
// HTTP requests. An unusable URI matches no htu.
func (b *binding) publicURI(uri string) string {
	if b.publicURL != "" {
		if i := strings.Index(uri, "://"); i >= 0 {
			uri = uri[i+3:]
			if j := strings.IndexByte(uri, '/'); j >= 0 {
				uri = uri[j:]
			} else {
				uri = "/"
			}
		}
		if !strings.HasPrefix(uri, "/") {
			return ""
		}
		uri = b.publicURL + uri
	}
	if i := strings.IndexAny(uri, "?#"); i >= 0 {
		uri = uri[:i]
	}
	u, _ := normalizeHTU(uri)
	return u
}

// check checks every binding of p against the request in. Both must hold
// when the token names both (RFC 9449 §6, RFC 8705 §3); the certificate is
// checked first, since it has no side effect, and the proof, which records
// its jti, last.
func (b *binding) check(ctx context.Context, in *boundRequest, p *Principal) *Error {
	switch {
	case in.scheme == SchemeDPoP && p.cnf.JKT == "":
		// RFC 9449 §7.1: the DPoP scheme with a token not bound to a key.
		return newError(ReasonDPoPUnboundToken, SchemeDPoP, nil)
	case in.scheme != SchemeDPoP && p.cnf.JKT != "":
		// A DPoP-bound token sent as a bearer token: the downgrade that
		// would let whoever stole it use it without the key (RFC 9449 §7.2).
		return newError(ReasonDPoPDowngrade, SchemeBearer, nil)
	}
	if p.cnf.X5TS256 != "" {
		if e := checkCertificate(in.cert, p.cnf.X5TS256); e != nil {
			e.Scheme = in.scheme
			return e
		}
	}
	if in.scheme == SchemeDPoP {
		return b.proofs.check(ctx, in, p)
	}
	return nil
}

// request reads what the binding step needs from an HTTP request. The
// public request URI is the configured PublicURL, or the connection's
// scheme and the Host header, followed by the path the client sent
// (r.RequestURI, which a handler that rewrites r.URL.Path does not
// change).
func (b *binding) request(r *http.Request, scheme Scheme, token string) boundRequest {
	in := boundRequest{scheme: scheme, token: token, method: r.Method, proofs: r.Header.Values("DPoP")}
	if b.certHeader != "" {
		in.cert = clientCert{header: r.Header.Values(b.certHeader), proxy: true}
	} else if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		in.cert = clientCert{der: r.TLS.PeerCertificates[0].Raw}
	}
	if scheme != SchemeDPoP {
		return in
	}
	path := r.RequestURI
	if path == "" || path[0] != '/' {
		path = r.URL.EscapedPath()
	} else if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	origin := b.publicURL
	if origin == "" {
		origin = "http://" + r.Host
		if r.TLS != nil {
			origin = "https://" + r.Host
		}
	}
	// An unusable URI matches no htu: the empty string is never the
	// normalised form of one.
	in.uri, _ = normalizeHTU(origin + path)
	return in
}

// unprovable refuses a bound token where no request can prove the binding
// (Middleware.Verify): fail closed rather than let it pass as a bearer token.
func unprovable(p *Principal) *Error {
	switch {
	case p.cnf.JKT != "":
		return newError(ReasonDPoPDowngrade, SchemeBearer, nil)
	case p.cnf.X5TS256 != "":
		return newError(ReasonCertificateMissing, SchemeBearer, errNoClientCert)
	}
	return nil
}

// nextNonce returns the server nonce an admitted DPoP request is given
// (RFC 9449 §8.2), or empty without nonces.
func (b *binding) nextNonce() string {
	if b.proofs == nil || b.proofs.nonces == nil {
		return ""
	}
	return b.proofs.nonces.current(b.proofs.now())
}

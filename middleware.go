package warden

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Middleware authenticates requests and enforces per-route requirements.
// It is safe for concurrent use; build one with New and share it across
// routes. The views Accept derives share its keys and caches.
//
// A request flows one way through the steps New builds, each holding its
// own state: credentials (extract), then the verifier (a bearer token) or
// the client verifier (Basic), then the principal's impersonation policy,
// then the route's requirement, then the next handler, or the refusal.
type Middleware struct {
	*steps
	schemes Scheme // what this view's routes accept
}

// steps are the parts of a request's path, built once by New.
type steps struct {
	credentials   *extractor        // credentials.go
	tokens        *verifier         // verifier.go; nil without issuers
	binding       *binding          // binding.go: DPoP and certificate-bound tokens; nil without issuers
	clients       *basicAuth        // basic.go; nil without Config.Clients
	impersonation *impersonation    // principal.go
	requirements  *requirementCheck // scopes.go
	refusals      *refusals         // challenge.go
	onDecision    func(context.Context, Decision)
	routeScopes   scopeRegistry // every scope a route requires, for RFC 9728 scopes_supported
	closeOnce     sync.Once
}

// New builds a Middleware. Every configuration mistake is reported here,
// never per request. Unless Config.KeySetPolicy.LazyStart is set, New waits
// for each remote issuer's first key set and fails with a *KeyFetchError
// if it cannot be had.
func New(cfg Config) (*Middleware, error) {
	s, err := checkConfig(cfg)
	if err != nil {
		return nil, err
	}
	st := &steps{
		credentials:   s.extractor(),
		clients:       s.basicAuth(),
		impersonation: s.impersonation(),
		requirements:  s.requirementCheck(),
		refusals:      s.refusals(),
		onDecision:    s.OnDecision,
	}
	if st.tokens, err = s.verifier(); err != nil {
		return nil, err
	}
	st.binding = s.binding()
	schemes := SchemeBearer
	if st.tokens == nil {
		schemes = SchemeBasic // a Basic-only configuration: no issuer at all
	}
	return &Middleware{steps: st, schemes: schemes}, nil
}

// Close stops background key refreshes. A closed Middleware keeps serving
// with the keys it holds.
func (m *Middleware) Close() error {
	m.closeOnce.Do(func() {
		if m.tokens != nil {
			m.tokens.close()
		}
	})
	return nil
}

// Accept returns a view of m whose routes accept exactly the given
// schemes: it replaces, not adds to, what m accepts, so list SchemeBearer
// too to keep bearer tokens. Missing credentials are then answered with one
// challenge per scheme, Bearer first. Accept panics if SchemeBasic is asked
// for without Config.Clients, or SchemeBearer without an issuer: those are
// programming errors found at start-up.
func (m *Middleware) Accept(schemes ...Scheme) *Middleware {
	var s Scheme
	for _, sc := range schemes {
		s |= sc
	}
	switch {
	case s == 0 || s&^(SchemeBearer|SchemeBasic) != 0:
		panic("warden: Accept needs SchemeBearer and/or SchemeBasic (DPoP follows SchemeBearer as Config.DPoP.Mode says)")
	case s&SchemeBasic != 0 && m.clients == nil:
		panic("warden: SchemeBasic needs Config.Clients")
	case s&SchemeBearer != 0 && m.tokens == nil:
		panic("warden: SchemeBearer needs an issuer in Config.Issuers")
	}
	return &Middleware{steps: m.steps, schemes: s}
}

// Authenticate lets through every request whose credentials are valid,
// with no further requirement: a middleware for routes any authenticated
// caller may use. It is Require() applied to next.
func (m *Middleware) Authenticate(next http.Handler) http.Handler {
	return m.handler(m.newRoute(Requirement{}, false), next)
}

// Optional is Authenticate for routes open to anonymous callers as well: a
// request without any credentials passes with no principal
// (PrincipalFrom reports false), while a request that presents
// credentials must present valid ones; a bad or expired token, a scheme
// the route does not take or malformed credentials are refused as on any
// route (RFC 6750 §3.1: presenting an invalid token is never anonymous).
// Handlers can still demand more with Check, which answers a request
// without a principal with the challenge of a missing token.
func (m *Middleware) Optional(next http.Handler) http.Handler {
	return m.handler(m.newRoute(Requirement{}, true), next)
}

// Require returns middleware that lets a request through only when its
// principal meets every one of reqs (see Requirement); with none it is
// Authenticate:
//
//	mux.Handle("GET /entries", mw.Require(warden.Scopes("Entry_Read"))(entries))
//	mux.Handle("GET /reports", mw.Require(warden.Scopes("Entry_Read"), warden.AnyScope("Report_Read", "Report_Admin"))(reports))
//
// m.Require(a, b) is m.Require(warden.All(a, b)). Require panics if a
// requirement is invalid (Requirement.Err), or names an audience no
// configured issuer accepts or an issuer that is not configured, like
// http.ServeMux.Handle does for a bad pattern: those are programming
// errors found at start-up.
func (m *Middleware) Require(reqs ...Requirement) func(http.Handler) http.Handler {
	req := allOf(reqs)
	if err := req.Err(); err != nil {
		panic(err.Error())
	}
	if err := m.canMeet(req); err != nil {
		panic(err.Error())
	}
	rt := m.newRoute(req, false)
	return func(next http.Handler) http.Handler { return m.handler(rt, next) }
}

// allOf is one requirement meaning all of reqs.
func allOf(reqs []Requirement) Requirement {
	if len(reqs) == 1 {
		return reqs[0]
	}
	return All(reqs...)
}

// route is one compiled route: accepted schemes, requirement and
// pre-rendered challenges.
type route struct {
	schemes     Scheme
	req         Requirement
	requirement string // req.String(), rendered once for decisions
	challenges  *challenges
	optional    bool // a request without credentials passes anonymously
}

func (m *Middleware) newRoute(req Requirement, optional bool) *route {
	m.routeScopes.add(req.scopeList())
	schemes := m.binding.routeSchemes(m.schemes)
	return &route{
		schemes:     schemes,
		req:         req,
		requirement: req.String(),
		challenges:  m.refusals.forRoute(schemes, req.scopeList()),
		optional:    optional,
	}
}

// handler is a route's request path.
func (m *Middleware) handler(rt *route, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var start time.Time
		if m.onDecision != nil {
			start = time.Now() // monotonic: Config.Now may be a frozen test clock
		}
		p, e := m.authenticate(r, rt.schemes)
		switch {
		case e == nil:
			e = m.authorize(r.Context(), rt.req, p)
		case rt.optional && e.Reason == ReasonMissingCredentials:
			e = nil // no credentials at all: anonymous
		}
		if m.onDecision != nil {
			m.onDecision(r.Context(), newDecision(rt.requirement, p, e, time.Since(start)))
		}
		if e != nil {
			m.refusals.write(w, r, rt.challenges, e)
			return
		}
		if p != nil && p.scheme == SchemeDPoP {
			m.refusals.admitDPoP(w, m.binding.nextNonce())
		}
		next.ServeHTTP(w, r.WithContext(withPrincipal(r.Context(), p, rt.schemes)))
	})
}

// Check checks reqs against the principal of r inside a handler (an MCP
// tool call, a GraphQL resolver, one item of a batch), for requirements
// only the handler knows. When the principal meets all of them it returns
// true and writes nothing. Otherwise it writes exactly the refusal a route
// requiring them would have written (status, WWW-Authenticate, the body or
// Config.ErrorHandler, one Decision to Config.OnDecision) and returns
// false; the handler must then return without writing:
//
//	if !mw.Check(w, r, warden.Scopes("tool:"+name)) {
//		return
//	}
//
// The route that admitted r supplies the principal and the schemes the
// challenges offer; a request without a principal (an Optional route, or
// none at all) is refused as one without credentials. A request refused by
// Check has two decisions: its route's (ok) and Check's refusal; a Check
// that passes adds none. Check runs the impersonation policy again, as the
// permissions it resolves (cached, see Impersonation.PermissionsTTL) decide
// scopes.
func (m *Middleware) Check(w http.ResponseWriter, r *http.Request, reqs ...Requirement) bool {
	var start time.Time
	if m.onDecision != nil {
		start = time.Now()
	}
	req := allOf(reqs)
	ctx := r.Context()
	p, schemes := fromRoute(ctx)
	if schemes == 0 {
		schemes = m.binding.routeSchemes(m.schemes)
	}
	e := m.admit(ctx, p, req)
	if e == nil {
		return true
	}
	if m.onDecision != nil {
		m.onDecision(ctx, newDecision(req.String(), p, e, time.Since(start)))
	}
	m.refusals.write(w, r, m.refusals.forRoute(schemes, req.scopeList()), e)
	return false
}

// Authorize checks reqs against a principal without HTTP, as a route
// requiring them would: the impersonation policy, then every requirement.
// It returns nil or an *Error whose Reason, Status, Code and Scopes say
// how a route would have refused; a nil principal is refused as a request
// without credentials. With Verify it serves transports other than
// net/http (a gRPC interceptor mapping each method to a Requirement, a
// message consumer). It reports no Decision. The Error's Header holds the
// challenges such a route would have written.
func (m *Middleware) Authorize(ctx context.Context, p *Principal, reqs ...Requirement) error {
	req := allOf(reqs)
	if e := m.admit(ctx, p, req); e != nil {
		return m.refusals.routed(e, m.refusals.forRoute(m.binding.routeSchemes(m.schemes), req.scopeList()))
	}
	return nil
}

// admit checks req against p, refusing a nil principal as missing credentials.
func (m *Middleware) admit(ctx context.Context, p *Principal, req Requirement) *Error {
	if p == nil {
		return newError(ReasonMissingCredentials, 0, nil)
	}
	return m.authorize(ctx, req, p)
}

// canMeet reports a requirement no token could ever meet under this
// configuration: an audience no issuer accepts, or an issuer not trusted.
func (m *Middleware) canMeet(req Requirement) error {
	var err error
	req.walk(func(kind reqKind, values []string) {
		for _, v := range values {
			switch {
			case err != nil:
			case kind == reqAudience && (m.tokens == nil || !m.tokens.acceptsAudience(v)):
				err = fmt.Errorf("warden: no configured issuer accepts audience %q", v)
			case kind == reqIssuer && (m.tokens == nil || !m.tokens.trusts(v)):
				err = fmt.Errorf("warden: issuer %q is not configured", v)
			}
		}
	})
	return err
}

// authenticate finds and verifies the request's credentials.
func (m *Middleware) authenticate(r *http.Request, schemes Scheme) (*Principal, *Error) {
	creds, e := m.credentials.extract(r)
	p, e := m.verifyCredentials(r.Context(), creds, e, schemes)
	if e != nil || creds.scheme == SchemeBasic {
		return p, e
	}
	if e := m.binding.verify(r.Context(), r, creds.scheme, creds.value, p); e != nil {
		return nil, e
	}
	return p, nil
}

// verifyCredentials verifies the credentials a request presented (or
// refuses what finding them found wrong), short of their binding.
func (m *Middleware) verifyCredentials(ctx context.Context, creds requestCredentials, e *Error, schemes Scheme) (*Principal, *Error) {
	if e != nil && !foreignScheme(e, schemes) {
		return nil, e
	}
	if e != nil || creds.scheme&schemes == 0 {
		// A scheme this route does not take counts as no credentials
		// (RFC 6750 §3.1, RFC 7235 §3.1), however malformed.
		return nil, newError(ReasonUnsupportedScheme, 0, nil)
	}
	if creds.scheme == SchemeBasic {
		return m.clients.authenticate(ctx, creds.value)
	}
	p, e := m.tokens.verify(ctx, creds.value)
	if e != nil && creds.scheme == SchemeDPoP {
		// Answered with a DPoP challenge (RFC 9449 §7.1). A copy: the
		// outcome of an introspection call is shared by its waiters.
		dpop := *e
		dpop.Scheme = SchemeDPoP
		return nil, &dpop
	}
	return p, e
}

// foreignScheme reports whether e refuses the credentials of a scheme that
// schemes (a route's) does not include: such credentials count as none,
// however malformed (RFC 6750 §3.1), so the route answers
// unsupported_scheme rather than a refusal in a scheme it does not speak.
// A request presenting a token by more than one method, or whose form body
// cannot be read, is malformed whatever the scheme.
func foreignScheme(e *Error, schemes Scheme) bool {
	return e.Scheme != 0 && e.Scheme&schemes == 0 && !errors.Is(e.Err, errManyMethods) && !errors.Is(e.Err, errFormBody)
}

// authorize applies the impersonation policy and the requirement.
func (m *Middleware) authorize(ctx context.Context, req Requirement, p *Principal) *Error {
	perms, usePerms, e := m.impersonation.check(ctx, p)
	if e != nil {
		return e
	}
	return m.requirements.evaluate(req, p.view(perms, usePerms))
}

// Verify checks a raw access token as the middleware would, without HTTP:
// signature, claims and the impersonation policy, but no scope requirement.
// A token bound to a DPoP key or a client certificate is refused, since
// without a request nothing proves the binding. Errors are *Error, whose
// Header holds the challenges a route of m would have written.
func (m *Middleware) Verify(ctx context.Context, rawToken string) (*Principal, error) {
	if m.tokens == nil {
		return nil, newError(ReasonWrongIssuer, SchemeBearer, nil)
	}
	if len(rawToken) > m.credentials.maxTokenSize {
		return nil, newError(ReasonTokenTooLarge, SchemeBearer, nil)
	}
	if !isB64Token(rawToken) {
		return nil, malformedCredentials(SchemeBearer)
	}
	p, e := m.tokens.verify(ctx, rawToken)
	if e == nil {
		e = unprovable(p)
	}
	if e == nil {
		e = m.authorize(ctx, Requirement{}, p)
	}
	if e != nil {
		return nil, m.refusals.routed(e, m.refusals.forRoute(m.binding.routeSchemes(m.schemes), nil))
	}
	return p, nil
}

// Revoke puts the token of issuer with the given jti on the deny-list
// (Config.Revocation) until exp plus Config.Leeway. The issuer is a
// configured issuer's URL or, for a multi-tenant issuer, an accepted
// tenant's issuer (the template with the tenant filled in, as the token's
// "iss" names it), never the template itself. From the moment Revoke
// returns, every bearer token of that issuer with that "jti" is refused
// with 401 "token_revoked", whether it is a JWT or an introspected opaque
// token, cached or not. With a Store shared by a fleet, every replica
// refuses it from its next request on. A zero exp keeps the entry for
// Config.MaxTokenLifetime; an exp plus Config.Leeway already passed
// records nothing, as the token is refused by its exp. The error is the
// Store's, if it failed.
func (m *Middleware) Revoke(ctx context.Context, issuer, jti string, exp time.Time) error {
	if m.tokens == nil || !m.tokens.admitsIssuer(issuer) {
		return errRevokeNoIssuer
	}
	if jti == "" {
		return errRevokeNoJTI
	}
	return m.tokens.revoked.revoke(ctx, issuer, jti, exp)
}

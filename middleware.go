package warden

import (
	"context"
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
	credentials   *extractor     // credentials.go
	tokens        *verifier      // verifier.go; nil without issuers
	binding       *binding       // binding.go: DPoP and certificate-bound tokens; nil without issuers
	clients       *basicAuth     // basic.go; nil without Config.Clients
	impersonation *impersonation // principal.go
	refusals      *refusals      // challenge.go
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
// with no scope requirement: a middleware for routes any authenticated
// caller may use.
func (m *Middleware) Authenticate(next http.Handler) http.Handler {
	return m.handler(m.newRoute(requirement{}), next)
}

// Require returns middleware that lets a request through only when its
// principal holds every one of scopes. It panics if a scope is not a valid
// RFC 6749 scope-token, like http.ServeMux.Handle does for a bad pattern.
func (m *Middleware) Require(scopes ...string) func(http.Handler) http.Handler {
	return m.require(false, scopes)
}

// RequireAny is Require for routes that need at least one of scopes.
func (m *Middleware) RequireAny(scopes ...string) func(http.Handler) http.Handler {
	return m.require(true, scopes)
}

func (m *Middleware) require(any bool, scopes []string) func(http.Handler) http.Handler {
	req, err := newRequirement(any, scopes)
	if err != nil {
		panic(err.Error())
	}
	rt := m.newRoute(req)
	return func(next http.Handler) http.Handler { return m.handler(rt, next) }
}

// route is one compiled route: accepted schemes, requirement and
// pre-rendered challenges.
type route struct {
	schemes     Scheme
	req         requirement
	requirement string // req.String(), rendered once for decisions
	challenges  *challenges
}

func (m *Middleware) newRoute(req requirement) *route {
	m.routeScopes.add(req.scopes)
	schemes := m.binding.routeSchemes(m.schemes)
	return &route{
		schemes:     schemes,
		req:         req,
		requirement: req.String(),
		challenges:  m.refusals.forRoute(schemes, req.scopes),
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
		if e == nil {
			e = m.authorize(r.Context(), rt.req, p)
		}
		if m.onDecision != nil {
			m.onDecision(r.Context(), newDecision(rt.requirement, p, e, time.Since(start)))
		}
		if e != nil {
			m.refusals.write(w, r, rt.challenges, e)
			return
		}
		if p.scheme == SchemeDPoP {
			m.refusals.admitDPoP(w, m.binding.nextNonce())
		}
		next.ServeHTTP(w, r.WithContext(withPrincipal(r.Context(), p)))
	})
}

// authenticate finds and verifies the request's credentials.
func (m *Middleware) authenticate(r *http.Request, schemes Scheme) (*Principal, *Error) {
	creds, e := m.credentials.extract(r)
	if e != nil && !(e.Scheme == SchemeDPoP && schemes&SchemeDPoP == 0) {
		return nil, e
	}
	if e != nil || creds.scheme&schemes == 0 {
		// A scheme this route does not take counts as no credentials
		// (RFC 6750 §3.1, RFC 7235 §3.1), however malformed.
		return nil, newError(ReasonUnsupportedScheme, 0, nil)
	}
	if creds.scheme == SchemeBasic {
		return m.clients.authenticate(r.Context(), creds.value)
	}
	p, e := m.tokens.verify(r.Context(), creds.value)
	if e != nil {
		if creds.scheme == SchemeDPoP {
			e.Scheme = SchemeDPoP // answered with a DPoP challenge (RFC 9449 §7.1)
		}
		return nil, e
	}
	if e := m.binding.verify(r.Context(), r, creds.scheme, creds.value, p); e != nil {
		return nil, e
	}
	return p, nil
}

// authorize applies the impersonation policy and the route's requirement.
func (m *Middleware) authorize(ctx context.Context, req requirement, p *Principal) *Error {
	perms, usePerms, e := m.impersonation.check(ctx, p)
	if e != nil {
		return e
	}
	if !req.satisfiedBy(p.scopes, perms, usePerms) {
		e := newError(ReasonInsufficientScope, p.scheme, nil)
		e.Scopes = req.scopes
		return e
	}
	return nil
}

// Verify checks a raw access token as the middleware would, without HTTP:
// signature, claims and the impersonation policy, but no scope requirement.
// A token bound to a DPoP key or a client certificate is refused, since
// without a request nothing proves the binding. Errors are *Error.
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
		e = m.authorize(ctx, requirement{}, p)
	}
	if e != nil {
		return nil, e
	}
	return p, nil
}

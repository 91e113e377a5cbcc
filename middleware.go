package warden

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Middleware authenticates requests and enforces per-route scope
// requirements. It is safe for concurrent use; build one with New and share
// it across routes. Routes derived with Accept share its keys and caches.
type Middleware struct {
	core    *core
	schemes Scheme
}

// core is the state shared by a Middleware and the views Accept derives.
type core struct {
	issuers           map[string]*trustedIssuer
	issuerOrder       []*trustedIssuer
	realm             string
	leeway            time.Duration
	maxLifetime       time.Duration
	maxTokenSize      int
	strict            bool
	scopeClaims       []claimPath
	allowQueryToken   bool
	allowFormToken    bool
	omitScope         bool
	exposeReason      bool
	resourceMetadata  string
	retryAfterSeconds int
	errorHandler      func(http.ResponseWriter, *http.Request, *Error)
	onDecision        func(Decision)
	mayImpersonate    func(context.Context, string, string) bool
	permissions       func(context.Context, *Principal) ([]string, error)
	basic             *basicAuth
	tokens            *tokenCache
	logger            *slog.Logger
	now               func() time.Time
	closeOnce         sync.Once
	routeScopes       scopeRegistry // every scope a route requires, for RFC 9728 scopes_supported
}

// New builds a Middleware. Every configuration mistake is reported here,
// never per request. Unless Config.Keys.LazyStart is set, New waits for each
// remote issuer's first key set and fails if it cannot be had.
func New(cfg Config) (*Middleware, error) {
	c := &core{
		issuers:          map[string]*trustedIssuer{},
		realm:            cmp(cfg.Realm, DefaultRealm),
		leeway:           durationOr(cfg.Leeway, DefaultLeeway),
		maxLifetime:      durationOr(cfg.MaxTokenLifetime, DefaultMaxTokenLifetime),
		maxTokenSize:     cfg.MaxTokenSize,
		strict:           cfg.StrictRFC9068,
		allowQueryToken:  cfg.AllowQueryToken,
		allowFormToken:   cfg.AllowFormToken,
		omitScope:        cfg.OmitScopeInChallenge,
		exposeReason:     cfg.ExposeReason,
		resourceMetadata: cfg.ResourceMetadataURL,
		errorHandler:     cfg.ErrorHandler,
		onDecision:       cfg.OnDecision,
		mayImpersonate:   cfg.MayImpersonate,
		permissions:      cfg.Permissions,
		logger:           cfg.Logger,
		now:              cfg.Now,
	}
	if c.maxTokenSize == 0 {
		c.maxTokenSize = DefaultMaxTokenSize
	}
	if c.maxTokenSize < 0 {
		return nil, configErrorf("MaxTokenSize must not be negative")
	}
	var err error
	if c.scopeClaims, err = scopeClaimPaths(cfg.ScopeClaims); err != nil {
		return nil, err
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.resourceMetadata != "" {
		if err := checkFetchURL(c.resourceMetadata); err != nil {
			return nil, configErrorf("ResourceMetadataURL: %v", err)
		}
	}
	if err := validRealm(c.realm); err != nil {
		return nil, err
	}
	algs, err := allowedAlgorithms(cfg.Algorithms)
	if err != nil {
		return nil, err
	}
	if cfg.Clients != nil {
		c.basic = newBasicAuth(cfg.Clients, durationOr(cfg.BasicCacheTTL, DefaultBasicCacheTTL), c.now)
	}
	if cfg.TokenCacheSize >= 0 {
		c.tokens = newTokenCache(cmpInt(cfg.TokenCacheSize, DefaultTokenCacheSize))
	}
	ks, err := normalizeKeySourceConfig(cfg.Keys)
	if err != nil {
		return nil, err
	}
	c.retryAfterSeconds = max(1, int(ks.UnknownKIDInterval/time.Second))
	ics := cfg.issuerConfigs()
	if len(ics) == 0 {
		return nil, configErrorf("an issuer is required")
	}
	for _, ic := range ics {
		if err := validateIssuerConfig(ic); err != nil {
			c.close()
			return nil, err
		}
		if _, dup := c.issuers[ic.Issuer]; dup {
			c.close()
			return nil, configErrorf("issuer %q is configured twice", ic.Issuer)
		}
		ti := &trustedIssuer{IssuerConfig: ic}
		if ic.HMACSecret != nil {
			if ti.algs, err = hmacAlgorithmsFor(ic.Issuer, cfg.Algorithms, ic.HMACSecret); err != nil {
				c.close()
				return nil, err
			}
			ti.keys = newHMACSource(ic.Issuer, ic.HMACSecret, c.now())
		} else {
			if len(algs) == 0 {
				c.close()
				return nil, configErrorf("issuer %q takes keys from a JWK Set, but Algorithms allows only HMAC, which a JWK Set never supplies", ic.Issuer)
			}
			ti.algs = algs
			if ic.JWKS != nil {
				ti.keys, err = newStaticJWKS(ic.Issuer, ic.JWKS, c.now())
			} else {
				ti.keys, err = newRemoteSource(ic, ks, cfg.HTTPClient, c.logger, c.now)
			}
			if err != nil {
				c.close()
				return nil, err
			}
		}
		c.issuers[ic.Issuer] = ti
		c.issuerOrder = append(c.issuerOrder, ti)
	}
	return &Middleware{core: c, schemes: SchemeBearer}, nil
}

// Close stops background key refreshes. A closed Middleware keeps serving
// with the keys it holds.
func (m *Middleware) Close() error {
	m.core.close()
	return nil
}

func (c *core) close() {
	c.closeOnce.Do(func() {
		for _, ti := range c.issuerOrder {
			ti.keys.close()
		}
	})
}

// Accept returns a view of m whose routes accept the given schemes instead
// of Bearer alone. Missing credentials are then answered with one challenge
// per scheme, Bearer first. Accept panics if SchemeBasic is asked for and
// Config.Clients is nil: that is a programming error found at start-up.
func (m *Middleware) Accept(schemes ...Scheme) *Middleware {
	var s Scheme
	for _, sc := range schemes {
		s |= sc
	}
	if s == 0 || s&^(SchemeBearer|SchemeBasic) != 0 {
		panic("warden: Accept needs SchemeBearer and/or SchemeBasic")
	}
	if s&SchemeBasic != 0 && m.core.basic == nil {
		panic("warden: SchemeBasic needs Config.Clients")
	}
	return &Middleware{core: m.core, schemes: s}
}

// Handler authenticates every request to next, with no scope requirement.
func (m *Middleware) Handler(next http.Handler) http.Handler {
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

// route is one compiled route: accepted schemes, scope requirement and
// pre-rendered challenges.
type route struct {
	schemes        Scheme
	req            requirement
	requirement    string // req.String(), rendered once for decisions
	challenges     challenges
	bareChallenges []string
}

func (m *Middleware) newRoute(req requirement) *route {
	rt := &route{schemes: m.schemes, req: req, requirement: req.String()}
	m.core.routeScopes.add(req.scopes)
	rt.challenges = newChallenges(m.core.realm, req.scopes, m.core.omitScope, m.core.resourceMetadata)
	if rt.schemes&SchemeBearer != 0 {
		rt.bareChallenges = append(rt.bareChallenges, rt.challenges.bearer+rt.challenges.resourceMetadata)
	}
	if rt.schemes&SchemeBasic != 0 {
		rt.bareChallenges = append(rt.bareChallenges, rt.challenges.basic)
	}
	return rt
}

func (m *Middleware) handler(rt *route, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var start time.Time
		if m.core.onDecision != nil {
			start = time.Now() // monotonic: Config.Now may be a frozen test clock
		}
		p, e := m.authenticate(r, rt)
		if e == nil {
			e = m.core.authorize(r.Context(), rt.req, p)
		}
		if e != nil && e.Reason == ReasonInsufficientScope {
			e.Scopes = rt.req.scopes
		}
		if m.core.onDecision != nil {
			m.core.decide(r.Context(), rt, p, e, start)
		}
		if e != nil {
			m.writeRefusal(w, r, rt, e)
			return
		}
		next.ServeHTTP(w, r.WithContext(withPrincipal(r.Context(), p)))
	})
}

// authenticate finds and verifies the request's credentials.
func (m *Middleware) authenticate(r *http.Request, rt *route) (*Principal, *Error) {
	creds, e := m.core.extractCredentials(r)
	if e != nil {
		return nil, e
	}
	if creds.scheme&rt.schemes == 0 {
		// A scheme this route does not take counts as no credentials
		// (RFC 6750 §3.1, RFC 7235 §3.1).
		return nil, newError(ReasonUnsupportedScheme, 0, nil)
	}
	if creds.scheme == SchemeBasic {
		return m.core.basic.authenticate(r.Context(), creds.value)
	}
	return m.core.verifyBearer(r.Context(), creds.value)
}

// verifyBearer verifies a token, using the cache of verified tokens.
func (c *core) verifyBearer(ctx context.Context, raw string) (*Principal, *Error) {
	now := c.now()
	if p, ok := c.tokens.get(raw, now, c.leeway); ok {
		return p, nil
	}
	p, iss, key, e := c.verifyToken(ctx, raw)
	if e != nil {
		return nil, e
	}
	c.tokens.put(raw, p, iss.keys, key, c.leeway, now)
	return p, nil
}

// authorize applies the impersonation policy and the route's requirement.
func (c *core) authorize(ctx context.Context, req requirement, p *Principal) *Error {
	var perms []string
	usePerms := false
	if p.actor != nil {
		if c.mayImpersonate != nil && !c.mayImpersonate(ctx, p.actor.id(), p.subject) {
			return newError(ReasonImpersonationDenied, p.scheme, nil)
		}
		if c.permissions != nil {
			var err error
			if perms, err = c.permissions(ctx, p); err != nil {
				c.logger.ErrorContext(ctx, "warden: permission resolver failed", "error", err)
				return newError(ReasonPermissionsUnavailable, p.scheme, err)
			}
			usePerms = true
		}
	}
	if !req.satisfiedBy(p.scopes, perms, usePerms) {
		return newError(ReasonInsufficientScope, p.scheme, nil)
	}
	return nil
}

// id names the actor for policy decisions: its client id, else its subject.
func (a *Actor) id() string {
	if a.ClientID != "" {
		return a.ClientID
	}
	return a.Subject
}

// Verify checks a raw access token as the middleware would, without HTTP:
// signature, claims and the impersonation policy, but no scope requirement.
// Errors are *Error.
func (m *Middleware) Verify(ctx context.Context, rawToken string) (*Principal, error) {
	if len(rawToken) > m.core.maxTokenSize {
		return nil, newError(ReasonTokenTooLarge, SchemeBearer, nil)
	}
	if !isB64Token(rawToken) {
		return nil, malformedCredentials(SchemeBearer)
	}
	p, e := m.core.verifyBearer(ctx, rawToken)
	if e == nil {
		e = m.core.authorize(ctx, requirement{}, p)
	}
	if e != nil {
		return nil, e
	}
	return p, nil
}

// KeyStatus reports the health of every issuer's key source.
func (m *Middleware) KeyStatus() []KeySourceStatus {
	out := make([]KeySourceStatus, 0, len(m.core.issuerOrder))
	for _, ti := range m.core.issuerOrder {
		out = append(out, ti.keys.status())
	}
	return out
}

package warden

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wardenhq/warden/internal/fetch"
	"github.com/wardenhq/warden/internal/jwks"
)

// This file is token introspection (RFC 7662): asking an issuer whether a
// token is active, judging its answer, and turning it into the same
// Principal a JWT with those claims would give. Answers are remembered in
// introspectcache.go; concurrent requests for one token share one call.

// Defaults of Introspection.
const (
	defaultIntrospectionCacheTTL    = 30 * time.Second
	defaultIntrospectionInactiveTTL = 5 * time.Second
	defaultIntrospectionTimeout     = 5 * time.Second
)

const (
	// maxIntrospectionResponse caps an answer: an RFC 7662 response is a
	// few hundred bytes, an RFC 9701 one a few kilobytes.
	maxIntrospectionResponse = 64 << 10
	// maxIntrospectionCalls bounds the calls in flight to one endpoint, so
	// a flood of distinct random tokens costs the issuer at most this many
	// concurrent requests; the others wait for a slot up to the timeout,
	// then get 503.
	maxIntrospectionCalls = 64
	// Media types of RFC 7662 §2.2 and RFC 9701 §5 answers.
	mediaJSON         = "application/json"
	mediaSignedAnswer = "application/token-introspection+jwt"
)

// Causes of an introspection that failed, for logs and errors.Is. Each is
// answered with 503: the endpoint, not the token, is at fault.
var (
	errIntrospectionRefused = errors.New("the introspection endpoint refused warden's client credentials")
	errIntrospectionBusy    = errors.New("every introspection slot stayed busy until the timeout")
	errCachedAnswer         = errors.New("refused by a remembered introspection answer")
)

// introspector is the part of the bearer step that asks one issuer about
// tokens. It holds the endpoint, warden's client authentication, the
// cache of answers, the calls in flight and the outage log.
type introspector struct {
	iss          *trustedIssuer
	endpoint     *introspectionEndpoint
	clientID     string
	authenticate func(form url.Values, header http.Header) error
	accept       string // mediaJSON or mediaSignedAnswer
	ttl          time.Duration
	inactiveTTL  time.Duration
	timeout      time.Duration
	leeway       time.Duration
	maxLifetime  time.Duration // Config.MaxTokenLifetime, as for a JWT
	scopeClaims  []claimPath
	fetch        *fetch.Client
	now          func() time.Time
	logger       *slog.Logger
	cache        *introspectionCache
	flights      flights
	slots        chan struct{}
	outage       alarm
}

// close releases the idle connections of the default HTTP clients.
func (in *introspector) close() {
	in.fetch.CloseIdle()
	in.endpoint.fetch.CloseIdle()
}

// forIssuer reports whether the introspector is the issuer's.
func (in *introspector) forIssuer(issuer string) bool { return in.iss.url == issuer }

// principal admits or refuses a token that is not a JWT: by a remembered
// answer, or by one call shared with every concurrent request for the same
// token; then by the deny-list, before any answer is used.
func (in *introspector) principal(ctx context.Context, raw string, deny *denyList) (*Principal, *Error) {
	p, e := in.answer(ctx, raw, jwtBinding{})
	if e != nil {
		return nil, e
	}
	if e := deny.check(ctx, p); e != nil {
		return nil, e
	}
	return p, nil
}

// active refuses a verified JWT that the issuer no longer reports active,
// or whose answer binds it otherwise than its own cnf, whose key
// thumbprint is jkt ("" for none).
func (in *introspector) active(ctx context.Context, raw, jkt string) *Error {
	_, e := in.answer(ctx, raw, jwtBinding{isJWT: true, jkt: jkt})
	return e
}

// jwtBinding says whether the token introspected is a verified JWT, and
// the key its own cnf binds it to (RFC 9449 §6.1), if any.
type jwtBinding struct {
	isJWT bool
	jkt   string
}

// answer returns what the issuer says of raw: a principal (nil for a JWT,
// whose own claims make the principal) or a refusal.
func (in *introspector) answer(ctx context.Context, raw string, jwt jwtBinding) (*Principal, *Error) {
	d := in.cache.digest(raw)
	if p, reason, ok := in.cache.get(d, in.now()); ok {
		if reason != ReasonOK {
			return nil, newError(reason, SchemeBearer, errCachedAnswer)
		}
		return p, nil
	}
	r := in.flights.do(ctx, d, func() flightResult {
		// Detached from the first request's cancellation: the call is
		// shared with every request that joins it, and bounded by timeout.
		return in.ask(context.WithoutCancel(ctx), raw, d, jwt)
	})
	return r.p, r.e
}

// flightResult is the outcome of one call, handed to every request that
// waited for it.
type flightResult struct {
	p *Principal
	e *Error
}

// own returns r as one request may keep it: the principal, which nothing
// changes once built, and a copy of the refusal of its own. An *Error
// travels on to hooks (Decision.Err, ErrorHandler) and to steps that set
// its Scheme; shared by every waiter, a write by one would race with, and
// show in, the others' refusals.
func (r flightResult) own() flightResult {
	if r.e != nil {
		e := *r.e
		e.Scopes, e.Expected, e.Got = slices.Clone(e.Scopes), slices.Clone(e.Expected), slices.Clone(e.Got)
		r.e = &e
	}
	return r
}

// ask makes one introspection call, judges the answer and remembers it.
func (in *introspector) ask(ctx context.Context, raw string, d digest, jwt jwtBinding) flightResult {
	ctx, cancel := context.WithTimeout(ctx, in.timeout)
	defer cancel()
	unavailable := func(err error) flightResult {
		in.outage.fail(ctx, in.logger, "warden: introspection failing; opaque tokens get 503", fmt.Errorf("issuer %q: %w", in.iss.url, err))
		return flightResult{e: newError(ReasonIntrospectionUnavailable, SchemeBearer, err)}
	}
	select {
	case in.slots <- struct{}{}:
		defer func() { <-in.slots }()
	case <-ctx.Done():
		return unavailable(errIntrospectionBusy)
	}
	body, err := in.call(ctx, raw)
	if err != nil {
		return unavailable(err)
	}
	now := in.now()
	p, e, until, err := in.judge(body, now, jwt)
	if err != nil {
		return unavailable(err)
	}
	in.outage.ok(ctx, in.logger, "warden: introspection recovered")
	reason := ReasonOK
	if e != nil {
		reason = e.Reason
	}
	in.cache.put(d, p, reason, until, now)
	return flightResult{p: p, e: e}
}

// call sends the RFC 7662 §2.1 request and returns the RFC 7662 answer:
// the response body, or, for an RFC 9701 answer, its verified
// token_introspection member.
func (in *introspector) call(ctx context.Context, raw string) ([]byte, error) {
	endpoint, err := in.endpoint.get(ctx)
	if err != nil {
		return nil, err
	}
	form := url.Values{"token": {raw}, "token_type_hint": {"access_token"}}
	header := http.Header{"Accept": {in.accept}}
	if err := in.authenticate(form, header); err != nil {
		return nil, err
	}
	body, h, err := in.fetch.PostForm(ctx, endpoint, form, header)
	if err != nil {
		var se *fetch.StatusError
		if errors.As(err, &se) && (se.Code == http.StatusUnauthorized || se.Code == http.StatusForbidden) {
			// Our credentials are wrong (RFC 7662 §2.3): no token can be
			// checked until an operator fixes them.
			return nil, fmt.Errorf("%w: %w", errIntrospectionRefused, err)
		}
		return nil, err
	}
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != in.accept {
		return nil, fmt.Errorf("%w: Content-Type is not %s", errIntrospectionAnswer, in.accept)
	}
	if in.accept == mediaSignedAnswer {
		return openSigned(ctx, in.iss, in.clientID, body, in.now(), in.timeout, in.leeway)
	}
	return body, nil
}

// judge reads an RFC 7662 §2.2 answer. It returns the principal of an
// active token that passes every check (nil for a JWT), or the refusal,
// and until when the outcome may be remembered; err is an answer that is
// no RFC 7662 answer at all, which is the endpoint's failure (503).
func (in *introspector) judge(body []byte, now time.Time, jwt jwtBinding) (*Principal, *Error, time.Time, error) {
	refuse := func(reason Reason, cause error) (*Principal, *Error, time.Time, error) {
		return nil, newError(reason, SchemeBearer, cause), now.Add(in.inactiveTTL), nil
	}
	if !json.Valid(body) {
		return nil, nil, time.Time{}, errIntrospectionAnswer
	}
	var active, hasActive, typeOK, dpop = false, false, true, false
	err := walkObject(body, func(name string, v []byte) error {
		switch name {
		case "active":
			// RFC 7662 §2.2: a JSON boolean; "true" or 1 is no answer.
			switch string(v) {
			case "true", "false":
				active, hasActive = string(v) == "true", true
			default:
				return errIntrospectionAnswer
			}
		case "token_type", "token_use":
			s, ok := jsonString(v)
			typeOK = typeOK && ok && isAccessTokenTypeName(name, s)
			dpop = dpop || (name == "token_type" && strings.EqualFold(s, "DPoP"))
		}
		return nil
	})
	if err != nil || !hasActive {
		return nil, nil, time.Time{}, errIntrospectionAnswer
	}
	if !active {
		return refuse(ReasonTokenInactive, nil)
	}
	cl, err := decodeClaims(body, in.scopeClaims)
	if err != nil {
		var ce *claimError
		if errors.As(err, &ce) {
			return refuse(ReasonInvalidClaim, err)
		}
		return nil, nil, time.Time{}, errIntrospectionAnswer
	}
	if e := in.checkClaims(cl, typeOK, now, jwt.isJWT); e != nil {
		return nil, e, now.Add(in.inactiveTTL), nil
	}
	// RFC 9449 §6.2: the answer for a DPoP-bound token says token_type
	// DPoP and names the key (cnf.jkt). One that says DPoP and names none
	// would admit a bound token as a bearer token, usable without the key.
	// A JWT is admitted on its own claims: the answer's key must be its.
	jkt := cl.cnf.JKT
	if jwt.isJWT {
		if jkt != "" && jkt != jwt.jkt {
			return refuse(ReasonInvalidClaim, &claimError{claim: "cnf"})
		}
		jkt = jwt.jkt
	}
	if dpop && jkt == "" {
		return refuse(ReasonMissingClaim, &claimError{claim: "cnf", missing: true})
	}
	// Never remembered past the token's own end, nor, for an answer
	// without exp, past the longest lifetime any token is admitted with.
	until := now.Add(min(in.ttl, in.maxLifetime))
	if exp := time.Unix(cl.exp.seconds, 0); cl.exp.present && exp.Before(until) {
		until = exp
	}
	if jwt.isJWT {
		return nil, nil, until, nil
	}
	p, e := newTokenPrincipal(cl, in.iss.actAs, body)
	if e != nil {
		return nil, e, now.Add(in.inactiveTTL), nil
	}
	// The issuer that answered is the token's, whether or not it said so.
	p.issuer = in.iss.url
	if !cl.exp.present {
		p.expiresAt = time.Time{}
	}
	return p, nil, until, nil
}

// checkClaims applies to an active answer the checks a JWT's claims get,
// as RFC 7662 §4 asks: the type, the issuer if named, the audience, and
// exp (with its MaxTokenLifetime bound), nbf and iat with the leeway. exp
// is optional in an answer. A JWT's
// own claims have passed already; its answer may leave aud out.
func (in *introspector) checkClaims(cl *accessClaims, typeOK bool, now time.Time, isJWT bool) *Error {
	fail := func(reason Reason, claim string, missing bool) *Error {
		return newError(reason, SchemeBearer, &claimError{claim: claim, missing: missing})
	}
	switch {
	case !typeOK:
		return fail(ReasonWrongType, "token_type", false)
	case cl.iss != "" && cl.iss != in.iss.url:
		return fail(ReasonWrongIssuer, "iss", false)
	case cl.exp.present && !now.Before(time.Unix(cl.exp.seconds, 0).Add(in.leeway)):
		return fail(ReasonExpired, "exp", false)
	case cl.exp.present && time.Unix(cl.exp.seconds, 0).After(now.Add(in.maxLifetime+in.leeway)):
		// The bound a JWT's exp gets (Config.MaxTokenLifetime): an issuer
		// that answers for a token of years is as wrong as one signing it.
		return fail(ReasonLifetimeTooLong, "exp", false)
	case cl.nbf.present && now.Add(in.leeway).Before(time.Unix(cl.nbf.seconds, 0)):
		return fail(ReasonNotYetValid, "nbf", false)
	case cl.iat.present && now.Add(in.leeway).Before(time.Unix(cl.iat.seconds, 0)):
		return fail(ReasonIssuedInFuture, "iat", false)
	case in.iss.skipAudience || (isJWT && !cl.audPresent):
		return nil
	case !holdsAny(cl.aud, in.iss.audiences):
		return fail(ReasonWrongAudience, "aud", !cl.audPresent)
	}
	return nil
}

// isAccessTokenTypeName reports whether an answer's token_type (RFC 7662
// §2.2, an RFC 6749 §7.1 type, case-insensitive) or vendor token_use names
// an access token: Bearer or DPoP (RFC 9449 §5), or the names some servers
// use. A refresh or ID token is refused even when active.
func isAccessTokenTypeName(member, s string) bool {
	if member == "token_use" {
		return s == "access_token" || s == "access"
	}
	for _, t := range []string{"Bearer", "DPoP", "access_token", "urn:ietf:params:oauth:token-type:access_token"} {
		if strings.EqualFold(s, t) {
			return true
		}
	}
	return false
}

// isJWT reports whether raw is a compact JWS: three segments whose first
// decodes to a JSON object. Anything else is an opaque token.
func isJWT(raw string) bool {
	h, rest, ok := strings.Cut(raw, ".")
	if !ok || strings.Count(rest, ".") != 1 {
		return false
	}
	b, err := b64.DecodeString(h)
	if err != nil {
		return false
	}
	i := skipSpace(b, 0)
	return i < len(b) && b[i] == '{'
}

// introspectionEndpoint is where an issuer's introspection endpoint is: as
// configured, or read from its discovery document, once.
type introspectionEndpoint struct {
	url       atomic.Pointer[string]
	mu        sync.Mutex // held by the one discovery in progress
	issuer    string
	discovery string // explicit discovery document URL, or ""
	fetch     *fetch.Client
	next      time.Time // no discovery before this, after a failure (real time)
	lastErr   error
}

// rediscoverAfter is the least time between two failed discoveries.
const rediscoverAfter = 5 * time.Second

// get returns the endpoint, discovering it when it is not known yet.
// Concurrent callers share one discovery; after a failure, callers get the
// same error without a request until rediscoverAfter has passed.
func (e *introspectionEndpoint) get(ctx context.Context) (string, error) {
	if u := e.url.Load(); u != nil {
		return *u, nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if u := e.url.Load(); u != nil {
		return *u, nil
	}
	if time.Now().Before(e.next) {
		return "", e.lastErr
	}
	md, err := jwks.Discover(ctx, e.fetch, e.issuer, e.discovery)
	if err == nil {
		switch {
		case md.IntrospectionEndpoint == "":
			err = errors.New(`the discovery document names no "introspection_endpoint"`)
		default:
			err = fetch.CheckURL(md.IntrospectionEndpoint)
		}
	}
	if err != nil {
		e.next, e.lastErr = time.Now().Add(rediscoverAfter), fmt.Errorf("introspection endpoint: %w", err)
		return "", e.lastErr
	}
	e.url.Store(&md.IntrospectionEndpoint)
	return md.IntrospectionEndpoint, nil
}

// flights runs one call per token digest at a time: every request for a
// token whose call is in flight waits for that call's result instead of
// making its own (RFC 7662 leaves caching and coalescing to the resource
// server; a thousand first requests for one token must not be a thousand
// calls).
type flights struct {
	mu    sync.Mutex
	calls map[digest]*flight
}

// flight is one call in progress.
type flight struct {
	done    chan struct{}
	res     flightResult
	waiters int // requests that joined, for tests; guarded by flights.mu
}

// do returns fn's result, calling it unless a call for d is in flight. A
// waiting request whose context ends gets 503.
func (f *flights) do(ctx context.Context, d digest, fn func() flightResult) flightResult {
	f.mu.Lock()
	if c := f.calls[d]; c != nil {
		c.waiters++
		f.mu.Unlock()
		select {
		case <-c.done:
			return c.res.own()
		case <-ctx.Done():
			return flightResult{e: newError(ReasonIntrospectionUnavailable, SchemeBearer, ctx.Err())}
		}
	}
	if f.calls == nil {
		f.calls = map[digest]*flight{}
	}
	// Until fn returns, and should it panic, the waiters' answer is 503.
	c := &flight{done: make(chan struct{}), res: flightResult{e: newError(ReasonIntrospectionUnavailable, SchemeBearer, errIntrospectionAnswer)}}
	f.calls[d] = c
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.calls, d)
		f.mu.Unlock()
		close(c.done)
	}()
	c.res = fn()
	return c.res.own()
}

package warden

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// refusals writes every refusal warden makes: status, challenges,
// Cache-Control, Retry-After and body. It is the only writer of a refusal,
// and its settings are fixed by New.
type refusals struct {
	realm            string
	omitScope        bool
	exposeReason     bool
	resourceMetadata string // `, resource_metadata="…"` or empty (RFC 9728 §5.1)
	retryAfter       string // seconds, for 503
	errorHandler     func(http.ResponseWriter, *http.Request, *Error)
	dpopAlgs         string // `, algs="…"` of every DPoP challenge (RFC 9449 §7.1)
}

func newRefusals(realm string, omitScope, exposeReason bool, resourceMetadataURL string, retryAfter int,
	errorHandler func(http.ResponseWriter, *http.Request, *Error), dpopAlgs []string) *refusals {
	r := &refusals{realm: realm, omitScope: omitScope, exposeReason: exposeReason,
		retryAfter: strconv.Itoa(retryAfter), errorHandler: errorHandler}
	if resourceMetadataURL != "" {
		r.resourceMetadata = ", resource_metadata=" + quote(resourceMetadataURL)
	}
	r.dpopAlgs = ", algs=" + quote(strings.Join(dpopAlgs, " "))
	return r
}

// challenges holds the WWW-Authenticate values of one route that do not
// depend on the request, rendered once when the route is built.
type challenges struct {
	schemes Scheme
	bare    []string // one bare challenge per accepted scheme: Bearer, DPoP, Basic
	bearer  string   // Bearer realm="…"[, resource_metadata="…"]
	dpop    string   // DPoP realm="…"[, resource_metadata="…"], algs="…"
	basic   string   // Basic realm="…", charset="UTF-8"
	scope   string   // `, error="insufficient_scope"[, scope="…"]`
	scopes  []string // the scopes the route's requirement names
}

// forRoute renders the challenges of a route that accepts schemes and
// requires scopes.
func (f *refusals) forRoute(schemes Scheme, scopes []string) *challenges {
	c := &challenges{
		schemes: schemes,
		bearer:  "Bearer realm=" + quote(f.realm) + f.resourceMetadata,
		dpop:    "DPoP realm=" + quote(f.realm) + f.resourceMetadata + f.dpopAlgs,
		basic:   "Basic realm=" + quote(f.realm) + `, charset="UTF-8"`, // RFC 7617 §2.1
		scopes:  scopes,
	}
	c.scope = `, error="insufficient_scope"`
	if !f.omitScope && len(scopes) > 0 {
		c.scope += ", scope=" + quote(strings.Join(scopes, " "))
	}
	if schemes&SchemeBearer != 0 {
		c.bare = append(c.bare, c.bearer)
	}
	if schemes&SchemeDPoP != 0 {
		c.bare = append(c.bare, c.dpop)
	}
	if schemes&SchemeBasic != 0 {
		c.bare = append(c.bare, c.basic)
	}
	return c
}

// quote renders an RFC 9110 §5.6.4 quoted-string.
func quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	b.WriteByte('"')
	return b.String()
}

// write is the only place warden writes a refusal: status, challenge,
// Cache-Control and body. The route's accepted schemes decide which
// challenges a request without (usable) credentials is offered.
func (f *refusals) write(w http.ResponseWriter, r *http.Request, c *challenges, e *Error) {
	o := e.outcome()
	h := w.Header()
	f.addHeader(h, c, e, o)
	h.Set("Cache-Control", "no-store") // RFC 6749 §5.1: auth responses must not be cached
	h.Set("Pragma", "no-cache")
	if f.errorHandler != nil {
		fw := &fixedStatusWriter{ResponseWriter: w, status: o.status}
		f.errorHandler(fw, r, e)
		fw.WriteHeader(0) // a handler that wrote nothing still sends the status
		return
	}
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(o.status)
	_, _ = w.Write(f.body(e, o))
}

// addHeader adds what a refusal asks of the client: its challenges, the
// DPoP nonce to use and when to retry.
func (f *refusals) addHeader(h http.Header, c *challenges, e *Error, o outcome) {
	for _, v := range c.forError(e, o) {
		h.Add("WWW-Authenticate", v)
	}
	if e.nonce != "" {
		h.Set("DPoP-Nonce", e.nonce) // RFC 9449 §9: the nonce the client must use
	}
	switch o.status {
	case http.StatusServiceUnavailable:
		h.Set("Retry-After", f.retryAfter)
	case http.StatusTooManyRequests:
		h.Set("Retry-After", basicThrottleRetryAfter) // RFC 6585 §4
	}
}

// routed returns a copy of e (which may be shared: the outcome of an
// introspection call goes to every request that waited for it) whose
// Header renders the fields route c writes with it.
func (f *refusals) routed(e *Error, c *challenges) *Error {
	out := *e
	out.render = func(h http.Header) { f.addHeader(h, c, &out, out.outcome()) }
	return &out
}

// Header returns the header fields the HTTP path writes with this refusal
// that tell the client what to do: every WWW-Authenticate challenge (RFC
// 6750 §3, RFC 9449 §7.1), DPoP-Nonce and Retry-After, so that a transport
// other than net/http (a gRPC interceptor: trailers; a Connect error's
// metadata) can send the same. It is empty for an Error that did not come
// from Middleware.RequireCall, Authorize or Verify.
func (e *Error) Header() http.Header {
	h := http.Header{}
	if e.render != nil {
		e.render(h)
	}
	return h
}

// forError returns the WWW-Authenticate values for a refusal.
func (c *challenges) forError(e *Error, o outcome) []string {
	switch {
	case e.Reason == ReasonMissingCredentials || e.Reason == ReasonUnsupportedScheme:
		// RFC 6750 §3.1: no error code when no credentials were presented;
		// one challenge per accepted scheme, Bearer first.
		return c.bare
	case o.status == http.StatusServiceUnavailable || o.status == http.StatusTooManyRequests:
		return nil // not a verdict on the credentials
	case e.Reason == ReasonClientNotAllowed || e.Reason == ReasonInsufficientRole || e.Reason == ReasonClaimRejected:
		// Valid credentials this route does not admit for a reason no new
		// token of the same client would mend by asking for scopes: 403
		// without a challenge (RFC 9110 §15.5.4), so the client is not
		// sent to the authorization server for something it cannot grant.
		return nil
	case e.Scheme == SchemeBasic || (e.Reason == ReasonMalformedRequest && c.schemes&(SchemeBearer|SchemeDPoP) == 0):
		if e.Reason == ReasonInsufficientScope {
			return nil // valid client credentials: 403 without a challenge (RFC 7235 §3.1 ties challenges to 401)
		}
		return []string{c.basic}
	}
	// A refusal of a token is answered in the scheme it came with: DPoP
	// (RFC 9449 §7.1) or Bearer; one without a scheme in the route's first.
	head := c.bearer
	if e.Scheme == SchemeDPoP || (e.Scheme == 0 && c.schemes&SchemeBearer == 0) {
		head = c.dpop
	}
	switch {
	case e.Reason == ReasonInsufficientScope && e.detail != nil && len(e.detail.granted) > 0:
		return []string{c.accumulated(head, e.detail.granted)} // Config.AccumulateScopesInChallenge
	case e.Reason == ReasonInsufficientScope:
		return []string{head + c.scope}
	case e.Reason == ReasonInsufficientUserAuthentication && e.detail != nil:
		return []string{c.stepUp(head, e.detail, o)}
	}
	v := head + `, error="` + o.code + `", error_description=` + quote(o.description)
	if e.Reason == ReasonDPoPDowngrade && c.schemes&SchemeDPoP != 0 {
		// Tell the client which scheme the token needs.
		return []string{v, c.dpop}
	}
	return []string{v}
}

// accumulated renders an insufficient_scope challenge whose scope lists
// the token's own scopes, then the route's (MCP 2025-11-25, "Scope Challenge
// Handling"; Config.AccumulateScopesInChallenge). Both are scope-tokens, so
// nothing needs escaping.
func (c *challenges) accumulated(head string, granted []string) string {
	all := slices.Clone(granted)
	for _, s := range c.scopes {
		if !slices.Contains(all, s) {
			all = append(all, s)
		}
	}
	return head + `, error="insufficient_scope", scope=` + quote(strings.Join(all, " "))
}

// stepUp renders an RFC 9470 §3 challenge: the authentication context
// classes and the maximum authentication age the route requires, for the
// client to ask the authorization server for.
func (c *challenges) stepUp(head string, d *refusalDetail, o outcome) string {
	s := head + `, error="` + o.code + `", error_description=` + quote(o.description)
	if len(d.acrValues) > 0 {
		s += ", acr_values=" + quote(strings.Join(d.acrValues, " "))
	}
	if d.maxAge > 0 {
		s += `, max_age="` + strconv.FormatInt(int64(d.maxAge/time.Second), 10) + `"`
	}
	return s
}

// admitDPoP sets the headers of an admitted DPoP request: the next server
// nonce, when nonces are on (RFC 9449 §8.2).
func (f *refusals) admitDPoP(w http.ResponseWriter, nonce string) {
	if nonce != "" {
		w.Header().Set("DPoP-Nonce", nonce)
	}
}

// fixedStatusWriter lets an ErrorHandler write its own body while the status
// chosen by warden stays the one sent.
type fixedStatusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (f *fixedStatusWriter) WriteHeader(int) {
	if !f.wrote {
		f.wrote = true
		f.ResponseWriter.WriteHeader(f.status)
	}
}

func (f *fixedStatusWriter) Write(b []byte) (int, error) {
	f.WriteHeader(0)
	return f.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (f *fixedStatusWriter) Unwrap() http.ResponseWriter { return f.ResponseWriter }

// body renders the JSON body of a refusal. Only fixed strings and reason
// codes are written, so no escaping of request data is ever needed.
func (f *refusals) body(e *Error, o outcome) []byte {
	b := make([]byte, 0, 160)
	b = append(b, `{"error":"`...)
	b = append(b, o.code...)
	b = append(b, `","error_description":"`...)
	b = append(b, o.description...)
	b = append(b, '"')
	if f.exposeReason {
		b = append(b, `,"reason":"`...)
		b = append(b, e.Reason...)
		b = append(b, '"')
	}
	return append(b, "}\n"...)
}

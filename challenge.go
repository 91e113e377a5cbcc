package warden

import (
	"net/http"
	"strconv"
	"strings"
)

// Reason is a stable, machine-readable code for the outcome of one request.
// The same codes appear in decisions, logs, metrics and (when enabled) the
// error body, so operators can count refusals without reading tokens.
type Reason string

// The reason codes. Each refusal maps to exactly one; see reasonTable for the
// status and RFC 6750 error code that each produces.
const (
	ReasonOK                     Reason = "ok"
	ReasonMissingCredentials     Reason = "missing_credentials"
	ReasonUnsupportedScheme      Reason = "unsupported_scheme"
	ReasonMalformedRequest       Reason = "malformed_request"
	ReasonMalformedToken         Reason = "malformed_token"
	ReasonTokenTooLarge          Reason = "token_too_large"
	ReasonDisallowedAlg          Reason = "disallowed_alg"
	ReasonUnsupportedHeader      Reason = "unsupported_header"
	ReasonUnknownKID             Reason = "unknown_kid"
	ReasonBadSignature           Reason = "bad_signature"
	ReasonWrongType              Reason = "wrong_type"
	ReasonWrongIssuer            Reason = "wrong_issuer"
	ReasonWrongAudience          Reason = "wrong_audience"
	ReasonExpired                Reason = "expired"
	ReasonNotYetValid            Reason = "not_yet_valid"
	ReasonIssuedInFuture         Reason = "issued_in_future"
	ReasonLifetimeTooLong        Reason = "lifetime_too_long"
	ReasonMissingClaim           Reason = "missing_claim"
	ReasonInvalidClaim           Reason = "invalid_claim"
	ReasonInsufficientScope      Reason = "insufficient_scope"
	ReasonImpersonationDenied    Reason = "impersonation_denied"
	ReasonBasicInvalid           Reason = "basic_invalid"
	ReasonBasicThrottled         Reason = "basic_throttled"
	ReasonKeysUnavailable        Reason = "keys_unavailable"
	ReasonPermissionsUnavailable Reason = "permissions_unavailable"
	ReasonClientsUnavailable     Reason = "clients_unavailable"
	ReasonBasicOverloaded        Reason = "basic_overloaded"
)

// RFC 6750 §3.1 error codes, plus the codes used where RFC 6750 has none.
const (
	codeInvalidRequest     = "invalid_request"
	codeInvalidToken       = "invalid_token"
	codeInsufficientScope  = "insufficient_scope"
	codeInvalidClient      = "invalid_client"          // RFC 6749 §5.2, for failed client authentication
	codeUnauthorized       = "unauthorized"            // no credentials: RFC 6750 §3.1 forbids an error code in the challenge
	codeUnavailable        = "temporarily_unavailable" // RFC 6749 §4.1.2.1 wording, for a key source that has nothing to offer
	descriptionInsufficent = "The request requires higher privileges than provided by the access token"
)

// outcome is what a reason produces on the wire. Descriptions are fixed text:
// nothing from the request is ever echoed (RFC 6750 §3 error_description is
// "human-readable ASCII", and anything attacker-controlled would be an oracle
// or an injection vector).
type outcome struct {
	status      int
	code        string
	description string
}

// reasonTable is the single mapping from reason to status, error code and
// description. Every refusal warden writes goes through it.
var reasonTable = map[Reason]outcome{
	ReasonMissingCredentials:     {http.StatusUnauthorized, codeUnauthorized, "Authentication is required"},
	ReasonUnsupportedScheme:      {http.StatusUnauthorized, codeUnauthorized, "Authentication is required"},
	ReasonMalformedRequest:       {http.StatusBadRequest, codeInvalidRequest, "The request is malformed"},
	ReasonMalformedToken:         {http.StatusUnauthorized, codeInvalidToken, "The access token is malformed"},
	ReasonTokenTooLarge:          {http.StatusUnauthorized, codeInvalidToken, "The access token is too large"},
	ReasonDisallowedAlg:          {http.StatusUnauthorized, codeInvalidToken, "The access token signing algorithm is not accepted"},
	ReasonUnsupportedHeader:      {http.StatusUnauthorized, codeInvalidToken, "The access token uses an unsupported header"},
	ReasonUnknownKID:             {http.StatusUnauthorized, codeInvalidToken, "The access token signing key is unknown"},
	ReasonBadSignature:           {http.StatusUnauthorized, codeInvalidToken, "The access token signature is invalid"},
	ReasonWrongType:              {http.StatusUnauthorized, codeInvalidToken, "The access token type is not accepted"},
	ReasonWrongIssuer:            {http.StatusUnauthorized, codeInvalidToken, "The access token issuer is not trusted"},
	ReasonWrongAudience:          {http.StatusUnauthorized, codeInvalidToken, "The access token is not intended for this resource"},
	ReasonExpired:                {http.StatusUnauthorized, codeInvalidToken, "The access token expired"},
	ReasonNotYetValid:            {http.StatusUnauthorized, codeInvalidToken, "The access token is not valid yet"},
	ReasonIssuedInFuture:         {http.StatusUnauthorized, codeInvalidToken, "The access token was issued in the future"},
	ReasonLifetimeTooLong:        {http.StatusUnauthorized, codeInvalidToken, "The access token lifetime exceeds the accepted maximum"},
	ReasonMissingClaim:           {http.StatusUnauthorized, codeInvalidToken, "The access token lacks a required claim"},
	ReasonInvalidClaim:           {http.StatusUnauthorized, codeInvalidToken, "The access token has an invalid claim"},
	ReasonInsufficientScope:      {http.StatusForbidden, codeInsufficientScope, descriptionInsufficent},
	ReasonImpersonationDenied:    {http.StatusForbidden, codeInsufficientScope, "The client is not permitted to act for this subject"},
	ReasonBasicInvalid:           {http.StatusUnauthorized, codeInvalidClient, "Client authentication failed"},
	ReasonBasicThrottled:         {http.StatusTooManyRequests, codeUnavailable, "Too many failed authentication attempts for this client"},
	ReasonKeysUnavailable:        {http.StatusServiceUnavailable, codeUnavailable, "The access token cannot be verified right now"},
	ReasonPermissionsUnavailable: {http.StatusServiceUnavailable, codeUnavailable, "Permissions cannot be resolved right now"},
	ReasonClientsUnavailable:     {http.StatusServiceUnavailable, codeUnavailable, "Client credentials cannot be verified right now"},
	ReasonBasicOverloaded:        {http.StatusServiceUnavailable, codeUnavailable, "Too many client authentications are in progress"},
}

// Error is the typed error for every refusal. Its Reason decides the HTTP
// status, the RFC 6750 error code and the fixed description; the cause, if
// any, is kept for logs and errors.Is/As and is never written to a response.
type Error struct {
	// Reason is the stable code of what failed.
	Reason Reason
	// Scopes lists the scopes the route requires, for insufficient_scope.
	Scopes []string
	// Scheme is the authentication scheme the refusal concerns, or zero when
	// no credentials were presented.
	Scheme Scheme
	// Err is the underlying cause. It may hold untrusted text and must not be
	// shown to clients.
	Err error
}

func newError(reason Reason, scheme Scheme, cause error) *Error {
	return &Error{Reason: reason, Scheme: scheme, Err: cause}
}

// Error returns the reason and, if present, the cause. The cause can contain
// values read from the request, so never send it to a client.
func (e *Error) Error() string {
	if e.Err != nil {
		return "warden: " + string(e.Reason) + ": " + e.Err.Error()
	}
	return "warden: " + string(e.Reason)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Status returns the HTTP status code the refusal is answered with.
func (e *Error) Status() int { return e.outcome().status }

// Code returns the error code written in the challenge and the body:
// an RFC 6750 §3.1 code for Bearer refusals.
func (e *Error) Code() string { return e.outcome().code }

// Description returns the fixed, client-safe description of the refusal.
func (e *Error) Description() string { return e.outcome().description }

func (e *Error) outcome() outcome {
	if o, ok := reasonTable[e.Reason]; ok {
		return o
	}
	// An unknown reason must still fail closed.
	return outcome{http.StatusUnauthorized, codeInvalidToken, "The access token is invalid"}
}

// challenges holds the WWW-Authenticate values that do not depend on the
// request, rendered once when a route is built.
type challenges struct {
	bearer            string // Bearer realm="…"
	basic             string // Basic realm="…", charset="UTF-8"
	insufficientScope string // Bearer …, error="insufficient_scope", scope="…"
	resourceMetadata  string // `, resource_metadata="…"` or empty
}

func newChallenges(realm string, required []string, omitScope bool, resourceMetadata string) challenges {
	c := challenges{
		bearer: "Bearer realm=" + quote(realm),
		basic:  "Basic realm=" + quote(realm) + `, charset="UTF-8"`, // RFC 7617 §2.1
	}
	if resourceMetadata != "" {
		c.resourceMetadata = ", resource_metadata=" + quote(resourceMetadata) // RFC 9728 §5.1
	}
	c.insufficientScope = c.bearer + c.resourceMetadata + `, error="insufficient_scope"`
	if !omitScope && len(required) > 0 {
		c.insufficientScope += ", scope=" + quote(strings.Join(required, " "))
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

// writeRefusal is the only place warden writes a refusal: status, challenge,
// Cache-Control and body. The route's accepted schemes decide which
// challenges a request without (usable) credentials is offered.
func (m *Middleware) writeRefusal(w http.ResponseWriter, r *http.Request, rt *route, e *Error) {
	o := e.outcome()
	h := w.Header()
	for _, c := range rt.challengesFor(e, o) {
		h.Add("WWW-Authenticate", c)
	}
	switch o.status {
	case http.StatusServiceUnavailable:
		h.Set("Retry-After", strconv.Itoa(m.core.retryAfterSeconds))
	case http.StatusTooManyRequests:
		h.Set("Retry-After", basicThrottleRetryAfter) // RFC 6585 §4
	}
	h.Set("Cache-Control", "no-store") // RFC 6749 §5.1: auth responses must not be cached
	h.Set("Pragma", "no-cache")
	if m.core.errorHandler != nil {
		fw := &fixedStatusWriter{ResponseWriter: w, status: o.status}
		m.core.errorHandler(fw, r, e)
		fw.WriteHeader(0) // a handler that wrote nothing still sends the status
		return
	}
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(o.status)
	_, _ = w.Write(m.core.errorBody(e, o))
}

// challengesFor returns the WWW-Authenticate values for a refusal.
func (rt *route) challengesFor(e *Error, o outcome) []string {
	c := &rt.challenges
	switch {
	case e.Reason == ReasonMissingCredentials || e.Reason == ReasonUnsupportedScheme:
		// RFC 6750 §3.1: no error code when no credentials were presented;
		// one challenge per accepted scheme, Bearer first.
		return rt.bareChallenges
	case o.status == http.StatusServiceUnavailable || o.status == http.StatusTooManyRequests:
		return nil // not a verdict on the credentials
	case e.Scheme == SchemeBasic || (e.Reason == ReasonMalformedRequest && rt.schemes&SchemeBearer == 0):
		if e.Reason == ReasonInsufficientScope {
			return nil // valid client credentials: 403 without a challenge (RFC 7235 §3.1 ties challenges to 401)
		}
		return []string{c.basic}
	case e.Reason == ReasonInsufficientScope:
		return []string{c.insufficientScope}
	default:
		return []string{c.bearer + c.resourceMetadata + `, error="` + o.code + `", error_description=` + quote(o.description)}
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

// errorBody renders the JSON body of a refusal. Only fixed strings and
// reason codes are written, so no escaping of request data is ever needed.
func (c *core) errorBody(e *Error, o outcome) []byte {
	b := make([]byte, 0, 160)
	b = append(b, `{"error":"`...)
	b = append(b, o.code...)
	b = append(b, `","error_description":"`...)
	b = append(b, o.description...)
	b = append(b, '"')
	if c.exposeReason {
		b = append(b, `,"reason":"`...)
		b = append(b, e.Reason...)
		b = append(b, '"')
	}
	return append(b, "}\n"...)
}

package warden

import (
	"net/http"
	"slices"
	"strconv"
	"time"
)

// This file holds the values every step hands on: the scheme of the
// credentials, the reason of a refusal with the one table that maps it to
// the wire, and the typed error that carries it to challenge.go.

// Scheme is an HTTP authentication scheme a route accepts. Schemes combine
// with |.
type Scheme uint8

// The schemes warden understands.
const (
	SchemeBearer Scheme = 1 << iota // RFC 6750 bearer token (a JWT access token)
	SchemeBasic                     // RFC 7617 Basic with OAuth client credentials (RFC 6749 §2.3.1)
	// SchemeDPoP is an RFC 9449 DPoP-bound access token with its proof. A
	// route that takes SchemeBearer takes it too, as Config.DPoP.Mode says;
	// it is not a scheme to pass to Accept.
	SchemeDPoP
)

// String returns the scheme's name as written in the Authorization header.
func (s Scheme) String() string {
	switch s {
	case SchemeBearer:
		return "Bearer"
	case SchemeBasic:
		return "Basic"
	case SchemeDPoP:
		return "DPoP"
	case SchemeBearer | SchemeBasic:
		return "Bearer|Basic"
	case 0:
		return ""
	default:
		return "unknown"
	}
}

// MarshalText renders the scheme by name, so JSON shows "Bearer".
func (s Scheme) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

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
	// Introspection (RFC 7662) and the revocation deny-list.
	ReasonTokenInactive            Reason = "token_inactive"
	ReasonTokenRevoked             Reason = "token_revoked"
	ReasonIntrospectionUnavailable Reason = "introspection_unavailable"
	ReasonRevocationUnavailable    Reason = "revocation_unavailable"

	// DPoP (RFC 9449 §4.3, §7, §9): one reason per check of the proof.
	ReasonDPoPProofMissing   Reason = "dpop_proof_missing"
	ReasonDPoPProofRepeated  Reason = "dpop_proof_repeated"
	ReasonDPoPProofMalformed Reason = "dpop_proof_malformed"
	ReasonDPoPWrongType      Reason = "dpop_wrong_type"
	ReasonDPoPDisallowedAlg  Reason = "dpop_disallowed_alg"
	ReasonDPoPBadKey         Reason = "dpop_bad_key"
	ReasonDPoPBadSignature   Reason = "dpop_bad_signature"
	ReasonDPoPWrongMethod    Reason = "dpop_wrong_method"
	ReasonDPoPWrongURI       Reason = "dpop_wrong_uri"
	ReasonDPoPStale          Reason = "dpop_stale"
	ReasonDPoPNonceMissing   Reason = "dpop_nonce_missing"
	ReasonDPoPNonceInvalid   Reason = "dpop_nonce_invalid"
	ReasonDPoPTokenHash      Reason = "dpop_token_hash"
	ReasonDPoPKeyMismatch    Reason = "dpop_key_mismatch"
	ReasonDPoPReplayed       Reason = "dpop_replayed"
	ReasonDPoPUnboundToken   Reason = "dpop_unbound_token"
	ReasonDPoPDowngrade      Reason = "dpop_downgrade"
	ReasonReplayUnavailable  Reason = "replay_unavailable"

	// Certificate-bound tokens (RFC 8705 §3).
	ReasonCertificateMissing  Reason = "certificate_missing"
	ReasonCertificateMismatch Reason = "certificate_mismatch"

	// Refusals of a route's requirement beyond scopes (requirement.go).
	ReasonClientNotAllowed               Reason = "client_not_allowed"
	ReasonInsufficientRole               Reason = "insufficient_role"
	ReasonClaimRejected                  Reason = "claim_rejected"
	ReasonInsufficientUserAuthentication Reason = "insufficient_user_authentication"
)

// RFC 6750 §3.1 error codes, plus the codes used where RFC 6750 has none.
const (
	codeInvalidRequest     = "invalid_request"
	codeInvalidToken       = "invalid_token"
	codeInsufficientScope  = "insufficient_scope"
	codeInvalidClient      = "invalid_client"                   // RFC 6749 §5.2, for failed client authentication
	codeInvalidDPoPProof   = "invalid_dpop_proof"               // RFC 9449 §7.1
	codeUseDPoPNonce       = "use_dpop_nonce"                   // RFC 9449 §9
	codeUnauthorized       = "unauthorized"                     // no credentials: RFC 6750 §3.1 forbids an error code in the challenge
	codeUnavailable        = "temporarily_unavailable"          // RFC 6749 §4.1.2.1 wording, for a key source that has nothing to offer
	codeAccessDenied       = "access_denied"                    // RFC 6749 §4.1.2.1 wording, for a valid token this route does not admit for reasons other than scope
	codeUserAuthentication = "insufficient_user_authentication" // RFC 9470 §3
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
	// RFC 7662 §2.2: an inactive token is an invalid one to the resource
	// server; an endpoint or store that cannot answer is an outage (503),
	// never a verdict on the token.
	ReasonTokenInactive:            {http.StatusUnauthorized, codeInvalidToken, "The access token is not active"},
	ReasonTokenRevoked:             {http.StatusUnauthorized, codeInvalidToken, "The access token was revoked"},
	ReasonIntrospectionUnavailable: {http.StatusServiceUnavailable, codeUnavailable, "The access token cannot be checked right now"},
	ReasonRevocationUnavailable:    {http.StatusServiceUnavailable, codeUnavailable, "The access token cannot be checked right now"},

	ReasonDPoPProofMissing:    {http.StatusUnauthorized, codeInvalidDPoPProof, "The request lacks a DPoP proof"},
	ReasonDPoPProofRepeated:   {http.StatusUnauthorized, codeInvalidDPoPProof, "The request carries more than one DPoP proof"},
	ReasonDPoPProofMalformed:  {http.StatusUnauthorized, codeInvalidDPoPProof, "The DPoP proof is malformed"},
	ReasonDPoPWrongType:       {http.StatusUnauthorized, codeInvalidDPoPProof, "The DPoP proof type is not dpop+jwt"},
	ReasonDPoPDisallowedAlg:   {http.StatusUnauthorized, codeInvalidDPoPProof, "The DPoP proof signing algorithm is not accepted"},
	ReasonDPoPBadKey:          {http.StatusUnauthorized, codeInvalidDPoPProof, "The DPoP proof key is not an acceptable public key"},
	ReasonDPoPBadSignature:    {http.StatusUnauthorized, codeInvalidDPoPProof, "The DPoP proof signature is invalid"},
	ReasonDPoPWrongMethod:     {http.StatusUnauthorized, codeInvalidDPoPProof, "The DPoP proof is for another HTTP method"},
	ReasonDPoPWrongURI:        {http.StatusUnauthorized, codeInvalidDPoPProof, "The DPoP proof is for another URI"},
	ReasonDPoPStale:           {http.StatusUnauthorized, codeInvalidDPoPProof, "The DPoP proof is not fresh"},
	ReasonDPoPNonceMissing:    {http.StatusUnauthorized, codeUseDPoPNonce, "Resource server requires nonce in DPoP proof"},
	ReasonDPoPNonceInvalid:    {http.StatusUnauthorized, codeUseDPoPNonce, "Resource server requires nonce in DPoP proof"},
	ReasonDPoPTokenHash:       {http.StatusUnauthorized, codeInvalidDPoPProof, "The DPoP proof is not bound to this access token"},
	ReasonDPoPKeyMismatch:     {http.StatusUnauthorized, codeInvalidToken, "Invalid DPoP key binding"},
	ReasonDPoPReplayed:        {http.StatusUnauthorized, codeInvalidDPoPProof, "The DPoP proof was already used"},
	ReasonDPoPUnboundToken:    {http.StatusUnauthorized, codeInvalidToken, "The access token is not bound to a DPoP key"},
	ReasonDPoPDowngrade:       {http.StatusUnauthorized, codeInvalidToken, "The access token is bound to a key and must be presented with DPoP"},
	ReasonReplayUnavailable:   {http.StatusServiceUnavailable, codeUnavailable, "The DPoP proof cannot be checked right now"},
	ReasonCertificateMissing:  {http.StatusUnauthorized, codeInvalidToken, "The access token is bound to a client certificate the request lacks"},
	ReasonCertificateMismatch: {http.StatusUnauthorized, codeInvalidToken, "The access token is bound to another client certificate"},

	ReasonClientNotAllowed:               {http.StatusForbidden, codeAccessDenied, "The client is not allowed to use this resource"},
	ReasonInsufficientRole:               {http.StatusForbidden, codeAccessDenied, "The principal lacks a role this resource requires"},
	ReasonClaimRejected:                  {http.StatusForbidden, codeAccessDenied, "The access token's claims do not permit this request"},
	ReasonInsufficientUserAuthentication: {http.StatusUnauthorized, codeUserAuthentication, "A different or more recent user authentication is required"},
}

// Error is the typed error for every refusal. Its Reason decides the HTTP
// status, the RFC 6750 error code and the fixed description; the cause, if
// any, is kept for logs and errors.Is/As and is never written to a response.
type Error struct {
	// Reason is the stable code of what failed.
	Reason Reason
	// Scopes lists the scopes the route requires, for insufficient_scope:
	// every scope its requirement names (see Requirement).
	Scopes []string
	// Scheme is the authentication scheme the refusal concerns, or zero when
	// no credentials were presented.
	Scheme Scheme
	// Err is the underlying cause. It may hold untrusted text and must not be
	// shown to clients.
	Err error
	// Expected and Got explain a wrong_issuer or wrong_audience refusal of
	// a token whose signature verified: the issuers or audiences the
	// configuration (or the route) accepts, and the token's "iss" or "aud"
	// values. They come from a token a trusted issuer signed, so they may
	// be logged (LogDecisions does, at Debug); they are never written to
	// the response. Nil for every other refusal, and for a token whose
	// signature could not be checked, whose claims prove nothing.
	Expected, Got []string
	// nonce is a fresh RFC 9449 §8 server nonce, sent as DPoP-Nonce with
	// the refusal; set only by the DPoP step when it asks for one.
	nonce string

	// detail is what the challenge of a few refusals needs besides the
	// reason; nil for all others, so that a refusal costs what it did.
	detail *refusalDetail
	// render adds the header fields of the refusal (challenge.go) as the
	// route it was made for writes them; set on the copy an entry point
	// without HTTP returns (Header), nil otherwise.
	render func(http.Header)
}

// refusalDetail is what the challenge of a step-up refusal needs (RFC 9470
// §3 acr_values and max_age), or of an insufficient_scope refusal under
// Config.AccumulateScopesInChallenge (the token's own scopes).
type refusalDetail struct {
	acrValues []string
	maxAge    time.Duration
	granted   []string
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

// Reasons returns every reason code warden produces, ReasonOK first, in a
// fixed order. Metrics exporters can use it to pre-register series; the
// list is the same as the table in REASONS.md.
func Reasons() []Reason {
	return append([]Reason(nil), allReasons...)
}

// allReasons lists the codes of challenge.go; a test checks that it and
// reasonTable hold the same refusals.
var allReasons = []Reason{
	ReasonOK,
	ReasonMissingCredentials, ReasonUnsupportedScheme, ReasonMalformedRequest,
	ReasonMalformedToken, ReasonTokenTooLarge, ReasonDisallowedAlg, ReasonUnsupportedHeader,
	ReasonUnknownKID, ReasonBadSignature, ReasonWrongType, ReasonWrongIssuer, ReasonWrongAudience,
	ReasonExpired, ReasonNotYetValid, ReasonIssuedInFuture, ReasonLifetimeTooLong,
	ReasonMissingClaim, ReasonInvalidClaim,
	ReasonInsufficientScope, ReasonImpersonationDenied, ReasonBasicInvalid, ReasonBasicThrottled,
	ReasonKeysUnavailable, ReasonPermissionsUnavailable, ReasonClientsUnavailable, ReasonBasicOverloaded,
	ReasonTokenInactive, ReasonTokenRevoked, ReasonIntrospectionUnavailable, ReasonRevocationUnavailable,
	ReasonDPoPProofMissing, ReasonDPoPProofRepeated, ReasonDPoPProofMalformed, ReasonDPoPWrongType,
	ReasonDPoPDisallowedAlg, ReasonDPoPBadKey, ReasonDPoPBadSignature, ReasonDPoPWrongMethod, ReasonDPoPWrongURI,
	ReasonDPoPStale, ReasonDPoPNonceMissing, ReasonDPoPNonceInvalid, ReasonDPoPTokenHash, ReasonDPoPKeyMismatch,
	ReasonDPoPReplayed, ReasonDPoPUnboundToken, ReasonDPoPDowngrade, ReasonReplayUnavailable,
	ReasonCertificateMissing, ReasonCertificateMismatch,
	ReasonClientNotAllowed, ReasonInsufficientRole, ReasonClaimRejected, ReasonInsufficientUserAuthentication,
}

// Status returns the HTTP status a refusal with this reason is answered
// with, or 0 for ReasonOK. An unknown reason fails closed as 401.
func (r Reason) Status() int {
	if r == ReasonOK {
		return 0
	}
	return (&Error{Reason: r}).Status()
}

// basicThrottleWindow bounds online guessing of client secrets to
// basicThrottleFailures guesses a minute per client id (RFC 6749 §10.10);
// a throttled refusal's Retry-After is the window, after which it has
// surely ended (RFC 6585 §4).
const basicThrottleWindow = time.Minute

var basicThrottleRetryAfter = strconv.Itoa(int(basicThrottleWindow / time.Second))

// claimError says which claim failed and how, without its value.
type claimError struct {
	claim   string
	missing bool
}

func (e *claimError) Error() string {
	if e.missing {
		return "claim " + strconv.Quote(e.claim) + " is missing"
	}
	return "claim " + strconv.Quote(e.claim) + " has an invalid value"
}

func invalidClaim(name string) error { return &claimError{claim: name} }

// mismatchError is the cause of a wrong_issuer or wrong_audience refusal
// of a token whose signature verified: what was expected and what the
// token holds, as go-oidc words it ("expected audience %q got %q"), and,
// for an issuer that differs only in spelling, how.
type mismatchError struct {
	claim         string // "iss" or "aud"
	expected, got []string
	hint          string
}

func (e *mismatchError) Error() string {
	what := map[string]string{"iss": "issuer", "aud": "audience"}[e.claim]
	s := "expected " + what + " " + quoteList(e.expected) + " got " + quoteList(e.got)
	if len(e.got) == 0 {
		s = "expected " + what + " " + quoteList(e.expected) + ", token has no " + strconv.Quote(e.claim)
	}
	if e.hint != "" {
		s += ": " + e.hint
	}
	return s
}

// quoteList renders one value as "a" and several as ["a" "b"].
func quoteList(vs []string) string {
	if len(vs) == 1 {
		return strconv.Quote(vs[0])
	}
	s := "["
	for i, v := range vs {
		if i > 0 {
			s += " "
		}
		s += strconv.Quote(v)
	}
	return s + "]"
}

// newMismatch is a wrong_issuer or wrong_audience refusal of a verified
// token, carrying what was expected and what the token holds.
// The values are copied: they may be the configuration's or a cached
// principal's, and the Error is the caller's to keep.
func newMismatch(reason Reason, scheme Scheme, claim string, expected, got []string, hint string) *Error {
	expected, got = slices.Clone(expected), slices.Clone(got)
	e := newError(reason, scheme, &mismatchError{claim: claim, expected: expected, got: got, hint: hint})
	e.Expected, e.Got = expected, got
	return e
}

// parseError is the cause of a refusal of malformed credentials.
type parseError string

func (e parseError) Error() string { return string(e) }

const (
	errMissingToken   parseError = "no credentials after the scheme"
	errTrailingData   parseError = "data after the credentials"
	errBadCredentials parseError = "credentials are not a b64token"
	errRepeated       parseError = "credentials presented more than once"
	errManyMethods    parseError = "access token sent by more than one method"
	errFormBody       parseError = "the form body cannot be read"
)

package warden

import (
	"context"
	"time"
)

// Decision describes the outcome of one request, for logs and metrics. It
// carries no token, secret or claim value beyond the identifiers below.
type Decision struct {
	// Reason is ReasonOK for an admitted request, else the refusal's reason.
	// The codes, with the status each produces, are listed in REASONS.md.
	Reason Reason
	// Status is the HTTP status of the refusal, or 0 when admitted.
	Status int
	// Scheme is the scheme of the credentials presented, if any.
	Scheme Scheme
	// Issuer, ClientID and Subject identify the principal when it was
	// authenticated; they are empty when authentication failed.
	Issuer   string
	ClientID string
	Subject  string
	// Requirement is the route's scope requirement: "a b" (all of) or "a|b"
	// (any of), empty for none.
	Requirement string
	// Duration is the time warden spent on the request, measured with the
	// monotonic wall clock (never Config.Now, which may be a test clock).
	Duration time.Duration
	// Err is the refusal, or nil. Its cause may contain untrusted text: log
	// Reason, never Err.Error().
	Err *Error
	// Context is the request's context, so a hook can tie the decision to
	// its access-log line or trace span. It never holds the credentials.
	Context context.Context
}

// Admitted reports whether the request was let through.
func (d Decision) Admitted() bool { return d.Err == nil }

// ChainDecisions returns a decision hook that calls each non-nil hook in
// order, so that logging and metrics can both be set as Config.OnDecision.
func ChainDecisions(hooks ...func(Decision)) func(Decision) {
	var hs []func(Decision)
	for _, h := range hooks {
		if h != nil {
			hs = append(hs, h)
		}
	}
	return func(d Decision) {
		for _, h := range hs {
			h(d)
		}
	}
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
}

// Status returns the HTTP status a refusal with this reason is answered
// with, or 0 for ReasonOK. An unknown reason fails closed as 401.
func (r Reason) Status() int {
	if r == ReasonOK {
		return 0
	}
	return (&Error{Reason: r}).Status()
}

func (c *core) decide(ctx context.Context, rt *route, p *Principal, e *Error, start time.Time) {
	d := Decision{Reason: ReasonOK, Requirement: rt.requirement, Duration: time.Since(start), Context: ctx}
	if p != nil {
		d.Scheme, d.Issuer, d.ClientID, d.Subject = p.scheme, p.issuer, p.clientID, p.subject
	}
	if e != nil {
		d.Reason, d.Status, d.Err = e.Reason, e.Status(), e
		if d.Scheme == 0 {
			d.Scheme = e.Scheme
		}
	}
	c.onDecision(d)
}

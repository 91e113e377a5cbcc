package warden

import "time"

// Decision describes the outcome of one request, for logs and metrics. It
// carries no token, secret or claim value beyond the identifiers below.
type Decision struct {
	// Reason is ReasonOK for an admitted request, else the refusal's reason.
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
	// Duration is the time warden spent on the request.
	Duration time.Duration
	// Err is the refusal, or nil. Its cause may contain untrusted text.
	Err *Error
}

func (c *core) decide(rt *route, p *Principal, e *Error, start time.Time) {
	d := Decision{Reason: ReasonOK, Requirement: rt.req.String(), Duration: c.now().Sub(start)}
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

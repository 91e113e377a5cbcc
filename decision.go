package warden

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// Decision describes the outcome of one request, for logs and metrics: one
// per request however its route's requirement is composed, and one more
// for each Middleware.Check that refuses it. It carries no token, secret or
// claim value beyond the identifiers below.
type Decision struct {
	// Reason is ReasonOK for an admitted request, else the refusal's reason.
	// The codes, with the status each produces, are listed in REASONS.md.
	Reason Reason
	// Status is the HTTP status of the refusal, or 0 when admitted (the
	// handler then chooses the status).
	Status int
	// Scheme is the scheme of the credentials presented, if any.
	Scheme Scheme
	// Issuer, ClientID and Subject identify the principal when it was
	// authenticated; they are empty when authentication failed.
	Issuer   string
	ClientID string
	Subject  string
	// Requirement is the route's requirement (or a handler-level check's)
	// as Requirement.String renders it: "a b" (all of), "a|b" (any of),
	// "Entry_Read (Report_Read|Report_Admin)", "roles(admin)", …; empty for
	// none.
	Requirement string
	// Duration is the time warden spent on the request, measured with the
	// monotonic wall clock (never Config.Now, which may be a test clock).
	Duration time.Duration
	// Err is the refusal, or nil. Its cause may contain untrusted text: log
	// Reason, never Err.Error(). For a wrong_issuer or wrong_audience
	// refusal of a token whose signature verified, Err.Expected and Err.Got
	// say what the configuration accepts and what the token holds.
	Err *Error
}

// newDecision describes one request's outcome.
func newDecision(requirement string, p *Principal, e *Error, took time.Duration) Decision {
	d := Decision{Reason: ReasonOK, Requirement: requirement, Duration: took}
	if p != nil {
		d.Scheme, d.Issuer, d.ClientID, d.Subject = p.scheme, p.issuer, p.clientID, p.subject
	}
	if e != nil {
		d.Reason, d.Status, d.Err = e.Reason, e.Status(), e
		if d.Scheme == 0 {
			d.Scheme = e.Scheme
		}
	}
	return d
}

// ChainDecisions returns a decision hook that calls each non-nil hook in
// order, so that logging and metrics can both be set as Config.OnDecision.
func ChainDecisions(hooks ...func(context.Context, Decision)) func(context.Context, Decision) {
	var hs []func(context.Context, Decision)
	for _, h := range hooks {
		if h != nil {
			hs = append(hs, h)
		}
	}
	return func(ctx context.Context, d Decision) {
		for _, h := range hs {
			h(ctx, d)
		}
	}
}

// LogDecisions returns a decision hook, for Config.OnDecision, that writes
// one log record per request to logger (slog.Default() when nil): message
// "warden decision" with the attributes reason, status, scheme, issuer,
// client_id, subject, requirement and duration. Admitted requests and
// ordinary refusals are logged at slog.LevelInfo, refusals answered with 503
// (an outage, not a client error) at slog.LevelWarn.
//
// Nothing read from the request is logged before it was verified: the
// token, the Basic secret and the cause of a refusal (Error.Err, which can
// quote request bytes) are never written; the reason code says which check
// failed. Issuer, client id and subject come from a verified token or
// client credentials and are empty otherwise. When the logger is enabled
// at slog.LevelDebug, a wrong_issuer or wrong_audience refusal of a token
// whose signature verified also carries expected and got (Error.Expected,
// Error.Got): the configured issuers or audiences and the token's.
func LogDecisions(logger *slog.Logger) func(context.Context, Decision) {
	if logger == nil {
		logger = slog.Default()
	}
	return func(ctx context.Context, d Decision) {
		level := slog.LevelInfo
		if d.Status >= http.StatusInternalServerError {
			level = slog.LevelWarn
		}
		if ctx == nil {
			ctx = context.Background()
		}
		if !logger.Enabled(ctx, level) {
			return
		}
		attrs := d.attrs()
		if e := d.Err; e != nil && (e.Expected != nil || e.Got != nil) && logger.Enabled(ctx, slog.LevelDebug) {
			// A verified token's iss or aud against the configuration:
			// what a developer needs to mend a wrong_issuer or
			// wrong_audience, and nothing an attacker chose.
			attrs = append(attrs, slog.Any("expected", e.Expected), slog.Any("got", e.Got))
		}
		logger.LogAttrs(ctx, level, "warden decision", attrs...)
	}
}

// LogValue renders the decision as a group of the attributes LogDecisions
// writes, so logging a Decision value never reveals Err's cause.
func (d Decision) LogValue() slog.Value {
	return slog.GroupValue(d.attrs()...)
}

func (d Decision) attrs() []slog.Attr {
	return []slog.Attr{
		slog.String("reason", string(d.Reason)),
		slog.Int("status", d.Status),
		slog.String("scheme", d.Scheme.String()),
		slog.String("issuer", d.Issuer),
		slog.String("client_id", d.ClientID),
		slog.String("subject", d.Subject),
		slog.String("requirement", d.Requirement),
		slog.Duration("duration", d.Duration),
	}
}

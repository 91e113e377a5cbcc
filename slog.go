package warden

import (
	"context"
	"log/slog"
	"net/http"
)

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
// client credentials and are empty otherwise.
func LogDecisions(logger *slog.Logger) func(Decision) {
	if logger == nil {
		logger = slog.Default()
	}
	return func(d Decision) {
		level := slog.LevelInfo
		if d.Status >= http.StatusInternalServerError {
			level = slog.LevelWarn
		}
		ctx := d.Context
		if ctx == nil {
			ctx = context.Background()
		}
		if !logger.Enabled(ctx, level) {
			return
		}
		logger.LogAttrs(ctx, level, "warden decision", d.attrs()...)
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

package main

import (
	"context"
	"log/slog"
	"net/http"
	"sync/atomic"

	"github.com/wardenhq/warden"
)

// accessLog writes the one line of each request: method, path, the
// status sent (whoever wrote it: the handler, or warden's refusal) and
// warden's reason code ("-" for routes warden does not guard) with the
// caller it authenticated, if any. The query string and headers are never
// logged, so neither is a token or a secret.
func accessLog(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slot := new(warden.Decision)
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), decisionKey{}, slot)))
		reason := string(slot.Reason)
		if reason == "" {
			reason = "-"
		}
		attrs := []any{"method", r.Method, "path", r.URL.Path, "status", rec.status, "reason", reason}
		if slot.Subject != "" {
			attrs = append(attrs, "client_id", slot.ClientID, "subject", slot.Subject)
		}
		logger.Info("request", attrs...)
	})
}

// decisionKey finds the request's decision slot in its context.
type decisionKey struct{}

// recordDecision is the Config.OnDecision hook: warden calls it on the
// request's goroutine, with the request's context, before the handler runs
// or the refusal is written, and accessLog logs it with the status. The
// last decision of a request wins: a tool call the handler refuses
// (Middleware.Check) logs that refusal's reason, not its route's "ok".
func recordDecision(ctx context.Context, d warden.Decision) {
	if slot, ok := ctx.Value(decisionKey{}).(*warden.Decision); ok {
		*slot = d
	}
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// startupGate holds warden's operational log back until the server has
// started: a start-up failure (an unreachable issuer) is then reported once,
// by main, in one line, instead of also as a log record.
type startupGate struct {
	slog.Handler
	open *atomic.Bool
}

func (g startupGate) Enabled(ctx context.Context, l slog.Level) bool {
	return g.open.Load() && g.Handler.Enabled(ctx, l)
}

func (g startupGate) WithAttrs(as []slog.Attr) slog.Handler {
	return startupGate{g.Handler.WithAttrs(as), g.open}
}

func (g startupGate) WithGroup(name string) slog.Handler {
	return startupGate{g.Handler.WithGroup(name), g.open}
}

// Package wardenotel records warden's decisions as OpenTelemetry metrics and
// spans. It lives in its own module so that the warden core does not depend
// on OpenTelemetry.
//
//	rec, err := wardenotel.New(wardenotel.Config{})
//	mw, err := warden.New(warden.Config{…, OnDecision: warden.ChainDecisions(warden.LogDecisions(nil), rec.OnDecision)})
//	reg, err := rec.ObserveKeys(mw)
//
// Metrics (instrumentation scope "github.com/wardenhq/warden/otel"):
//
//	warden.decisions           counter    {decision}  warden.reason, warden.scheme, warden.status
//	warden.decision.duration   histogram  s           warden.reason, warden.scheme
//	warden.keys.usable         gauge      1           warden.issuer (1 usable, 0 not)
//	warden.keys.count          gauge      {key}       warden.issuer
//	warden.keys.staleness      gauge      s           warden.issuer
//	warden.keys.refresh_failing gauge     1           warden.issuer (1 when the last refresh failed)
//	warden.keys.refreshes      counter    {refresh}   warden.issuer, warden.outcome (success, failure)
//	warden.keys.refresh.duration histogram s          warden.issuer, warden.outcome
//
// The refresh instruments are fed by OnKeyRefresh, which goes in
// warden.Config.KeySetPolicy.OnRefresh.
//
// The reason codes are those of warden.Reasons (REASONS.md in the warden
// module); warden.status is the HTTP status of a refusal, 0 when admitted.
// Each decision also becomes a span "warden.authenticate", a child of the
// span in the request's context, with the same attributes plus warden.issuer,
// warden.client_id and warden.requirement. Neither metrics nor spans carry a
// token, a subject or a refusal's cause.
package wardenotel

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/wardenhq/warden"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the meter and tracer.
const ScopeName = "github.com/wardenhq/warden/otel"

// Attribute keys used on metrics and spans.
const (
	AttrReason      = attribute.Key("warden.reason")
	AttrScheme      = attribute.Key("warden.scheme")
	AttrStatus      = attribute.Key("warden.status")
	AttrIssuer      = attribute.Key("warden.issuer")
	AttrClientID    = attribute.Key("warden.client_id")
	AttrRequirement = attribute.Key("warden.requirement")
	AttrOutcome     = attribute.Key("warden.outcome")
)

// durationBuckets suit verification times: a cached token costs well under a
// microsecond, an RSA check tens of microseconds, a refresh-wait up to the
// UnknownKIDWait bound (1 s by default).
var durationBuckets = []float64{1e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 5e-3, 0.01, 0.05, 0.1, 0.5, 1, 2.5}

// Config selects the providers. Zero fields use the global providers
// (otel.GetMeterProvider, otel.GetTracerProvider).
type Config struct {
	// MeterProvider creates the instruments.
	MeterProvider metric.MeterProvider
	// TracerProvider creates the decision spans.
	TracerProvider trace.TracerProvider
	// DisableSpans turns the per-decision spans off, leaving metrics only.
	DisableSpans bool
}

// Recorder turns decisions into metrics and spans. It is safe for
// concurrent use; one Recorder can serve several Middlewares.
type Recorder struct {
	meter     metric.Meter
	tracer    trace.Tracer
	decisions metric.Int64Counter
	duration  metric.Float64Histogram

	keysUsable, keysCount, keysFailing metric.Int64ObservableGauge
	keysStaleness                      metric.Float64ObservableGauge
	refreshes                          metric.Int64Counter
	refreshDuration                    metric.Float64Histogram

	sets sync.Map // attrKey → [2]attribute.Set (counter, histogram)
}

type attrKey struct {
	reason warden.Reason
	scheme warden.Scheme
	status int
}

// New creates the instruments.
func New(cfg Config) (*Recorder, error) {
	mp, tp := cfg.MeterProvider, cfg.TracerProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	r := &Recorder{meter: mp.Meter(ScopeName)}
	if !cfg.DisableSpans {
		r.tracer = tp.Tracer(ScopeName)
	}
	var err error
	if r.decisions, err = r.meter.Int64Counter("warden.decisions",
		metric.WithUnit("{decision}"),
		metric.WithDescription("Requests warden decided on, by reason code.")); err != nil {
		return nil, err
	}
	if r.duration, err = r.meter.Float64Histogram("warden.decision.duration",
		metric.WithUnit("s"),
		metric.WithDescription("Time warden spent authenticating and authorizing a request."),
		metric.WithExplicitBucketBoundaries(durationBuckets...)); err != nil {
		return nil, err
	}
	if r.keysUsable, err = r.meter.Int64ObservableGauge("warden.keys.usable",
		metric.WithDescription("1 while the issuer's key set can verify tokens, else 0.")); err != nil {
		return nil, err
	}
	if r.keysCount, err = r.meter.Int64ObservableGauge("warden.keys.count",
		metric.WithUnit("{key}"), metric.WithDescription("Keys with a kid held for the issuer.")); err != nil {
		return nil, err
	}
	if r.keysFailing, err = r.meter.Int64ObservableGauge("warden.keys.refresh_failing",
		metric.WithDescription("1 while the issuer's last key refresh failed, else 0.")); err != nil {
		return nil, err
	}
	if r.keysStaleness, err = r.meter.Float64ObservableGauge("warden.keys.staleness",
		metric.WithUnit("s"), metric.WithDescription("Time since the issuer's keys were last confirmed.")); err != nil {
		return nil, err
	}
	if r.refreshes, err = r.meter.Int64Counter("warden.keys.refreshes",
		metric.WithUnit("{refresh}"), metric.WithDescription("Attempts to fetch an issuer's key set, by outcome.")); err != nil {
		return nil, err
	}
	if r.refreshDuration, err = r.meter.Float64Histogram("warden.keys.refresh.duration",
		metric.WithUnit("s"), metric.WithDescription("Time taken by discovery and the key set fetch.")); err != nil {
		return nil, err
	}
	return r, nil
}

// OnDecision records one decision. Use it as warden.Config.OnDecision,
// alone or with warden.ChainDecisions.
func (r *Recorder) OnDecision(ctx context.Context, d warden.Decision) {
	if ctx == nil {
		ctx = context.Background()
	}
	sets := r.attributeSets(d)
	r.decisions.Add(ctx, 1, metric.WithAttributeSet(sets[0]))
	r.duration.Record(ctx, d.Duration.Seconds(), metric.WithAttributeSet(sets[1]))
	if r.tracer == nil {
		return
	}
	// The decision is reported after the fact, so the span is back-dated to
	// when warden started on the request.
	end := time.Now()
	attrs := append(sets[0].ToSlice(), AttrRequirement.String(d.Requirement))
	if d.Issuer != "" {
		attrs = append(attrs, AttrIssuer.String(d.Issuer))
	}
	if d.ClientID != "" {
		attrs = append(attrs, AttrClientID.String(d.ClientID))
	}
	_, span := r.tracer.Start(ctx, "warden.authenticate",
		trace.WithTimestamp(end.Add(-d.Duration)),
		trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(attrs...))
	if d.Status >= http.StatusInternalServerError {
		// An outage (no keys, resolver down), not a client error. Only the
		// reason is given: the cause may quote request data.
		span.SetStatus(codes.Error, string(d.Reason))
	}
	span.End(trace.WithTimestamp(end))
}

// attributeSets returns the counter's and the histogram's attribute sets,
// built once per combination (their number is bounded by the reason codes).
func (r *Recorder) attributeSets(d warden.Decision) [2]attribute.Set {
	k := attrKey{d.Reason, d.Scheme, d.Status}
	if v, ok := r.sets.Load(k); ok {
		return v.([2]attribute.Set)
	}
	reason, scheme := AttrReason.String(string(d.Reason)), AttrScheme.String(d.Scheme.String())
	sets := [2]attribute.Set{
		attribute.NewSet(reason, scheme, AttrStatus.Int(d.Status)),
		attribute.NewSet(reason, scheme),
	}
	r.sets.Store(k, sets)
	return sets
}

// ObserveKeys reports the health of mw's key sources, read from
// mw.KeyStatus at every collection, as the warden.keys.* gauges. Call
// Unregister on the result to stop.
//
// Refresh counts come from OnKeyRefresh instead: polling KeyStatus would
// miss refreshes between two collections.
func (r *Recorder) ObserveKeys(mw *warden.Middleware) (metric.Registration, error) {
	return r.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		for _, st := range mw.KeyStatus() {
			opt := metric.WithAttributeSet(attribute.NewSet(AttrIssuer.String(st.Issuer)))
			o.ObserveInt64(r.keysUsable, b2i(st.Usable), opt)
			o.ObserveInt64(r.keysCount, int64(len(st.KeyIDs)), opt)
			o.ObserveInt64(r.keysFailing, b2i(st.LastError != ""), opt)
			o.ObserveFloat64(r.keysStaleness, st.Staleness.Seconds(), opt)
		}
		return nil
	}, r.keysUsable, r.keysCount, r.keysFailing, r.keysStaleness)
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// OnKeyRefresh records one key set fetch. Use it as
// warden.Config.KeySetPolicy.OnRefresh.
func (r *Recorder) OnKeyRefresh(ev warden.KeyRefresh) {
	outcome := "success"
	if ev.Err != nil {
		outcome = "failure"
	}
	opt := metric.WithAttributeSet(attribute.NewSet(AttrIssuer.String(ev.Issuer), AttrOutcome.String(outcome)))
	r.refreshes.Add(context.Background(), 1, opt)
	r.refreshDuration.Record(context.Background(), ev.Duration.Seconds(), opt)
}

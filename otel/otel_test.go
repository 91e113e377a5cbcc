package wardenotel_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/wardenhq/warden"
	wardenotel "github.com/wardenhq/warden/otel"
	"github.com/wardenhq/warden/wardentest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

type fixture struct {
	iss    *wardentest.Issuer
	mw     *warden.Middleware
	h      http.Handler
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
}

func newFixture(t *testing.T, mutate func(*warden.Config)) *fixture {
	t.Helper()
	f := &fixture{iss: wardentest.NewIssuer(t), reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder()}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(f.reader))
	f.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(f.spans))
	t.Cleanup(func() {
		_ = mp.Shutdown(context.Background())
		_ = f.tp.Shutdown(context.Background())
	})
	rec, err := wardenotel.New(wardenotel.Config{MeterProvider: mp, TracerProvider: f.tp})
	if err != nil {
		t.Fatal(err)
	}
	cfg := warden.Config{
		Issuers: []warden.IssuerConfig{{
			URL:      f.iss.URL,
			Audience: f.iss.Audience,
			JWKS:     wardentest.JWKS(f.iss.Keys()...),
		}},
		OnDecision: rec.OnDecision,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	f.mw, err = warden.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.mw.Close() })
	reg, err := rec.ObserveKeys(f.mw)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reg.Unregister() })
	f.h = f.mw.Require(warden.Scopes("entry:read"))(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	return f
}

func (f *fixture) do(ctx context.Context, auth string) int {
	r := httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx)
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w.Code
}

func (f *fixture) collect(t *testing.T) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := f.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != wardenotel.ScopeName {
			t.Errorf("got scope %q", sm.Scope.Name)
		}
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

type series struct {
	reason, scheme string
	status         int64
}

func key(set attribute.Set) series {
	var s series
	if v, ok := set.Value(wardenotel.AttrReason); ok {
		s.reason = v.AsString()
	}
	if v, ok := set.Value(wardenotel.AttrScheme); ok {
		s.scheme = v.AsString()
	}
	if v, ok := set.Value(wardenotel.AttrStatus); ok {
		s.status = v.AsInt64()
	}
	return s
}

// TestMetricsAfterScript sends a scripted sequence of requests and checks
// the decision counter, the duration histogram, the key gauges and the spans.
func TestMetricsAfterScript(t *testing.T) {
	f := newFixture(t, nil)
	good := "Bearer " + f.iss.Scoped("entry:read")
	expired := "Bearer " + f.iss.Mint(wardentest.Token{Claims: wardentest.Claims{"scope": "entry:read", "exp": time.Now().Add(-time.Hour).Unix()}})
	noScope := "Bearer " + f.iss.Scoped("other")

	parentCtx, parent := f.tp.Tracer("test").Start(context.Background(), "GET /entries")
	script := []struct {
		auth string
		want int
	}{
		{good, 204}, {good, 204}, {good, 204},
		{expired, 401}, {expired, 401},
		{noScope, 403},
		{"", 401},
	}
	for i, s := range script {
		if got := f.do(parentCtx, s.auth); got != s.want {
			t.Fatalf("request %d: got %d, want %d", i, got, s.want)
		}
	}
	parent.End()

	ms := f.collect(t)
	wantCounts := map[series]int64{
		{"ok", "Bearer", 0}:                   3,
		{"expired", "Bearer", 401}:            2,
		{"insufficient_scope", "Bearer", 403}: 1,
		{"missing_credentials", "", 401}:      1,
	}
	sum, ok := ms["warden.decisions"].Data.(metricdata.Sum[int64])
	if !ok || !sum.IsMonotonic {
		t.Fatalf("warden.decisions is %T, want a monotonic Sum[int64]", ms["warden.decisions"].Data)
	}
	got := map[series]int64{}
	for _, dp := range sum.DataPoints {
		got[key(dp.Attributes)] += dp.Value
	}
	if len(got) != len(wantCounts) {
		t.Errorf("got series %v, want %v", got, wantCounts)
	}
	for k, v := range wantCounts {
		if got[k] != v {
			t.Errorf("warden.decisions%v: got %d, want %d", k, got[k], v)
		}
	}

	hist, ok := ms["warden.decision.duration"].Data.(metricdata.Histogram[float64])
	if !ok || ms["warden.decision.duration"].Unit != "s" {
		t.Fatalf("warden.decision.duration is %T unit %q", ms["warden.decision.duration"].Data, ms["warden.decision.duration"].Unit)
	}
	var n uint64
	for _, dp := range hist.DataPoints {
		if _, has := dp.Attributes.Value(wardenotel.AttrStatus); has {
			t.Errorf("histogram carries the status attribute")
		}
		if lo, _ := dp.Min.Value(); lo < 0 {
			t.Errorf("negative duration recorded")
		}
		if key(dp.Attributes).reason == "ok" && dp.Count != 3 {
			t.Errorf("histogram ok count %d, want 3", dp.Count)
		}
		n += dp.Count
	}
	if n != uint64(len(script)) {
		t.Errorf("histogram holds %d observations, want %d", n, len(script))
	}

	gauge := func(name string) float64 {
		t.Helper()
		switch d := ms[name].Data.(type) {
		case metricdata.Gauge[int64]:
			if len(d.DataPoints) != 1 {
				t.Fatalf("%s: %d points", name, len(d.DataPoints))
			}
			if v, _ := d.DataPoints[0].Attributes.Value(wardenotel.AttrIssuer); v.AsString() != f.iss.URL {
				t.Errorf("%s: issuer %q", name, v.AsString())
			}
			return float64(d.DataPoints[0].Value)
		case metricdata.Gauge[float64]:
			return d.DataPoints[0].Value
		}
		t.Fatalf("%s missing or of type %T", name, ms[name].Data)
		return 0
	}
	if gauge("warden.keys.usable") != 1 || gauge("warden.keys.count") != 3 || gauge("warden.keys.refresh_failing") != 0 || gauge("warden.keys.staleness") < 0 {
		t.Errorf("key gauges: usable %v count %v failing %v staleness %v", gauge("warden.keys.usable"),
			gauge("warden.keys.count"), gauge("warden.keys.refresh_failing"), gauge("warden.keys.staleness"))
	}

	var decisions []sdktrace.ReadOnlySpan
	for _, s := range f.spans.Ended() {
		if s.Name() == "warden.authenticate" {
			decisions = append(decisions, s)
		}
	}
	if len(decisions) != len(script) {
		t.Fatalf("got %d decision spans, want %d", len(decisions), len(script))
	}
	for i, s := range decisions {
		if s.Parent().SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("span %d is not a child of the request span", i)
		}
		if s.EndTime().Before(s.StartTime()) {
			t.Errorf("span %d ends before it starts", i)
		}
		attrs := attribute.NewSet(s.Attributes()...)
		want := []string{"ok", "ok", "ok", "expired", "expired", "insufficient_scope", "missing_credentials"}[i]
		if v, _ := attrs.Value(wardenotel.AttrReason); v.AsString() != want {
			t.Errorf("span %d: reason %q, want %q", i, v.AsString(), want)
		}
		if v, _ := attrs.Value(wardenotel.AttrRequirement); v.AsString() != "entry:read" {
			t.Errorf("span %d: requirement %q", i, v.AsString())
		}
		_, hasClient := attrs.Value(wardenotel.AttrClientID)
		if authenticated := i < 3 || i == 5; hasClient != authenticated {
			t.Errorf("span %d: client id present %v, want %v", i, hasClient, authenticated)
		}
		if s.Status().Code != codes.Unset {
			t.Errorf("span %d: status %v, want unset for a client error", i, s.Status())
		}
		for _, kv := range s.Attributes() {
			if v := kv.Value.String(); v == good[7:] || v == expired[7:] {
				t.Errorf("span %d carries a token", i)
			}
		}
	}
}

// TestOutageSpanAndGauges: keys that were never fetched show as
// usable=0 and a 503 decision marks its span as an error.
func TestOutageSpanAndGauges(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusInternalServerError)
	}))
	t.Cleanup(srv.Close)
	f := newFixture(t, func(c *warden.Config) {
		c.Issuers[0].URL, c.Issuers[0].JWKS, c.Issuers[0].JWKSURL = srv.URL, nil, srv.URL+"/jwks.json"
		c.KeySetPolicy = warden.KeySetPolicy{LazyStart: true, UnknownKIDWait: 50 * time.Millisecond}
	})
	tok := "Bearer " + f.iss.Mint(wardentest.Token{Claims: wardentest.Claims{"iss": srv.URL, "scope": "entry:read"}})
	if got := f.do(context.Background(), tok); got != http.StatusServiceUnavailable {
		t.Fatalf("got %d, want 503", got)
	}
	ms := f.collect(t)
	usable := ms["warden.keys.usable"].Data.(metricdata.Gauge[int64])
	if len(usable.DataPoints) != 1 || usable.DataPoints[0].Value != 0 {
		t.Errorf("warden.keys.usable: got %+v, want one point of 0", usable.DataPoints)
	}
	sum := ms["warden.decisions"].Data.(metricdata.Sum[int64])
	if len(sum.DataPoints) != 1 || key(sum.DataPoints[0].Attributes) != (series{"keys_unavailable", "Bearer", 503}) {
		t.Errorf("warden.decisions: got %+v", sum.DataPoints)
	}
	spans := f.spans.Ended()
	if len(spans) != 1 || spans[0].Status().Code != codes.Error || spans[0].Status().Description != "keys_unavailable" {
		t.Fatalf("got spans %v, want one error span described keys_unavailable", spans)
	}
	if spans[0].Parent().IsValid() {
		t.Errorf("span without a request span has a parent")
	}
}

// BenchmarkOnDecision measures the recorder with the SDK providers, with
// and without spans.
func BenchmarkOnDecision(b *testing.B) {
	for _, spans := range []bool{false, true} {
		b.Run(map[bool]string{false: "metrics", true: "metrics+spans"}[spans], func(b *testing.B) {
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tracetest.NewSpanRecorder()))
			defer mp.Shutdown(context.Background())
			defer tp.Shutdown(context.Background())
			rec, err := wardenotel.New(wardenotel.Config{MeterProvider: mp, TracerProvider: tp, DisableSpans: !spans})
			if err != nil {
				b.Fatal(err)
			}
			d := warden.Decision{Reason: warden.ReasonOK, Scheme: warden.SchemeBearer, Issuer: "https://idp.example",
				ClientID: "client-1", Requirement: "entry:read", Duration: 3 * time.Microsecond}
			b.ReportAllocs()
			for b.Loop() {
				rec.OnDecision(context.Background(), d)
			}
		})
	}
}

// TestKeyRefreshCounter: OnKeyRefresh counts key set fetches by outcome.
func TestKeyRefreshCounter(t *testing.T) {
	iss := wardentest.NewIssuer(t)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	rec, err := wardenotel.New(wardenotel.Config{MeterProvider: mp, DisableSpans: true})
	if err != nil {
		t.Fatal(err)
	}
	mw, err := warden.New(warden.Config{
		Issuers: []warden.IssuerConfig{{
			URL:      iss.URL,
			Audience: iss.Audience,
			JWKSURL:  iss.JWKSURL(),
		}},
		KeySetPolicy: warden.KeySetPolicy{OnRefresh: rec.OnKeyRefresh},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mw.Close() })
	iss.Close() // the issuer goes away: the next fetch fails
	// An unknown kid makes warden try a refresh, which fails.
	_, _ = mw.Verify(context.Background(), iss.Mint(wardentest.Token{Header: map[string]any{"kid": "new"}}))

	counts := func() map[string]int64 {
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(context.Background(), &rm); err != nil {
			t.Fatal(err)
		}
		out := map[string]int64{}
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				if m.Name != "warden.keys.refreshes" {
					continue
				}
				for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
					outcome, _ := dp.Attributes.Value(wardenotel.AttrOutcome)
					issuer, _ := dp.Attributes.Value(wardenotel.AttrIssuer)
					if issuer.AsString() != iss.URL {
						t.Errorf("issuer attribute %q, want %q", issuer.AsString(), iss.URL)
					}
					out[outcome.AsString()] = dp.Value
				}
			}
		}
		return out
	}
	deadline := time.Now().Add(5 * time.Second)
	for counts()["failure"] < 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := counts()
	if got["success"] != 1 || got["failure"] != 1 {
		t.Fatalf("refreshes by outcome: got %v, want success 1, failure 1", got)
	}
}

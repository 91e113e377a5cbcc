package warden_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// introBenchWriter keeps only the status, so the benchmark counts warden's
// allocations rather than a recorder's.
type introBenchWriter struct {
	h    http.Header
	code int
}

func (w *introBenchWriter) Header() http.Header         { return w.h }
func (w *introBenchWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *introBenchWriter) WriteHeader(code int)        { w.code = code }

// BenchmarkIntrospectionCacheHit compares, in one run, a request whose
// opaque token's introspection answer is cached (path=opaque) with a
// request whose JWT's verification is cached (path=jwt, a middleware
// without introspection: warden's JWT cache hit as it is). Both go through
// the full middleware and a route requiring a scope. The target (issue 13)
// is opaque ≤ 1.2 × jwt:
//
//	go test -run '^$' -bench '^BenchmarkIntrospectionCacheHit$' -benchmem -count=10 . | tee intro.txt
//	benchstat -col /path intro.txt
func BenchmarkIntrospectionCacheHit(b *testing.B) {
	key := wardentest.NewECKey("ec-bench")
	now := time.Now()
	ep := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"active":true,"iss":"`+benchIssuer+`","aud":"`+benchAudience+`","sub":"user-1","client_id":"client-1",`+
			`"scope":"read write profile","jti":"0123456789abcdef01234567","token_type":"Bearer","exp":`+jsonNumber(now.Add(12*time.Hour).Unix())+`}`)
	}))
	defer ep.Close()
	issuer := warden.IssuerConfig{URL: benchIssuer, Audience: benchAudience, JWKS: wardentest.JWKS(key)}
	build := func(ic warden.IssuerConfig) http.Handler {
		mw, err := warden.New(warden.Config{Issuers: []warden.IssuerConfig{ic}, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = mw.Close() })
		return mw.Require(warden.Scopes("read"))(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	}
	withIntrospection := issuer
	withIntrospection.Introspection = warden.Introspection{Endpoint: ep.URL, ClientID: "rs", ClientSecret: "rs-secret"}
	h, p := benchClaims("ES256", "ec-bench")
	for _, c := range []struct {
		path  string
		h     http.Handler
		token string
	}{
		{"jwt", build(issuer), key.Sign("ES256", h, p)},
		{"opaque", build(withIntrospection), "2YotnFZFEjr1zCsicMWpAA-Jm3Hc9Vw4H5rL0kK6qPp"},
	} {
		b.Run("path="+c.path, func(b *testing.B) {
			r := httptest.NewRequest(http.MethodGet, "/resource", nil)
			r.Header.Set("Authorization", "Bearer "+c.token)
			w := &introBenchWriter{h: http.Header{}}
			c.h.ServeHTTP(w, r) // the miss: verified or introspected once
			if w.code != http.StatusNoContent {
				b.Fatalf("status %d, want 204", w.code)
			}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				c.h.ServeHTTP(w, r)
			}
			if w.code != http.StatusNoContent {
				b.Fatalf("status %d, want 204", w.code)
			}
		})
	}
}

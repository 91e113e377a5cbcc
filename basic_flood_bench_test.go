//go:build unix

package warden_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/clientstore"
)

// BenchmarkBasicFailureFlood floods a Basic route with failing credentials
// from 8×GOMAXPROCS goroutines, against a ClientStore holding one bcrypt hash
// at the default cost (RFC 6749 §10.10: online guessing of client secrets):
//
//   - flood=same: one wrong secret for a known client id, over and over;
//   - flood=guess: a new wrong secret for a known client id every request;
//   - flood=random-ids: a new unknown client id every request.
//
// Besides ns/op it reports the process CPU time per request (cpu-ns/op, from
// getrusage), the password hashes per request (hashes/op) and the share of
// each status (401/op, 429/op, 503/op). Each run starts from a fresh
// middleware, so a run's first failures always pay the hash, and the
// numbers are those of a flood lasting -benchtime: give it a few seconds, so
// that a run holds more failed checks for one id than the throttle allows a
// minute (the hashing bound alone admits only a few checks a second).
// Compare before and after with
//
//	go test -run '^$' -bench '^BenchmarkBasicFailureFlood$' -benchtime 5s -count 10 . | tee flood.txt
func BenchmarkBasicFailureFlood(b *testing.B) {
	store := benchFloodStore(b)
	for _, flood := range []struct {
		name string
		auth func(n int64) string
	}{
		{"same", func(int64) string { return basicAuth("flood-client:wrong-secret") }},
		{"guess", func(n int64) string { return basicAuth("flood-client:guess-" + strconv.FormatInt(n, 10)) }},
		{"random-ids", func(n int64) string { return basicAuth("nobody-" + strconv.FormatInt(n, 10) + ":guess") }},
	} {
		b.Run("flood="+flood.name, func(b *testing.B) {
			counted := &benchCountingVerifier{v: store}
			m, err := warden.New(warden.Config{
				Issuers: []warden.IssuerConfig{{
					URL:        benchIssuer,
					Audience:   benchAudience,
					HMACSecret: []byte("0123456789abcdef0123456789abcdef"),
				}},
				Clients: counted,
				Logger:  slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			h := m.Accept(warden.SchemeBasic).Require(warden.Scopes("read"))(benchNext)
			var seq atomic.Int64
			var statuses [3]atomic.Int64 // 401, 429, 503
			b.SetParallelism(8)
			b.ReportAllocs()
			cpu0 := benchProcessCPU(b)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := httptest.NewRequest(http.MethodGet, "/", nil)
					r.Header.Set("Authorization", flood.auth(seq.Add(1)))
					w := httptest.NewRecorder()
					h.ServeHTTP(w, r)
					switch w.Code {
					case http.StatusUnauthorized:
						statuses[0].Add(1)
					case http.StatusTooManyRequests:
						statuses[1].Add(1)
					case http.StatusServiceUnavailable:
						statuses[2].Add(1)
					default:
						b.Errorf("flood got status %d", w.Code)
					}
				}
			})
			b.StopTimer()
			n := float64(b.N)
			b.ReportMetric(float64(benchProcessCPU(b)-cpu0)/n, "cpu-ns/op")
			b.ReportMetric(float64(counted.calls.Load())/n, "hashes/op")
			b.ReportMetric(float64(statuses[0].Load())/n, "401/op")
			b.ReportMetric(float64(statuses[1].Load())/n, "429/op")
			b.ReportMetric(float64(statuses[2].Load())/n, "503/op")
		})
	}
}

// benchFloodStore holds one client with a bcrypt hash at the default cost.
func benchFloodStore(b *testing.B) *clientstore.Store {
	b.Helper()
	hash, err := clientstore.Hash("flood-secret")
	if err != nil {
		b.Fatal(err)
	}
	s, err := clientstore.New([]clientstore.Client{{ID: "flood-client", SecretHash: hash, Scopes: []string{"read"}}})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// benchCountingVerifier counts the checks that reach the store, each of
// which computes one password hash.
type benchCountingVerifier struct {
	v     warden.ClientVerifier
	calls atomic.Int64
}

func (c *benchCountingVerifier) VerifyClient(ctx context.Context, id, secret string) ([]string, error) {
	c.calls.Add(1)
	return c.v.VerifyClient(ctx, id, secret)
}

// benchProcessCPU returns the user and system CPU time of the process, in
// nanoseconds.
func benchProcessCPU(b *testing.B) int64 {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

package warden_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/clientstore"
)

// Timing of failed Basic authentication: an unknown client id must cost
// what a wrong secret costs, or the difference tells an attacker which
// client ids exist. ClientStore checks unknown ids against a dummy hash of
// the same kind and cost. Compare with
//
//	go test -run '^$' -bench 'BenchmarkBasic(UnknownClient|WrongSecret)' -benchtime 20x -count 5 .
//
// The two benchmarks must report about the same ns/op (and allocations) for
// each sub-benchmark.

// atkArgon2idHash renders an argon2id PHC string with the OWASP parameters.
func atkArgon2idHash(secret string) string {
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte(secret), salt, 2, 19456, 1, 32)
	enc := base64.RawStdEncoding.EncodeToString
	return fmt.Sprintf("$argon2id$v=%d$m=19456,t=2,p=1$%s$%s", argon2.Version, enc(salt), enc(key))
}

// atkTimingStores are stores of one client each, at production cost.
func atkTimingStores(b *testing.B) map[string]*clientstore.Store {
	b.Helper()
	bc, err := clientstore.Hash("s3cr3t")
	if err != nil {
		b.Fatal(err)
	}
	out := map[string]*clientstore.Store{}
	for name, hash := range map[string]string{"bcrypt": bc, "argon2id": atkArgon2idHash("s3cr3t")} {
		s, err := clientstore.New([]clientstore.Client{{ID: "c1", SecretHash: hash, Scopes: []string{"entry:read"}}})
		if err != nil {
			b.Fatal(err)
		}
		out[name] = s
	}
	return out
}

func benchmarkBasicFailure(b *testing.B, clientID, secret string) {
	for _, kind := range []string{"bcrypt", "argon2id"} {
		store := atkTimingStores(b)[kind]
		b.Run(kind+"/store", func(b *testing.B) {
			b.ReportAllocs()
			ctx := context.Background()
			for b.Loop() {
				if _, err := store.VerifyClient(ctx, clientID, secret); !errors.Is(err, warden.ErrInvalidClient) {
					b.Fatalf("VerifyClient: %v", err)
				}
			}
		})
		b.Run(kind+"/middleware", func(b *testing.B) {
			mw, err := warden.New(warden.Config{
				Issuers: []warden.IssuerConfig{{
					URL:        "https://issuer.test",
					Audience:   "https://api.test",
					HMACSecret: []byte("0123456789abcdef0123456789abcdef"),
				}},
				Clients:       store,
				BasicCacheTTL: time.Nanosecond, // failures are all but forgotten
				// An hour passes at every reading, so no per-client throttle
				// window outlives a request: every request pays the hash,
				// as the first failures of a window do.
				Now:    benchHourlyClock(),
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			})
			if err != nil {
				b.Fatal(err)
			}
			defer mw.Close()
			h := mw.Accept(warden.SchemeBasic).Require(warden.Scopes("entry:read"))(http.NotFoundHandler())
			auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(clientID+":"+secret))
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest(http.MethodGet, "/x", nil)
				r.Header.Set("Authorization", auth)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusUnauthorized {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}

// benchHourlyClock returns a clock that advances an hour at every reading.
func benchHourlyClock() func() time.Time {
	var n atomic.Int64
	start := time.Now()
	return func() time.Time { return start.Add(time.Duration(n.Add(1)) * time.Hour) }
}

// BenchmarkBasicUnknownClient measures a failed Basic check for a client id
// that does not exist.
func BenchmarkBasicUnknownClient(b *testing.B) { benchmarkBasicFailure(b, "nobody", "s3cr3t") }

// BenchmarkBasicWrongSecret measures a failed Basic check for a known client
// with a wrong secret.
func BenchmarkBasicWrongSecret(b *testing.B) { benchmarkBasicFailure(b, "c1", "wrong!") }

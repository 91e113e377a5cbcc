package warden

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// ksRSA is one 2048-bit key shared by the tests here: generating RSA keys
// is slow.
var ksRSA = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// ksJWK renders the public JWK of key with the given members.
func ksJWK(t testing.TB, key any, members map[string]any) map[string]any {
	t.Helper()
	b64 := base64.RawURLEncoding.EncodeToString
	m := map[string]any{}
	switch k := key.(type) {
	case *rsa.PublicKey:
		m["kty"], m["n"], m["e"] = "RSA", b64(k.N.Bytes()), b64(big.NewInt(int64(k.E)).Bytes())
	case *ecdsa.PublicKey:
		raw, err := k.Bytes() // 0x04 || X || Y, each coordinate padded to the curve size
		if err != nil {
			t.Fatalf("encoding EC key: %v", err)
		}
		size := (len(raw) - 1) / 2
		m["kty"], m["crv"] = "EC", k.Curve.Params().Name
		m["x"], m["y"] = b64(raw[1:1+size]), b64(raw[1+size:])
	case ed25519.PublicKey:
		m["kty"], m["crv"], m["x"] = "OKP", "Ed25519", b64(k)
	default:
		t.Fatalf("unsupported key %T", key)
	}
	for k, v := range members {
		m[k] = v
	}
	return m
}

func ksSet(t testing.TB, jwks ...map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"keys": jwks})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestKeySetSelection(t *testing.T) {
	rsaPub := &ksRSA().PublicKey
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	ecJWK := func(members map[string]any) map[string]any { return ksJWK(t, &ec.PublicKey, members) }

	for _, tc := range []struct {
		name   string
		doc    []byte
		kid    string
		hasKID bool
		alg    string
		want   bool // a key is found
		bad    bool // the document is refused
	}{
		{"sig key", ksSet(t, ecJWK(map[string]any{"kid": "e1", "use": "sig", "alg": "ES256"})), "e1", true, "ES256", true, false},
		{"no use member", ksSet(t, ecJWK(map[string]any{"kid": "e1"})), "e1", true, "ES256", true, false},
		{"use enc is skipped (H9)", ksSet(t, ecJWK(map[string]any{"kid": "e1", "use": "enc"})), "e1", true, "ES256", false, false},
		{"JWK alg disagrees with token alg", ksSet(t, ksJWK(t, rsaPub, map[string]any{"kid": "r1", "alg": "RS256"})), "r1", true, "PS256", false, false},
		{"key type disagrees with token alg", ksSet(t, ecJWK(map[string]any{"kid": "e1"})), "e1", true, "RS256", false, false},
		{"curve disagrees with token alg", ksSet(t, ecJWK(map[string]any{"kid": "e1"})), "e1", true, "ES384", false, false},
		{"oct key is never taken from a JWK Set (H7)", ksSet(t, map[string]any{"kty": "oct", "kid": "h1", "k": "c2VjcmV0"}), "h1", true, "HS256", false, false},
		{"unknown kty is skipped (H6)", ksSet(t, map[string]any{"kty": "AKP", "kid": "p1"}, ecJWK(map[string]any{"kid": "e1"})), "e1", true, "ES256", true, false},
		{`Ed25519 key with JWK alg "EdDSA"`, ksSet(t, ksJWK(t, edPub, map[string]any{"kid": "d1", "alg": "EdDSA"})), "d1", true, "EdDSA", true, false},
		{`Ed25519 key with RFC 9864 JWK alg "Ed25519" verifies EdDSA`, ksSet(t, ksJWK(t, edPub, map[string]any{"kid": "d1", "alg": "Ed25519"})), "d1", true, "EdDSA", true, false},
		{`Ed25519 key with JWK alg "Ed448" does not`, ksSet(t, ksJWK(t, edPub, map[string]any{"kid": "d1", "alg": "Ed448"})), "d1", true, "EdDSA", false, false},
		{`EC key with JWK alg "Ed25519" does not`, ksSet(t, ecJWK(map[string]any{"kid": "e1", "alg": "Ed25519"})), "e1", true, "ES256", false, false},
		{"no kid: the one fitting key of a small set", ksSet(t, ecJWK(nil), ksJWK(t, edPub, nil)), "", false, "EdDSA", true, false},
		{"no kid: two fitting keys are ambiguous", ksSet(t, ecJWK(map[string]any{"kid": "a"}), ecJWK(map[string]any{"kid": "b"})), "", false, "ES256", false, false},
		{"no kid: a large set is not searched", ksSet(t, ecJWK(map[string]any{"kid": "1"}), ksJWK(t, edPub, map[string]any{"kid": "2"}), ksJWK(t, rsaPub, map[string]any{"kid": "3"}), ksJWK(t, rsaPub, map[string]any{"kid": "4"}), ksJWK(t, rsaPub, map[string]any{"kid": "5"})), "", false, "ES256", false, false},
		{"no kid: a large set is not searched after its kid-less keys are dropped", ksSet(t, ecJWK(map[string]any{"kid": "1"}), ksJWK(t, edPub, map[string]any{"kid": "2"}), ksJWK(t, rsaPub, map[string]any{"kid": "3"}), ecJWK(nil), ksJWK(t, edPub, nil)), "", false, "ES256", false, false},
		{"RSA under 2048 bits (H16)", ksSet(t, ksJWK(t, &small.PublicKey, map[string]any{"kid": "r1"})), "", false, "", false, true},
		{"duplicate kid (H8)", ksSet(t, ecJWK(map[string]any{"kid": "k"}), ksJWK(t, edPub, map[string]any{"kid": "k"})), "", false, "", false, true},
		{"not JSON", []byte("<html>"), "", false, "", false, true},
		{"no keys member", []byte(`{"jwks":[]}`), "", false, "", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set, err := parseJWKS(tc.doc)
			if (err != nil) != tc.bad {
				t.Fatalf("parseJWKS: got error %v, want error %v", err, tc.bad)
			}
			if tc.bad {
				return
			}
			if _, ok := set.find(tc.kid, tc.hasKID, tc.alg); ok != tc.want {
				t.Fatalf("find(%q, %v, %s): got %v, want %v", tc.kid, tc.hasKID, tc.alg, ok, tc.want)
			}
			for _, k := range set.all {
				if !set.holds(k) {
					t.Fatalf("the set does not hold its own key %q", k.kid)
				}
			}
		})
	}
}

func TestKIDMemo(t *testing.T) {
	m := newKIDMemo()
	now := time.Unix(1_900_000_000, 0)
	m.add("gone", now, now.Add(5*time.Second))
	if !m.has("gone", now.Add(4*time.Second)) || m.has("gone", now.Add(5*time.Second)) || m.has("other", now) {
		t.Fatalf("memo does not remember exactly until its deadline")
	}
	// A flood of distinct kids stays bounded...
	for i := range 3 * maxUnknownKIDs {
		m.add("flood-"+strconv.Itoa(i), now, now.Add(5*time.Second))
	}
	if n := len(m.until); n > maxUnknownKIDs {
		t.Fatalf("memo holds %d entries, want ≤ %d", n, maxUnknownKIDs)
	}
	// ...and expired entries make room again.
	later := now.Add(time.Minute)
	m.add("after", later, later.Add(5*time.Second))
	if !m.has("after", later) {
		t.Fatalf("a full memo of expired entries refused a new one")
	}
}

func TestFreshness(t *testing.T) {
	for _, tc := range []struct {
		cacheControl, age string
		want              time.Duration
		ok                bool
	}{
		{"", "", 0, false},
		{"public", "", 0, false},
		{"max-age=300", "", 300 * time.Second, true},
		{"public, max-age=300, must-revalidate", "", 300 * time.Second, true},
		{"MAX-AGE=60", "", time.Minute, true},
		{`max-age="60"`, "", time.Minute, true},
		{"max-age=300", "100", 200 * time.Second, true},
		{"max-age=300", "900", 0, true},
		{"max-age=-1", "", 0, true},
		{"max-age=soon", "", 0, true},
		{"no-store", "", 0, true},
		{"max-age=300, no-cache", "", 0, true},
		{"max-age=99999999999999999", "", (1 << 31) * time.Second, true},
	} {
		h := http.Header{}
		if tc.cacheControl != "" {
			h.Set("Cache-Control", tc.cacheControl)
		}
		if tc.age != "" {
			h.Set("Age", tc.age)
		}
		got, ok := freshness(h)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Cache-Control %q, Age %q: got %s %v, want %s %v", tc.cacheControl, tc.age, got, ok, tc.want, tc.ok)
		}
	}
}

func TestRefreshSchedule(t *testing.T) {
	ks, _ := normalizeKeySourceConfig(KeySourceConfig{MaxRefreshInterval: 2 * time.Hour, MaxStaleness: 3 * time.Hour})
	s := &remoteSource{cfg: ks}
	for range 200 {
		for ttl, lo := range map[time.Duration]time.Duration{
			-1:               48 * time.Minute, // no max-age: one hour, refreshed ahead
			0:                time.Minute,      // clamped to MinRefreshInterval
			10 * time.Minute: 8 * time.Minute,
			10 * time.Hour:   90 * time.Minute, // MaxRefreshInterval, then half of MaxStaleness
		} {
			hi := map[time.Duration]time.Duration{-1: 54 * time.Minute, 0: time.Minute, 10 * time.Minute: 9 * time.Minute, 10 * time.Hour: 90 * time.Minute}[ttl]
			if d := s.refreshDelay(ttl); d < lo || d > hi {
				t.Fatalf("refreshDelay(%s) = %s, want in [%s, %s]", ttl, d, lo, hi)
			}
		}
		for failures, hi := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 6: 32 * time.Second, 7: time.Minute, 100: time.Minute} {
			s.failures = failures
			if d := s.backoff(); d < hi/2 || d > hi {
				t.Fatalf("backoff after %d failures = %s, want in [%s, %s]", failures, d, hi/2, hi)
			}
		}
	}
}

// ksServer serves doc as a JWK Set on loopback and counts requests.
func ksServer(tb testing.TB, doc []byte) (*httptest.Server, *atomic.Int64) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.Header().Set("Cache-Control", "max-age=300")
		_, _ = w.Write(doc)
	}))
	tb.Cleanup(srv.Close)
	return srv, &hits
}

// BenchmarkKeyLookup measures the key lookup of a remote source in steady
// state: a known kid must cost no JWKS request and no allocation; an
// unknown kid within UnknownKIDInterval must be refused without a request.
func BenchmarkKeyLookup(b *testing.B) {
	rsaPub := &ksRSA().PublicKey
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srv, hits := ksServer(b, ksSet(b,
		ksJWK(b, rsaPub, map[string]any{"kid": "rsa-1", "alg": "RS256", "use": "sig"}),
		ksJWK(b, &ec.PublicKey, map[string]any{"kid": "ec-1", "alg": "ES256", "use": "sig"}),
	))
	ks, _ := normalizeKeySourceConfig(KeySourceConfig{})
	// A frozen clock: no refresh falls due and UnknownKIDInterval never
	// passes, however long the benchmark runs.
	frozen := time.Now()
	now := func() time.Time { return frozen }
	src, err := newRemoteSource(IssuerConfig{Issuer: srv.URL, JWKSURL: srv.URL}, ks, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), now)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(src.close)
	ctx := context.Background()
	// One unknown kid spends this interval's refresh, as a live server's
	// first stray token would.
	_, _ = src.key(ctx, "warm-up", true, "RS256")
	for _, bc := range []struct {
		name, kid, alg string
		want           bool
	}{
		{"known-kid", "rsa-1", "RS256", true},
		{"known-kid-ec", "ec-1", "ES256", true},
		{"unknown-kid-remembered", "warm-up", "RS256", false},
		{"unknown-kid-rate-limited", "stray", "RS256", false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			before := hits.Load()
			b.ReportAllocs()
			for b.Loop() {
				k, err := src.key(ctx, bc.kid, true, bc.alg)
				if (err == nil) != bc.want || (k != nil) != bc.want {
					b.Fatalf("key(%s): %v", bc.kid, err)
				}
			}
			fetches := hits.Load() - before
			b.ReportMetric(float64(fetches), "jwks-fetches")
			if fetches != 0 {
				b.Fatalf("%d JWKS requests during steady-state lookups", fetches)
			}
		})
	}
	b.Run("known-kid-parallel", func(b *testing.B) {
		before := hits.Load()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := src.key(ctx, "rsa-1", true, "RS256"); err != nil {
					panic(fmt.Sprint("key: ", err))
				}
			}
		})
		b.ReportMetric(float64(hits.Load()-before), "jwks-fetches")
	})
}

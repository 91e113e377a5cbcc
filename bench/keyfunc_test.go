package bench_test

import (
	"net/http"
	"testing"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/bench"
	"github.com/wardenhq/warden/wardentest"
)

// BenchmarkKeyfunc measures what an issuer's keys cost when they come from
// a keyfunc.Keyfunc (IssuerConfig.Keyfunc) instead of warden's own key
// source, the same JWK Set in memory either way, in one run:
//
//	path=golang-jwt+keyfunc  jwt.Parse with keyfunc's Keyfunc: the setup a service adopting warden starts from
//	path=warden-new          warden's middleware, own key source, token cache disabled
//	path=keyfunc-new         warden's middleware, keys from keyfunc, token cache disabled
//	path=warden-cached       warden's middleware, own key source, repeated token
//	path=keyfunc-cached      warden's middleware, keys from keyfunc, repeated token
//
// A new token costs one Keyfunc call more than a map lookup (keyfunc reads
// its storage and re-marshals the JWK on every call); a cached one costs
// one Keyfunc call, to learn whether its key is still there, where warden's
// own source answers from its snapshot.
//
// Compare with: benchstat -filter '.name:Keyfunc' -col /path -row /alg keyfunc.txt
func BenchmarkKeyfunc(b *testing.B) {
	f := fixture()
	kf, err := keyfunc.NewJWKSetJSON(f.JWKS)
	if err != nil {
		b.Fatal(err)
	}
	for _, k := range f.Keys {
		b.Run("alg="+k.Alg, func(b *testing.B) {
			for _, c := range keyfuncCases(b, f, k, kf) {
				b.Run("path="+c.path, func(b *testing.B) {
					w := &discard{h: http.Header{}}
					if !c.op(w) {
						b.Fatalf("%s/%s: verification failed (status %d)", k.Alg, c.path, w.code)
					}
					b.ReportAllocs()
					for b.Loop() {
						c.op(w)
					}
				})
			}
		})
	}
}

// TestKeyfuncPathsAgree makes sure every path accepts the fixture's tokens.
func TestKeyfuncPathsAgree(t *testing.T) {
	f := fixture()
	kf, err := keyfunc.NewJWKSetJSON(f.JWKS)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range f.Keys {
		for _, c := range keyfuncCases(t, f, k, kf) {
			if w := (&discard{h: http.Header{}}); !c.op(w) {
				t.Errorf("alg=%s path=%s: rejected the token (status %d)", k.Alg, c.path, w.code)
			}
		}
	}
}

func keyfuncCases(tb testing.TB, f *bench.Fixture, k *wardentest.Key, kf keyfunc.Keyfunc) []peerCase {
	tok := f.Tokens[k.Alg]
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	viaKeyfunc := func(cacheSize int) http.Handler {
		m, err := warden.New(warden.Config{
			Issuers:        []warden.IssuerConfig{{URL: bench.Issuer, Audience: bench.Audience, Keyfunc: kf.Keyfunc}},
			TokenCacheSize: cacheSize,
		})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = m.Close() })
		return m.Require(warden.Scopes("read"))(next)
	}
	return []peerCase{
		{"golang-jwt+keyfunc", func(*discard) bool {
			t, err := jwt.Parse(tok, kf.Keyfunc)
			return err == nil && t.Valid
		}},
		{"warden-new", serveEach(newWarden(tb, f, 1).Require(warden.Scopes("read"))(next), f.Fresh[k.Alg])},
		{"keyfunc-new", serveEach(viaKeyfunc(1), f.Fresh[k.Alg])},
		{"warden-cached", serve(newWarden(tb, f, 0).Require(warden.Scopes("read"))(next), tok)},
		{"keyfunc-cached", serve(viaKeyfunc(0), tok)},
	}
}

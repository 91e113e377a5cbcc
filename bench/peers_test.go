package bench_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	jwtmiddleware "github.com/auth0/go-jwt-middleware/v2"
	"github.com/auth0/go-jwt-middleware/v2/validator"
	"github.com/golang-jwt/jwt/v5"
	"github.com/lestrrat-go/jwx/v3/jwa"
	jwxjwt "github.com/lestrrat-go/jwx/v3/jwt"
	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/bench"
	"github.com/wardenhq/warden/wardentest"
)

// BenchmarkPeers verifies the same token with the same key, in one run:
//
//	path=floor          golang-jwt v5 jwt.Parse with a static key
//	path=warden-new     warden's full middleware, token cache disabled
//	path=warden-cached  warden's full middleware, repeated token
//	path=auth0          auth0/go-jwt-middleware v2's full middleware
//	path=jwx            lestrrat-go/jwx v3 jwt.Parse with a static key
//
// Compare with: benchstat -col /path peers.txt
func BenchmarkPeers(b *testing.B) {
	f := fixture()
	for _, k := range f.Keys {
		b.Run("alg="+k.Alg, func(b *testing.B) {
			for _, c := range peerCases(b, f, k) {
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

// BenchmarkPeersParallel is BenchmarkPeers with GOMAXPROCS goroutines.
func BenchmarkPeersParallel(b *testing.B) {
	f := fixture()
	for _, k := range f.Keys {
		b.Run("alg="+k.Alg, func(b *testing.B) {
			for _, c := range peerCases(b, f, k) {
				b.Run("path="+c.path, func(b *testing.B) {
					if !c.op(&discard{h: http.Header{}}) {
						b.Fatalf("%s/%s: verification failed", k.Alg, c.path)
					}
					b.ReportAllocs()
					b.RunParallel(func(pb *testing.PB) {
						w := &discard{h: http.Header{}}
						for pb.Next() {
							c.op(w)
						}
					})
				})
			}
		})
	}
}

// TestPeersAgree makes sure every path accepts the fixture's tokens, so a
// benchmark never measures a failure.
func TestPeersAgree(t *testing.T) {
	f := fixture()
	for _, k := range f.Keys {
		for _, c := range peerCases(t, f, k) {
			if w := (&discard{h: http.Header{}}); !c.op(w) {
				t.Errorf("alg=%s path=%s: rejected the token (status %d)", k.Alg, c.path, w.code)
			}
		}
	}
}

var fixture = sync.OnceValue(bench.NewFixture)

type peerCase struct {
	path string
	op   func(*discard) bool
}

func peerCases(tb testing.TB, f *bench.Fixture, k *wardentest.Key) []peerCase {
	tok := f.Tokens[k.Alg]
	pub := k.Signer.Public()
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })

	fresh := newWarden(tb, f, 1).Require(warden.Scopes("read"))(next)
	cached := newWarden(tb, f, 0).Require(warden.Scopes("read"))(next)

	v, err := validator.New(func(context.Context) (any, error) { return pub, nil },
		validator.SignatureAlgorithm(k.Alg), bench.Issuer, []string{bench.Audience})
	if err != nil {
		tb.Fatal(err)
	}
	auth0 := jwtmiddleware.New(v.ValidateToken).CheckJWT(next)

	var jwxAlg jwa.SignatureAlgorithm
	switch k.Alg {
	case "RS256":
		jwxAlg = jwa.RS256()
	case "ES256":
		jwxAlg = jwa.ES256()
	case "EdDSA":
		jwxAlg = jwa.EdDSA()
	}
	raw := []byte(tok)
	return []peerCase{
		{"floor", func(*discard) bool {
			t, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return pub, nil })
			return err == nil && t.Valid
		}},
		{"warden-new", serveEach(fresh, f.Fresh[k.Alg])},
		{"warden-cached", serve(cached, tok)},
		{"auth0", serve(auth0, tok)},
		{"jwx", func(*discard) bool {
			_, err := jwxjwt.Parse(raw, jwxjwt.WithKey(jwxAlg, pub))
			return err == nil
		}},
	}
}

func newWarden(tb testing.TB, f *bench.Fixture, cacheSize int) *warden.Middleware {
	m, err := warden.New(warden.Config{Issuers: []warden.IssuerConfig{{URL: bench.Issuer, Audience: bench.Audience, JWKS: f.JWKS}}, TokenCacheSize: cacheSize})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = m.Close() })
	return m
}

func serve(h http.Handler, tok string) func(*discard) bool {
	r := httptest.NewRequest(http.MethodGet, "/resource", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return func(w *discard) bool {
		clear(w.h)
		w.code = 0
		h.ServeHTTP(w, r)
		return w.code == http.StatusNoContent
	}
}

// serveEach serves the tokens in turn, one per call: with a cache of one
// entry, every call is a token the cache has not seen.
func serveEach(h http.Handler, toks []string) func(*discard) bool {
	ops := make([]func(*discard) bool, len(toks))
	for i, t := range toks {
		ops[i] = serve(h, t)
	}
	var n atomic.Uint64
	return func(w *discard) bool { return ops[(n.Add(1)-1)%uint64(len(ops))](w) }
}

// discard is a ResponseWriter that keeps only the status, so the numbers
// are the middleware's own.
type discard struct {
	h    http.Header
	code int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(code int)        { d.code = code }

package bench_test

import (
	"context"
	"crypto"
	"flag"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/MicahParks/keyfunc/v3"
	jwtmiddleware "github.com/auth0/go-jwt-middleware/v2"
	"github.com/auth0/go-jwt-middleware/v2/validator"
	"github.com/golang-jwt/jwt/v5"
	"github.com/lestrrat-go/jwx/v3/jwk"
	jwxjwt "github.com/lestrrat-go/jwx/v3/jwt"
	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/bench"
)

// The cold path is measured on never-seen tokens with warden's cache on,
// so that every op pays the insert a real new token pays. The pool holds
// coldPool distinct tokens presented in cyclic order, one per round, to a
// warden whose cache holds coldCache entries. No token is ever a hit: until
// a first hit, no reference bit is set, so the CLOCK hand evicts in
// insertion order (FIFO), and a cyclic sequence of more distinct tokens
// than a FIFO holds misses every time (TestTokenCacheCyclicPoolMisses in
// the core module checks it on the cache). The cache stays full, so each insert also
// evicts, as in a server that has been up for a while; 1,024 entries of
// ~1.7 KB spill out of a core's L2 as the default 10,000 do.
var (
	coldCache = flag.Int("cold.cache", 1024, "TokenCacheSize of the warden measured on the cold path")
	coldPool  = flag.Int("cold.pool", 1536, "distinct tokens cycled through on the cold path; must exceed -cold.cache")
)

var fixture = sync.OnceValue(bench.NewFixture)

var next = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })

// BenchmarkCold verifies never-seen tokens, contenders interleaved op by op
// (see interleave), all on the same token in each round:
//
//	floor       SHA-256 of the signing input and the bare crypto verify
//	            (rsa.VerifyPKCS1v15, ecdsa.VerifyASN1 on the signature
//	            converted beforehand from JOSE r||s, ed25519.Verify); the
//	            signature's base64 is decoded beforehand too
//	warden      warden's full middleware, Require("read"), cache on
//	golang-jwt  golang-jwt v5 jwt.Parse, static key, alg, iss, aud and exp checked
//	keyfunc     the same with keyfunc v3's Keyfunc over the JWK Set
//	auth0       auth0/go-jwt-middleware v2's full middleware, static key
//	jwx         lestrrat-go/jwx v3 jwt.Parse with the JWK Set, iss and aud checked
//
// claims=typical is a ~0.6 KB RFC 9068 token; claims=scopes200 carries 200
// scopes (~6 KB).
func BenchmarkCold(b *testing.B) {
	if *coldPool <= *coldCache {
		b.Fatal("-cold.pool must exceed -cold.cache, or tokens would recur while cached")
	}
	f := fixture()
	for _, k := range f.Keys {
		for _, shape := range []bench.Shape{bench.Typical, bench.Scopes200} {
			b.Run("alg="+k.Alg+"/claims="+string(shape), func(b *testing.B) {
				pool := f.Pool(k.Alg, shape, *coldPool)
				interleave(b, len(pool), contenders(b, f, k.Alg, pool, *coldCache))
			})
		}
	}
}

// BenchmarkWarm is BenchmarkCold with one repeated token: warden answers
// from its cache (timed 32 at a time), every peer verifies again.
func BenchmarkWarm(b *testing.B) {
	f := fixture()
	for _, k := range f.Keys {
		b.Run("alg="+k.Alg, func(b *testing.B) {
			interleave(b, 1, contenders(b, f, k.Alg, []string{f.Tokens[k.Alg]}, 0))
		})
	}
}

// TestPeersAgree makes sure every contender accepts the fixture's tokens
// of both shapes, so a benchmark never measures a failure.
func TestPeersAgree(t *testing.T) {
	f := fixture()
	for _, k := range f.Keys {
		for _, shape := range []bench.Shape{bench.Typical, bench.Scopes200} {
			pool := f.Pool(k.Alg, shape, 2)
			for _, c := range contenders(t, f, k.Alg, pool, 0) {
				for i := range pool {
					if !c.op(i) {
						t.Errorf("alg=%s claims=%s %s: rejected token %d", k.Alg, shape, c.name, i)
					}
				}
			}
		}
	}
}

// contenders builds every contender for alg over toks. cacheSize 0 means
// warden's default cache, and a warden op timed 32 at a time (a cache
// hit).
func contenders(tb testing.TB, f *bench.Fixture, alg string, toks []string, cacheSize int) []contender {
	k := f.Key(alg)
	pub := k.Signer.Public()

	floor := make([]func() bool, len(toks))
	for i, tok := range toks {
		floor[i] = floorOp(tb, pub, tok)
	}

	m, err := warden.New(warden.Config{
		Issuers:        []warden.IssuerConfig{{URL: bench.Issuer, Audience: bench.Audience, JWKS: f.JWKS}},
		TokenCacheSize: cacheSize,
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = m.Close() })
	wardenBatch := 1
	if cacheSize == 0 {
		wardenBatch = 32
	}

	parseOpts := []jwt.ParserOption{jwt.WithValidMethods([]string{alg}), jwt.WithIssuer(bench.Issuer),
		jwt.WithAudience(bench.Audience), jwt.WithExpirationRequired()}
	kf, err := keyfunc.NewJWKSetJSON(f.JWKS)
	if err != nil {
		tb.Fatal(err)
	}

	v, err := validator.New(func(context.Context) (any, error) { return pub, nil },
		validator.SignatureAlgorithm(alg), bench.Issuer, []string{bench.Audience})
	if err != nil {
		tb.Fatal(err)
	}
	auth0 := jwtmiddleware.New(v.ValidateToken).CheckJWT(next)

	set, err := jwk.Parse(f.JWKS)
	if err != nil {
		tb.Fatal(err)
	}
	raws := make([][]byte, len(toks))
	for i, t := range toks {
		raws[i] = []byte(t)
	}

	return []contender{
		{"floor", 1, func(i int) bool { return floor[i]() }},
		{"warden", wardenBatch, serveEach(m.Require(warden.Scopes("read"))(next), toks)},
		{"golang-jwt", 1, func(i int) bool {
			t, err := jwt.Parse(toks[i], func(*jwt.Token) (any, error) { return pub, nil }, parseOpts...)
			return err == nil && t.Valid
		}},
		{"keyfunc", 1, func(i int) bool {
			t, err := jwt.Parse(toks[i], kf.Keyfunc, parseOpts...)
			return err == nil && t.Valid
		}},
		{"auth0", 1, serveEach(auth0, toks)},
		{"jwx", 1, func(i int) bool {
			_, err := jwxjwt.Parse(raws[i], jwxjwt.WithKeySet(set), jwxjwt.WithIssuer(bench.Issuer), jwxjwt.WithAudience(bench.Audience))
			return err == nil
		}},
	}
}

// floorOp returns the cryptographic floor of verifying tok (see
// bench.FloorVerify); splitting, base64 and the ECDSA signature's
// conversion are done here, before timing.
func floorOp(tb testing.TB, pub crypto.PublicKey, tok string) func() bool {
	input, sig, err := bench.FloorInput(pub, tok)
	if err != nil {
		tb.Fatal(err)
	}
	return func() bool { return bench.FloorVerify(pub, input, sig) }
}

// serveEach returns an op serving the i-th token as a bearer token through
// h, expecting 204; requests are built beforehand.
func serveEach(h http.Handler, toks []string) func(i int) bool {
	reqs := make([]*http.Request, len(toks))
	for i, t := range toks {
		reqs[i] = httptest.NewRequest(http.MethodGet, "/resource", nil)
		reqs[i].Header.Set("Authorization", "Bearer "+t)
	}
	w := &bench.Discard{H: http.Header{}}
	return func(i int) bool {
		clear(w.H)
		w.Code = 0
		h.ServeHTTP(w, reqs[i])
		return w.Code == http.StatusNoContent
	}
}

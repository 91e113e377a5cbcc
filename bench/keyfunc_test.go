package bench_test

import (
	"testing"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/bench"
)

// BenchmarkKeyfunc measures what an issuer's keys cost when they come from
// a keyfunc.Keyfunc (IssuerConfig.Keyfunc) instead of warden's own key
// source, the same JWK Set in memory either way, contenders interleaved op
// by op as in BenchmarkCold:
//
//	floor               SHA-256 and the bare signature check
//	warden              warden's middleware, its own key source
//	warden-keyfunc      warden's middleware, keys from keyfunc's Keyfunc
//	golang-jwt+keyfunc  jwt.Parse with keyfunc's Keyfunc, iss, aud and exp
//	                    checked: the setup a service adopting warden starts from
//
// token=new cycles never-seen tokens through a full cache (see coldPool);
// token=cached repeats one token, which warden answers from its cache
// (timed 32 at a time). A new token costs one Keyfunc call more than a map
// lookup (keyfunc reads its storage and re-marshals the JWK on every call);
// a cached one costs one Keyfunc call, to learn whether its key is still
// there, where warden's own source answers from its snapshot.
//
// Compare with: benchstat -filter '.name:Keyfunc' -row /alg -col /token keyfunc.txt
func BenchmarkKeyfunc(b *testing.B) {
	if *coldPool <= *coldCache {
		b.Fatal("-cold.pool must exceed -cold.cache, or tokens would recur while cached")
	}
	f := fixture()
	kf, err := keyfunc.NewJWKSetJSON(f.JWKS)
	if err != nil {
		b.Fatal(err)
	}
	for _, k := range f.Keys {
		b.Run("alg="+k.Alg+"/token=new", func(b *testing.B) {
			pool := f.Pool(k.Alg, bench.Typical, *coldPool)
			interleave(b, len(pool), keyfuncContenders(b, f, k.Alg, kf, pool, *coldCache))
		})
		b.Run("alg="+k.Alg+"/token=cached", func(b *testing.B) {
			interleave(b, 1, keyfuncContenders(b, f, k.Alg, kf, []string{f.Tokens[k.Alg]}, 0))
		})
	}
}

// TestKeyfuncPathsAgree makes sure every contender accepts the fixture's
// tokens, so the benchmark never measures a failure.
func TestKeyfuncPathsAgree(t *testing.T) {
	f := fixture()
	kf, err := keyfunc.NewJWKSetJSON(f.JWKS)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range f.Keys {
		pool := f.Pool(k.Alg, bench.Typical, 2)
		for _, c := range keyfuncContenders(t, f, k.Alg, kf, pool, 0) {
			for i := range pool {
				if !c.op(i) {
					t.Errorf("alg=%s %s: rejected token %d", k.Alg, c.name, i)
				}
			}
		}
	}
}

// keyfuncContenders builds the contenders of BenchmarkKeyfunc for alg over
// toks. cacheSize 0 means warden's default cache, and warden's ops timed 32
// at a time (a cache hit).
func keyfuncContenders(tb testing.TB, f *bench.Fixture, alg string, kf keyfunc.Keyfunc, toks []string, cacheSize int) []contender {
	pub := f.Key(alg).Signer.Public()
	floor := make([]func() bool, len(toks))
	for i, tok := range toks {
		floor[i] = floorOp(tb, pub, tok)
	}
	build := func(iss warden.IssuerConfig) func(i int) bool {
		m, err := warden.New(warden.Config{Issuers: []warden.IssuerConfig{iss}, TokenCacheSize: cacheSize})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = m.Close() })
		return serveEach(m.Require(warden.Scopes("read"))(next), toks)
	}
	batch := 1
	if cacheSize == 0 {
		batch = 32
	}
	parseOpts := []jwt.ParserOption{jwt.WithValidMethods([]string{alg}), jwt.WithIssuer(bench.Issuer),
		jwt.WithAudience(bench.Audience), jwt.WithExpirationRequired()}
	return []contender{
		{"floor", 1, func(i int) bool { return floor[i]() }},
		{"warden", batch, build(warden.IssuerConfig{URL: bench.Issuer, Audience: bench.Audience, JWKS: f.JWKS})},
		{"warden-keyfunc", batch, build(warden.IssuerConfig{URL: bench.Issuer, Audience: bench.Audience, Keyfunc: kf.Keyfunc})},
		{"golang-jwt+keyfunc", 1, func(i int) bool {
			t, err := jwt.Parse(toks[i], kf.Keyfunc, parseOpts...)
			return err == nil && t.Valid
		}},
	}
}

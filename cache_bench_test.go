package warden

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wardenhq/warden/internal/jwks"
)

// ctShape is the claim shape of the tokens a cache test or benchmark feeds:
// how many scopes and audiences, and how deep an actor chain.
type ctShape struct {
	scopes, audiences, actors int
}

// ctToken is one verified token as the cache receives it.
type ctToken struct {
	raw     string
	p       *Principal
	payload []byte // decoded, for building the principal again
}

// fresh builds the token's principal again, as the verifier does on a
// miss, so a put meets it in the CPU cache.
func (t ctToken) fresh(tb testing.TB, c *verifier) *Principal {
	payload := bytes.Clone(t.payload)
	cl, err := decodeClaims(payload, c.scopeClaims)
	if err != nil {
		tb.Fatal(err)
	}
	p, e := newTokenPrincipal(cl, false, payload)
	if e != nil {
		tb.Fatal(e)
	}
	return p
}

// ctTokenGen builds distinct tokens of one shape the way the verifier
// does (decodeClaims on the base64url-decoded payload, then newPrincipal),
// so the principals retain exactly what real ones retain. The signature is
// filler: the cache never checks it. Every token expires an hour after now.
type ctTokenGen struct {
	c       *verifier
	header  string
	sig     string
	payload []byte // with ctJTIMark where the token's jti goes
}

// ctJTIMark is replaced in the payload by each token's jti, of equal length.
const ctJTIMark = "jti-XXXXXXXXXXXXXXXX"

func newCTTokenGen(tb testing.TB, c *verifier, now time.Time, shape ctShape) *ctTokenGen {
	tb.Helper()
	scopes := make([]string, shape.scopes)
	for i := range scopes {
		scopes[i] = fmt.Sprintf("api.resource-%03d:read", i)
	}
	aud := []string{ctAudience}
	for i := 1; i < shape.audiences; i++ {
		aud = append(aud, fmt.Sprintf("https://api-%02d.cache.test", i))
	}
	claims := map[string]any{
		"iss": ctIssuer, "aud": aud, "sub": "user-0000001", "client_id": "client-1",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": ctJTIMark,
		"scope": strings.Join(scopes, " "),
	}
	var act map[string]any
	for i := range shape.actors {
		a := map[string]any{"sub": fmt.Sprintf("service-%02d@workload.cache.test", i), "client_id": fmt.Sprint("svc-", i)}
		if act != nil {
			a["act"] = act
		}
		act = a
	}
	if act != nil {
		claims["act"] = act
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		tb.Fatal(err)
	}
	return &ctTokenGen{c: c, payload: payload, sig: strings.Repeat("S", 86),
		header: base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"EdDSA","kid":"ed-1","typ":"at+jwt"}`))}
}

// build returns the i-th token.
func (g *ctTokenGen) build(i int) (ctToken, error) {
	payload := bytes.Replace(g.payload, []byte(ctJTIMark), fmt.Appendf(nil, "jti-%016x", i), 1)
	seg := base64.RawURLEncoding.EncodeToString(payload)
	decoded, err := b64.DecodeString(seg)
	if err != nil {
		return ctToken{}, err
	}
	cl, err := decodeClaims(decoded, g.c.scopeClaims)
	if err != nil {
		return ctToken{}, err
	}
	p, e := newTokenPrincipal(cl, false, decoded)
	if e != nil {
		return ctToken{}, e
	}
	return ctToken{raw: g.header + "." + seg + "." + g.sig, p: p, payload: decoded}, nil
}

// token returns the i-th token.
func (g *ctTokenGen) token(tb testing.TB, i int) ctToken {
	tb.Helper()
	tk, err := g.build(i)
	require.NoError(tb, err)
	return tk
}

// ctEach calls f for 0..n-1 from GOMAXPROCS goroutines and returns the
// first error: building tokens as the verifier does is what the cache tests
// spend their time on.
func ctEach(n int, f func(i int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, runtime.GOMAXPROCS(0))
	for w := range errs {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n && errs[w] == nil; i = int(next.Add(1)) - 1 {
				errs[w] = f(i)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// ctTokens returns n distinct tokens of the given shape.
func ctTokens(tb testing.TB, c *verifier, now time.Time, n int, shape ctShape) []ctToken {
	tb.Helper()
	g := newCTTokenGen(tb, c, now, shape)
	out := make([]ctToken, n)
	require.NoError(tb, ctEach(n, func(i int) (err error) {
		out[i], err = g.build(i)
		return err
	}))
	return out
}

// ctLatencies keeps the last len(ring) durations of one kind of operation.
type ctLatencies struct {
	ring []int64
	n    int
}

func newCTLatencies() *ctLatencies { return &ctLatencies{ring: make([]int64, 1<<18)} }

func (l *ctLatencies) add(d time.Duration) {
	l.ring[l.n%len(l.ring)] = int64(d)
	l.n++
}

func (l *ctLatencies) samples() []int64 { return l.ring[:min(l.n, len(l.ring))] }

// ctPercentiles returns the p50 and p99 of the samples, in nanoseconds.
func ctPercentiles(s []int64) (p50, p99 float64) {
	if len(s) == 0 {
		return 0, 0
	}
	s = slices.Clone(s)
	slices.Sort(s)
	return float64(s[len(s)/2]), float64(s[len(s)*99/100])
}

// tokenCacheFixture is the key source and the tokens shared by the churn
// benchmarks, built once per process.
type tokenCacheFixture struct {
	now  time.Time
	core *verifier
	src  *jwks.Static
	key  *jwks.Key
	toks []ctToken
}

var (
	ctChurnMu      sync.Mutex
	ctChurnFixture *tokenCacheFixture
)

func ctChurnSetup(tb testing.TB, n int) *tokenCacheFixture {
	tb.Helper()
	ctChurnMu.Lock()
	defer ctChurnMu.Unlock()
	if f := ctChurnFixture; f != nil && len(f.toks) >= n {
		return f
	}
	keys := newCTKeys(tb)
	src, key := ctStaticSource(tb, keys)
	m := keys.middleware(tb, 0)
	ctChurnFixture = &tokenCacheFixture{now: keys.clock(), core: m.tokens, src: src, key: key,
		toks: ctTokens(tb, m.tokens, keys.clock(), n, ctShape{scopes: 3, audiences: 1})}
	return ctChurnFixture
}

// BenchmarkTokenCacheChurn measures the cache itself under churn: a cache
// of defaultTokenCacheSize entries and a working set of ws distinct tokens
// drawn uniformly at random, each draw a get and, on a miss, the put the
// middleware would make after verifying, both with a fresh copy of the
// token as a request presents it, the put with a principal built again
// (untimed) as the verifier builds it. It reports the hit rate and the
// p50 and p99 latency of hits and of puts (from per-operation timings), so
// an eviction that pauses a shard shows as a p99 far above the p50. par=true
// runs GOMAXPROCS goroutines, where a put that holds a shard's lock delays
// the hits of other goroutines.
func BenchmarkTokenCacheChurn(b *testing.B) {
	size := defaultTokenCacheSize
	f := ctChurnSetup(b, size*3/2)
	for _, ws := range []int{size, size * 6 / 5, size * 3 / 2} {
		for _, par := range []bool{false, true} {
			b.Run(fmt.Sprintf("ws=%d/par=%v", ws, par), func(b *testing.B) {
				c := newTokenCache(size)
				toks := f.toks[:ws]
				step := func(rng *rand.Rand, hits, puts *ctLatencies) {
					t := toks[rng.IntN(len(toks))]
					// Each request presents its own copy of the token, just
					// read (so in the CPU cache), never the cached string:
					// equal pointers would skip the comparison.
					raw := strings.Clone(t.raw)
					t0 := time.Now()
					_, ok := c.get(raw, f.now)
					d := time.Since(t0)
					if ok {
						hits.add(d)
						return
					}
					p := t.fresh(b, f.core)
					t0 = time.Now()
					c.put(raw, p, f.src, f.key, 0, f.now)
					puts.add(time.Since(t0))
				}
				warm, wh, wp := rand.New(rand.NewPCG(1, 2)), newCTLatencies(), newCTLatencies()
				for range 4 * ws {
					step(warm, wh, wp)
				}
				var (
					mu         sync.Mutex
					hits, puts []int64
					nHits      int
					nOps       int
				)
				merge := func(h, p *ctLatencies) {
					mu.Lock()
					defer mu.Unlock()
					hits = append(hits, h.samples()...)
					puts = append(puts, p.samples()...)
					nHits += h.n
					nOps += h.n + p.n
				}
				b.ReportAllocs()
				if par {
					b.ResetTimer() // b.Loop does this itself; the warm-up is not measured
					var seed sync.Mutex
					next := uint64(0)
					b.RunParallel(func(pb *testing.PB) {
						seed.Lock()
						next++
						rng := rand.New(rand.NewPCG(next, 7))
						seed.Unlock()
						h, p := newCTLatencies(), newCTLatencies()
						for pb.Next() {
							step(rng, h, p)
						}
						merge(h, p)
					})
				} else {
					rng := rand.New(rand.NewPCG(3, 4))
					h, p := newCTLatencies(), newCTLatencies()
					for b.Loop() {
						step(rng, h, p)
					}
					merge(h, p)
				}
				h50, h99 := ctPercentiles(hits)
				p50, p99 := ctPercentiles(puts)
				b.ReportMetric(100*float64(nHits)/float64(max(nOps, 1)), "hit-%")
				b.ReportMetric(h50, "hit-p50-ns")
				b.ReportMetric(h99, "hit-p99-ns")
				b.ReportMetric(p50, "put-p50-ns")
				b.ReportMetric(p99, "put-p99-ns")
				b.ReportMetric(float64(c.len()), "entries")
			})
		}
	}
}

// BenchmarkTokenCachePut measures one insert into a full cache, with the
// eviction it makes, of tokens whose principals are in the CPU cache, as
// one the verifier just built is: 64 tokens cycle through 32 entries, so
// every put evicts.
func BenchmarkTokenCachePut(b *testing.B) {
	const size = 32
	f := ctChurnSetup(b, defaultTokenCacheSize*3/2)
	toks := f.toks[:2*size]
	c := newTokenCache(size)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		t := toks[i%len(toks)]
		i++
		c.put(t.raw, t.p, f.src, f.key, 0, f.now)
	}
	if c.len() == 0 {
		b.Fatal("nothing cached")
	}
}

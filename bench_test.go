package warden_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/clientstore"
	"github.com/wardenhq/warden/wardentest"
)

// The benchmarks compare, in one run, over the same keys and the same
// token, for RS256, ES256, EdDSA and HS256: the cryptographic floor, SHA-256
// and the bare signature check (path=floor), golang-jwt's jwt.Parse with a
// static key (path=golang-jwt), the full middleware on tokens it has not
// seen (path=new, cache on), on a repeated token (path=cached), and its
// refusals (path=badsig, path=unknownkid, path=missing). The side-by-side
// ratios of the targets come from the interleaved benchmarks of the bench
// module (bench.BenchmarkCold); `go run ./report` there runs both.
//
//	go test -run '^$' -bench '^BenchmarkVerify$' -benchmem -count=10 . | tee verify.txt
//	benchstat -col /path -row /alg verify.txt

const (
	benchIssuer   = "https://issuer.bench.test"
	benchAudience = "https://api.bench.test"
)

// benchFixture holds the keys, tokens and configurations shared by every
// benchmark; keys are generated once per process.
type benchFixture struct {
	algs []*benchAlg
}

// benchAlg is one algorithm: how to sign a token, the key that verifies it
// (a public key, or the HMAC secret) and a Config trusting it.
type benchAlg struct {
	name   string
	key    any
	sign   func(kid string) string
	token  string
	fresh  []string // benchColdPool distinct tokens, for requests the cache has not seen
	config warden.Config
	hasKID bool // false for HMAC: a shared secret has no kid to get wrong
}

var benchSetup = sync.OnceValue(func() *benchFixture {
	f := &benchFixture{}
	keys := []*wardentest.Key{wardentest.NewRSAKey("rsa-1"), wardentest.NewECKey("ec-1"), wardentest.NewEd25519Key("ed-1")}
	jwks := wardentest.JWKS(keys...)
	for _, k := range keys {
		f.algs = append(f.algs, &benchAlg{
			name: k.Alg, key: k.Signer.Public(), hasKID: true,
			sign:   func(kid string) string { h, p := benchClaims(k.Alg, kid); return k.Sign(k.Alg, h, p) },
			config: warden.Config{Issuers: []warden.IssuerConfig{{URL: benchIssuer, Audience: benchAudience, JWKS: jwks}}},
		})
	}
	secret := []byte("0123456789abcdef0123456789abcdef")
	f.algs = append(f.algs, &benchAlg{
		name: "HS256", key: secret,
		sign: func(kid string) string {
			h, p := benchClaims("HS256", kid)
			return wardentest.SignHMAC("HS256", secret, h, p)
		},
		config: warden.Config{Issuers: []warden.IssuerConfig{{URL: benchIssuer, Audience: benchAudience, HMACSecret: secret}}},
	})
	for _, a := range f.algs {
		a.token = a.sign("")
	}
	for i, k := range keys {
		f.algs[i].fresh = benchMintPool(func(jti string) string { h, p := benchClaimsJTI(k.Alg, "", jti); return k.Sign(k.Alg, h, p) })
	}
	f.algs[len(keys)].fresh = benchMintPool(func(jti string) string {
		h, p := benchClaimsJTI("HS256", "", jti)
		return wardentest.SignHMAC("HS256", secret, h, p)
	})
	return f
})

// benchMintPool mints benchColdPool tokens with distinct jtis on GOMAXPROCS
// goroutines (an RS256 signature takes a millisecond or two).
func benchMintPool(mint func(jti string) string) []string {
	toks := make([]string, benchColdPool)
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(toks); i += workers {
				toks[i] = mint(fmt.Sprintf("pool-%08d", i))
			}
		})
	}
	wg.Wait()
	return toks
}

// benchClaims returns the header and payload of a typical access token
// (RFC 9068 shape) valid for 12 h; kid "" means the key's own.
func benchClaims(alg, kid string) (header, payload []byte) {
	return benchClaimsJTI(alg, kid, "0123456789abcdef01234567")
}

// benchClaimsJTI is benchClaims with the given jti.
func benchClaimsJTI(alg, kid, jti string) (header, payload []byte) {
	if kid == "" {
		kid = map[string]string{"RS256": "rsa-1", "ES256": "ec-1", "EdDSA": "ed-1", "HS256": "hs-1"}[alg]
	}
	now := time.Now()
	header, _ = json.Marshal(map[string]any{"alg": alg, "kid": kid, "typ": "at+jwt"})
	payload, _ = json.Marshal(map[string]any{
		"iss": benchIssuer, "aud": benchAudience, "sub": "user-1", "client_id": "client-1",
		"iat": now.Unix(), "exp": now.Add(12 * time.Hour).Unix(), "jti": jti,
		"scope": "read write profile",
	})
	return header, payload
}

// benchMiddleware builds a middleware for a with the given token cache size.
func benchMiddleware(b *testing.B, a *benchAlg, cacheSize int) *warden.Middleware {
	b.Helper()
	cfg := a.config
	cfg.TokenCacheSize = cacheSize
	m, err := warden.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = m.Close() })
	return m
}

// benchWriter is a ResponseWriter that keeps only the status, so the
// benchmarks count warden's allocations rather than a recorder's.
type benchWriter struct {
	h    http.Header
	code int
}

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *benchWriter) WriteHeader(code int)        { w.code = code }

var benchNext = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })

// benchCase is one measured operation; op reports whether the outcome was
// the expected one, so a broken fixture fails instead of measuring errors.
type benchCase struct {
	path string
	op   func(*benchWriter) bool
}

func benchServe(h http.Handler, authorization string, want int) func(*benchWriter) bool {
	r := httptest.NewRequest(http.MethodGet, "/resource", nil)
	if authorization != "" {
		r.Header.Set("Authorization", authorization)
	}
	return func(w *benchWriter) bool {
		clear(w.h)
		w.code = 0
		h.ServeHTTP(w, r)
		return w.code == want
	}
}

// benchCases returns the side-by-side cases for one algorithm.
func benchCases(b *testing.B, a *benchAlg) []benchCase {
	tok := a.token
	input := tok[:strings.LastIndexByte(tok, '.')]
	sig, err := base64.RawURLEncoding.DecodeString(tok[len(input)+1:])
	if err != nil {
		b.Fatal(err)
	}
	// path=new: the cache on and full, fed a pool of distinct tokens in
	// cyclic order, more than it holds: every request is a miss that
	// verifies the token and inserts it, evicting the oldest, as a
	// never-seen token does (TestTokenCacheCyclicPoolMisses).
	fresh := benchMiddleware(b, a, benchColdCache).Require(warden.Scopes("read"))(benchNext)
	cached := benchMiddleware(b, a, 0).Require(warden.Scopes("read"))(benchNext)
	cases := []benchCase{
		{"floor", benchCrypto(a.key, input, sig)},
		{"golang-jwt", func(*benchWriter) bool {
			t, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return a.key, nil })
			return err == nil && t.Valid
		}},
		{"new", benchServeEach(fresh, a.fresh, http.StatusNoContent)},
		{"cached", benchServe(cached, "Bearer "+tok, http.StatusNoContent)},
		{"badsig", benchServe(cached, "Bearer "+benchFlipSignature(tok), http.StatusUnauthorized)},
	}
	if a.hasKID {
		cases = append(cases, benchCase{"unknownkid", benchServe(cached, "Bearer "+a.sign("no-such-kid"), http.StatusUnauthorized)})
	}
	return append(cases, benchCase{"missing", benchServe(cached, "", http.StatusUnauthorized)})
}

// path=new cycles benchColdPool distinct tokens through a cache of
// benchColdCache entries: each is evicted before it recurs.
const (
	benchColdCache = 1024
	benchColdPool  = 1536
)

// benchServeEach serves the tokens in turn, one per call.
func benchServeEach(h http.Handler, tokens []string, want int) func(*benchWriter) bool {
	ops := make([]func(*benchWriter) bool, len(tokens))
	for i, t := range tokens {
		ops[i] = benchServe(h, "Bearer "+t, want)
	}
	var n atomic.Uint64
	return func(w *benchWriter) bool { return ops[(n.Add(1)-1)%uint64(len(ops))](w) }
}

// benchCrypto is the cryptographic floor: the hash of the signing input
// and the public-key operation (or the HMAC), nothing else; the signature
// is decoded, and for ECDSA converted from JOSE r||s to ASN.1, beforehand.
func benchCrypto(key any, signingInput string, sig []byte) func(*benchWriter) bool {
	input := []byte(signingInput)
	switch k := key.(type) {
	case *rsa.PublicKey:
		return func(*benchWriter) bool {
			d := sha256.Sum256(input)
			return rsa.VerifyPKCS1v15(k, crypto.SHA256, d[:], sig) == nil
		}
	case *ecdsa.PublicKey:
		der, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])})
		if err != nil {
			panic(err)
		}
		return func(*benchWriter) bool {
			d := sha256.Sum256(input)
			return ecdsa.VerifyASN1(k, d[:], der)
		}
	case ed25519.PublicKey:
		return func(*benchWriter) bool { return ed25519.Verify(k, input, sig) }
	case []byte:
		return func(*benchWriter) bool {
			m := hmac.New(sha256.New, k)
			m.Write(input)
			return hmac.Equal(m.Sum(nil), sig)
		}
	}
	panic("benchCrypto: unsupported key type")
}

// benchFlipSignature changes one signature character in the middle, so the
// token stays well-formed and only the signature check fails.
func benchFlipSignature(tok string) string {
	i := strings.LastIndexByte(tok, '.') + 10
	c := byte('A')
	if tok[i] == 'A' {
		c = 'B'
	}
	return tok[:i] + string(c) + tok[i+1:]
}

// BenchmarkVerify measures one request at a time.
func BenchmarkVerify(b *testing.B) {
	f := benchSetup()
	for _, a := range f.algs {
		b.Run("alg="+a.name, func(b *testing.B) {
			for _, c := range benchCases(b, a) {
				b.Run("path="+c.path, func(b *testing.B) {
					w := &benchWriter{h: http.Header{}}
					if !c.op(w) {
						b.Fatalf("%s/%s: unexpected outcome (status %d)", a.name, c.path, w.code)
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

// BenchmarkVerifyParallel is BenchmarkVerify with GOMAXPROCS goroutines.
func BenchmarkVerifyParallel(b *testing.B) {
	f := benchSetup()
	for _, a := range f.algs {
		b.Run("alg="+a.name, func(b *testing.B) {
			for _, c := range benchCases(b, a) {
				b.Run("path="+c.path, func(b *testing.B) {
					if !c.op(&benchWriter{h: http.Header{}}) {
						b.Fatalf("%s/%s: unexpected outcome", a.name, c.path)
					}
					b.ReportAllocs()
					b.RunParallel(func(pb *testing.PB) {
						w := &benchWriter{h: http.Header{}}
						for pb.Next() {
							c.op(w)
						}
					})
				})
			}
		})
	}
}

// benchBasicCases return handlers accepting Basic for one bcrypt-hashed
// client, with the credential cache on (ttl 0: the default) or in effect
// off (ttl 1 ns).
var benchClients = sync.OnceValue(func() *clientstore.Store {
	hash, err := clientstore.Hash("bench-secret")
	if err != nil {
		panic(err)
	}
	s, err := clientstore.New([]clientstore.Client{{ID: "bench-client", SecretHash: hash, Scopes: []string{"read"}}})
	if err != nil {
		panic(err)
	}
	return s
})

func benchBasicCases(b *testing.B) []benchCase {
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("bench-client:bench-secret"))
	var out []benchCase
	for _, c := range []struct {
		path string
		ttl  time.Duration
	}{{"cached", 0}, {"uncached", time.Nanosecond}} { // a check remembered for 1 ns is never reused
		m, err := warden.New(warden.Config{
			Issuers: []warden.IssuerConfig{{
				URL:        benchIssuer,
				Audience:   benchAudience,
				HMACSecret: []byte("0123456789abcdef0123456789abcdef"),
			}},
			Clients: benchClients(), BasicCacheTTL: c.ttl})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = m.Close() })
		h := m.Accept(warden.SchemeBasic).Require(warden.Scopes("read"))(benchNext)
		out = append(out, benchCase{c.path, benchServe(h, auth, http.StatusNoContent)})
	}
	return out
}

// BenchmarkBasic measures HTTP Basic client authentication with and
// without the cache of successful checks.
func BenchmarkBasic(b *testing.B) {
	for _, c := range benchBasicCases(b) {
		b.Run("path="+c.path, func(b *testing.B) {
			w := &benchWriter{h: http.Header{}}
			if !c.op(w) {
				b.Fatalf("basic %s: status %d", c.path, w.code)
			}
			b.ReportAllocs()
			for b.Loop() {
				c.op(w)
			}
		})
	}
}

// BenchmarkBasicParallel is BenchmarkBasic with GOMAXPROCS goroutines.
func BenchmarkBasicParallel(b *testing.B) {
	for _, c := range benchBasicCases(b) {
		b.Run("path="+c.path, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				w := &benchWriter{h: http.Header{}}
				for pb.Next() {
					c.op(w)
				}
			})
		})
	}
}

// BenchmarkUnknownKIDFlood sends, per op, 10,000 tokens naming random kids
// the issuer never published, to a middleware fetching the issuer's JWK Set
// over loopback. Unknown kids may trigger at most one refresh per
// KeySetPolicy.UnknownKIDInterval (default 5 s); the metrics report the
// fetches per elapsed interval and the cost of one refusal.
func BenchmarkUnknownKIDFlood(b *testing.B) {
	const perOp = 10000
	iss := wardentest.StartIssuer()
	defer iss.Close()
	m, err := warden.New(iss.Config())
	if err != nil {
		b.Skipf("remote key source unavailable: %v", err)
	}
	defer m.Close()
	h := m.Authenticate(benchNext)
	enc := base64.RawURLEncoding
	payload, _ := json.Marshal(map[string]any{"iss": iss.URL, "aud": iss.Audience, "sub": "user-1",
		"exp": time.Now().Add(time.Hour).Unix()})
	body := "." + enc.EncodeToString(payload) + "." + enc.EncodeToString(make([]byte, 256))
	reqs := make([]*http.Request, perOp)
	fill := func() {
		for i := range reqs {
			hdr := `{"alg":"RS256","typ":"at+jwt","kid":"` + rand.Text() + `"}`
			r := httptest.NewRequest(http.MethodGet, "/resource", nil)
			r.Header.Set("Authorization", "Bearer "+enc.EncodeToString([]byte(hdr))+body)
			reqs[i] = r
		}
	}
	w := &benchWriter{h: http.Header{}}
	before := iss.JWKSFetches()
	b.ReportAllocs()
	var elapsed time.Duration
	for b.Loop() {
		b.StopTimer()
		fill()
		b.StartTimer()
		t0 := time.Now()
		for _, r := range reqs {
			clear(w.h)
			h.ServeHTTP(w, r)
			if w.code != http.StatusUnauthorized {
				b.Fatalf("unknown kid: status %d, want 401", w.code)
			}
		}
		elapsed += time.Since(t0)
	}
	fetches := float64(iss.JWKSFetches() - before)
	intervals := float64(elapsed/(5*time.Second)) + 1 // started intervals
	b.ReportMetric(fetches, "jwks-fetches")
	b.ReportMetric(fetches/intervals, "fetches/interval")
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(b.N*perOp), "ns/refusal")
}

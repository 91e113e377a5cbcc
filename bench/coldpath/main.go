// Command coldpath verifies n never-seen tokens with warden's full
// middleware (-mode warden) or only their cryptographic floor (-mode floor),
// nothing else, so an instruction counter sees the cold path alone:
//
//	go build -o /tmp/coldpath ./coldpath
//	for n in 300 900; do
//	  GOGC=off GODEBUG=asyncpreemptoff=1,cpu.rdtscp=off GOMAXPROCS=1 \
//	    valgrind --tool=callgrind /tmp/coldpath -alg EdDSA -shape typical -mode warden -n $n
//	done
//
// The difference of the two totals divided by 600 is the instructions of one
// op, setup excluded. GOGC=off leaves the collector out, so the count is the
// code path's alone (what it allocates is reported by the benchmarks);
// asyncpreemptoff and rdtscp=off keep valgrind 3.19 working with Go's
// runtime. Tokens are cycled through a pool of 1,536 with a cache of 1,024
// entries, as in bench.BenchmarkCold.
package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"flag"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/bench"
	"github.com/wardenhq/warden/wardentest"
)

// w is a ResponseWriter keeping only the status.
type w struct {
	h    http.Header
	code int
}

func (d *w) Header() http.Header         { return d.h }
func (d *w) Write(p []byte) (int, error) { return len(p), nil }
func (d *w) WriteHeader(c int)           { d.code = c }

// floorVerify is SHA-256 and the bare verify, as bench.BenchmarkCold's floor.
//
//go:noinline
func floorVerify(pub crypto.PublicKey, input, sig []byte) bool {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		d := sha256.Sum256(input)
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, d[:], sig) == nil
	case *ecdsa.PublicKey:
		d := sha256.Sum256(input)
		return ecdsa.VerifyASN1(k, d[:], sig)
	case ed25519.PublicKey:
		return ed25519.Verify(k, input, sig)
	}
	return false
}

// wardenOp serves one request through warden.
//
//go:noinline
func wardenOp(h http.Handler, wr *w, r *http.Request) bool {
	clear(wr.h)
	wr.code = 0
	h.ServeHTTP(wr, r)
	return wr.code == 204
}

func main() {
	alg := flag.String("alg", "EdDSA", "RS256, ES256 or EdDSA")
	shape := flag.String("shape", "typical", "typical or scopes200")
	n := flag.Int("n", 3000, "tokens to verify")
	mode := flag.String("mode", "warden", "warden or floor")
	flag.Parse()
	var k *wardentest.Key
	switch *alg {
	case "RS256":
		k = wardentest.NewRSAKey("rsa-1")
	case "ES256":
		k = wardentest.NewECKey("ec-1")
	default:
		k = wardentest.NewEd25519Key("ed-1")
	}
	pool := make([]string, 1536)
	for i := range pool {
		pool[i] = bench.Mint(k, k.ID, fmt.Sprintf("pool-%08d", i), bench.Shape(*shape))
	}
	m, err := warden.New(warden.Config{Issuers: []warden.IssuerConfig{{URL: bench.Issuer, Audience: bench.Audience, JWKS: wardentest.JWKS(k)}}, TokenCacheSize: 1024})
	if err != nil {
		panic(err)
	}
	h := m.Require("read")(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }))
	reqs := make([]*http.Request, len(pool))
	inputs := make([][]byte, len(pool))
	sigs := make([][]byte, len(pool))
	for i, t := range pool {
		reqs[i] = httptest.NewRequest("GET", "/r", nil)
		reqs[i].Header.Set("Authorization", "Bearer "+t)
		dot := strings.LastIndexByte(t, '.')
		inputs[i] = []byte(t[:dot])
		sigs[i], _ = base64.RawURLEncoding.DecodeString(t[dot+1:])
		if *alg == "ES256" {
			sigs[i], _ = asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(sigs[i][:32]), new(big.Int).SetBytes(sigs[i][32:])})
		}
	}
	wr := &w{h: http.Header{}}
	bad := 0
	for i := range *n {
		j := i % len(pool)
		var ok bool
		if *mode == "warden" {
			ok = wardenOp(h, wr, reqs[j])
		} else {
			ok = floorVerify(k.Signer.Public(), inputs[j], sigs[j])
		}
		if !ok {
			bad++
		}
	}
	if bad > 0 {
		fmt.Fprintln(os.Stderr, "coldpath:", bad, "tokens refused")
		os.Exit(1)
	}
}

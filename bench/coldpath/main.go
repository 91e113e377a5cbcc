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
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/bench"
	"github.com/wardenhq/warden/wardentest"
)

// floorOp is bench.FloorVerify, kept out of line so a profile names it.
//
//go:noinline
func floorOp(pub any, input, sig []byte) bool { return bench.FloorVerify(pub, input, sig) }

// wardenOp serves one request through warden.
//
//go:noinline
func wardenOp(h http.Handler, w *bench.Discard, r *http.Request) bool {
	clear(w.H)
	w.Code = 0
	h.ServeHTTP(w, r)
	return w.Code == http.StatusNoContent
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
	pub := k.Signer.Public()
	pool := make([]string, 1536)
	for i := range pool {
		pool[i] = bench.Mint(k, k.ID, fmt.Sprintf("pool-%08d", i), bench.Shape(*shape))
	}
	m, err := warden.New(warden.Config{Issuers: []warden.IssuerConfig{{URL: bench.Issuer, Audience: bench.Audience, JWKS: wardentest.JWKS(k)}}, TokenCacheSize: 1024})
	if err != nil {
		fmt.Fprintln(os.Stderr, "coldpath:", err)
		os.Exit(1)
	}
	h := m.Require(warden.Scopes("read"))(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	reqs := make([]*http.Request, len(pool))
	inputs, sigs := make([][]byte, len(pool)), make([][]byte, len(pool))
	for i, t := range pool {
		reqs[i] = httptest.NewRequest(http.MethodGet, "/resource", nil)
		reqs[i].Header.Set("Authorization", "Bearer "+t)
		if inputs[i], sigs[i], err = bench.FloorInput(pub, t); err != nil {
			fmt.Fprintln(os.Stderr, "coldpath:", err)
			os.Exit(1)
		}
	}
	w := &bench.Discard{H: http.Header{}}
	bad := 0
	for i := range *n {
		j := i % len(pool)
		var ok bool
		if *mode == "warden" {
			ok = wardenOp(h, w, reqs[j])
		} else {
			ok = floorOp(pub, inputs[j], sigs[j])
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

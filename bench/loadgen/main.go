// Command loadgen drives a warden-protected resource server over loopback
// with concurrent clients for a fixed number of requests, and reports
// requests per second and latency percentiles for three scenarios:
//
//	unprotected  GET /public, no credentials
//	repeated     GET /api with one of a few tokens, over and over (cache hits)
//	new          GET /api with a token never seen before on every request
//	carried      GET /public with a repeated token it ignores (the cost of
//	             carrying a token, apart from verifying it)
//
// Each round runs them one after the other, and then runs repeated and
// carried side by side with unprotected, half the clients each, for
// -side-by-side: the ratio of two scenarios running at the same time does
// not move with the load of the rest of a shared machine.
//
// By default it starts its own server on 127.0.0.1:0: a wardentest issuer
// and a net/http mux with warden in front of /api. With -demo it starts the
// demo resource server (examples/resourceserver, built beforehand) on
// 127.0.0.1:0 and takes tokens from its development issuer, driving
// /healthz (unprotected) and /entries (Entry_Read). With -target it drives a
// server that is already running, with tokens from -tokens or -token-url.
// It always stops by itself: every scenario has a fixed request count and
// the whole run a deadline (-timeout).
//
//	go run ./loadgen -n 10000 -new 2000 -c 16 -rounds 5
//	go build -o /tmp/resourceserver ../examples/resourceserver && go run ./loadgen -demo /tmp/resourceserver
package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

func main() {
	var (
		n         = flag.Int("n", 10000, "requests per round for the unprotected and repeated scenarios")
		nNew      = flag.Int("new", 2000, "requests per round for the new-token scenario (one pre-minted token each)")
		conc      = flag.Int("c", 16, "concurrent clients")
		rounds    = flag.Int("rounds", 5, "rounds; each runs every scenario once; medians over rounds are reported")
		repeated  = flag.Int("repeated-tokens", 16, "distinct tokens in the repeated scenario")
		timeout   = flag.Duration("timeout", 5*time.Minute, "deadline of the whole run")
		target    = flag.String("target", "", "base URL of a running server (default: start one in-process)")
		public    = flag.String("public", "/public", "unprotected path")
		protected = flag.String("protected", "/api", "protected path")
		tokFile   = flag.String("tokens", "", "with -target: file of tokens, one a line, each accepted on -protected")
		tokenURL  = flag.String("token-url", "", "with -target: token endpoint to get tokens from (client_credentials)")
		client    = flag.String("client", "demo-reader:demo-reader-secret", "client_id:secret for -token-url and -demo")
		demo      = flag.String("demo", "", "path of a built examples/resourceserver binary to start and drive")
		cpuprof   = flag.String("cpuprofile", "", "write a CPU profile of the whole run (client and in-process server) to this file")
		together  = flag.Duration("side-by-side", 2*time.Second, "per round, also run repeated and carried at the same time as unprotected (half the clients each) for this long; 0: do not")
		only      = flag.String("scenarios", "", "comma-separated scenarios to run (default: all of "+strings.Join(scenarioNames, ", ")+"); unprotected always runs")
	)
	flag.Parse()
	if *cpuprof != "" {
		f, err := os.Create(*cpuprof)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	cfg := config{n: *n, nNew: *nNew, conc: *conc, rounds: *rounds, repeated: *repeated,
		target: *target, public: *public, protected: *protected, tokFile: *tokFile, tokenURL: *tokenURL, client: *client,
		together: *together}
	if *only != "" {
		cfg.only = strings.Split(*only, ",")
	}
	if *demo != "" {
		stop, base, err := startDemo(ctx, *demo)
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			os.Exit(1)
		}
		defer stop()
		cfg.target, cfg.tokenURL = base, base+"/oauth/token"
		if !explicit("public") {
			cfg.public = "/healthz"
		}
		if !explicit("protected") {
			cfg.protected = "/entries"
		}
	}
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

type config struct {
	n, nNew, conc, rounds, repeated int
	target, public, protected       string
	tokFile, tokenURL, client       string
	only                            []string      // scenarios to run; nil: all
	together                        time.Duration // each side-by-side comparison's length; 0: none
}

// scenarioNames are the scenarios loadgen knows, in the order they run and
// are reported; the report generator (../report) reads them by name from
// the output, so a scenario added here (DPoP proofs, introspection cache
// hits, the Redis replay store, once those exist) appears in BENCHMARKS.md
// and its chart without further change.
var scenarioNames = []string{"unprotected", "repeated", "new", "carried"}

// explicit reports whether the flag was set on the command line.
func explicit(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func run(ctx context.Context, cfg config) error {
	if cfg.n < 1 || cfg.nNew < 0 || cfg.conc < 1 || cfg.rounds < 1 || cfg.repeated < 1 {
		return errors.New("-n, -c, -rounds and -repeated-tokens must be positive")
	}
	need := cfg.repeated + cfg.rounds*cfg.nNew
	var (
		base   string
		tokens []string
	)
	if cfg.target == "" {
		srv, err := startServer(need)
		if err != nil {
			return err
		}
		defer srv.close()
		base, tokens = srv.url, srv.tokens
		fmt.Printf("server: in-process on %s, key source: %s\n", base, srv.keySource)
	} else {
		var err error
		if cfg.tokenURL != "" {
			tokens, err = fetchTokens(ctx, cfg.tokenURL, cfg.client, need, cfg.conc)
		} else {
			tokens, err = readTokens(cfg.tokFile)
		}
		if err != nil {
			return err
		}
		if len(tokens) < need {
			return fmt.Errorf("-tokens holds %d tokens, need %d", len(tokens), need)
		}
		base = strings.TrimSuffix(cfg.target, "/")
		fmt.Printf("server: %s, %d tokens from %s\n", base, len(tokens), cmp.Or(cfg.tokenURL, cfg.tokFile))
	}
	fmt.Printf("GOMAXPROCS=%d NumCPU=%d clients=%d rounds=%d\n\n", runtime.GOMAXPROCS(0), runtime.NumCPU(), cfg.conc, cfg.rounds)

	client := &http.Client{Transport: &http.Transport{
		MaxIdleConns: cfg.conc, MaxIdleConnsPerHost: cfg.conc, DisableCompression: true,
	}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()

	// The Authorization values are built before the clock starts, as a
	// real client holds its header value: building "Bearer "+token per
	// request would charge the client, on the cores it shares with the
	// server, for work that is not the server's.
	auth := make([]string, len(tokens))
	for i, t := range tokens {
		auth[i] = "Bearer " + t
	}
	rep, fresh := auth[:cfg.repeated], auth[cfg.repeated:]
	scenarios := []scenario{
		{name: "unprotected", url: base + cfg.public, n: cfg.n},
		{name: "repeated", url: base + cfg.protected, n: cfg.n, token: func(i int) string { return rep[i%len(rep)] }},
	}
	if cfg.nNew > 0 {
		scenarios = append(scenarios, scenario{name: "new", url: base + cfg.protected, n: cfg.nNew})
	}
	// The unprotected route again, with a token it ignores: the cost of
	// carrying the token, apart from warden's work on it.
	scenarios = append(scenarios, scenario{name: "carried", url: base + cfg.public, n: cfg.n,
		token: func(i int) string { return rep[i%len(rep)] }})
	if cfg.only != nil {
		scenarios = slices.DeleteFunc(scenarios, func(s scenario) bool {
			return s.name != "unprotected" && !slices.Contains(cfg.only, s.name)
		})
	}
	// Warm up: open the connections and fill the token cache.
	for _, s := range scenarios[:min(2, len(scenarios))] {
		s.n = 4 * cfg.conc
		if _, err := drive(ctx, client, s, cfg.conc); err != nil {
			return err
		}
	}
	results := map[string][]result{}
	together := map[string][]float64{} // per round, the side-by-side throughput ratio to unprotected
	for r := range cfg.rounds {
		order := slices.Clone(scenarios)
		if r%2 == 1 {
			// Alternate the order of the scenarios, so a drift in the
			// machine's load favours none.
			slices.Reverse(order)
		}
		for _, s := range order {
			if s.name == "new" {
				batch := fresh[r*cfg.nNew : (r+1)*cfg.nNew]
				s.token = func(i int) string { return batch[i] }
			}
			res, err := drive(ctx, client, s, cfg.conc)
			if err != nil {
				return err
			}
			results[s.name] = append(results[s.name], res)
		}
		// The same comparisons side by side: the unprotected route and the
		// other one at the same time, half the clients each.
		for _, s := range scenarios {
			if s.name != "repeated" && s.name != "carried" || cfg.together <= 0 {
				continue
			}
			base, res, err := driveTogether(ctx, client, scenarios[0], s, max(1, cfg.conc/2), cfg.together)
			if err != nil {
				return err
			}
			together[s.name] = append(together[s.name], res.rps/base.rps)
			if res.failures+base.failures > 0 {
				return fmt.Errorf("%s side by side: %d responses were not 200", s.name, res.failures+base.failures)
			}
		}
	}
	report(os.Stdout, scenarios, results)
	reportTogether(os.Stdout, together)
	for name, rs := range results {
		for _, r := range rs {
			if r.failures > 0 {
				return fmt.Errorf("%s: %d responses were not 200", name, r.failures)
			}
		}
	}
	return nil
}

type scenario struct {
	name  string
	url   string
	n     int                // requests to send; 0 with until set: as many as fit
	until time.Time          // with n == 0: stop sending at this time
	token func(i int) string // the Authorization value of request i; nil: no credentials
}

type result struct {
	rps           float64
	p50, p90, p99 time.Duration
	failures      int
}

// drive sends s.n requests from conc clients and measures them. Requests
// are handed out by an atomic counter, so the count is exact.
func drive(ctx context.Context, client *http.Client, s scenario, conc int) (result, error) {
	var next atomic.Int64
	var failures atomic.Int64
	lat := make([][]time.Duration, conc)
	errc := make(chan error, conc)
	var wg sync.WaitGroup
	start := time.Now()
	for c := range conc {
		wg.Go(func() {
			own := make([]time.Duration, 0, s.n/conc+1)
			for {
				i := int(next.Add(1)) - 1
				if s.n > 0 && i >= s.n || s.n == 0 && !time.Now().Before(s.until) {
					break
				}
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
				if err != nil {
					errc <- err
					return
				}
				if s.token != nil {
					req.Header["Authorization"] = []string{s.token(i)}
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					errc <- fmt.Errorf("%s: %w", s.name, err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				own = append(own, time.Since(t0))
				if resp.StatusCode != http.StatusOK {
					failures.Add(1)
				}
			}
			lat[c] = own
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errc)
	if err := <-errc; err != nil {
		return result{}, err
	}
	all := slices.Concat(lat...)
	if len(all) == 0 {
		return result{}, fmt.Errorf("%s: no request completed", s.name)
	}
	slices.Sort(all)
	pct := func(p float64) time.Duration { return all[min(len(all)-1, int(p*float64(len(all))))] }
	return result{rps: float64(len(all)) / elapsed.Seconds(), p50: pct(0.50), p90: pct(0.90), p99: pct(0.99),
		failures: int(failures.Load())}, nil
}

// driveTogether runs a and b at the same time, conc clients each, for d:
// both see the same load on the machine, whatever else runs on it, so the
// ratio of their throughputs is not disturbed by a change of load between
// two runs, which on a shared machine can be larger than the difference
// measured.
func driveTogether(ctx context.Context, client *http.Client, a, b scenario, conc int, d time.Duration) (ra, rb result, err error) {
	until := time.Now().Add(d)
	a.n, a.until, b.n, b.until = 0, until, 0, until
	var errA, errB error
	var wg sync.WaitGroup
	wg.Go(func() { ra, errA = drive(ctx, client, a, conc) })
	wg.Go(func() { rb, errB = drive(ctx, client, b, conc) })
	wg.Wait()
	return ra, rb, errors.Join(errA, errB)
}

// reportTogether prints the side-by-side ratios, which the report
// generator reads as "NAME/unprotected side-by-side".
func reportTogether(w io.Writer, together map[string][]float64) {
	for _, name := range scenarioNames {
		ratios := together[name]
		if len(ratios) == 0 {
			continue
		}
		var all []string
		for _, q := range ratios {
			all = append(all, fmt.Sprintf("%.3f", q))
		}
		sorted := slices.Clone(ratios)
		slices.Sort(sorted)
		target := ""
		if name == "repeated" {
			target = " (target ≥ 0.95)"
		}
		fmt.Fprintf(w, "%s/unprotected side-by-side throughput: median of rounds %.3f%s; rounds: %s\n", name, sorted[len(sorted)/2], target, strings.Join(all, " "))
	}
}

// report prints each scenario's median round (by requests/s) and the ratio
// the issue sets a target for.
func report(w io.Writer, scenarios []scenario, results map[string][]result) {
	fmt.Fprintf(w, "%-12s %8s %10s %10s %10s %10s %8s   %s\n", "scenario", "requests", "req/s", "p50", "p90", "p99", "non-200", "req/s of every round")
	for _, s := range scenarios {
		rs := slices.Clone(results[s.name])
		slices.SortFunc(rs, func(a, b result) int { return cmp.Compare(a.rps, b.rps) })
		m := rs[len(rs)/2]
		var all []string
		for _, r := range results[s.name] {
			all = append(all, fmt.Sprintf("%.0f", r.rps))
		}
		fmt.Fprintf(w, "%-12s %8d %10.0f %10s %10s %10s %8d   %s\n", s.name, s.n, m.rps,
			m.p50.Round(time.Microsecond), m.p90.Round(time.Microsecond), m.p99.Round(time.Microsecond), m.failures, strings.Join(all, " "))
	}
	fmt.Fprintln(w)
	// Each round ran the scenarios back to back: the ratio within a round
	// is the least disturbed by other load on the machine.
	pairs := [][2]string{}
	for _, name := range scenarioNames[1:] {
		pairs = append(pairs, [2]string{name, "unprotected"})
	}
	// The same request bytes with and without warden: what checking the
	// token costs, apart from carrying it.
	pairs = append(pairs, [2]string{"repeated", "carried"})
	for _, p := range pairs {
		num, den := results[p[0]], results[p[1]]
		if len(num) == 0 || len(den) != len(num) {
			continue
		}
		var ratios []float64
		var all []string
		for i, r := range num {
			q := r.rps / den[i].rps
			ratios = append(ratios, q)
			all = append(all, fmt.Sprintf("%.2f", q))
		}
		slices.Sort(ratios)
		target := ""
		if p == [2]string{"repeated", "unprotected"} {
			target = " (target ≥ 0.95)"
		}
		fmt.Fprintf(w, "%s/%s throughput: median of rounds %.2f%s; rounds: %s\n", p[0], p[1], ratios[len(ratios)/2], target, strings.Join(all, " "))
	}
}

// server is the in-process resource server and its issuer.
type server struct {
	url       string
	tokens    []string
	keySource string
	close     func()
}

// startServer starts a wardentest issuer and, on 127.0.0.1:0, a resource
// server like the demo: /public open to all, /api requiring scope "read".
// It pre-mints n RS256 tokens, all distinct.
func startServer(n int) (*server, error) {
	iss := wardentest.StartIssuer()
	cfg, source := iss.Config(), "remote JWKS over loopback"
	m, err := warden.New(cfg)
	if err != nil {
		// The remote key source may not be built in yet: fall back to the
		// same keys given statically.
		cfg, source = iss.StaticConfig(), "static JWKS (remote source unavailable: "+err.Error()+")"
		if m, err = warden.New(cfg); err != nil {
			iss.Close()
			return nil, err
		}
	}
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "ok\n")
	}
	mux.HandleFunc("GET /public", ok)
	mux.Handle("GET /api", m.Require(warden.Scopes("read"))(http.HandlerFunc(ok)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = m.Close()
		iss.Close()
		return nil, err
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()

	t0 := time.Now()
	tokens := make([]string, n)
	var wg sync.WaitGroup
	per := (n + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0)
	for lo := 0; lo < n; lo += per {
		wg.Go(func() {
			for i := lo; i < min(lo+per, n); i++ {
				tokens[i] = iss.Scoped("read")
			}
		})
	}
	wg.Wait()
	fmt.Printf("minted %d RS256 tokens in %v\n", n, time.Since(t0).Round(time.Millisecond))
	return &server{
		url: "http://" + ln.Addr().String(), tokens: tokens, keySource: source,
		close: func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = hs.Shutdown(ctx)
			_ = m.Close()
			iss.Close()
		},
	}, nil
}

func readTokens(path string) ([]string, error) {
	if path == "" {
		return nil, errors.New("-target needs -tokens")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		if t := strings.TrimSpace(sc.Text()); t != "" {
			out = append(out, t)
		}
	}
	return out, sc.Err()
}

package main

import (
	"fmt"
	"strings"
)

// algs and contenders in the order the tables show them.
var (
	algs       = []string{"RS256", "ES256", "EdDSA"}
	knownPeers = []string{"floor", "warden", "golang-jwt", "keyfunc", "auth0", "jwx"}
)

// target is one figure of issue 16 with its bound.
type target struct {
	what   string
	value  func(r *runFiles) (stat, bool)
	bound  float64
	atMost bool // the value must be ≤ bound (else ≥)
	show   func(float64) string
}

func ratio(v float64) string    { return fmt.Sprintf("%.3f", v) }
func fraction(v float64) string { return fmt.Sprintf("1/%.0f", 1/v) }
func count(v float64) string    { return fmt.Sprintf("%.0f", v) }

func metric(name, unit string) func(r *runFiles) (stat, bool) {
	return func(r *runFiles) (stat, bool) { return r.comparison.stat(name, unit) }
}

// targets lists the targets; a feature's benchmark adds its own
// here by name.
var targets = func() []target {
	var ts []target
	for _, a := range []struct {
		alg   string
		bound float64
	}{{"RS256", 1.10}, {"ES256", 1.05}, {"EdDSA", 1.07}} {
		ts = append(ts, target{what: "cold path " + a.alg + " ÷ floor (never-seen token, cache on, insert included)",
			value: metric("BenchmarkCold/alg="+a.alg+"/claims=typical", "warden-x-floor"), bound: a.bound, atMost: true, show: ratio})
	}
	for _, alg := range algs {
		ts = append(ts, target{what: "200-scope token, cold path " + alg + " ÷ floor",
			value: metric("BenchmarkCold/alg="+alg+"/claims=scopes200", "warden-x-floor"), bound: 1.25, atMost: true, show: ratio})
	}
	ts = append(ts,
		target{what: "cache hit ÷ RS256 floor", value: metric("BenchmarkWarm/alg=RS256", "warden-x-floor"), bound: 1.0 / 40, atMost: true, show: fraction},
		target{what: "cache hit: allocations (warden's own)", value: metric("BenchmarkWarm/alg=RS256", "warden-allocs/op"), bound: 2, atMost: true, show: count},
		target{what: "cache hits under churn (working set 1.5 × capacity, random): p99 ÷ p50", value: churnRatio, bound: 2, atMost: true, show: ratio},
		target{what: "entries held by a full cache of 10,000 (churn, working set 1.5 ×)", value: func(r *runFiles) (stat, bool) {
			return r.core.stat("BenchmarkTokenCacheChurn/ws=15000/par=false", "entries")
		}, bound: 10000, atMost: false, show: count},
		target{what: "server: protected (repeated tokens) ÷ unprotected throughput, side by side", value: loadRatioOf("repeated", "unprotected side-by-side"), bound: 0.95, show: ratio},
	)
	return ts
}()

// churnRatio is p99 ÷ p50 of cache hits under churn, per sample.
func churnRatio(r *runFiles) (stat, bool) {
	name := "BenchmarkTokenCacheChurn/ws=15000/par=false"
	p99, p50 := r.core[name]["hit-p99-ns"], r.core[name]["hit-p50-ns"]
	if len(p99) == 0 || len(p99) != len(p50) {
		return stat{}, false
	}
	q := run{"x": {"r": nil}}
	for i := range p99 {
		q["x"]["r"] = append(q["x"]["r"], p99[i]/p50[i])
	}
	return q.stat("x", "r")
}

func loadRatioOf(num, den string) func(r *runFiles) (stat, bool) {
	return func(r *runFiles) (stat, bool) {
		for _, lr := range r.ratios {
			if lr.num == num && lr.den == den && len(lr.rounds) > 0 {
				q := run{"x": {"r": lr.rounds}}
				return q.stat("x", "r")
			}
		}
		return stat{}, false
	}
}

func (s stat) format(show func(float64) string) string {
	if s.n <= 1 {
		return show(s.med)
	}
	return fmt.Sprintf("%s (%s–%s)", show(s.med), show(s.min), show(s.max))
}

func (r *runFiles) machineTable() string {
	var b strings.Builder
	b.WriteString("| | |\n|---|---|\n")
	for _, line := range strings.Split(strings.TrimSpace(r.machine), "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if ok {
			fmt.Fprintf(&b, "| %s | %s |\n", k, v)
		}
	}
	return b.String()
}

func (r *runFiles) targetsTable(before *runFiles) string {
	var b strings.Builder
	b.WriteString("Medians over the samples of the run, with their range (min–max) in parentheses.\n\n")
	if before != nil {
		b.WriteString("| target | bound | before | after | |\n|---|---|---|---|---|\n")
	} else {
		b.WriteString("| target | bound | measured | |\n|---|---|---|---|\n")
	}
	for _, t := range targets {
		s, ok := t.value(r)
		got, verdict := "not measured", ""
		if ok {
			got = s.format(t.show)
			met := s.med <= t.bound+1e-9
			if !t.atMost {
				met = s.med >= t.bound-1e-9
			}
			verdict = "met"
			if !met {
				verdict = "**not met**"
			}
		}
		op := "≤"
		if !t.atMost {
			op = "≥"
		}
		if before != nil {
			prev := "—"
			if s, ok := t.value(before); ok {
				prev = s.format(t.show)
			}
			fmt.Fprintf(&b, "| %s | %s %s | %s | %s | %s |\n", t.what, op, t.show(t.bound), prev, got, verdict)
		} else {
			fmt.Fprintf(&b, "| %s | %s %s | %s | %s |\n", t.what, op, t.show(t.bound), got, verdict)
		}
	}
	// Reported without a target.
	for _, lr := range r.ratios {
		if lr.num == "repeated" && lr.den == "unprotected side-by-side" {
			continue
		}
		s, _ := loadRatioOf(lr.num, lr.den)(r)
		if before != nil {
			prev := "—"
			if p, ok := loadRatioOf(lr.num, lr.den)(before); ok {
				prev = p.format(ratio)
			}
			fmt.Fprintf(&b, "| server: %s ÷ %s throughput | (reported) | %s | %s | |\n", lr.num, lr.den, prev, s.format(ratio))
		} else {
			fmt.Fprintf(&b, "| server: %s ÷ %s throughput | (reported) | %s | |\n", lr.num, lr.den, s.format(ratio))
		}
	}
	return b.String()
}

// comparisonTables shows, per algorithm, every contender's time and ratio
// to the floor, cold (typical and 200-scope tokens) and warm.
func (r *runFiles) comparisonTables() string {
	var b strings.Builder
	b.WriteString("µs per token (median of the per-op medians over the samples), its ratio to the floor in the same rounds (median, with range), and allocations per op.\n")
	for _, alg := range algs {
		fmt.Fprintf(&b, "\n**%s**\n\n| contender | cold µs | cold × floor | warm µs | warm × floor | 200 scopes µs | 200 scopes × floor | allocs (cold / warm) |\n|---|---|---|---|---|---|---|---|\n", alg)
		cold, warm, big := "BenchmarkCold/alg="+alg+"/claims=typical", "BenchmarkWarm/alg="+alg, "BenchmarkCold/alg="+alg+"/claims=scopes200"
		for _, c := range r.comparison.contenders(cold, knownPeers) {
			cell := func(name, unit string, show func(float64) string) string {
				if s, ok := r.comparison.stat(name, unit); ok {
					return s.format(show)
				}
				return "—"
			}
			us := func(v float64) string { return fmt.Sprintf("%.2f", v/1000) }
			x := func(name string) string {
				if c == "floor" {
					return "1"
				}
				return cell(name, c+"-x-floor", ratio)
			}
			ca, _ := r.comparison.stat(cold, c+"-allocs/op")
			wa, _ := r.comparison.stat(warm, c+"-allocs/op")
			label := c
			if c == "warden" {
				label = "**warden**"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %.0f / %.0f |\n", label,
				cell(cold, c+"-ns/op", us), x(cold), cell(warm, c+"-ns/op", us), x(warm),
				cell(big, c+"-ns/op", us), x(big), ca.med, wa.med)
		}
	}
	return b.String()
}

func (r *runFiles) cacheTable() string {
	var b strings.Builder
	b.WriteString("| working set | goroutines | hit % | hit p50 ns | hit p99 ns | p99 ÷ p50 | put p50 ns | put p99 ns | entries |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, ws := range []string{"10000", "12000", "15000"} {
		for _, par := range []string{"false", "true"} {
			name := "BenchmarkTokenCacheChurn/ws=" + ws + "/par=" + par
			if _, ok := r.core[name]; !ok {
				continue
			}
			get := func(u string) float64 { s, _ := r.core.stat(name, u); return s.med }
			g := "1"
			if par == "true" {
				g = "GOMAXPROCS"
			}
			fmt.Fprintf(&b, "| %s | %s | %.1f | %.0f | %.0f | %.2f | %.0f | %.0f | %.0f |\n", ws, g, get("hit-%"),
				get("hit-p50-ns"), get("hit-p99-ns"), get("hit-p99-ns")/get("hit-p50-ns"), get("put-p50-ns"), get("put-p99-ns"), get("entries"))
		}
	}
	return b.String()
}

// pathsTable shows every path of BenchmarkVerify: the middleware's
// refusals beside its acceptances.
func (r *runFiles) pathsTable() string {
	paths := []string{"floor", "golang-jwt", "new", "cached", "badsig", "unknownkid", "missing"}
	var b strings.Builder
	b.WriteString("| alg | " + strings.Join(paths, " | ") + " |\n|---|" + strings.Repeat("---|", len(paths)) + "\n")
	for _, alg := range append(algs, "HS256") {
		fmt.Fprintf(&b, "| %s |", alg)
		for _, p := range paths {
			name := "BenchmarkVerify/alg=" + alg + "/path=" + p
			t, ok := r.core.stat(name, "ns/op")
			a, _ := r.core.stat(name, "allocs/op")
			if !ok {
				b.WriteString(" — |")
				continue
			}
			fmt.Fprintf(&b, " %.2f µs, %.0f allocs |", t.med/1000, a.med)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func (r *runFiles) loadSection() string {
	var b strings.Builder
	b.WriteString("| scenario | requests | req/s | p50 ms | p90 ms | p99 ms |\n|---|---|---|---|---|---|\n")
	for _, l := range r.load {
		fmt.Fprintf(&b, "| %s | %d | %.0f | %.2f | %.2f | %.2f |\n", l.name, l.requests, l.rps, l.p50, l.p90, l.p99)
	}
	b.WriteString("\n")
	for _, lr := range r.ratios {
		var rs []string
		for _, q := range lr.rounds {
			rs = append(rs, fmt.Sprintf("%.2f", q))
		}
		fmt.Fprintf(&b, "- %s ÷ %s throughput: median of rounds **%.2f** (rounds: %s)\n", lr.num, lr.den, lr.median, strings.Join(rs, " "))
	}
	return b.String()
}

// benchstatSection quotes benchstat's table of each contender's ratio to
// the floor.
func (r *runFiles) benchstatSection() string {
	var out []string
	for _, block := range strings.Split(r.benchstat, "\n\n") {
		if strings.Contains(block, "warden-x-floor") {
			out = append(out, strings.TrimSpace(block))
		}
	}
	if len(out) == 0 {
		return "(no benchstat output in this run)"
	}
	return "```\n" + strings.Join(out, "\n\n") + "\n```"
}

// chart draws the main comparison: per algorithm, cold (typical and 200
// scopes) and warm, every contender's µs per token; and the load test.
func (r *runFiles) chart() string {
	var panels []panel
	for _, row := range []struct{ title, bench string }{
		{"cold, typical token", "BenchmarkCold/alg=%s/claims=typical"},
		{"warm (same token again)", "BenchmarkWarm/alg=%s"},
		{"cold, 200 scopes", "BenchmarkCold/alg=%s/claims=scopes200"},
	} {
		for _, alg := range algs {
			name := fmt.Sprintf(row.bench, alg)
			p := panel{title: alg + ", " + row.title + " (µs)"}
			for _, c := range r.comparison.contenders(name, knownPeers) {
				s, _ := r.comparison.stat(name, c+"-ns/op")
				text := fmt.Sprintf("%.1f", s.med/1000)
				if s.med < 10000 {
					text = fmt.Sprintf("%.2f", s.med/1000)
				}
				if x, ok := r.comparison.stat(name, c+"-x-floor"); ok {
					if x.med < 0.1 {
						text += fmt.Sprintf("  (1/%.0f)", 1/x.med)
					} else {
						text += fmt.Sprintf("  (%.2f×)", x.med)
					}
				}
				p.bars = append(p.bars, bar{label: c, value: s.med, text: text, hot: strings.HasPrefix(c, "warden")})
			}
			if len(p.bars) > 0 {
				panels = append(panels, p)
			}
		}
	}
	samples := 0
	if s, ok := r.comparison.stat("BenchmarkCold/alg=RS256/claims=typical", "floor-ns/op"); ok {
		samples = s.n
	}
	date := ""
	for _, line := range strings.Split(r.machine, "\n") {
		if d, ok := strings.CutPrefix(line, "start date: "); ok {
			date = d
		}
	}
	sub := []string{
		"Median µs per token, contenders interleaved op by op on the same tokens; (×) is the median ratio to the floor (SHA-256 + bare crypto verify) in the same rounds.",
		fmt.Sprintf("Cold: a token never seen, warden's cache on. Warm: the same token again. %d samples; %s.", samples, date),
	}
	return chart("warden and its peers: verifying a bearer token", sub, panels, r.load)
}

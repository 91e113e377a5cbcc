package bench_test

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// A contender is one way of verifying a token, measured side by side with
// the others in interleave.
type contender struct {
	name string
	// batch is how many ops one timing covers: 1 for a verification, more
	// for an op under a microsecond, so the clock's own cost (~30 ns)
	// stays under 1 %.
	batch int
	// op verifies the i-th token of the benchmark's input and reports
	// whether the outcome was the expected one.
	op func(i int) bool
}

// interleave measures contenders op by op: each iteration of b.Loop is a
// round in which every contender verifies the same token once (batch times
// for a batched one), each timed on its own, the order rotating from round
// to round so no contender always runs first or after the same one. A
// noisy shared machine thus slows every contender alike, within
// microseconds, and the ratio of two contenders' times within one round
// is the least disturbed figure there is.
//
// Round r uses token r mod n. For contenders that cache (warden), n must
// exceed what the cache holds, and tokens are presented in cyclic order
// from the first check to the last round, so that each is evicted before it
// recurs: see coldCache and coldPool.
//
// It reports, per contender C: C-ns/op, the median of the per-op times;
// C-x-floor, the median over rounds of C's time divided by the floor's in
// the same round (when a contender is named "floor"); and C-allocs/op and
// C-B/op, counted over countOps ops before the timed rounds. ns/op is a whole
// round.
func interleave(b *testing.B, n int, cs []contender) {
	next := 0 // the cyclic token index, shared by checks, counts and rounds
	for _, c := range cs {
		if !c.op(next % n) {
			b.Fatalf("%s: unexpected outcome on token %d", c.name, next%n)
		}
	}
	next++
	// Each contender's allocations are counted on the same tokens, the
	// next countOps of the cycle, so the cycle is kept for each of them.
	allocs, bytes := make([]float64, len(cs)), make([]float64, len(cs))
	for k, c := range cs {
		i := next
		allocs[k], bytes[k] = countAllocs(func() { c.op(i % n); i++ })
	}
	next += countOps + 1
	floor := slices.IndexFunc(cs, func(c contender) bool { return c.name == "floor" })
	samples := make([][]float64, len(cs))
	failed := ""
	r := 0
	for b.Loop() {
		i := next % n
		next++
		for j := range cs {
			k := (r + j) % len(cs)
			c := &cs[k]
			ok := true
			t0 := time.Now()
			for range c.batch {
				ok = c.op(i) && ok
			}
			d := time.Since(t0)
			if !ok && failed == "" {
				failed = fmt.Sprintf("%s: unexpected outcome on token %d", c.name, i)
			}
			samples[k] = append(samples[k], float64(d)/float64(c.batch))
		}
		r++
	}
	if failed != "" {
		b.Fatal(failed)
	}
	for k, c := range cs {
		b.ReportMetric(median(samples[k]), c.name+"-ns/op")
		if floor >= 0 && k != floor {
			ratios := make([]float64, len(samples[k]))
			for i, s := range samples[k] {
				ratios[i] = s / samples[floor][i]
			}
			b.ReportMetric(median(ratios), c.name+"-x-floor")
		}
		b.ReportMetric(allocs[k], c.name+"-allocs/op")
		b.ReportMetric(bytes[k], c.name+"-B/op")
	}
}

// countOps is how many ops countAllocs counts.
const countOps = 64

// countAllocs runs op once, then countOps times on one P, as
// testing.AllocsPerRun does, and returns the allocations and bytes
// allocated per op.
func countAllocs(op func()) (allocs, bytes float64) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	op() // warm up
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for range countOps {
		op()
	}
	runtime.ReadMemStats(&m1)
	return float64(m1.Mallocs-m0.Mallocs) / countOps, float64(m1.TotalAlloc-m0.TotalAlloc) / countOps
}

func median(s []float64) float64 {
	if len(s) == 0 {
		return 0
	}
	s = slices.Clone(s)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// TestInterleaveRotates checks the runner: every contender runs once per
// round on the round's token, tokens advance cyclically, and the metrics
// named in the doc are reported.
func TestInterleaveRotates(t *testing.T) {
	var seen []string
	mk := func(name string, batch int) contender {
		return contender{name: name, batch: batch, op: func(i int) bool {
			seen = append(seen, fmt.Sprint(name, i))
			return true
		}}
	}
	res := testing.Benchmark(func(b *testing.B) {
		seen = seen[:0]
		interleave(b, 3, []contender{mk("floor", 1), mk("a", 2)})
	})
	if res.N < 1 {
		t.Fatal("benchmark did not run")
	}
	// Checks on token 0; counts on tokens 1, 2, 0, … (65 each); rounds
	// from token (1+65) mod 3 = 0.
	if got := strings.Join(seen[:5], " "); got != "floor0 a0 floor1 floor2 floor0" {
		t.Fatalf("checks and counts: %s", got)
	}
	rounds := seen[2+2*(countOps+1):]
	want := "floor0 a0 a0 a1 a1 floor1 floor2 a2 a2"
	if got := strings.Join(rounds[:min(9, len(rounds))], " "); res.N >= 3 && got != want {
		t.Fatalf("rounds: %s, want %s", got, want)
	}
	for _, m := range []string{"floor-ns/op", "a-ns/op", "a-x-floor", "a-allocs/op", "floor-B/op"} {
		if _, ok := res.Extra[m]; !ok {
			t.Errorf("metric %s not reported: %v", m, res.Extra)
		}
	}
}

package main

import (
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sampleBench = `goos: linux
BenchmarkCold/alg=RS256/claims=typical-2   100  650000 ns/op  30000 floor-ns/op  9 floor-allocs/op  33000 warden-ns/op  1.10 warden-x-floor  23 warden-allocs/op  36000 golang-jwt-ns/op  1.2 golang-jwt-x-floor  31000 warden-dpop-ns/op  1.03 warden-dpop-x-floor
BenchmarkCold/alg=RS256/claims=typical-2   100  650000 ns/op  31000 floor-ns/op  9 floor-allocs/op  34000 warden-ns/op  1.08 warden-x-floor  23 warden-allocs/op  37000 golang-jwt-ns/op  1.2 golang-jwt-x-floor  32000 warden-dpop-ns/op  1.04 warden-dpop-x-floor
BenchmarkWarm/alg=RS256-2   100  650000 ns/op  30000 floor-ns/op  700 warden-ns/op  0.02 warden-x-floor  2 warden-allocs/op
PASS
`

const sampleLoad = `GOMAXPROCS=2 NumCPU=2 clients=16 rounds=3

scenario     requests      req/s        p50        p90        p99  non-200   req/s of every round
unprotected     10000      22529      457µs      777µs    5.214ms        0   22529 24730 19646
repeated        10000      21037      501µs    1.805ms    5.342ms        0   20028 19037 16174
dpop            10000      20000      520µs      1.9ms      5.5ms        0   20000 20000 20000

repeated/unprotected throughput: median of rounds 0.86 (target ≥ 0.95); rounds: 0.85 0.86 0.87
dpop/unprotected throughput: median of rounds 0.90; rounds: 0.89 0.90 0.91
repeated/unprotected side-by-side throughput: median of rounds 0.960 (target ≥ 0.95); rounds: 0.950 0.960 0.970
`

// TestReport writes a run's raw files, regenerates a document's sections
// and the chart from them, and checks that a contender and a scenario the
// generator does not know (warden-dpop, dpop) appear by name, the chart is
// well-formed SVG, and prose outside the markers is kept.
func TestReport(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"comparison.txt": sampleBench, "loadgen.txt": sampleLoad, "machine.txt": "start date: 2026-12-03 18:00 UTC\ncpu: AMD EPYC\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r, err := load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.comparison.contenders("BenchmarkCold/alg=RS256/claims=typical", knownPeers); strings.Join(got, " ") != "floor warden golang-jwt warden-dpop" {
		t.Errorf("contenders: %q", got)
	}
	doc := filepath.Join(dir, "B.md")
	prose := "# title\n\nprose kept\n\n<!-- generated:targets -->\nSTALE\n<!-- end:targets -->\n\n<!-- generated:load -->\n<!-- end:load -->\nafter\n"
	if err := os.WriteFile(doc, []byte(prose), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := rewrite(doc, map[string]string{"targets": r.targetsTable(nil), "load": r.loadSection()}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(doc)
	out := string(b)
	for _, want := range []string{"prose kept", "after", "| cold path RS256 ÷ floor (never-seen token, cache on, insert included) | ≤ 1.100 | 1.090 (1.080–1.100) | met |",
		"| server: protected (repeated tokens) ÷ unprotected throughput, side by side | ≥ 0.950 | 0.960 (0.950–0.970) | met |",
		"| server: repeated ÷ unprotected throughput | (reported) | 0.860 (0.850–0.870) | |", "| dpop | 10000 | 20000 | 0.52 | 1.90 | 5.50 |",
		"dpop ÷ unprotected throughput: median of rounds **0.90**"} {
		if !strings.Contains(out, want) {
			t.Errorf("document lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "STALE") {
		t.Error("the old generated text was kept")
	}
	if err := rewrite(filepath.Join(dir, "B.md"), map[string]string{"nosuch": "x"}); err == nil {
		t.Error("a missing marker was not reported")
	}

	svg := r.chart()
	dec := xml.NewDecoder(strings.NewReader(svg))
	for {
		if _, err := dec.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("chart is not well-formed XML: %v", err)
		}
	}
	for _, want := range []string{">warden-dpop<", ">dpop<", "RS256, cold, typical token", "1.09×"} {
		if !strings.Contains(svg, want) {
			t.Errorf("chart lacks %q", want)
		}
	}
}

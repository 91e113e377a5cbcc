package main

import (
	"bufio"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// A run is the benchmark results of one raw output file: for every
// benchmark name (without the -GOMAXPROCS suffix), every unit, the value of
// each sample (-count gives several).
type run map[string]map[string][]float64

// parseBench reads `go test -bench` output.
func parseBench(r io.Reader) run {
	out := run{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		if out[name] == nil {
			out[name] = map[string][]float64{}
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			out[name][f[i+1]] = append(out[name][f[i+1]], v)
		}
	}
	return out
}

// stat is the median and range of a metric's samples.
type stat struct {
	med, min, max float64
	n             int
}

func (r run) stat(name, unit string) (stat, bool) {
	s := r[name][unit]
	if len(s) == 0 {
		return stat{}, false
	}
	s = slices.Clone(s)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return stat{med: m, min: s[0], max: s[len(s)-1], n: len(s)}, true
}

// contenders lists the contenders a benchmark reports (units C-ns/op), the
// floor first, then in the order of first appearance in known, then the
// others sorted: a contender added later (say warden-dpop) shows up by name.
func (r run) contenders(name string, known []string) []string {
	var out []string
	for u := range r[name] {
		if c, ok := strings.CutSuffix(u, "-ns/op"); ok {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b string) int {
		ia, ib := slices.Index(known, a), slices.Index(known, b)
		if ia < 0 {
			ia = math.MaxInt
		}
		if ib < 0 {
			ib = math.MaxInt
		}
		if ia != ib {
			return ia - ib
		}
		return strings.Compare(a, b)
	})
	return out
}

// loadResult is one scenario's line in loadgen's report.
type loadResult struct {
	name          string
	requests      int
	rps           float64
	p50, p90, p99 float64 // milliseconds
}

// loadRatio is one "a/b throughput" line of loadgen's report.
type loadRatio struct {
	num, den string
	median   float64
	rounds   []float64
}

// parseLoadgen reads loadgen's report: the scenario table and the ratio
// lines. Scenarios are read by name, whatever they are.
func parseLoadgen(r io.Reader) ([]loadResult, []loadRatio) {
	var res []loadResult
	var ratios []loadRatio
	sc := bufio.NewScanner(r)
	inTable := false
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		switch {
		case len(f) > 0 && f[0] == "scenario":
			inTable = true
		case inTable && len(f) >= 7:
			n, err1 := strconv.Atoi(f[1])
			rps, err2 := strconv.ParseFloat(f[2], 64)
			if err1 != nil || err2 != nil {
				inTable = false
				continue
			}
			res = append(res, loadResult{name: f[0], requests: n, rps: rps,
				p50: parseMillis(f[3]), p90: parseMillis(f[4]), p99: parseMillis(f[5])})
		case strings.Contains(line, " throughput: median of rounds "):
			inTable = false
			pair, rest, _ := strings.Cut(line, " throughput: median of rounds ")
			num, den, _ := strings.Cut(pair, "/")
			medS, roundsS, _ := strings.Cut(rest, "; rounds: ")
			med, _ := strconv.ParseFloat(strings.Fields(medS)[0], 64)
			lr := loadRatio{num: num, den: den, median: med}
			for _, v := range strings.Fields(roundsS) {
				if q, err := strconv.ParseFloat(v, 64); err == nil {
					lr.rounds = append(lr.rounds, q)
				}
			}
			ratios = append(ratios, lr)
		default:
			inTable = inTable && len(f) > 0
		}
	}
	return res, ratios
}

// parseMillis reads a Go duration as printed ("457µs", "5.214ms", "1.2s")
// in milliseconds.
func parseMillis(s string) float64 {
	for _, u := range []struct {
		suffix string
		ms     float64
	}{{"ms", 1}, {"µs", 1e-3}, {"us", 1e-3}, {"ns", 1e-6}, {"s", 1000}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return math.NaN()
			}
			return f * u.ms
		}
	}
	return math.NaN()
}

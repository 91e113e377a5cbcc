// Command report runs warden's benchmarks and load test and regenerates the
// tables of BENCHMARKS.md and the chart it shows from the run, so that every
// figure there comes from one run on one machine. From the bench module:
//
//	go run ./report                # run everything (-count 10), then write
//	go run ./report -from results  # only rewrite, from the raw files of a run
//
// Raw output goes to results/ (comparison.txt: the interleaved contenders of
// BenchmarkCold and BenchmarkWarm; core.txt: the core module's path, cache
// and Basic benchmarks; loadgen.txt; machine.txt; *.benchstat.txt), the
// chart to results/comparison.svg, and the tables into BENCHMARKS.md
// between its "<!-- generated:NAME -->" and "<!-- end:NAME -->" markers;
// the prose around them is left alone. With -before DIR (the raw files of
// an earlier run) the targets table shows both.
//
// Contenders and load-test scenarios are read from the results by name: a
// benchmark contender or loadgen scenario added later (DPoP, introspection,
// the Redis replay store) appears in the tables and the chart as it is;
// give it a target in targets below.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"
)

// benchstatVersion pins benchstat, run with go run.
const benchstatVersion = "golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da"

func main() {
	var (
		count     = flag.Int("count", 10, "samples of every benchmark")
		benchtime = flag.String("benchtime", "1s", "go test -benchtime")
		from      = flag.String("from", "", "do not run: regenerate from the raw files in this directory")
		before    = flag.String("before", "", "raw files of an earlier run, for the before column of the targets")
		results   = flag.String("results", "results", "where raw output and the chart are written")
		doc       = flag.String("doc", "../BENCHMARKS.md", "the document whose generated sections are rewritten")
		loadArgs  = flag.String("loadgen", "-n 10000 -new 1000 -c 16 -rounds 15", "loadgen arguments")
		timeout   = flag.Duration("timeout", 80*time.Minute, "deadline of the whole run")
		only      = flag.String("only", "", "run only these steps (comma-separated: comparison, core, loadgen), keeping the others' raw files")
	)
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	dir := *results
	if *from != "" {
		dir = *from
	} else if err := runAll(ctx, dir, *count, *benchtime, strings.Fields(*loadArgs), *only); err != nil {
		fail(err)
	}
	r, err := load(dir)
	if err != nil {
		fail(err)
	}
	var prev *runFiles
	if *before != "" {
		if prev, err = load(*before); err != nil {
			fail(err)
		}
	}
	svgPath := filepath.Join(*results, "comparison.svg")
	if err := os.WriteFile(svgPath, []byte(r.chart()), 0o644); err != nil {
		fail(err)
	}
	sections := map[string]string{
		"machine":    r.machineTable(),
		"targets":    r.targetsTable(prev),
		"comparison": r.comparisonTables(),
		"cache":      r.cacheTable(),
		"paths":      r.pathsTable(),
		"load":       r.loadSection(),
		"benchstat":  r.benchstatSection(),
	}
	if err := rewrite(*doc, sections); err != nil {
		fail(err)
	}
	fmt.Printf("wrote %s and the generated sections of %s\n", svgPath, *doc)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "report:", err)
	os.Exit(1)
}

// runAll runs every benchmark and the load test, writing raw output to
// dir. Each step's output is kept as it comes, so a failed run leaves what
// it had.
func runAll(ctx context.Context, dir string, count int, benchtime string, loadArgs []string, only string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if only == "" { // a partial run keeps the description of the run it completes
		if err := os.WriteFile(filepath.Join(dir, "machine.txt"), []byte(machine(ctx, "start")), 0o644); err != nil {
			return err
		}
	}
	n := fmt.Sprint(count)
	steps := []struct {
		name string
		out  string
		wd   string
		args []string
	}{
		// The interleaved contenders: the target ratios.
		{"comparison", "comparison.txt", ".", []string{"go", "test", "-run", "^$", "-bench", "^(BenchmarkCold|BenchmarkWarm)$", "-count", n, "-benchtime", benchtime, "-timeout", "60m", "."}},
		// The core module: every path of a request, the cache under churn.
		{"core", "core.txt", "..", []string{"go", "test", "-run", "^$", "-bench", "^(BenchmarkVerify|BenchmarkTokenCacheChurn)$", "-benchmem", "-count", n, "-benchtime", benchtime, "-timeout", "60m", "."}},
		{"loadgen", "loadgen.txt", ".", append([]string{"go", "run", "./loadgen"}, loadArgs...)},
	}
	for _, st := range steps {
		if only != "" && !slices.Contains(strings.Split(only, ","), st.name) {
			continue
		}
		fmt.Printf("report: %s (in %s) > %s\n", strings.Join(st.args, " "), st.wd, st.out)
		out, err := command(ctx, st.wd, st.args...)
		if werr := os.WriteFile(filepath.Join(dir, st.out), out, 0o644); werr != nil {
			return werr
		}
		if err != nil {
			return fmt.Errorf("%s: %w\n%s", strings.Join(st.args, " "), err, tail(out))
		}
	}
	for _, f := range []string{"comparison", "core"} {
		out, err := command(ctx, ".", "go", "run", benchstatVersion, filepath.Join(dir, f+".txt"))
		if err != nil {
			return fmt.Errorf("benchstat %s: %w\n%s", f, err, tail(out))
		}
		if err := os.WriteFile(filepath.Join(dir, f+".benchstat.txt"), out, 0o644); err != nil {
			return err
		}
	}
	m, _ := os.ReadFile(filepath.Join(dir, "machine.txt"))
	end := machine(ctx, "end")
	if only != "" {
		// A partial run says which steps it reran, when, and on which commit.
		end = machine(ctx, only+" rerun end")
		if out, err := command(ctx, "..", "git", "rev-parse", "--short", "HEAD"); err == nil {
			end += fmt.Sprintf("%s rerun warden: %s\n", only, strings.TrimSpace(string(out)))
		}
	}
	return os.WriteFile(filepath.Join(dir, "machine.txt"), append(m, end...), 0o644)
}

func command(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = dir
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	return b.Bytes(), err
}

func tail(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// machine describes the machine, toolchain, library versions and load, as
// "key: value" lines.
func machine(ctx context.Context, when string) string {
	var b strings.Builder
	now := time.Now().UTC()
	fmt.Fprintf(&b, "%s date: %s\n", when, now.Format("2006-01-02 15:04 MST"))
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Fprintf(&b, "%s load: %s\n", when, strings.Join(strings.Fields(string(la))[:3], " "))
	}
	if when != "start" {
		return b.String()
	}
	if ci, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if m := regexp.MustCompile(`(?m)^model name\s*:\s*(.*)$`).FindSubmatch(ci); m != nil {
			fmt.Fprintf(&b, "cpu: %s\n", m[1])
		}
	}
	fmt.Fprintf(&b, "cpus: %d (GOMAXPROCS %d)\n", runtime.NumCPU(), runtime.GOMAXPROCS(0))
	if mi, err := os.ReadFile("/proc/meminfo"); err == nil {
		if m := regexp.MustCompile(`(?m)^MemTotal:\s*(\d+) kB`).FindSubmatch(mi); m != nil {
			var kb int
			fmt.Sscan(string(m[1]), &kb)
			fmt.Fprintf(&b, "memory: %d GiB\n", (kb+1<<19)>>20)
		}
	}
	if out, err := command(ctx, ".", "uname", "-sr"); err == nil {
		fmt.Fprintf(&b, "os: %s\n", strings.TrimSpace(string(out)))
	}
	if out, err := command(ctx, ".", "go", "version"); err == nil {
		fmt.Fprintf(&b, "go: %s\n", strings.TrimSpace(string(out)))
	}
	for _, mod := range []string{"github.com/golang-jwt/jwt/v5", "github.com/MicahParks/keyfunc/v3", "github.com/auth0/go-jwt-middleware/v2", "github.com/lestrrat-go/jwx/v3"} {
		if out, err := command(ctx, ".", "go", "list", "-m", mod); err == nil {
			fmt.Fprintf(&b, "library: %s\n", strings.TrimSpace(string(out)))
		}
	}
	if out, err := command(ctx, "..", "git", "rev-parse", "--short", "HEAD"); err == nil {
		fmt.Fprintf(&b, "warden: %s\n", strings.TrimSpace(string(out)))
	}
	return b.String()
}

// runFiles is what one run left in its directory.
type runFiles struct {
	comparison, core run
	load             []loadResult
	ratios           []loadRatio
	machine          string
	benchstat        string
	dir              string
}

func load(dir string) (*runFiles, error) {
	r := &runFiles{dir: dir}
	read := func(name string) []byte {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		return b
	}
	r.comparison = parseBench(bytes.NewReader(read("comparison.txt")))
	r.core = parseBench(bytes.NewReader(read("core.txt")))
	r.load, r.ratios = parseLoadgen(bytes.NewReader(read("loadgen.txt")))
	r.machine = string(read("machine.txt"))
	r.benchstat = string(read("comparison.benchstat.txt"))
	if len(r.comparison) == 0 && len(r.core) == 0 && len(r.load) == 0 {
		return nil, fmt.Errorf("no results in %s", dir)
	}
	return r, nil
}

// rewrite replaces each "<!-- generated:NAME -->" … "<!-- end:NAME -->"
// block of the document with its section.
func rewrite(path string, sections map[string]string) error {
	doc, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(doc)
	for name, body := range sections {
		begin, end := "<!-- generated:"+name+" -->", "<!-- end:"+name+" -->"
		i, j := strings.Index(s, begin), strings.Index(s, end)
		if i < 0 || j < i {
			return fmt.Errorf("%s has no %s … %s block", path, begin, end)
		}
		s = s[:i+len(begin)] + "\n" + strings.TrimRight(body, "\n") + "\n" + s[j:]
	}
	if s == string(doc) {
		return nil
	}
	if !strings.Contains(s, "<!-- generated:") {
		return errors.New("no generated sections")
	}
	return os.WriteFile(path, []byte(s), 0o644)
}

// Command modcheck builds every nested module of the repository the way a
// user gets it once it is released: without its replace directives, with
// GOWORK=off and GOFLAGS=-mod=mod, against the repository's own modules at
// the versions its go.mod requires.
//
// Nothing is published. Those versions are served by a file-based GOPROXY
// written to a temporary directory, next to the module cache (for everything
// else) and the usual proxy:
//
//   - a version that is already tagged in the repository (v0.1.0 of the core
//     is tag v0.1.0, of adapters/gin tag adapters/gin/v0.1.0) is zipped from
//     that tag, as the module proxy zips it;
//   - a version not tagged yet is zipped from the working tree, which is what
//     that tag will hold; it must be newer than every tag of its module.
//
// Each nested module is then unzipped from its own module zip (what a user's
// module cache holds: no nested modules, no vendor directories), its replace
// directives dropped, and checked with go build ./..., go vet ./... and
// go mod tidy, which must leave its requirements as they are. The module
// cache used is a temporary one, so the zips made here never mix with real
// releases in the user's cache.
//
// Modules are found by walking the tree, skipping what the go command skips
// (directories named testdata or vendor, or starting with "." or "_"), so a
// new nested module is checked without editing this program. A nested module
// in directory D must be named <core module path>/D, or its tags could not
// follow the D/vX.Y.Z scheme.
//
// Usage:
//
//	go -C .ci/modcheck run . REPO_ROOT
package main

import (
	stdzip "archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	modzip "golang.org/x/mod/zip"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("modcheck: ")
	if len(os.Args) != 2 {
		log.Fatal("usage: modcheck REPO_ROOT")
	}
	root, err := filepath.Abs(os.Args[1])
	if err != nil {
		log.Fatal(err)
	}
	if err := run(root); err != nil {
		log.Fatal(err)
	}
}

// A repoModule is one module of the repository.
type repoModule struct {
	dir  string // absolute directory
	rel  string // slash-separated directory relative to the root; "" for the core
	path string // module path
	file *modfile.File
}

// tagPrefix is what precedes the version in this module's tags.
func (m *repoModule) tagPrefix() string {
	if m.rel == "" {
		return ""
	}
	return m.rel + "/"
}

func run(root string) error {
	core, nested, problems, err := findModules(root)
	if err != nil {
		return err
	}
	if len(nested) == 0 {
		return errors.New("no nested module found under " + root)
	}
	names := make([]string, len(nested))
	for i, m := range nested {
		names[i] = m.rel
	}
	fmt.Printf("core %s; nested modules: %s\n", core.path, strings.Join(names, " "))

	byPath := map[string]*repoModule{core.path: core}
	for _, m := range nested {
		byPath[m.path] = m
	}
	tags, err := gitTags(root)
	if err != nil {
		fmt.Printf("no git tags read (%v): every version is served from the working tree\n", err)
	}

	// What the nested modules require of the repository's own modules.
	type want struct {
		m       *repoModule
		version string
	}
	var wants []want
	seen := map[module.Version]bool{}
	for _, m := range nested {
		for _, r := range m.file.Require {
			dep, ok := byPath[r.Mod.Path]
			if !ok {
				continue
			}
			problems = append(problems, checkRequire(m, dep, r.Mod.Version, tags)...)
			if !seen[r.Mod] {
				seen[r.Mod] = true
				wants = append(wants, want{dep, r.Mod.Version})
			}
		}
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Println("FAIL", p)
		}
		return fmt.Errorf("%d problem(s) in the modules' go.mod files", len(problems))
	}
	slices.SortFunc(wants, func(a, b want) int {
		return strings.Compare(a.m.path+"@"+a.version, b.m.path+"@"+b.version)
	})

	tmp, err := os.MkdirTemp("", "modcheck-")
	if err != nil {
		return err
	}
	defer removeAll(tmp)
	proxy := filepath.Join(tmp, "proxy")
	for _, w := range wants {
		from, err := publish(proxy, root, w.m, w.version, tags)
		if err != nil {
			return fmt.Errorf("serving %s@%s: %w", w.m.path, w.version, err)
		}
		fmt.Printf("serve %s@%s from %s\n", w.m.path, w.version, from)
	}

	env, err := goEnv(core.path, proxy, filepath.Join(tmp, "modcache"))
	if err != nil {
		return err
	}
	var failed []string
	for _, m := range nested {
		start := time.Now()
		fmt.Printf("# %s (%s)\n", m.rel, m.path)
		if err := checkModule(m, byPath, filepath.Join(tmp, "work", filepath.FromSlash(m.rel)), env); err != nil {
			fmt.Printf("FAIL %s: %v (%s)\n", m.rel, err, since(start))
			failed = append(failed, m.rel)
			continue
		}
		fmt.Printf("ok   %s: builds, vets and is tidy without replace (%s)\n", m.rel, since(start))
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d nested modules do not build as users get them: %s",
			len(failed), len(nested), strings.Join(failed, " "))
	}
	fmt.Printf("all %d nested modules build as users get them\n", len(nested))
	return nil
}

// findModules walks the tree from root and returns the core module (root's
// go.mod), the nested modules sorted by directory, and naming problems.
func findModules(root string) (core *repoModule, nested []*repoModule, problems []string, err error) {
	core, err = readModule(root, root)
	if err != nil {
		return nil, nil, nil, err
	}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if p != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Name() != "go.mod" || filepath.Dir(p) == root {
			return nil
		}
		m, err := readModule(root, filepath.Dir(p))
		if err != nil {
			return err
		}
		if wantPath := core.path + "/" + m.rel; m.path != wantPath {
			problems = append(problems, fmt.Sprintf("%s: module path is %s; in this directory it must be %s, so that its tags %s/vX.Y.Z name it",
				m.rel, m.path, wantPath, m.rel))
		}
		nested = append(nested, m)
		return nil
	})
	if err != nil {
		return nil, nil, nil, err
	}
	slices.SortFunc(nested, func(a, b *repoModule) int { return strings.Compare(a.rel, b.rel) })
	return core, nested, problems, nil
}

func readModule(root, dir string) (*repoModule, error) {
	name := filepath.Join(dir, "go.mod")
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	f, err := modfile.Parse(name, data, nil)
	if err != nil {
		return nil, err
	}
	if f.Module == nil {
		return nil, fmt.Errorf("%s: no module line", name)
	}
	rel, err := filepath.Rel(root, dir)
	if err != nil {
		return nil, err
	}
	rel = filepath.ToSlash(rel)
	if rel == "." {
		rel = ""
	}
	return &repoModule{dir: dir, rel: rel, path: f.Module.Mod.Path, file: f}, nil
}

// checkRequire reports what is wrong with m requiring dep at version: it
// must be a release version a tag can carry (never a pseudo-version), either
// tagged already or newer than every tag of dep, and a replace must point it
// at dep's directory so that a clone builds against its own tree.
func checkRequire(m, dep *repoModule, version string, tags map[string]bool) []string {
	var problems []string
	bad := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf("%s: requires %s %s: ", m.rel, dep.path, version)+fmt.Sprintf(format, args...))
	}
	switch {
	case module.IsPseudoVersion(version):
		bad("a pseudo-version names a commit, not a release; require a tag such as v0.1.0")
	case semver.Canonical(version) != version:
		bad("not a canonical semantic version")
	default:
		if err := module.Check(dep.path, version); err != nil {
			bad("%v", err)
		} else if tags != nil && !tags[dep.tagPrefix()+version] {
			if latest := latestTag(tags, dep.tagPrefix()); latest != "" && semver.Compare(version, latest) <= 0 {
				bad("not tagged, and not newer than the latest tag %s%s: users could never get this version", dep.tagPrefix(), latest)
			}
		}
	}

	relTarget, err := filepath.Rel(m.dir, dep.dir)
	if err != nil {
		relTarget = dep.dir
	}
	found := false
	for _, r := range m.file.Replace {
		if r.Old.Path != dep.path || (r.Old.Version != "" && r.Old.Version != version) {
			continue
		}
		found = true
		if r.New.Version != "" || filepath.Clean(filepath.Join(m.dir, filepath.FromSlash(r.New.Path))) != dep.dir {
			bad("replaced by %s %s; within the repository it must be replaced by %s", r.New.Path, r.New.Version, filepath.ToSlash(relTarget))
		}
	}
	if !found {
		bad("no `replace %s => %s`, so a clone would build against the published version instead of its own tree",
			dep.path, filepath.ToSlash(relTarget))
	}
	return problems
}

// gitTags returns the tags of the repository at root.
func gitTags(root string) (map[string]bool, error) {
	out, err := git(root, "tag", "--list")
	if err != nil {
		return nil, err
	}
	tags := map[string]bool{}
	for _, t := range strings.Fields(string(out)) {
		tags[t] = true
	}
	return tags, nil
}

// latestTag returns the highest version among the tags prefix+vX.Y.Z.
func latestTag(tags map[string]bool, prefix string) string {
	latest := ""
	for t := range tags {
		v, ok := strings.CutPrefix(t, prefix)
		if ok && !strings.Contains(v, "/") && semver.IsValid(v) && semver.Compare(v, latest) > 0 {
			latest = v
		}
	}
	return latest
}

func git(dir string, args ...string) ([]byte, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// publish writes m at version into the file-based proxy at proxy, in the
// GOPROXY layout ($proxy/<module>/@v/{list,<v>.info,<v>.mod,<v>.zip}), and
// says where its content came from.
func publish(proxy, root string, m *repoModule, version string, tags map[string]bool) (string, error) {
	mv := module.Version{Path: m.path, Version: version}
	escPath, err := module.EscapePath(m.path)
	if err != nil {
		return "", err
	}
	escVersion, err := module.EscapeVersion(version)
	if err != nil {
		return "", err
	}
	vdir := filepath.Join(proxy, filepath.FromSlash(escPath), "@v")
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		return "", err
	}
	z, err := os.Create(filepath.Join(vdir, escVersion+".zip"))
	if err != nil {
		return "", err
	}
	defer z.Close()

	var (
		goMod []byte
		when  time.Time
		from  string
	)
	if tag := m.tagPrefix() + version; tags[tag] {
		from = "tag " + tag
		files, err := filesAtTag(root, tag, m.rel)
		if err != nil {
			return "", err
		}
		if err := modzip.Create(z, mv, files); err != nil {
			return "", err
		}
		if goMod, err = git(root, "show", tag+":"+path.Join(m.rel, "go.mod")); err != nil {
			return "", err
		}
		out, err := git(root, "log", "-1", "--format=%cI", tag)
		if err != nil {
			return "", err
		}
		if when, err = time.Parse(time.RFC3339, strings.TrimSpace(string(out))); err != nil {
			return "", err
		}
	} else {
		from = "the working tree (not tagged yet)"
		if err := modzip.CreateFromDir(z, mv, m.dir); err != nil {
			return "", err
		}
		if goMod, err = os.ReadFile(filepath.Join(m.dir, "go.mod")); err != nil {
			return "", err
		}
		when = time.Now()
	}
	if err := z.Close(); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(vdir, escVersion+".mod"), goMod, 0o644); err != nil {
		return "", err
	}
	info, err := json.Marshal(struct {
		Version string
		Time    time.Time
	}{version, when.UTC().Truncate(time.Second)})
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(vdir, escVersion+".info"), info, 0o644); err != nil {
		return "", err
	}
	list, err := os.OpenFile(filepath.Join(vdir, "list"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return "", err
	}
	if _, err := fmt.Fprintln(list, version); err != nil {
		list.Close()
		return "", err
	}
	return from, list.Close()
}

// filesAtTag lists the files of directory rel at tag, through git archive as
// the go command reads a tagged module.
func filesAtTag(root, tag, rel string) ([]modzip.File, error) {
	args := []string{"-c", "core.autocrlf=input", "-c", "core.eol=lf", "archive", "--format=zip", tag}
	if rel != "" {
		args = append(args, rel)
	}
	data, err := git(root, args...)
	if err != nil {
		return nil, err
	}
	zr, err := stdzip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	var files []modzip.File
	for _, f := range zr.File {
		name := f.Name
		if rel != "" {
			var ok bool
			if name, ok = strings.CutPrefix(name, rel+"/"); !ok {
				continue
			}
		}
		if name == "" || strings.HasSuffix(name, "/") {
			continue
		}
		files = append(files, archived{name, f})
	}
	return files, nil
}

// archived is a file of a git archive, as a module zip file.
type archived struct {
	name string
	f    *stdzip.File
}

func (a archived) Path() string                 { return a.name }
func (a archived) Lstat() (os.FileInfo, error)  { return a.f.FileInfo(), nil }
func (a archived) Open() (io.ReadCloser, error) { return a.f.Open() }

// goEnv is the environment of the go commands run on the nested modules.
func goEnv(corePath, proxy, modcache string) ([]string, error) {
	out, err := exec.Command("go", "env", "-json", "GOPROXY", "GOMODCACHE").Output()
	if err != nil {
		return nil, fmt.Errorf("go env: %w", err)
	}
	var user struct{ GOPROXY, GOMODCACHE string }
	if err := json.Unmarshal(out, &user); err != nil {
		return nil, err
	}
	proxies := []string{fileURL(proxy)}
	if user.GOMODCACHE != "" {
		// The user's module cache, read as a proxy: what was downloaded once
		// is not downloaded again.
		proxies = append(proxies, fileURL(filepath.Join(user.GOMODCACHE, "cache", "download")))
	}
	if user.GOPROXY != "" {
		proxies = append(proxies, user.GOPROXY)
	}
	set := map[string]string{
		"GOWORK": "off",
		// -modcacherw: the temporary module cache can be removed.
		// -trimpath: the build cache does not key on the temporary
		// directories, so shared dependencies compile once per run, not once
		// per module.
		"GOFLAGS":    "-mod=mod -modcacherw -trimpath",
		"GOPROXY":    strings.Join(proxies, ","),
		"GOMODCACHE": modcache,
		// The zips made here are not the published ones: never ask the
		// checksum database about the repository's own modules. Nothing of
		// them is private, and GOPRIVATE or GONOPROXY would bypass the proxy.
		"GONOSUMDB":  corePath,
		"GOPRIVATE":  "",
		"GONOPROXY":  "",
		"GOINSECURE": "",
	}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := set[k]; !ok {
			env = append(env, kv)
		}
	}
	for k, v := range set {
		env = append(env, k+"="+v)
	}
	slices.Sort(env)
	return env, nil
}

func fileURL(dir string) string {
	p := filepath.ToSlash(dir)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return "file://" + p
}

// checkModule unzips m from its module zip into dst, drops its replace
// directives, and runs go build, go vet and go mod tidy there.
func checkModule(m *repoModule, byPath map[string]*repoModule, dst string, env []string) error {
	zf, err := os.CreateTemp("", "modcheck-*.zip")
	if err != nil {
		return err
	}
	defer os.Remove(zf.Name())
	mv := module.Version{Path: m.path, Version: "v0.0.0"}
	if err := modzip.CreateFromDir(zf, mv, m.dir); err != nil {
		zf.Close()
		return err
	}
	if err := zf.Close(); err != nil {
		return err
	}
	if err := modzip.Unzip(dst, mv, zf.Name()); err != nil {
		return err
	}
	if err := makeWritable(dst); err != nil {
		return err
	}

	// go.mod as a user's go command reads it: replace applies only in the
	// main module, so drop every one.
	gomod := filepath.Join(dst, "go.mod")
	data, err := os.ReadFile(gomod)
	if err != nil {
		return err
	}
	published, err := modfile.Parse(gomod, data, nil)
	if err != nil {
		return err
	}
	for _, r := range slices.Clone(published.Replace) {
		if err := published.DropReplace(r.Old.Path, r.Old.Version); err != nil {
			return err
		}
	}
	published.Cleanup()
	if data, err = published.Format(); err != nil {
		return err
	}
	if err := os.WriteFile(gomod, data, 0o644); err != nil {
		return err
	}
	// While replaced by directories, the repository's own modules have no
	// go.sum lines; drop any that a release left, so that the zips made here
	// are not held to a published hash.
	if err := dropSums(filepath.Join(dst, "go.sum"), byPath); err != nil {
		return err
	}

	for _, args := range [][]string{{"build", "./..."}, {"vet", "./..."}, {"mod", "tidy"}} {
		fmt.Printf("$ go %s\n", strings.Join(args, " "))
		cmd := exec.Command("go", args...)
		cmd.Dir = dst
		cmd.Env = env
		cmd.Stdout = os.Stdout
		cmd.Stderr = os.Stdout
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
		}
	}

	if data, err = os.ReadFile(gomod); err != nil {
		return err
	}
	tidied, err := modfile.Parse(gomod, data, nil)
	if err != nil {
		return err
	}
	before, after := requirements(published), requirements(tidied)
	if !slices.Equal(before, after) {
		for _, l := range before {
			if !slices.Contains(after, l) {
				fmt.Printf("  - %s\n", l)
			}
		}
		for _, l := range after {
			if !slices.Contains(before, l) {
				fmt.Printf("  + %s\n", l)
			}
		}
		return errors.New("without replace, go mod tidy changes go.mod as shown: users would resolve other versions than the repository tests")
	}
	return nil
}

// requirements lists what a go.mod says to users: go, toolchain and require
// lines.
func requirements(f *modfile.File) []string {
	var lines []string
	if f.Go != nil {
		lines = append(lines, "go "+f.Go.Version)
	}
	if f.Toolchain != nil {
		lines = append(lines, "toolchain "+f.Toolchain.Name)
	}
	for _, r := range f.Require {
		l := "require " + r.Mod.Path + " " + r.Mod.Version
		if r.Indirect {
			l += " // indirect"
		}
		lines = append(lines, l)
	}
	slices.Sort(lines)
	return lines
}

func dropSums(name string, byPath map[string]*repoModule) error {
	data, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	var keep []string
	for l := range strings.Lines(string(data)) {
		if fields := strings.Fields(l); len(fields) > 0 && byPath[fields[0]] != nil {
			continue
		}
		keep = append(keep, l)
	}
	return os.WriteFile(name, []byte(strings.Join(keep, "")), 0o644)
}

func makeWritable(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.Chmod(p, 0o755)
		}
		if d.Type().IsRegular() {
			return os.Chmod(p, 0o644)
		}
		return nil
	})
}

// removeAll removes dir, module cache included (whose files are read-only
// unless -modcacherw took).
func removeAll(dir string) {
	_ = makeWritable(dir)
	if err := os.RemoveAll(dir); err != nil {
		fmt.Fprintln(os.Stderr, "modcheck:", err)
	}
}

func since(t time.Time) time.Duration { return time.Since(t).Round(100 * time.Millisecond) }

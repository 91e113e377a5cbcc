package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeTree writes files (slash paths relative to a new temporary directory)
// and returns that directory.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestFindModules(t *testing.T) {
	root := writeTree(t, map[string]string{
		"go.mod":                   "module example.com/core\n",
		"adapters/a/go.mod":        "module example.com/core/adapters/a\n",
		"otel/go.mod":              "module example.com/otel\n", // wrong path
		"testdata/x/go.mod":        "module x\n",                // skipped like the go command does
		".ci/tool/go.mod":          "module tool\n",
		"_scratch/go.mod":          "module scratch\n",
		"adapters/a/vendor/go.mod": "module v\n",
	})
	core, nested, problems, err := findModules(root)
	if err != nil {
		t.Fatal(err)
	}
	if core.path != "example.com/core" {
		t.Errorf("core = %s", core.path)
	}
	var rels []string
	for _, m := range nested {
		rels = append(rels, m.rel)
	}
	if got := strings.Join(rels, " "); got != "adapters/a otel" {
		t.Errorf("nested = %q, want %q", got, "adapters/a otel")
	}
	if len(problems) != 1 || !strings.Contains(problems[0], "must be example.com/core/otel") {
		t.Errorf("problems = %q, want one about otel's path", problems)
	}
}

func TestCheckRequire(t *testing.T) {
	for _, tc := range []struct {
		name    string
		require string
		replace string
		tags    []string // nil: no git
		want    string   // "" for no problem, else a substring of the one problem
	}{
		{name: "release with replace", require: "v0.1.0", replace: "../.."},
		{name: "tagged", require: "v0.1.0", replace: "../..", tags: []string{"v0.1.0"}},
		{name: "next release", require: "v0.2.0", replace: "../..", tags: []string{"v0.1.0", "adapters/a/v0.5.0"}},
		{name: "zero pseudo-version", require: "v0.0.0-00010101000000-000000000000", replace: "../..", want: "pseudo-version"},
		{name: "not canonical", require: "v0.1", replace: "../..", want: "canonical"},
		{name: "untagged and old", require: "v0.1.5", replace: "../..", tags: []string{"v0.2.0"}, want: "latest tag v0.2.0"},
		{name: "no replace", require: "v0.1.0", want: "no `replace example.com/core => ../..`"},
		{name: "replace elsewhere", require: "v0.1.0", replace: "../../../fork", want: "must be replaced by ../.."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gomod := "module example.com/core/adapters/a\n\nrequire example.com/core " + tc.require + "\n"
			if tc.replace != "" {
				gomod += "\nreplace example.com/core => " + tc.replace + "\n"
			}
			root := writeTree(t, map[string]string{"go.mod": "module example.com/core\n", "adapters/a/go.mod": gomod})
			core, nested, _, err := findModules(root)
			if err != nil {
				t.Fatal(err)
			}
			var tags map[string]bool
			if tc.tags != nil {
				tags = map[string]bool{}
				for _, tag := range tc.tags {
					tags[tag] = true
				}
			}
			problems := checkRequire(nested[0], core, tc.require, tags)
			switch {
			case tc.want == "" && len(problems) > 0:
				t.Errorf("problems = %q, want none", problems)
			case tc.want != "" && (len(problems) != 1 || !strings.Contains(problems[0], tc.want)):
				t.Errorf("problems = %q, want one containing %q", problems, tc.want)
			}
		})
	}
}

func TestLatestTag(t *testing.T) {
	tags := map[string]bool{"v0.1.0": true, "v0.10.0": true, "v0.9.0": true, "adapters/gin/v1.0.0": true, "not-a-version": true}
	if got := latestTag(tags, ""); got != "v0.10.0" {
		t.Errorf("core: %q, want v0.10.0", got)
	}
	if got := latestTag(tags, "adapters/gin/"); got != "v1.0.0" {
		t.Errorf("adapters/gin: %q, want v1.0.0", got)
	}
	if got := latestTag(tags, "otel/"); got != "" {
		t.Errorf("otel: %q, want none", got)
	}
}

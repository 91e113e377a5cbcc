package warden_test

import (
	"bufio"
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadmeBlocksAreCompiled requires every Go block of README.md to be
// quoted from Go source that the tests compile (an Example, a test helper,
// a program under examples/), in any module of the repository: line for
// line, ignoring indentation and blank lines. A README block can then not
// drift from the API, nor panic as written.
func TestReadmeBlocksAreCompiled(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	var sources [][]string
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".") && path != ".") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") {
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			sources = append(sources, codeLines(src))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	blocks := goBlocks(readme)
	if len(blocks) == 0 {
		t.Fatal("no Go block in README.md")
	}
	for _, b := range blocks {
		if !quotedIn(b.lines, sources) {
			t.Errorf("README.md line %d: the Go block starting %q is quoted from no Go source", b.line, b.lines[0])
		}
	}
}

// readmeBlock is one ```go block: its lines and where it starts.
type readmeBlock struct {
	line  int
	lines []string
}

func goBlocks(md []byte) []readmeBlock {
	var out []readmeBlock
	var cur *readmeBlock
	sc := bufio.NewScanner(bytes.NewReader(md))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && strings.TrimSpace(line) == "```go":
			cur = &readmeBlock{line: n + 1}
		case cur != nil && strings.TrimSpace(line) == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			if l := strings.TrimSpace(line); l != "" {
				cur.lines = append(cur.lines, l)
			}
		}
	}
	return out
}

// codeLines is src without indentation and blank lines.
func codeLines(src []byte) []string {
	var out []string
	for _, l := range strings.Split(string(src), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// quotedIn reports whether block appears, as consecutive lines, in one of
// sources.
func quotedIn(block []string, sources [][]string) bool {
	for _, src := range sources {
	start:
		for i := 0; i+len(block) <= len(src); i++ {
			for j, l := range block {
				if src[i+j] != l {
					continue start
				}
			}
			return true
		}
	}
	return false
}

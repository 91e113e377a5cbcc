package warden_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// houseOrder lists the package's files in the order a request flows through
// them (ARCHITECTURE.md), the upper floors first. A file may use what a file
// on a lower floor defines, never what one on a higher floor defines, so
// calls run downward only and no two files reference each other. Files on
// one floor may not reference each other either.
var houseOrder = [][]string{
	{"transport.go"},                           // RequireCall: the request path for transports other than net/http
	{"health.go", "metadata.go"},               // operations: methods on the Middleware
	{"middleware.go"},                          // New wires the steps; the handler runs them
	{"config.go"},                              // defaults and checks; builds each step
	{"credentials.go"},                         // step 1: extract
	{"verifier.go", "basic.go", "binding.go"},  // step 2: a token, client credentials, a token's binding
	{"tenants.go", "introspect.go", "dpop.go"}, // multi-tenant issuers; opaque tokens; DPoP proofs
	{"introspect_jwt.go", "introspect_auth.go", "introspectcache.go", "dpop_proof.go", "dpop_uri.go", "mtls.go"},
	{"revocation.go"}, // the deny-list, checked after verification
	{"issuer.go"},     // one trusted issuer: keys, signature, principal
	{"jws.go", "cache.go", "basic_limits.go"}, // JWS parsing; the verifier's cache; Basic's bounds
	{"signature.go", "cacheentry.go"},         // signature checks; what a cache entry retains
	{"clockcache.go"},                         // the shards and CLOCK ring both caches share
	{"decision.go"},                           // the outcome of a request
	{"principal.go"},                          // step 3: the principal and impersonation
	{"permissions.go"},                        // the impersonation policy's permission cache
	{"scopes.go"},                             // step 4: checking a requirement
	{"requirement.go"},                        // requirement values
	{"tenantname.go", "claims.go"},            // issuer templates; claims decoding
	{"challenge.go", "store.go"},              // the refusal writer; the seen-once store
	{"scopetoken.go", "reasons.go"},           // scope syntax; the values every step hands on
	{"jsonwalk.go"},                           // reading JSON
	{"doc.go"},
}

// TestHouseRunsOneWay checks houseOrder against the code: every top-level
// name a file uses is defined in the same file or on a lower floor. It reads
// the package with go/types, so a name counts only where the code uses it,
// not where a comment mentions it.
func TestHouseRunsOneWay(t *testing.T) {
	t.Parallel()
	floor := map[string]int{}
	for i, files := range houseOrder {
		for _, f := range files {
			floor[f] = i
		}
	}
	fset := token.NewFileSet()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, n := range names {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		if _, ok := floor[n]; !ok {
			t.Errorf("%s is on no floor of houseOrder: place it where a request reaches it", n)
			continue
		}
		f, err := parser.ParseFile(fset, n, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	info := &types.Info{Uses: map[*ast.Ident]types.Object{}}
	conf := types.Config{Importer: emptyImporter{}, Error: func(error) {}} // other packages' names are not ours to check
	pkg, _ := conf.Check("github.com/wardenhq/warden", fset, files, info)
	seen := map[string]bool{}
	for id, obj := range info.Uses {
		if obj.Pkg() != pkg || !obj.Pos().IsValid() || obj.Parent() != pkg.Scope() && !isMethodOrField(obj) {
			continue // a local name, or another package's
		}
		from := fset.Position(id.Pos()).Filename
		to := fset.Position(obj.Pos()).Filename
		if from == to || !strings.HasSuffix(to, ".go") {
			continue
		}
		if floor[from] >= floor[to] {
			msg := fmt.Sprintf("%s uses %s from %s, which is not on a lower floor", from, obj.Name(), to)
			if !seen[msg] {
				seen[msg] = true
				t.Error(msg)
			}
		}
	}
}

// isMethodOrField reports a method or struct field: their uses cross files
// too (a step calling another step's method).
func isMethodOrField(obj types.Object) bool {
	switch o := obj.(type) {
	case *types.Func:
		return o.Type().(*types.Signature).Recv() != nil
	case *types.Var:
		return o.IsField()
	}
	return false
}

// emptyImporter stands in for every imported package: only the package's own
// names are resolved.
type emptyImporter struct{}

func (emptyImporter) Import(p string) (*types.Package, error) {
	pkg := types.NewPackage(p, path.Base(p))
	pkg.MarkComplete()
	return pkg, nil
}

// TestKeySetWingImportsNothingOfWarden: the internal packages know nothing
// of requests, reasons or Config (ARCHITECTURE.md).
func TestKeySetWingImportsNothingOfWarden(t *testing.T) {
	t.Parallel()
	allowed := map[string][]string{
		"internal/fetch":   nil,
		"internal/jwks":    {"github.com/wardenhq/warden/internal/fetch"},
		"internal/jwktest": nil,
	}
	for dir, ok := range allowed {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
				continue // tests may use test support (internal/jwktest)
			}
			f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, e.Name()), nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range f.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				if strings.HasPrefix(p, "github.com/wardenhq/warden") && !slices.Contains(ok, p) {
					t.Errorf("%s/%s imports %s", dir, e.Name(), p)
				}
			}
		}
	}
}

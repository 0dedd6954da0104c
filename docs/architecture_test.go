package docs

import (
	"go/build"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// module is the repository's Go module path.
const module = "github.com/tallyledger/tally/"

// layers are the import rules of docs/architecture.md ("Imports point one
// way"), for the packages under each directory (non-test files): the
// repository's packages each may import, by path prefix. Everything else
// (the standard library, CometBFT, other modules) is not restricted here.
var layers = []struct {
	dir     string
	allowed []string // import path prefixes under the module
	why     string
}{
	{"api", []string{"api", "proto/"}, "api is the client contract: generated protobuf types and the standard library only"},
	{"client", []string{"api", "proto/", "client"}, "a client depends on the contract, never on the node"},
	{"explorer", []string{"api", "proto/", "client"}, "the explorer reads only through client/ (and api, proto)"},
	{"testnet", []string{"api", "proto/", "client", "node", "testnet"}, "testnet depends on node/ and client/ only"},
	{"monitoring", []string{"monitoring"}, "monitoring is the Prometheus configuration, alert rules and a runner for Prometheus: it knows metric names, not the node's code"},
	{"cmd/tallyd", []string{"api", "proto/", "client", "node", "explorer", "testnet", "monitoring"}, "cmd/tallyd is thin commands: node assembly is in node/, everything a client needs in api/ and client/"},
}

// TestPackagesImportOnlyTheirLayer: each package under a directory of
// layers imports only what its layer allows, so the architecture the
// directories show is the one the code has.
func TestPackagesImportOnlyTheirLayer(t *testing.T) {
	for _, l := range layers {
		err := filepath.WalkDir(filepath.Join("..", l.dir), func(dir string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return err
			}
			if d.Name() == "testdata" {
				return filepath.SkipDir
			}
			pkg, err := build.ImportDir(dir, 0)
			if _, none := err.(*build.NoGoError); none {
				return nil
			}
			if err != nil {
				return err
			}
			for _, imp := range pkg.Imports {
				rest, ours := strings.CutPrefix(imp, module)
				if ours && !allowed(rest, l.allowed) {
					t.Errorf("%s imports %s: %s (docs/architecture.md)", strings.TrimPrefix(dir, "../"), rest, l.why)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// allowed reports whether path (under the module) is one of prefixes: a
// prefix ending in '/' covers every package below it, another names a
// package and the packages below it.
func allowed(path string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasSuffix(p, "/") && strings.HasPrefix(path, p) || path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}

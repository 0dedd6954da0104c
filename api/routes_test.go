package api_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/api"
)

// TestRoutesListEveryDeclaredPath: every query path this package declares
// is in Routes, once, so the contract test and the protocol document walk
// them all.
func TestRoutesListEveryDeclaredPath(t *testing.T) {
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	re := regexp.MustCompile(`\bPath\w*\s*=\s*"(/[^"]*)"`)
	declared := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range re.FindAllSubmatch(b, -1) {
			declared[string(m[1])] = true
		}
	}
	listed := map[string]bool{}
	for _, r := range api.Routes() {
		require.False(t, listed[r.Path], "%s is listed twice", r.Path)
		listed[r.Path] = true
		require.True(t, declared[r.Path], "%s is listed but not declared", r.Path)
	}
	for p := range declared {
		require.True(t, listed[p], "%s is declared but not in api.Routes", p)
	}
}

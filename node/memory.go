package node

import (
	"fmt"
	"math"
	"os"
	"runtime/debug"

	"github.com/tallyledger/tally/app"
)

// Where a node's memory limit comes from (MemoryLimit's source).
const (
	LimitFromEnv    = "GOMEMLIMIT"
	LimitFromConfig = "app.toml memory_limit_mib"
	LimitNone       = "none"
)

// MemoryLimit is the soft memory limit, in bytes, a node process with app
// config c runs under once ApplyMemoryLimit has run, and where it comes
// from. GOMEMLIMIT in the environment wins over app.toml (Go's runtime has
// already applied it at process start); memory_limit_mib 0 without it means
// no limit (limit 0).
func MemoryLimit(c app.Config) (limit int64, source string) {
	if os.Getenv("GOMEMLIMIT") != "" {
		if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
			return l, LimitFromEnv
		}
		// GOMEMLIMIT=off: the operator asked for no limit.
		return 0, LimitFromEnv
	}
	if c.MemoryLimitMiB > 0 {
		return c.MemoryLimitMiB << 20, LimitFromConfig
	}
	return 0, LimitNone
}

// ApplyMemoryLimit sets the process's soft memory limit
// (debug.SetMemoryLimit) to MemoryLimit(c) and returns it. The limit is the
// whole process's, so only a process that runs one node calls it (tallyd
// start); in-process test networks run several nodes and do not.
func ApplyMemoryLimit(c app.Config) (limit int64, source string, err error) {
	if c.MemoryLimitMiB < 0 {
		return 0, "", fmt.Errorf("app.toml: memory_limit_mib is %d; want 0 (no limit) or a size in MiB such as %d", c.MemoryLimitMiB, app.DefaultMemoryLimitMiB)
	}
	limit, source = MemoryLimit(c)
	if source == LimitFromConfig {
		debug.SetMemoryLimit(limit)
	}
	return limit, source, nil
}

package node

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/store"
)

// CrashAtEnv makes `tallyd start` (Run) kill itself at a step of committing a
// block, so that fault tests can check a node restarts from there without
// repair. Value: <point>[@<height>], a point of crashPoints.
const CrashAtEnv = "TALLY_CRASH_AT"

// crashPoints are the points TALLY_CRASH_AT accepts, in block order:
//
//	finalized  FinalizeBlock has run, Commit has not (app.StepFinalized);
//	           CometBFT has not yet saved the block's results.
//	mid-save   inside Commit, while the new tree version is being written:
//	           IAVL has cut it into chunks (the threshold is 1 byte while
//	           armed, so every save is cut) and handed over all but the last,
//	           none of which is on disk (store.ProbeMidSave, store/save.go).
//	committed  the version is saved and Commit is about to return
//	           (app.StepCommitted); CometBFT has not recorded the commit.
var crashPoints = []string{"finalized", "mid-save", "committed"}

// crashPlan is a parsed TALLY_CRASH_AT: kill the process at point in the
// first block at or above height (0: the first block processed after
// start, including blocks the handshake replays).
type crashPlan struct {
	point  string
	height int64
	saved  atomic.Int64 // the last saved height, as the store reports it
	out    io.Writer    // os.Stderr
	exit   func(code int)
}

func parseCrashAt(v string) (*crashPlan, error) {
	if v == "" {
		return nil, nil
	}
	point, at, hasHeight := strings.Cut(v, "@")
	if !slices.Contains(crashPoints, point) {
		return nil, fmt.Errorf("%s=%q: unknown crash point %q; want one of %s, optionally followed by @HEIGHT",
			CrashAtEnv, v, point, strings.Join(crashPoints, ", "))
	}
	c := &crashPlan{point: point, out: os.Stderr, exit: os.Exit}
	if hasHeight {
		h, err := strconv.ParseInt(at, 10, 64)
		if err != nil || h < 1 {
			return nil, fmt.Errorf("%s=%q: height %q must be a block height, a whole number from 1", CrashAtEnv, v, at)
		}
		c.height = h
	}
	return c, nil
}

// arm sets the app's and the store's hooks to reach the plan's point. The
// store reports the height it loaded and each height it saved, which
// gives the app's steps their heights.
func (c *crashPlan) arm(opts *app.Options) func(*store.Options) {
	opts.OnStep = func(s app.Step) {
		switch {
		case s == app.StepFinalized && c.point == "finalized":
			c.reached(c.saved.Load() + 1)
		case s == app.StepCommitted && c.point == "committed":
			c.reached(c.saved.Load())
		}
	}
	return func(o *store.Options) {
		if c.point == "mid-save" {
			o.FlushThreshold = 1
		}
		o.Probe = func(at store.ProbePoint, version int64) {
			switch at {
			case store.ProbeOpened, store.ProbeSaved:
				c.saved.Store(version)
			case store.ProbeMidSave:
				if c.point == "mid-save" {
					c.reached(version)
				}
			}
		}
	}
}

// reached kills the process if height is the plan's: at once, with no
// deferred cleanup and nothing flushed, as a power cut would.
func (c *crashPlan) reached(height int64) {
	if height >= c.height {
		fmt.Fprintf(c.out, "*** tally crash point %s at height %d ***\n", c.point, height)
		c.exit(3)
	}
}

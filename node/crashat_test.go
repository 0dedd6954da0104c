package node

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/testnet/faults"
)

func TestParseCrashAt(t *testing.T) {
	for _, tt := range []struct {
		value  string
		point  string
		height int64
		err    string
	}{
		{value: ""},
		{value: "finalized", point: "finalized"},
		{value: "mid-save@7", point: "mid-save", height: 7},
		{value: "committed@1", point: "committed", height: 1},
		{value: "commited", err: `unknown crash point "commited"`},
		{value: "@5", err: `unknown crash point ""`},
		{value: "mid-save@", err: `height "" must be a block height`},
		{value: "mid-save@0", err: `height "0" must be a block height`},
		{value: "mid-save@-2", err: `height "-2" must be a block height`},
		{value: "mid-save@x", err: `height "x" must be a block height`},
		{value: "finalized@3@4", err: `height "3@4" must be a block height`},
	} {
		c, err := parseCrashAt(tt.value)
		if tt.err != "" {
			require.ErrorContains(t, err, tt.err, tt.value)
			require.ErrorContains(t, err, "TALLY_CRASH_AT", tt.value)
			continue
		}
		require.NoError(t, err, tt.value)
		if tt.point == "" {
			require.Nil(t, c)
			continue
		}
		require.Equal(t, tt.point, c.point, tt.value)
		require.Equal(t, tt.height, c.height, tt.value)
	}
}

// The fault suite's list of crash points is the one tallyd accepts.
func TestCrashPointsMatchTheFaultSuite(t *testing.T) {
	var names []string
	for _, p := range faults.TallyCrashPoints {
		names = append(names, p.Point)
	}
	require.Equal(t, crashPoints, names)
	require.Equal(t, CrashAtEnv, faults.CrashAtEnv)
}

// Each point fires at its step of the first block at or above the height,
// with the height the store reports, and at no other step.
func TestCrashPlanStopsAtItsPointAndHeight(t *testing.T) {
	type event struct {
		step  app.Step         // an app step, or
		probe store.ProbePoint // a store probe
		v     int64
	}
	// The hooks' calls while a node opened at height 4 runs blocks 5 and 6.
	var run []event
	run = append(run, event{probe: store.ProbeOpened, v: 4})
	for h := int64(5); h <= 6; h++ {
		run = append(run, event{step: app.StepFinalized}, event{probe: store.ProbeMidSave, v: h},
			event{probe: store.ProbeSaved, v: h}, event{step: app.StepCommitted})
	}
	for _, tt := range []struct {
		value string
		at    int // index in run where it must exit; -1: never
		line  string
	}{
		{"finalized", 1, "*** tally crash point finalized at height 5 ***\n"},
		{"mid-save", 2, "*** tally crash point mid-save at height 5 ***\n"},
		{"committed", 4, "*** tally crash point committed at height 5 ***\n"},
		{"finalized@6", 5, "*** tally crash point finalized at height 6 ***\n"},
		{"mid-save@2", 2, "*** tally crash point mid-save at height 5 ***\n"},
		{"committed@6", 8, "*** tally crash point committed at height 6 ***\n"},
		{"committed@7", -1, ""},
	} {
		c, err := parseCrashAt(tt.value)
		require.NoError(t, err)
		var out strings.Builder
		stopped, code := -1, 0
		c.out = &out
		c.exit = func(c int) { code = c; panic("exit") }
		var opts app.Options
		var so store.Options
		c.arm(&opts)(&so)
		if c.point == "mid-save" {
			require.Equal(t, 1, so.FlushThreshold)
		} else {
			require.Zero(t, so.FlushThreshold)
		}
		for i, e := range run {
			if crashes(func() {
				if e.probe != 0 {
					so.Probe(e.probe, e.v)
				} else {
					opts.OnStep(e.step)
				}
			}) {
				stopped = i
				break
			}
		}
		require.Equal(t, tt.at, stopped, tt.value)
		require.Equal(t, tt.line, out.String(), tt.value)
		if tt.at >= 0 {
			require.Equal(t, 3, code, tt.value)
		}
	}
}

func crashes(f func()) (crashed bool) {
	defer func() { crashed = recover() != nil }()
	f()
	return false
}

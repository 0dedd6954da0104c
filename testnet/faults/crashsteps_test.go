package faults

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestCrashAtEveryCommitStep stops a validator, under load, at each step
// of committing a block in turn — CometBFT's own fail points
// (FAIL_TEST_INDEX) and Tally's crash points (TALLY_CRASH_AT: between
// FinalizeBlock and Commit, in the middle of saving the tree, after saving
// and before CometBFT records it) — then starts it again with no repair:
// it must catch up and reach the same app hash as the others.
func TestCrashAtEveryCommitStep(t *testing.T) {
	c := NewCluster(t, ClusterOptions{})
	s := NewScenario(t, "crash at every commit step")
	w, ctx := StartWorkload(t, c, 30)

	type step struct {
		env, marker, where string
	}
	var steps []step
	comet := []int{3, 6, 7} // the boundaries between block store, state store and app
	if long {
		comet = nil
		for _, fp := range CometFailPoints {
			comet = append(comet, fp.Index)
		}
	}
	for _, i := range comet {
		steps = append(steps, step{fmt.Sprintf("FAIL_TEST_INDEX=%d", i), fmt.Sprintf("*** fail-test %d ***", i), CometFailPoints[i].Where})
	}
	for _, p := range TallyCrashPoints {
		steps = append(steps, step{CrashAtEnv + "=" + p.Point, "*** tally crash point " + p.Point, p.Where})
	}

	names := c.Names()
	for k, st := range steps {
		victim := k % len(names)
		name := names[victim]
		// Start the victim afresh with the crash armed: SIGKILL, then a
		// start with the variable set.
		if err := c.Net.Kill(name); err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, err := c.WaitProgress(wctx, c.MaxHeight(ctx), nil)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		logSize := fileSize(c.M.Nodes[victim].LogFile)
		c.Net.SetCommand(name, nil, []string{st.env})
		c.ExpectExit(name)
		if err := c.Net.Start(name); err != nil {
			t.Fatal(err)
		}
		wctx, cancel = context.WithTimeout(ctx, 60*time.Second)
		exitErr := c.Net.Wait(wctx, name)
		timedOut := wctx.Err() != nil
		cancel()
		if timedOut {
			t.Fatalf("%s with %s did not stop within a minute", name, st.env)
		}
		out := readFrom(c.M.Nodes[victim].LogFile, logSize)
		if !strings.Contains(out, st.marker) {
			t.Fatalf("%s with %s stopped (%v) without reaching its crash point; its log says:\n%s", name, st.env, exitErr, lastLines(out, 20))
		}
		s.Fault("%s stopped by %s (listed as: %s); its log's last commit step before stopping: %s", name, st.env, st.where, lastCommitStep(out))

		if err := c.Restart(name, nil); err != nil {
			t.Fatal(err)
		}
		wctx, cancel = context.WithTimeout(ctx, 60*time.Second)
		d, err := c.WaitCaughtUp(wctx, victim)
		cancel()
		if err != nil {
			t.Fatalf("%s did not recover from %s without repair: %v", name, st.env, err)
		}
		s.Resumed(d, name+" restarted after "+st.env+" and caught up")
	}
	time.Sleep(2 * time.Second)
	w.Stop()
	s.Verify(context.Background(), c, w, nil)
}

// lastCommitStep is the last line of a node's log that marks a step of
// committing a block, shortened: where a crash really landed (a fail
// point index counts calls since the process started, so a node that
// block-synced first stops later in its height than the table says).
func lastCommitStep(log string) string {
	last := "none (stopped before committing any block)"
	for _, l := range strings.Split(log, "\n") {
		for _, m := range []string{"finalizing commit of block", "finalized block", "executed block", "committed state", "indexed block events"} {
			if i := strings.Index(l, m); i >= 0 {
				rest := l[i:]
				if j := strings.Index(rest, " height="); j >= 0 {
					h := rest[j+len(" height="):]
					if k := strings.IndexByte(h, ' '); k >= 0 {
						h = h[:k]
					}
					last = m + " at height " + h
				} else {
					last = m
				}
			}
		}
	}
	return last
}
